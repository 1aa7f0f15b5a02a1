#!/usr/bin/env bash
# Applies deploy/k8s with this project's image names (a throwaway kustomize overlay), waits for
# the rollout and prints the Service's external IP.
set -euo pipefail
source "$(dirname "$0")/env.sh"

overlay="$(mktemp -d "${ROOT}/deploy/.overlay.XXXXXX")"
trap 'rm -rf "${overlay}"' EXIT
resources="  - ../k8s"
if [ "${DEPLOYMENT}" = classic ]; then
  # Older clusters: the two-container Deployment in place of the native sidecar.
  resources="  - ../k8s/configmap.yaml
  - ../k8s/deployment-classic.yaml
  - ../k8s/service.yaml"
fi
cat > "${overlay}/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ${NAMESPACE}
resources:
${resources}
images:
  - name: logferry
    newName: ${REGISTRY}/logferry
    newTag: "${TAG}"
  - name: web-api
    newName: ${REGISTRY}/web-api
    newTag: "${TAG}"
YAML
if [ "${DEPLOYMENT}" = classic ]; then
  # Plain files outside the overlay's directory need this restriction lifted.
  kubectl kustomize --load-restrictor LoadRestrictionsNone "${overlay}" | kubectl apply -f -
else
  kubectl apply -k "${overlay}"
fi

kubectl -n "${NAMESPACE}" rollout status deployment/fast-api-pod --timeout 300s

echo "waiting for the load balancer's external IP..."
ip=""
for _ in $(seq 1 90); do
  ip="$(kubectl -n "${NAMESPACE}" get service fast-api-server \
    -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
  [ -n "${ip}" ] && break
  sleep 5
done
if [ -z "${ip}" ]; then
  echo "no external IP yet: kubectl -n ${NAMESPACE} get service fast-api-server -w" >&2
  exit 1
fi
echo "API: http://${ip}:5000"
