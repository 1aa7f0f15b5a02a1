#!/usr/bin/env bash
# Every check logferry has, on a fresh machine: installs what the tests drive (Google's Python
# client, Chromium for the viewer's browser tests, Kubernetes schemas...), then formatting,
# lints and the whole test suite, then Google's Rust client against the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install --quiet -r scripts/test-requirements.txt
# Each component that needs more than Python packages installs it here (idempotent).
for setup in scripts/setup/*.sh; do
  [ -e "$setup" ] && bash "$setup"
done

# No incremental state: a one-shot run gains nothing from it and it doubles target/ on disk.
export CARGO_INCREMENTAL=0

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked -- --skip e2e::torture
# Google's Rust client against the `logferry` binary the tests above built (cargo builds a
# package's binaries for its integration tests). A Cargo project of its own, with its own
# lockfile and target dir, so the client's large dependency tree stays out of the workspace's
# build; cold, it builds in about 3 minutes on 2 cores.
rust_client=crates/emulator/tests/rust/Cargo.toml
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
cargo fmt --manifest-path "$rust_client" -- --check
cargo clippy --manifest-path "$rust_client" --all-targets --locked -- -D warnings
LOGFERRY_BIN="$target_dir/debug/logferry" cargo test --manifest-path "$rust_client" --locked
# The torture suite prints its table (lines written, delivered, lost, visible duplicates, raw
# resends, exposure, peak RSS) per scenario, so it runs with its output shown.
cargo test -p logferry --test e2e --locked -- --nocapture e2e::torture
