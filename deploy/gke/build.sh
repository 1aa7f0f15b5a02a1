#!/usr/bin/env bash
# Builds both images on Cloud Build (deploy/cloudbuild.yml) and pushes them to Artifact Registry
# under a new tag (UTC time and git commit), recorded in deploy/gke/.last-build for apply.sh: a
# tag is never reused, so each deploy changes the pod template and rolls out.
set -euo pipefail
source "$(dirname "$0")/env.sh"
need_login

commit="$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || echo local)"
TAG="${TAG:-$(date -u +%Y%m%d-%H%M%S)-${commit}}"
[ "${TAG}" != latest ] || die "TAG=latest would not roll out: a deploy of the same tag leaves the pods as they are"

cd "${ROOT}"
gcloud builds submit . \
  --project "${PROJECT_ID}" \
  --config deploy/cloudbuild.yml \
  --service-account "projects/${PROJECT_ID}/serviceAccounts/${BUILD_SA}" \
  --substitutions "_REGISTRY=${REGISTRY},_TAG=${TAG}"
echo "${TAG}" > "${LAST_BUILD}"
echo "built ${REGISTRY}/logferry:${TAG} and ${REGISTRY}/web-api:${TAG}"
