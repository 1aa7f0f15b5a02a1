#!/usr/bin/env bash
# Sends requests through the load balancer, tagged with a run id, then finds each of their lines
# in Cloud Logging with `gcloud logging read` and the pod's query, and checks the sidecar's own log
# for the line the original system's check relied on ("Successfully sent to Google Cloud Logging
# API."). Exits 0 when everything arrived, 1 naming what did not.
#   bash deploy/gke/verify.sh           send REQUESTS requests, then wait for their lines
#   bash deploy/gke/verify.sh RUN_ID    check an earlier run's lines again, sending nothing
# API_URL (default: http://EXTERNAL_IP:5000 of the Service) and WAIT_SECONDS (180) override.
set -euo pipefail
source "$(dirname "$0")/env.sh"
need_kubectl
need curl "to send the requests" "Install it: apt-get install curl"
REQUESTS="${REQUESTS:-20}"
WAIT_SECONDS="${WAIT_SECONDS:-180}"

run="${1:-}"
if [ -z "${run}" ]; then
  if [ -z "${API_URL:-}" ]; then
    ip="$(kubectl -n "${NAMESPACE}" get service fast-api-server \
      -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
    [ -n "${ip}" ] || die "the Service has no external IP yet (run apply.sh, or set API_URL)"
    API_URL="http://${ip}:5000"
  fi
  run="verify-$(date -u +%Y%m%d%H%M%S)-$$"
  for i in $(seq 1 "${REQUESTS}"); do
    curl -fsS -o /dev/null "${API_URL}/items?run=${run}&i=${i}"
  done
  curl -fsS -o /dev/null -X POST "${API_URL}/log?run=${run}" -H 'content-type: application/json' \
    -d "{\"severity\":\"NOTICE\",\"message\":\"hello from ${run}\"}"
  echo "sent ${REQUESTS} requests and a POST /log to ${API_URL}, tagged ${run}"
fi

# The run id is in the access lines' URLs and the app line's message, whichever ConfigMap ships
# them: structured (httpRequest, jsonPayload) or the original (the whole line as textPayload).
pod="resource.type=\"k8s_container\" resource.labels.cluster_name=\"${CLUSTER_NAME}\" resource.labels.namespace_name=\"${NAMESPACE}\" resource.labels.container_name=\"fast-api-container\""
filter="${pod} (httpRequest.requestUrl:\"${run}\" OR jsonPayload.message:\"${run}\" OR textPayload:\"${run}\")"
echo "query: ${filter}"

# missing LINES: prints each expected line that LINES (gcloud's output) lacks, one per line.
missing() {
  local i
  for i in $(seq 1 "${REQUESTS}"); do
    grep -qE "run=${run}&i=${i}([^0-9]|\$)" <<<"$1" || echo "  the access line of GET /items?run=${run}&i=${i}"
  done
  grep -qF "/log?run=${run}" <<<"$1" || echo "  the access line of POST /log?run=${run}"
  grep -qF "hello from ${run}" <<<"$1" || echo "  the app line \"hello from ${run}\""
}

want=$((REQUESTS + 2))
deadline=$((SECONDS + WAIT_SECONDS))
while :; do
  lines="$(gcloud logging read "${filter}" --project "${PROJECT_ID}" --freshness 1d --limit 1000 \
    --format 'value(severity,httpRequest.requestUrl,jsonPayload.message,textPayload)')"
  gaps="$(missing "${lines}")"
  got=$((want - $(grep -c . <<<"${gaps}" || true)))
  echo "${got}/${want} lines in Cloud Logging"
  [ -z "${gaps}" ] && break
  if [ "${SECONDS}" -ge "${deadline}" ]; then
    echo "not every line of ${run} reached Cloud Logging within ${WAIT_SECONDS}s; missing:" >&2
    echo "${gaps}" >&2
    echo "see the sidecar: kubectl -n ${NAMESPACE} logs deploy/fast-api-pod -c fluentd-container" >&2
    echo "check again later: bash deploy/gke/verify.sh ${run}" >&2
    exit 1
  fi
  sleep 5
done
# With structured logs the app line keeps the severity it was written with.
app_severity="$(grep -F "hello from ${run}" <<<"${lines}" | head -n 1 | cut -f1)"
echo "OK: every line of ${run} is in Cloud Logging (the app line's severity: ${app_severity:-DEFAULT})"

sidecar_log="$(kubectl -n "${NAMESPACE}" logs deploy/fast-api-pod -c fluentd-container --tail 10000)"
if ! grep -qF "Successfully sent to Google Cloud Logging API" <<<"${sidecar_log}"; then
  die "the sidecar's log has no \"Successfully sent to Google Cloud Logging API.\": see kubectl -n ${NAMESPACE} logs deploy/fast-api-pod -c fluentd-container"
fi
echo "OK: the sidecar says \"Successfully sent to Google Cloud Logging API.\""
