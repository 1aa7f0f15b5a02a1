#!/usr/bin/env bash
# Measures the sidecar's memory and CPU under load, to size deployment.yaml's requests/limits.
# Runs the pod locally like `logferry demo` (release binaries, the emulator as Cloud Logging),
# drives the API with wrk, and samples /proc for the agent and the API.
#   cargo build --release --locked -p logferry -p web-api && bash deploy/measure-sidecar.sh
# DURATION (default 30s), CONNECTIONS (16), THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-target/release}"
DURATION="${DURATION:-30s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }

dir="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "${dir}"; }
trap cleanup EXIT
mkdir -p "${dir}/api/log" "${dir}/tmp"

"${BIN}/logferry" emulator --listen 127.0.0.1:0 --data "${dir}/data" 2>"${dir}/emulator.log" &
pids+=($!)
until grep -q 'listening on' "${dir}/emulator.log"; do sleep 0.1; done
url="$(sed -n 's/.*emulator listening on //p' "${dir}/emulator.log")"

python3 - "${dir}" "${url}" <<'PY'
import sys, yaml
d, url = sys.argv[1], sys.argv[2]
(cm,) = [x for x in yaml.safe_load_all(open("deploy/k8s/configmap.yaml")) if x]
conf = cm["data"]["fluentd.conf"].replace("/api/log", f"{d}/api/log").replace(
    "type google_cloud\n",
    f"type google_cloud\n  endpoint {url}\n  project_id local-project\n  use_metadata_service false\n"
    "  resource_type k8s_container\n  resource_labels location:local,cluster_name:fastapi-cluster\n")
open(f"{d}/fluentd.conf", "w").write(conf)
PY
POD_NAME=measure POD_NAMESPACE=default CONTAINER_NAME=fast-api-container TMPDIR="${dir}/tmp" \
  "${BIN}/logferry" run -c "${dir}/fluentd.conf" --log-format json 2>"${dir}/agent.log" &
agent=$!
pids+=("${agent}")
"${BIN}/web-api" --bind 127.0.0.1:0 --workers 1 --log-file "${dir}/api/log/app.log" \
  --log-format json --port-file "${dir}/port" 2>"${dir}/api.log" &
api=$!
pids+=("${api}")
until [ -s "${dir}/port" ]; do sleep 0.1; done
addr="$(cat "${dir}/port")"
sleep 2

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
hz="$(getconf CLK_TCK)"
echo "idle: agent RSS $(rss "${agent}") KiB, API RSS $(rss "${api}") KiB"
a0="$(ticks "${agent}")"; p0="$(ticks "${api}")"; t0="$(date +%s.%N)"
wrk -t"${THREADS}" -c"${CONNECTIONS}" -d"${DURATION}" "http://${addr}/items" | tee "${dir}/wrk.txt"
a1="$(ticks "${agent}")"; p1="$(ticks "${api}")"; t1="$(date +%s.%N)"
lines="$(wc -l < "${dir}/api/log/app.log")"
# Let the agent catch up, then report its share.
for _ in $(seq 1 600); do
  got="$("${BIN}/logferry" query --emulator "${url}" --limit 10000000 --format json '' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
  [ "${got}" -ge "${lines}" ] && break
  sleep 1
done
a2="$(ticks "${agent}")"; t2="$(date +%s.%N)"
python3 - "${hz}" "${t0}" "${t1}" "${t2}" "${a0}" "${a1}" "${a2}" "${p0}" "${p1}" "${lines}" <<'PY'
import sys
hz, t0, t1, t2, a0, a1, a2, p0, p1, lines = map(float, sys.argv[1:])
load = t1 - t0
print(f"lines written: {lines:.0f} in {load:.1f}s ({lines / load:.0f}/s); all in the emulator {t2 - t0:.1f}s after the load started")
print(f"agent CPU during the load: {(a1 - a0) / hz / load * 1000:.0f}m; until caught up: {(a2 - a0) / hz:.2f} CPU-s ({(a2 - a0) / hz / lines * 1e6:.1f} us/line)")
print(f"API CPU during the load: {(p1 - p0) / hz / load * 1000:.0f}m")
PY
echo "peak RSS: agent $(hwm "${agent}") KiB, API $(hwm "${api}") KiB"
