#!/usr/bin/env bash
# Side-by-side benchmark of the Rust web-api and the original FastAPI stack on this machine.
# Installs what it needs (FastAPI stack from PyPI into bench/out/venv, wrk from Debian), builds
# the Rust binary in release mode, runs both under the same wrk load and prints a Markdown table.
# Usage: bench/web-api/run.sh [SECONDS_PER_ROUND [ROUNDS]]   (default 5 s, 5 rounds)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/bench/out"
mkdir -p "$out"

if [ ! -x "$out/venv/bin/gunicorn" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install --quiet fastapi 'uvicorn[standard]' gunicorn
fi
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
(cd "$root" && cargo build -p web-api --release --quiet --bin web-api --example http_floor)

python3 "$here/bench.py" \
  --rust "$root/target/release/web-api" \
  --venv "$out/venv" \
  --app-dir "$here" \
  --out "$out" \
  --floor "$root/target/release/examples/http_floor" \
  --duration "${1:-5}" \
  --rounds "${2:-5}"
