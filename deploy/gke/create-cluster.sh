#!/usr/bin/env bash
# Creates the autoscaling GKE cluster (the original system's `gcloud container clusters create`),
# with the node scope Cloud Logging needs, and points kubectl at it.
set -euo pipefail
source "$(dirname "$0")/env.sh"

gcloud services enable container.googleapis.com logging.googleapis.com \
  cloudbuild.googleapis.com containerregistry.googleapis.com --project "${PROJECT_ID}"

# `gke-default` scopes include logging.write; the node service account also needs
# roles/logging.logWriter (granted below) unless you use Workload Identity (see deploy/README.md).
gcloud container clusters create "${CLUSTER_NAME}" \
  --project "${PROJECT_ID}" \
  --region "${REGION}" \
  --machine-type "${MACHINE_TYPE}" \
  --num-nodes "${NUM_NODES}" \
  --enable-autoscaling --min-nodes "${MIN_NODES}" --max-nodes "${MAX_NODES}" \
  --release-channel regular \
  --scopes gke-default

NODE_SA="${NODE_SA:-$(gcloud projects describe "${PROJECT_ID}" --format='value(projectNumber)')-compute@developer.gserviceaccount.com}"
gcloud projects add-iam-policy-binding "${PROJECT_ID}" \
  --member "serviceAccount:${NODE_SA}" --role roles/logging.logWriter --condition None >/dev/null
echo "granted roles/logging.logWriter to ${NODE_SA}"

gcloud container clusters get-credentials "${CLUSTER_NAME}" --region "${REGION}" --project "${PROJECT_ID}"
kubectl version
