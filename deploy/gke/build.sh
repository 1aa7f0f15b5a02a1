#!/usr/bin/env bash
# Builds both images on Cloud Build and pushes them (deploy/cloudbuild.yml).
set -euo pipefail
source "$(dirname "$0")/env.sh"

cd "${ROOT}"
gcloud builds submit . \
  --project "${PROJECT_ID}" \
  --config deploy/cloudbuild.yml \
  --substitutions "_REGISTRY=${REGISTRY},_TAG=${TAG}"
