#!/usr/bin/env bash
# The emulator's gRPC side is tested with Google's Node.js client, @google-cloud/logging
# (crates/emulator/tests/api/node.rs), installed from npm at the versions in its lockfile.
# Idempotent: reinstalls only when the lockfile changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v node >/dev/null || { echo "the Node.js client test needs Node.js 18+ and npm on the PATH" >&2; exit 1; }
node_tests=crates/emulator/tests/node
if ! cmp -s "$node_tests/package-lock.json" "$node_tests/node_modules/.package-lock.json.installed" 2>/dev/null; then
  (cd "$node_tests" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$node_tests/package-lock.json" "$node_tests/node_modules/.package-lock.json.installed"
fi
