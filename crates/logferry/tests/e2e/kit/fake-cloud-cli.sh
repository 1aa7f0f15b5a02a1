#!/usr/bin/env bash
# A recording stand-in for gcloud, kubectl, docker and gke-gcloud-auth-plugin (installed under
# each name in a test's PATH): every call is appended to $FAKE_RECORD, one line per call, words
# separated by tabs; what needs a cloud is recorded, not run, and answered the way a fresh
# project would answer. `kubectl kustomize` runs the real kubectl ($REAL_KUBECTL), and with
# $REAL_GCLOUD set `gcloud logging read` runs the real gcloud (pointed at the emulator by the
# test's CLOUDSDK_CONFIG). What a `kubectl apply -f FILE` applies is kept as $FAKE_APPLIED.
set -euo pipefail
tool="$(basename "$0")"
(IFS=$'\t'; printf '%s\t%s\n' "${tool}" "$*") >> "${FAKE_RECORD}"

case "${tool} $*" in
  "kubectl kustomize "*) exec "${REAL_KUBECTL}" "$@" ;;
  "kubectl apply "*)
    while [ $# -gt 0 ]; do
      if [ "$1" = -f ]; then cat "$2" >> "${FAKE_APPLIED}"; shift; fi
      shift
    done ;;
  "kubectl "*" get service "*) echo -n "${FAKE_EXTERNAL_IP:-203.0.113.7}" ;;
  "kubectl "*" logs "*) cat "${FAKE_SIDECAR_LOG:-/dev/null}" ;;
  "gcloud config get-value "*) echo "${FAKE_CONFIG_PROJECT:-}" ;;
  "gcloud auth list"*) echo "${FAKE_ACCOUNT-dev@example.com}" ;;
  "gcloud billing projects describe "*) echo "${FAKE_BILLING:-True}" ;;
  "gcloud projects describe "*) echo 123456789012 ;;
  "gcloud logging read "*)
    [ -n "${REAL_GCLOUD:-}" ] || { echo "fake gcloud: no REAL_GCLOUD for logging read" >&2; exit 2; }
    exec "${REAL_GCLOUD}" "$@" ;;
  *)
    # `... describe`: nothing exists yet in a fresh project, so the scripts create it
    # (FAKE_EXISTS=1: everything exists already, as on a second run).
    for word in "$@"; do
      if [ "${word}" = describe ] && [ "${FAKE_EXISTS:-0}" != 1 ]; then
        echo "ERROR: (${tool}) NOT_FOUND (recorded by the test's fake ${tool})" >&2
        exit 1
      fi
    done ;;
esac
