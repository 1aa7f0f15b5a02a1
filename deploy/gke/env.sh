#!/usr/bin/env bash
# Settings shared by the GKE scripts; override any of them in the environment. Sourced, not run:
# each script starts with `source deploy/gke/env.sh`. Also the prerequisite checks, so a missing
# tool or setting stops a script before it changes anything, with what to do about it.
set -euo pipefail

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# need COMMAND WHAT HOW: stops unless COMMAND is on PATH.
need() {
  command -v "$1" >/dev/null 2>&1 || die "\`$1\` is missing ($2). $3"
}

need_gcloud() {
  need gcloud "the Google Cloud CLI" \
    "Install it: https://cloud.google.com/sdk/docs/install (Debian/Ubuntu: apt-get install google-cloud-cli)"
}

need_kubectl() {
  need kubectl "the Kubernetes CLI" \
    "Install it: gcloud components install kubectl (apt: apt-get install kubectl)"
  # kubectl authenticates to GKE through this plugin since Kubernetes 1.26.
  need gke-gcloud-auth-plugin "kubectl's GKE credentials" \
    "Install it: gcloud components install gke-gcloud-auth-plugin (apt: apt-get install google-cloud-cli-gke-gcloud-auth-plugin)"
}

# Stops unless gcloud has an active account.
need_login() {
  local account
  account="$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null || true)"
  [ -n "${account}" ] || die "gcloud has no active account. Run: gcloud auth login"
}

need_gcloud
PROJECT_ID="${PROJECT_ID:-$(gcloud config get-value project 2>/dev/null || true)}"
[ -n "${PROJECT_ID}" ] || die "no project: set PROJECT_ID, or run: gcloud config set project YOUR_PROJECT"
CLUSTER_NAME="${CLUSTER_NAME:-fastapi-cluster}"
REGION="${REGION:-asia-northeast1}"
MACHINE_TYPE="${MACHINE_TYPE:-e2-small}"
NUM_NODES="${NUM_NODES:-1}"   # per zone (a regional cluster has three zones)
MIN_NODES="${MIN_NODES:-1}"
MAX_NODES="${MAX_NODES:-3}"
NAMESPACE="${NAMESPACE:-default}"
# Artifact Registry (Container Registry no longer accepts pushes): one Docker repository.
REPOSITORY="${REPOSITORY:-logferry}"
REGISTRY="${REGISTRY:-${REGION}-docker.pkg.dev/${PROJECT_ID}/${REPOSITORY}}"
# native: deployment.yaml (Kubernetes 1.29+); classic: deployment-classic.yaml.
DEPLOYMENT="${DEPLOYMENT:-native}"
# structured: configmap.yaml (detect_json); original: configmap-original.yaml, verbatim.
CONFIGMAP="${CONFIGMAP:-structured}"
# 1: the sidecar writes as its own Google service account (Workload Identity), not the nodes'.
WORKLOAD_IDENTITY="${WORKLOAD_IDENTITY:-0}"
# The service accounts create-cluster.sh makes: the nodes', the builds', and with Workload
# Identity the one the pod writes logs as (bound to the Kubernetes service account `logferry`).
NODE_SA="${NODE_SA:-logferry-nodes@${PROJECT_ID}.iam.gserviceaccount.com}"
BUILD_SA="${BUILD_SA:-logferry-builder@${PROJECT_ID}.iam.gserviceaccount.com}"
WRITER_SA="${WRITER_SA:-logferry-writer@${PROJECT_ID}.iam.gserviceaccount.com}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# build.sh writes the tag of the images it built here; apply.sh deploys that tag.
LAST_BUILD="${LAST_BUILD:-${ROOT}/deploy/gke/.last-build}"

case "${DEPLOYMENT}" in native | classic) ;; *) die "DEPLOYMENT must be native or classic, not ${DEPLOYMENT}" ;; esac
case "${CONFIGMAP}" in structured | original) ;; *) die "CONFIGMAP must be structured or original, not ${CONFIGMAP}" ;; esac
case "${WORKLOAD_IDENTITY}" in 0 | 1) ;; *) die "WORKLOAD_IDENTITY must be 0 or 1, not ${WORKLOAD_IDENTITY}" ;; esac
