#!/usr/bin/env bash
# Deletes the cluster (and with it the load balancer). The images, the Artifact Registry
# repository and the service accounts stay; deploy/README.md says how to delete them too.
set -euo pipefail
source "$(dirname "$0")/env.sh"
need_login
gcloud container clusters delete "${CLUSTER_NAME}" --region "${REGION}" --project "${PROJECT_ID}" --quiet
