#!/usr/bin/env bash
# What the deployment kit's checks and tests need (run by scripts/test.sh before the tests;
# idempotent):
#   - kubernetes-validate, which carries the Kubernetes JSON schemas (1.29 and later) so
#     manifests validate offline, and PyYAML (one of its dependencies) to read them;
#   - the Google Cloud CLI (`gcloud`, whose `logging read` the kit's verify test points at the
#     emulator) and `kubectl` (whose `kustomize` renders the manifests). The machine image has
#     both (Google's packages google-cloud-cli and kubectl); where they are missing they are
#     installed with apt, and if that cannot be done this script fails, so no test is skipped.
set -euo pipefail
if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  python3 -m pip install --quiet 'kubernetes-validate>=1.31' PyYAML
fi

missing=()
command -v gcloud >/dev/null 2>&1 || missing+=(google-cloud-cli)
command -v kubectl >/dev/null 2>&1 || missing+=(kubectl)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup/deploy.sh: installing ${missing[*]} (the deployment kit's tests run them)"
  if ! { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; }; then
    echo "setup/deploy.sh: cannot install ${missing[*]}: the apt sources have no Google Cloud CLI" \
      "packages. Add Google's apt repository (https://cloud.google.com/sdk/docs/install#deb) or" \
      "install the CLI by hand; the deployment kit's tests need gcloud and kubectl." >&2
    exit 1
  fi
fi
gcloud version >/dev/null 2>&1 || { echo "setup/deploy.sh: gcloud does not run" >&2; exit 1; }
kubectl version --client >/dev/null 2>&1 || { echo "setup/deploy.sh: kubectl does not run" >&2; exit 1; }
