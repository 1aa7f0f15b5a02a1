#!/usr/bin/env bash
# Everything the deploy needs in the project, then the autoscaling GKE cluster (the original
# system's `gcloud container clusters create`), and kubectl pointed at it:
#   - the APIs: GKE, Cloud Logging, Cloud Build, Artifact Registry, IAM;
#   - the Artifact Registry Docker repository the images go to;
#   - a service account for the nodes (GKE's node role, Cloud Logging writer, allowed to pull
#     from the repository) and one for Cloud Build (builds and pushes the images);
#   - with WORKLOAD_IDENTITY=1, the cluster's workload pool and the service account the sidecar
#     writes logs as.
# Safe to run again: what exists is left as it is.
set -euo pipefail
source "$(dirname "$0")/env.sh"
need_login
need_kubectl

billing="$(gcloud billing projects describe "${PROJECT_ID}" --format='value(billingEnabled)' 2>/dev/null || true)"
case "${billing}" in
  True) ;;
  False) die "billing is not enabled for ${PROJECT_ID}; link a billing account: https://console.cloud.google.com/billing/linkedaccount?project=${PROJECT_ID}" ;;
  *) echo "could not read the billing state of ${PROJECT_ID}; GKE needs billing enabled" >&2 ;;
esac

gcloud services enable container.googleapis.com logging.googleapis.com cloudbuild.googleapis.com \
  artifactregistry.googleapis.com iam.googleapis.com --project "${PROJECT_ID}"

if ! gcloud artifacts repositories describe "${REPOSITORY}" --location "${REGION}" --project "${PROJECT_ID}" >/dev/null 2>&1; then
  gcloud artifacts repositories create "${REPOSITORY}" --repository-format docker \
    --location "${REGION}" --project "${PROJECT_ID}" --description "logferry and web-api images"
fi

# ensure_service_account EMAIL DESCRIPTION: creates it unless it exists.
ensure_service_account() {
  if ! gcloud iam service-accounts describe "$1" --project "${PROJECT_ID}" >/dev/null 2>&1; then
    gcloud iam service-accounts create "${1%%@*}" --project "${PROJECT_ID}" --display-name "$2"
  fi
}
# grant MEMBER ROLE: a project-level role.
grant() {
  gcloud projects add-iam-policy-binding "${PROJECT_ID}" --member "$1" --role "$2" \
    --condition None >/dev/null
  echo "granted $2 to $1"
}

# The nodes: GKE's minimal node role, logging.logWriter (what the sidecar writes with when it uses
# the node's identity: the metadata server hands out this account's token), and read access to
# the repository so they can pull the images.
ensure_service_account "${NODE_SA}" "logferry GKE nodes"
grant "serviceAccount:${NODE_SA}" roles/container.defaultNodeServiceAccount
grant "serviceAccount:${NODE_SA}" roles/logging.logWriter
gcloud artifacts repositories add-iam-policy-binding "${REPOSITORY}" --location "${REGION}" \
  --project "${PROJECT_ID}" --member "serviceAccount:${NODE_SA}" --role roles/artifactregistry.reader >/dev/null
echo "granted roles/artifactregistry.reader on ${REPOSITORY} to serviceAccount:${NODE_SA}"

# Cloud Build runs as this account (build.sh passes it): it reads the uploaded source, writes the
# build's logs and pushes to the repository, whatever the project's default build account may do.
ensure_service_account "${BUILD_SA}" "logferry Cloud Build"
grant "serviceAccount:${BUILD_SA}" roles/cloudbuild.builds.builder
gcloud artifacts repositories add-iam-policy-binding "${REPOSITORY}" --location "${REGION}" \
  --project "${PROJECT_ID}" --member "serviceAccount:${BUILD_SA}" --role roles/artifactregistry.writer >/dev/null
echo "granted roles/artifactregistry.writer on ${REPOSITORY} to serviceAccount:${BUILD_SA}"

workload_flags=()
if [ "${WORKLOAD_IDENTITY}" = 1 ]; then
  # The pod gets the token of WRITER_SA from the GKE metadata server, through the Kubernetes
  # service account `logferry` of NAMESPACE (apply.sh creates it with this annotation).
  workload_flags=(--workload-pool "${PROJECT_ID}.svc.id.goog")
  ensure_service_account "${WRITER_SA}" "logferry log writer"
  grant "serviceAccount:${WRITER_SA}" roles/logging.logWriter
  # The sidecar pods' account, and the node agent's (apply.sh --daemonset).
  for ksa in "${NAMESPACE}/logferry" logferry/logferry-node; do
    gcloud iam service-accounts add-iam-policy-binding "${WRITER_SA}" --project "${PROJECT_ID}" \
      --role roles/iam.workloadIdentityUser \
      --member "serviceAccount:${PROJECT_ID}.svc.id.goog[${ksa}]" >/dev/null
    echo "bound ${ksa} to ${WRITER_SA} (roles/iam.workloadIdentityUser)"
  done
fi

if gcloud container clusters describe "${CLUSTER_NAME}" --region "${REGION}" --project "${PROJECT_ID}" >/dev/null 2>&1; then
  echo "cluster ${CLUSTER_NAME} exists; leaving it as it is"
else
  # `gke-default` scopes include logging.write (as the original write-up noted) and read access
  # to the registry; the node service account's roles above decide the rest.
  gcloud container clusters create "${CLUSTER_NAME}" \
    --project "${PROJECT_ID}" \
    --region "${REGION}" \
    --machine-type "${MACHINE_TYPE}" \
    --num-nodes "${NUM_NODES}" \
    --enable-autoscaling --min-nodes "${MIN_NODES}" --max-nodes "${MAX_NODES}" \
    --release-channel regular \
    --service-account "${NODE_SA}" \
    --scopes gke-default \
    "${workload_flags[@]}"
fi

gcloud container clusters get-credentials "${CLUSTER_NAME}" --region "${REGION}" --project "${PROJECT_ID}"
kubectl version
