#!/usr/bin/env bash
# Checks the deployment kit offline (run by the `deploy_kit` e2e test, so CI runs it):
#   1. every Kubernetes manifest validates against the 1.29 schemas and the newest known, strictly;
#   2. the manifests agree with each other (kustomization, images, the pod's contract);
#   3. `logferry check` accepts the fluentd.conf embedded in configmap.yaml;
#   4. the Dockerfiles build with CI's commands and toolchain, and their context holds the workspace;
#   5. the GKE scripts parse (`bash -n`) and run with `set -euo pipefail`.
# LOGFERRY is the logferry binary to use (default: `cargo run -p logferry`).
# CHECK_DEPLOY_BUILD=1 also runs CI's release builds.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-deploy: $*" >&2; exit 1; }
step() { echo "check-deploy: $*"; }

# The builds CI runs and the Dockerfiles must run, word for word.
readonly AGENT_BUILD='cargo build --release --locked -p logferry'
readonly API_BUILD='cargo build --release --locked -p web-api'
readonly MIN_KUBERNETES=1.29.0

python3 -c 'import kubernetes_validate, yaml' 2>/dev/null \
  || fail "kubernetes-validate is missing: bash scripts/setup/deploy.sh"

step "1. Kubernetes schemas (${MIN_KUBERNETES} and the newest, strict)"
manifests=()
for f in deploy/k8s/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
[ "${#manifests[@]}" -ge 4 ] || fail "expected at least 4 manifests in deploy/k8s, found ${#manifests[@]}"
kubernetes-validate --strict --quiet -k "${MIN_KUBERNETES}" "${manifests[@]}" \
  || fail "a manifest does not validate against Kubernetes ${MIN_KUBERNETES}"
kubernetes-validate --strict --quiet "${manifests[@]}" \
  || fail "a manifest does not validate against the newest Kubernetes schemas"

step "2. the manifests agree with each other"
python3 - <<'PY'
import os, sys, yaml

def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]

def fail(msg):
    sys.exit(f"check-deploy: {msg}")

k = load("deploy/k8s/kustomization.yaml")[0]
for r in k["resources"]:
    if not os.path.exists(os.path.join("deploy/k8s", r)):
        fail(f"kustomization.yaml lists {r}, which does not exist")
image_names = {i["name"] for i in k["images"]}

def pod_spec(path):
    (d,) = load(path)
    assert d["kind"] == "Deployment", path
    return d, d["spec"]["template"]["spec"]

def dur(s):
    return int(s.rstrip("s"))

def arg(args, flag, default):
    return args[args.index(flag) + 1] if flag in args else default

for path, native in [("deploy/k8s/deployment.yaml", True), ("deploy/k8s/deployment-classic.yaml", False)]:
    d, spec = pod_spec(path)
    containers = spec["containers"]
    inits = spec.get("initContainers", [])
    by = {c["name"]: c for c in containers + inits}
    agent, api = by.get("fluentd-container"), by.get("fast-api-container")
    if not agent or not api:
        fail(f"{path}: needs fluentd-container and fast-api-container")
    if native:
        if agent not in inits or agent.get("restartPolicy") != "Always":
            fail(f"{path}: logferry must be a native sidecar (initContainer, restartPolicy: Always)")
    else:
        if agent not in containers or "preStop" not in agent.get("lifecycle", {}):
            fail(f"{path}: logferry must be an ordinary container with a preStop hook")
    for c in (agent, api):
        if c["image"] not in image_names:
            fail(f"{path}: image {c['image']} has no entry in kustomization.yaml")
        sc = c.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False):
            fail(f"{path}: {c['name']} needs a read-only root and no privilege escalation")
        r = c.get("resources", {})
        if not (r.get("requests") and r.get("limits", {}).get("memory")):
            fail(f"{path}: {c['name']} needs resource requests and a memory limit")
        if not c.get("livenessProbe") or not c.get("readinessProbe"):
            fail(f"{path}: {c['name']} needs liveness and readiness probes")
    if not spec.get("securityContext", {}).get("runAsNonRoot"):
        fail(f"{path}: the pod must run as non-root")
    env = {e["name"]: e for e in agent.get("env", [])}
    if env.get("FLUENTD_ARGS", {}).get("value") != "-c /etc/fluentd/fluentd.conf":
        fail(f"{path}: FLUENTD_ARGS must be `-c /etc/fluentd/fluentd.conf`")
    for name, field in [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")]:
        if env.get(name, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != field:
            fail(f"{path}: {name} must come from the downward API ({field})")
    if env.get("CONTAINER_NAME", {}).get("value") != api["name"]:
        fail(f"{path}: CONTAINER_NAME must name the API container")
    mounts = {m["mountPath"]: m["name"] for m in agent["volumeMounts"]}
    api_mounts = {m["mountPath"]: m["name"] for m in api["volumeMounts"]}
    if mounts.get("/api/log") != api_mounts.get("/api/log") or "/etc/fluentd" not in mounts:
        fail(f"{path}: the sidecar must share /api/log with the API and mount the ConfigMap")
    probes = [agent[p]["httpGet"] for p in ("livenessProbe", "readinessProbe")]
    if [p["path"] for p in probes] != ["/healthz", "/readyz"]:
        fail(f"{path}: the sidecar's probes are /healthz (liveness) and /readyz (readiness)")
    # The grace period covers the API's shutdown, the preStop wait and the sidecar's drain.
    shutdown = dur(arg(api["args"], "--shutdown-timeout", "10s"))
    drain = dur(arg(agent["args"], "--drain-timeout", "25s"))
    wait = 0 if native else int(agent["lifecycle"]["preStop"]["exec"]["command"][-1])
    if not native and wait <= shutdown:
        fail(f"{path}: the preStop wait ({wait}s) must outlast the API's shutdown ({shutdown}s)")
    if not native and arg(agent["args"], "--writer-exit-marker", None) != arg(api["args"], "--exit-marker", ""):
        fail(f"{path}: the sidecar's --writer-exit-marker must be the API's --exit-marker")
    budget = (shutdown + drain) if native else (wait + drain)
    if spec["terminationGracePeriodSeconds"] < budget + 5:
        fail(f"{path}: terminationGracePeriodSeconds {spec['terminationGracePeriodSeconds']} < {budget}s + 5s slack")

(svc,) = load("deploy/k8s/service.yaml")
port = svc["spec"]["ports"][0]
if svc["spec"]["type"] != "LoadBalancer" or port["port"] != 5000:
    fail("service.yaml: a LoadBalancer on port 5000")

cb = yaml.safe_load(open("deploy/cloudbuild.yml"))
text = open("deploy/cloudbuild.yml").read()
for dockerfile in ("deploy/docker/logferry.Dockerfile", "deploy/docker/web-api.Dockerfile"):
    if dockerfile not in text:
        fail(f"cloudbuild.yml does not build {dockerfile}")
if cb.get("timeout") != "3600s" or len(cb.get("images", [])) < 2 or "--cache-from" not in text or "|| exit 0" not in text:
    fail("cloudbuild.yml: needs the cache pull (|| exit 0), --cache-from, images and timeout 3600s")
PY

step "3. logferry check on configmap.yaml's fluentd.conf"
conf_dir="$(mktemp -d)"
trap 'rm -rf "${conf_dir}"' EXIT
python3 -c '
import sys, yaml
(cm,) = [d for d in yaml.safe_load_all(open("deploy/k8s/configmap.yaml")) if d]
sys.stdout.write(cm["data"]["fluentd.conf"])' > "${conf_dir}/fluentd.conf"
grep -q 'type google_cloud' "${conf_dir}/fluentd.conf" || fail "configmap.yaml's fluentd.conf has no google_cloud output"
if [ -n "${LOGFERRY:-}" ]; then
  "${LOGFERRY}" check -c "${conf_dir}/fluentd.conf" >/dev/null \
    || fail "logferry check rejects configmap.yaml's fluentd.conf"
else
  cargo run --quiet -p logferry -- check -c "${conf_dir}/fluentd.conf" >/dev/null \
    || fail "logferry check rejects configmap.yaml's fluentd.conf"
fi

step "4. Dockerfiles build with CI's commands and toolchain"
check_dockerfile() {
  local file="$1" package="$2" build="$3"
  [ "$(grep -c 'cargo build' "$file")" = 1 ] || fail "$file: expected exactly one cargo build"
  grep -qF -- "${build} " "$file" || grep -qE -- "${build}\$" "$file" \
    || fail "$file: its build is not CI's \`${build}\`"
  grep -qF "target/release/${package}" "$file" || fail "$file: does not take target/release/${package}"
  grep -qE '^USER (65532|nonroot)' "$file" || fail "$file: the runtime user must be non-root"
  grep -qE '^FROM gcr.io/distroless/cc' "$file" || fail "$file: the runtime must be distroless/cc"
  local builder
  builder="$(grep -m1 -oE '^FROM [^ ]*rust:[0-9]+\.[0-9]+[^ ]*' "$file" | sed 's/.*rust://')" \
    || fail "$file: the builder must be a pinned rust:X.Y image"
  local ci
  ci="$(rustc --version | awk '{print $2}' | cut -d. -f1,2)"
  case "${builder}" in
    "${ci}"|"${ci}"-*|"${ci}".*) ;;
    *) fail "$file: builder rust:${builder} is not CI's toolchain ${ci}" ;;
  esac
}
check_dockerfile deploy/docker/logferry.Dockerfile logferry "${AGENT_BUILD}"
check_dockerfile deploy/docker/web-api.Dockerfile web-api "${API_BUILD}"
# --locked builds need a lockfile in step with the manifests.
cargo metadata --locked --format-version 1 --no-deps > "${conf_dir}/metadata.json" \
  || fail "Cargo.lock is out of date: \`--locked\` builds would fail"
# The build context must hold every workspace member (.dockerignore must not drop one).
python3 - "${conf_dir}/metadata.json" <<'PY'
import fnmatch, json, os, sys
meta = json.load(open(sys.argv[1]))
root = meta["workspace_root"]
rules = []
for line in open(".dockerignore"):
    line = line.strip()
    if line and not line.startswith("#"):
        rules.append((line.startswith("!"), line.lstrip("!").strip("/")))
def ignored(path):
    parts = path.split("/")
    verdict = False
    for negate, pattern in rules:
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, pattern) or (pattern.startswith("**/") and fnmatch.fnmatch(parts[i - 1], pattern[3:])):
                verdict = not negate
                break
    return verdict
bins = {}
for p in meta["packages"]:
    rel = os.path.relpath(os.path.dirname(p["manifest_path"]), root)
    for f in ("Cargo.toml", "src"):
        if ignored(f"{rel}/{f}"):
            sys.exit(f"check-deploy: .dockerignore drops {rel}/{f}, a workspace member's")
    bins[p["name"]] = [t["name"] for t in p["targets"] if "bin" in t["kind"]]
for name in ("logferry", "web-api"):
    if name not in bins.get(name, []):
        sys.exit(f"check-deploy: package {name} has no `{name}` binary")
for path in ("Cargo.toml", "Cargo.lock", "deploy/k8s/deployment.yaml", "deploy/k8s/configmap.yaml"):
    if ignored(path):
        sys.exit(f"check-deploy: .dockerignore drops {path}, which the build needs")
PY
if [ "${CHECK_DEPLOY_BUILD:-0}" = 1 ]; then
  ${AGENT_BUILD}
  ${API_BUILD}
fi

step "5. GKE scripts"
for script in deploy/gke/*.sh; do
  bash -n "${script}" || fail "${script} does not parse"
  grep -q '^set -euo pipefail' "${script}" || fail "${script}: missing set -euo pipefail"
done

step "all checks passed"
