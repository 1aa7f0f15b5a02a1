#!/usr/bin/env bash
# Deletes the cluster (and with it the load balancer). The images, the Artifact Registry
# repository and the service accounts stay, unless `--all`: then they go too.
#   bash deploy/gke/down.sh [--all]
set -euo pipefail
source "$(dirname "$0")/env.sh"
need_login
all=0
case "${1:-}" in
  --all) all=1 ;;
  "") ;;
  *) die "unknown argument ${1} (only --all)" ;;
esac
gcloud container clusters delete "${CLUSTER_NAME}" --region "${REGION}" --project "${PROJECT_ID}" --quiet
if [ "${all}" = 1 ]; then
  gcloud artifacts repositories delete "${REPOSITORY}" --location "${REGION}" --project "${PROJECT_ID}" --quiet
  for account in "${NODE_SA}" "${BUILD_SA}" "${WRITER_SA}"; do
    if gcloud iam service-accounts describe "${account}" --project "${PROJECT_ID}" >/dev/null 2>&1; then
      gcloud iam service-accounts delete "${account}" --project "${PROJECT_ID}" --quiet
    fi
  done
fi
