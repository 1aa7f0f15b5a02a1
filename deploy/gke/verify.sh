#!/usr/bin/env bash
# Sends requests through the load balancer, then finds their access lines in Cloud Logging with
# the pod's query (what the original system checked by hand in the console).
set -euo pipefail
source "$(dirname "$0")/env.sh"
REQUESTS="${REQUESTS:-20}"

ip="$(kubectl -n "${NAMESPACE}" get service fast-api-server \
  -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
[ -n "${ip}" ] || { echo "the Service has no external IP yet (run apply.sh)" >&2; exit 1; }
run="verify-$(date +%s)"
for i in $(seq 1 "${REQUESTS}"); do
  curl -fsS -o /dev/null "http://${ip}:5000/items?run=${run}&i=${i}"
done
curl -fsS -o /dev/null -X POST "http://${ip}:5000/log" -H 'content-type: application/json' \
  -d "{\"severity\":\"NOTICE\",\"message\":\"hello from ${run}\"}"
echo "sent ${REQUESTS} requests tagged ${run}"

filter="resource.type=\"k8s_container\" resource.labels.cluster_name=\"${CLUSTER_NAME}\" resource.labels.namespace_name=\"${NAMESPACE}\" resource.labels.container_name=\"fast-api-container\" \"${run}\""
echo "query: ${filter}"
want=$((REQUESTS + 2))   # the access lines, the POST's access line and its app line
for attempt in $(seq 1 24); do
  got="$(gcloud logging read "${filter}" --project "${PROJECT_ID}" --freshness 1h \
    --limit 1000 --format 'value(insertId)' | wc -l)"
  echo "attempt ${attempt}: ${got}/${want} entries"
  if [ "${got}" -ge "${want}" ]; then
    gcloud logging read "${filter}" --project "${PROJECT_ID}" --freshness 1h --limit 3
    echo "OK: every request's line is in Cloud Logging"
    exit 0
  fi
  sleep 5
done
echo "not every line arrived; see: kubectl -n ${NAMESPACE} logs deploy/fast-api-pod -c fluentd-container" >&2
exit 1
