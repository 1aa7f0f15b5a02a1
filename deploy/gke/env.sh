#!/usr/bin/env bash
# Settings shared by the GKE scripts; override any of them in the environment.
# Sourced, not run: `source deploy/gke/env.sh`.
set -euo pipefail
PROJECT_ID="${PROJECT_ID:-$(gcloud config get-value project 2>/dev/null)}"
CLUSTER_NAME="${CLUSTER_NAME:-fastapi-cluster}"
REGION="${REGION:-asia-northeast1}"
MACHINE_TYPE="${MACHINE_TYPE:-e2-small}"
NUM_NODES="${NUM_NODES:-1}"   # per zone (a regional cluster has three zones)
MIN_NODES="${MIN_NODES:-1}"
MAX_NODES="${MAX_NODES:-3}"
NAMESPACE="${NAMESPACE:-default}"
REGISTRY="${REGISTRY:-gcr.io/${PROJECT_ID}}"
TAG="${TAG:-latest}"
# native: deployment.yaml (Kubernetes 1.29+); classic: deployment-classic.yaml.
DEPLOYMENT="${DEPLOYMENT:-native}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [ -z "${PROJECT_ID}" ]; then
  echo "set PROJECT_ID or run: gcloud config set project YOUR_PROJECT" >&2
  exit 1
fi
