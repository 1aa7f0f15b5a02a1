#!/usr/bin/env bash
# What scripts/check-deploy.sh needs (run by scripts/test.sh before the tests; idempotent):
# kubernetes-validate, which carries the Kubernetes JSON schemas (1.29 and later) so manifests
# validate offline, and PyYAML (one of its dependencies) to read the manifests.
set -euo pipefail
if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  python3 -m pip install --quiet 'kubernetes-validate>=1.31' PyYAML
fi
