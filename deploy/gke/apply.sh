#!/usr/bin/env bash
# Renders deploy/k8s for this project (a throwaway kustomize overlay: your registry's images with
# the tag build.sh built, the namespace, and the variant chosen in env.sh), applies it, waits for
# the rollout and prints the Service's external IP.
#   bash deploy/gke/apply.sh                apply the sidecar deployment
#   bash deploy/gke/apply.sh --daemonset    apply the node-level agent (deploy/k8s/daemonset):
#                                           one logferry per node for every pod's stdout/stderr
#   bash deploy/gke/apply.sh --print        only print what would be applied (no cluster needed)
set -euo pipefail
source "$(dirname "$0")/env.sh"
need_kubectl

print=0
daemonset=0
for arg in "$@"; do
  case "${arg}" in
    --print) print=1 ;;
    --daemonset) daemonset=1 ;;
    *) die "unknown argument ${arg} (--print, --daemonset)" ;;
  esac
done

if [ -z "${TAG:-}" ] && [ -s "${LAST_BUILD}" ]; then
  TAG="$(cat "${LAST_BUILD}")"
fi
[ -n "${TAG:-}" ] || die "no image tag: run deploy/gke/build.sh first (it records its tag in ${LAST_BUILD#"${ROOT}"/}), or set TAG to one it built"
[ "${TAG}" != latest ] || die "TAG=latest would not roll out: set TAG to the tag build.sh printed"

overlay="$(mktemp -d)"
trap 'rm -rf "${overlay}"' EXIT

# Renders the overlay; with --print, prints it and stops there (no cluster needed).
render_or_print() {
  kubectl kustomize "${overlay}" > "${overlay}/rendered.yaml"
  if [ "${print}" = 1 ]; then
    cat "${overlay}/rendered.yaml"
    exit 0
  fi
  need_login
}
k8s="${ROOT}/deploy/k8s"

if [ "${daemonset}" = 1 ]; then
  # The DaemonSet kit as it is (its own namespace, `logferry`, which its config's self-log
  # exclusion names), with your image and the node config's hash on the pod template.
  node_hash="$(sha256sum "${k8s}/daemonset/configmap.yaml" | cut -c1-16)"
  cat > "${overlay}/config-hash.yaml" <<YAML
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: logferry-node
  namespace: logferry
spec:
  template:
    metadata:
      annotations:
        logferry/fluentd-conf-sha256: "${node_hash}"
YAML
  cp -r "${k8s}/daemonset" "${overlay}/base"
  node_patches="  - path: config-hash.yaml"
  if [ "${WORKLOAD_IDENTITY}" = 1 ]; then
    cat > "${overlay}/workload-identity.yaml" <<YAML
apiVersion: v1
kind: ServiceAccount
metadata:
  name: logferry-node
  namespace: logferry
  annotations:
    iam.gke.io/gcp-service-account: ${WRITER_SA}
YAML
    node_patches="${node_patches}
  - path: workload-identity.yaml"
  fi
  cat > "${overlay}/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: logferry
    newName: ${REGISTRY}/logferry
    newTag: "${TAG}"
resources:
  - base
patches:
${node_patches}
YAML
  render_or_print
  kubectl apply -f "${overlay}/rendered.yaml"
  kubectl -n logferry rollout status daemonset/logferry-node --timeout 300s
  echo "logferry runs on every node: kubectl -n logferry get pods -o wide"
  exit 0
fi
configmap=configmap.yaml
[ "${CONFIGMAP}" = original ] && configmap=configmap-original.yaml
deployment=deployment.yaml
[ "${DEPLOYMENT}" = classic ] && deployment=deployment-classic.yaml
# Copies, so the overlay is one self-contained kustomization (no load-restrictor exceptions).
cp "${k8s}/${configmap}" "${k8s}/${deployment}" "${k8s}/service.yaml" "${overlay}/"
extra=""
if [ "${WORKLOAD_IDENTITY}" = 1 ]; then
  cat > "${overlay}/serviceaccount.yaml" <<YAML
# Workload Identity: the pod's Kubernetes service account, bound to ${WRITER_SA}
# (create-cluster.sh made the binding); the GKE metadata server hands the pod that account's token.
apiVersion: v1
kind: ServiceAccount
metadata:
  name: logferry
  labels:
    app: fast-api-pod
  annotations:
    iam.gke.io/gcp-service-account: ${WRITER_SA}
YAML
  cat > "${overlay}/workload-identity.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fast-api-pod
spec:
  template:
    spec:
      serviceAccountName: logferry
YAML
  extra="  - serviceaccount.yaml"
fi
# The ConfigMap's hash on the pod template: a changed fluentd.conf rolls the pods too (a
# ConfigMap change alone restarts nothing).
config_hash="$(sha256sum "${overlay}/${configmap}" | cut -c1-16)"
cat > "${overlay}/config-hash.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fast-api-pod
spec:
  template:
    metadata:
      annotations:
        logferry/fluentd-conf-sha256: "${config_hash}"
YAML
cat > "${overlay}/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ${NAMESPACE}
images:
  - name: logferry
    newName: ${REGISTRY}/logferry
    newTag: "${TAG}"
  - name: web-api
    newName: ${REGISTRY}/web-api
    newTag: "${TAG}"
resources:
  - ${configmap}
  - ${deployment}
  - service.yaml
${extra}
patches:
  - path: config-hash.yaml
$([ "${WORKLOAD_IDENTITY}" = 1 ] && echo "  - path: workload-identity.yaml")
YAML
render_or_print
if [ "${NAMESPACE}" != default ] && ! kubectl get namespace "${NAMESPACE}" >/dev/null 2>&1; then
  kubectl create namespace "${NAMESPACE}"
fi
kubectl apply -f "${overlay}/rendered.yaml"
# The alerts on failing delivery (deploy/k8s/monitoring.yaml) need Managed Service for
# Prometheus, on by default on GKE clusters since 1.27.
if kubectl get crd podmonitorings.monitoring.googleapis.com rules.monitoring.googleapis.com >/dev/null 2>&1; then
  kubectl -n "${NAMESPACE}" apply -f "${ROOT}/deploy/k8s/monitoring.yaml"
else
  echo "Managed Service for Prometheus is off in this cluster: no alerts on the sidecar (deploy/k8s/monitoring.yaml)" >&2
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
[ -n "${ip}" ] || die "no external IP yet; watch it with: kubectl -n ${NAMESPACE} get service fast-api-server -w"
echo "API: http://${ip}:5000"
