#!/usr/bin/env bash
# The emulator's logs explorer is tested in a real browser (crates/emulator/tests/api/browser.rs):
# Debian's Chromium, driven by playwright-core from npm. Playwright's own browser download is not
# used: Debian's package is what the machines here can install. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

command -v node >/dev/null || { echo "browser tests need Node.js 18+ and npm on the PATH" >&2; exit 1; }
browser_tests=crates/emulator/tests/browser
# Reinstall only when the lockfile changed since the last install.
if ! cmp -s "$browser_tests/package-lock.json" "$browser_tests/node_modules/.package-lock.json.installed" 2>/dev/null; then
  (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$browser_tests/package-lock.json" "$browser_tests/node_modules/.package-lock.json.installed"
fi
