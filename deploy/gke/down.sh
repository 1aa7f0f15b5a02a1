#!/usr/bin/env bash
# Deletes the cluster (and with it the load balancer). Images stay in the registry.
set -euo pipefail
source "$(dirname "$0")/env.sh"
gcloud container clusters delete "${CLUSTER_NAME}" --region "${REGION}" --project "${PROJECT_ID}" --quiet
