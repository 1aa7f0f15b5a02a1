#!/usr/bin/env bash
# Everything in order: project and cluster, images, manifests, verification.
set -euo pipefail
dir="$(dirname "$0")"
bash "${dir}/create-cluster.sh"
bash "${dir}/build.sh"
bash "${dir}/apply.sh"
bash "${dir}/verify.sh"
