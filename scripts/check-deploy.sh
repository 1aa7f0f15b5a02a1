#!/usr/bin/env bash
# Checks the deployment kit offline (run by the `e2e::kit` test, so CI runs it):
#   1. every Kubernetes manifest, and every documented `kubectl kustomize` rendering (deploy/k8s
#      and each variant deploy/gke/apply.sh renders), validates against the 1.29 schemas and the
#      newest known, strictly; the renderings hold only the registry's images with the build's tag;
#   2. the manifests agree with each other (the pod's contract, the grace period, the alerts'
#      metrics, Cloud Build's registry, tags and cache);
#   3. `logferry check` accepts both ConfigMaps' fluentd.conf, which differ by detect_json alone,
#      and the DaemonSet variant's node config (deploy/k8s/daemonset);
#   4. the Dockerfiles build with CI's commands and toolchain, their dependency layer's skeleton
#      is the workspace, and their context holds it;
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

step "1. Kubernetes schemas (${MIN_KUBERNETES} and the newest, strict), manifests and renderings"
command -v kubectl >/dev/null || fail "kubectl is missing (it renders the kustomizations): bash scripts/setup/deploy.sh"
command -v gcloud >/dev/null || fail "gcloud is missing (deploy/gke/env.sh needs it): bash scripts/setup/deploy.sh"
render_dir="$(mktemp -d)"
trap 'rm -rf "${render_dir}"' EXIT
manifests=()
for f in deploy/k8s/*.yaml; do
  case "$(basename "$f")" in
    # kustomization.yaml is rendered below; monitoring.yaml holds Managed Prometheus CRDs,
    # which the Kubernetes schemas do not know (its metrics are checked in step 2).
    kustomization.yaml | monitoring.yaml) ;;
    *) manifests+=("$f") ;;
  esac
done
[ "${#manifests[@]}" -ge 5 ] || fail "expected at least 5 manifests in deploy/k8s, found ${#manifests[@]}"
# The DaemonSet variant (node-level mode), a kustomization of its own.
for f in deploy/k8s/daemonset/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
kubectl kustomize deploy/k8s > "${render_dir}/base.yaml" || fail "kubectl kustomize deploy/k8s fails"
kubectl kustomize deploy/k8s/daemonset > "${render_dir}/daemonset.yaml" \
  || fail "kubectl kustomize deploy/k8s/daemonset fails"
# What apply.sh applies, for every variant it documents; the images must be the build's.
readonly RENDER_PROJECT=check-deploy-project RENDER_TAG=20260101-000000-abc1234
for variant in "native structured 0" "classic structured 0" "native original 0" "classic original 0" "native structured 1"; do
  read -r deployment configmap wi <<<"${variant}"
  out="${render_dir}/apply-${deployment}-${configmap}-wi${wi}.yaml"
  PROJECT_ID="${RENDER_PROJECT}" TAG="${RENDER_TAG}" DEPLOYMENT="${deployment}" CONFIGMAP="${configmap}"     WORKLOAD_IDENTITY="${wi}" NAMESPACE=shop bash deploy/gke/apply.sh --print > "${out}"     || fail "deploy/gke/apply.sh --print fails for ${variant}"
done
for wi in 0 1; do
  PROJECT_ID="${RENDER_PROJECT}" TAG="${RENDER_TAG}" WORKLOAD_IDENTITY="${wi}" \
    bash deploy/gke/apply.sh --daemonset --print > "${render_dir}/node-wi${wi}.yaml" \
    || fail "deploy/gke/apply.sh --daemonset --print fails (WORKLOAD_IDENTITY=${wi})"
done
renderings=("${render_dir}"/*.yaml)
kubernetes-validate --strict --quiet -k "${MIN_KUBERNETES}" "${manifests[@]}" "${renderings[@]}" \
  || fail "a manifest or rendering does not validate against Kubernetes ${MIN_KUBERNETES}"
kubernetes-validate --strict --quiet "${manifests[@]}" "${renderings[@]}" \
  || fail "a manifest or rendering does not validate against the newest Kubernetes schemas"
python3 - "${render_dir}" "${RENDER_PROJECT}" "${RENDER_TAG}" <<'PY'
import glob, os, sys, yaml
render_dir, project, tag = sys.argv[1:]
registry = f"asia-northeast1-docker.pkg.dev/{project}/logferry"
for path in sorted(glob.glob(os.path.join(render_dir, "apply-*.yaml"))):
    name = os.path.basename(path)
    text = open(path).read()
    for bad in ("PROJECT_ID", ":latest", "gcr.io/"):
        if bad in text:
            sys.exit(f"check-deploy: {name} contains {bad!r}")
    docs = [d for d in yaml.safe_load_all(text) if d]
    kinds = sorted(d["kind"] for d in docs)
    want = ["ConfigMap", "Deployment", "Service"] + (["ServiceAccount"] if "wi1" in name else [])
    if kinds != sorted(want):
        sys.exit(f"check-deploy: {name} renders {kinds}, expected {sorted(want)}")
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    spec = dep["spec"]["template"]["spec"]
    images = sorted(c["image"] for c in spec.get("containers", []) + spec.get("initContainers", []))
    if images != [f"{registry}/logferry:{tag}", f"{registry}/web-api:{tag}"]:
        sys.exit(f"check-deploy: {name} deploys {images}, not the build's images")
    if any(d["metadata"].get("namespace") != "shop" for d in docs):
        sys.exit(f"check-deploy: {name} has an object outside NAMESPACE")
    conf = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["fluentd.conf"]
    if ("detect_json true" in conf) != ("-structured-" in name):
        sys.exit(f"check-deploy: {name} has the wrong ConfigMap")
    if ("wi1" in name) != (spec.get("serviceAccountName") == "logferry"):
        sys.exit(f"check-deploy: {name}: serviceAccountName is {spec.get('serviceAccountName')}")
# apply.sh --daemonset: the node kit with the build's image, annotated for Workload Identity.
for path in sorted(glob.glob(os.path.join(render_dir, "node-wi*.yaml"))):
    name = os.path.basename(path)
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    images = [c["image"] for c in ds["spec"]["template"]["spec"]["containers"]]
    if images != [f"{registry}/logferry:{tag}"]:
        sys.exit(f"check-deploy: {name} deploys {images}, not the build's image")
    (sa,) = [d for d in docs if d["kind"] == "ServiceAccount"]
    annotation = (sa["metadata"].get("annotations") or {}).get("iam.gke.io/gcp-service-account")
    if ("wi1" in name) != (annotation == f"logferry-writer@{project}.iam.gserviceaccount.com"):
        sys.exit(f"check-deploy: {name}: the node's ServiceAccount is annotated {annotation!r}")
PY

step "2. the manifests agree with each other"
python3 - "${render_dir}/daemonset.yaml" <<'PY'
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
# The base names the images `logferry` and `web-api`, which apply.sh's overlay replaces; a
# rename in the base would make that overlay match nothing (issue 15).
if k.get("images"):
    fail("kustomization.yaml must not rename the images: deploy/gke/apply.sh's overlay sets them")
image_names = {"logferry", "web-api"}

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
            fail(f"{path}: image {c['image']} is not one apply.sh sets ({sorted(image_names)})")
        sc = c.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False):
            fail(f"{path}: {c['name']} needs a read-only root and no privilege escalation")
        r = c.get("resources", {})
        if not (r.get("requests") and r.get("limits", {}).get("memory")):
            fail(f"{path}: {c['name']} needs resource requests and a memory limit")
        if not c.get("livenessProbe"):
            fail(f"{path}: {c['name']} needs a liveness probe")
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
    if agent["livenessProbe"]["httpGet"]["path"] != "/healthz":
        fail(f"{path}: the sidecar's liveness probe is /healthz (the process answers)")
    # A sidecar's readiness counts for the pod: /readyz there would take the API off the load
    # balancer when Cloud Logging is unreachable (issue 15). Delivery is alerted on instead.
    if "readinessProbe" in agent:
        fail(f"{path}: the sidecar must have no readinessProbe (logs must not take the API down)")
    if not api.get("readinessProbe"):
        fail(f"{path}: the API needs a readiness probe")
    # The API keeps serving a few seconds after it is told to stop, while the load balancer
    # stops routing to it.
    api_wait = int(api.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", ["", "0"])[-1])
    if api_wait < 3:
        fail(f"{path}: the API needs a preStop pause of a few seconds (found {api_wait}s)")
    # The grace period covers the API's pause and shutdown, the preStop wait and the drain.
    shutdown = dur(arg(api["args"], "--shutdown-timeout", "10s"))
    drain = dur(arg(agent["args"], "--drain-timeout", "25s"))
    wait = 0 if native else int(agent["lifecycle"]["preStop"]["exec"]["command"][-1])
    if not native and wait <= api_wait + shutdown:
        fail(f"{path}: the sidecar's preStop wait ({wait}s) must outlast the API's pause and shutdown ({api_wait + shutdown}s)")
    if not native and arg(agent["args"], "--writer-exit-marker", None) != arg(api["args"], "--exit-marker", ""):
        fail(f"{path}: the sidecar's --writer-exit-marker must be the API's --exit-marker")
    budget = (api_wait + shutdown + drain) if native else (wait + drain)
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
if cb.get("timeout") != "3600s" or len(cb.get("images", [])) < 2 or "|| exit 0" not in text:
    fail("cloudbuild.yml: needs the cache pull (|| exit 0), images and timeout 3600s")
# Artifact Registry, not Container Registry (no pushes since 2025).
if "-docker.pkg.dev/" not in cb["substitutions"]["_REGISTRY"] or "gcr.io/${PROJECT_ID}" in text:
    fail("cloudbuild.yml: _REGISTRY must be Artifact Registry (LOCATION-docker.pkg.dev/PROJECT/REPO)")
# A new tag per build, so a deploy rolls out; never `latest`.
if "latest" in text or any(not i.endswith(":${_TAG}") for i in cb["images"]):
    fail("cloudbuild.yml: images are tagged ${_TAG} (a new one per build), never latest")
# The dependency stage is built, cached and pushed as an image of its own, and both builds
# take it with --cache-from: the final image's inline cache would not hold it.
builds = [s["args"] for s in cb["steps"] if s.get("args", [None])[0] == "build"]
for image in ("${_AGENT_IMAGE}", "${_API_IMAGE}"):
    cache = f"${{_REGISTRY}}/{image}-deps:cache"
    deps = [a for a in builds if "--target" in a and cache in a]
    final = [a for a in builds if "--target" not in a and f"${{_REGISTRY}}/{image}:${{_TAG}}" in a]
    if len(deps) != 1 or deps[0][deps[0].index("--target") + 1] != "deps" or "BUILDKIT_INLINE_CACHE=1" not in deps[0]:
        fail(f"cloudbuild.yml: {image} needs one `--target deps` build tagged {cache} with the inline cache")
    if len(final) != 1 or final[0][final[0].index("--cache-from") + 1] != cache:
        fail(f"cloudbuild.yml: the {image} build must use --cache-from {cache}")
    if f"docker pull {cache} || exit 0" not in text or not any(s.get("args") == ["push", cache] for s in cb["steps"]):
        fail(f"cloudbuild.yml: {cache} must be pulled (|| exit 0) and pushed")

# The alerts use metrics the agent exports.
import re
metrics_rs = open("crates/agent/src/metrics.rs").read()
(_, rules) = load("deploy/k8s/monitoring.yaml")
exprs = [r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]]
for name in sorted({m for e in exprs for m in re.findall(r"\b(?:logferry|fluentd)_[a-z_]+", e)}):
    if f'"{name}"' not in metrics_rs:
        fail(f"monitoring.yaml uses {name}, which crates/agent/src/metrics.rs does not export")
if not exprs:
    fail("monitoring.yaml has no alert")

# The DaemonSet variant, as `kubectl kustomize deploy/k8s/daemonset` renders it.
for r in load("deploy/k8s/daemonset/kustomization.yaml")[0]["resources"]:
    if not os.path.exists(os.path.join("deploy/k8s/daemonset", r)):
        fail(f"daemonset/kustomization.yaml lists {r}, which does not exist")
docs = load(sys.argv[1])
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
want = ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Namespace", "PriorityClass", "ServiceAccount"]
if sorted(by_kind) != want or any(len(v) != 1 for v in by_kind.values()):
    fail(f"daemonset renders {sorted((d['kind'] for d in docs))}, expected one each of {want}")
(ds,), (sa,), (role,), (binding,), (pc,), (ns,) = (by_kind[k] for k in
    ("DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "Namespace"))
namespace = ns["metadata"]["name"]
for d in (ds, sa, by_kind["ConfigMap"][0]):
    if d["metadata"].get("namespace") != namespace:
        fail(f"daemonset: {d['kind']} {d['metadata']['name']} is not in namespace {namespace}")
spec = ds["spec"]["template"]["spec"]
if spec.get("serviceAccountName") != sa["metadata"]["name"]:
    fail("daemonset: the pods must run as the kit's ServiceAccount")
rules = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
for resource in ("pods", "namespaces"):
    if rules.get(("", resource)) != {"get", "list", "watch"}:
        fail(f"daemonset: the ClusterRole must allow get, list and watch on {resource} (and no more)")
if binding["roleRef"]["name"] != role["metadata"]["name"] or binding["subjects"] != [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": namespace}]:
    fail("daemonset: the ClusterRoleBinding must bind the ClusterRole to the ServiceAccount")
if {"operator": "Exists"} not in spec.get("tolerations", []):
    fail("daemonset: needs a toleration for every taint (operator: Exists), to run on every node")
if spec.get("priorityClassName") != pc["metadata"]["name"]:
    fail("daemonset: priorityClassName must be the kit's PriorityClass")
(agent,) = spec["containers"]
if agent["image"] not in image_names:
    fail(f"daemonset: image {agent['image']} is not the base's bare name")
r = agent.get("resources", {})
if not (r.get("requests", {}).get("cpu") and r.get("requests", {}).get("memory") and r.get("limits", {}).get("memory")):
    fail("daemonset: needs cpu and memory requests and a memory limit")
sc = agent.get("securityContext", {})
if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
        and sc.get("capabilities", {}).get("drop") == ["ALL"]):
    fail("daemonset: needs a read-only root, no privilege escalation and no capabilities")
if agent["livenessProbe"]["httpGet"]["path"] != "/healthz" or "readinessProbe" in agent:
    fail("daemonset: liveness on /healthz, and no readiness probe (nothing routes to the agent)")
env = {e["name"]: e for e in agent.get("env", [])}
if env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "spec.nodeName":
    fail("daemonset: NODE_NAME must come from the downward API (spec.nodeName)")
volumes = {v["name"]: v for v in spec["volumes"]}
mounts = {m["mountPath"]: m for m in agent["volumeMounts"]}
host = lambda m: volumes[m["name"]].get("hostPath", {}).get("path")
if "/var/log" not in mounts or host(mounts["/var/log"]) != "/var/log":
    fail("daemonset: the node's /var/log (a hostPath) must be mounted at /var/log")
if not mounts["/var/log"].get("readOnly"):
    fail("daemonset: the node's /var/log must be mounted read-only")
conf_mount = next((m for m in agent["volumeMounts"] if "configMap" in volumes[m["name"]]), None)
if not conf_mount:
    fail("daemonset: the node config's ConfigMap must be mounted")
args = agent["args"]
if arg(args, "-c", "") != conf_mount["mountPath"].rstrip("/") + "/fluentd.conf":
    fail("daemonset: `run -c` must read the mounted ConfigMap's fluentd.conf")
conf = by_kind["ConfigMap"][0]["data"]["fluentd.conf"]
state = [m for m in agent["volumeMounts"] if not m.get("readOnly") and host(m)]
for key in ("pos_file", "dead_letter_path"):
    value = next((l.split()[1] for l in conf.splitlines() if l.split()[:1] == [key]), None)
    if not value or not any(value.startswith(m["mountPath"].rstrip("/") + "/") for m in state):
        fail(f"daemonset: {key} ({value}) must be on a writable hostPath, to outlive the pod")
for needed in ("path /var/log/containers/*.log", "@type cri", "@type kubernetes_metadata", "@type google_cloud"):
    if needed not in conf:
        fail(f"daemonset: the node config needs `{needed}`")
drain = dur(arg(args, "--drain-timeout", "25s"))
if spec["terminationGracePeriodSeconds"] < drain + 5:
    fail(f"daemonset: terminationGracePeriodSeconds {spec['terminationGracePeriodSeconds']} < drain {drain}s + 5s slack")
PY

step "3. logferry check on both ConfigMaps' fluentd.conf"
conf_dir="$(mktemp -d)"
trap 'rm -rf "${conf_dir}" "${render_dir}"' EXIT
for cm in configmap configmap-original; do
  python3 -c '
import sys, yaml
(cm,) = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sys.stdout.write(cm["data"]["fluentd.conf"])' "deploy/k8s/${cm}.yaml" > "${conf_dir}/${cm}.conf"
  grep -q 'type google_cloud' "${conf_dir}/${cm}.conf" || fail "${cm}.yaml's fluentd.conf has no google_cloud output"
  if [ -n "${LOGFERRY:-}" ]; then
    "${LOGFERRY}" check -c "${conf_dir}/${cm}.conf" >/dev/null \
      || fail "logferry check rejects ${cm}.yaml's fluentd.conf"
  else
    cargo run --quiet -p logferry -- check -c "${conf_dir}/${cm}.conf" >/dev/null \
      || fail "logferry check rejects ${cm}.yaml's fluentd.conf"
  fi
done
# The DaemonSet variant's node config.
python3 -c '
import sys, yaml
(cm,) = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sys.stdout.write(cm["data"]["fluentd.conf"])' deploy/k8s/daemonset/configmap.yaml > "${conf_dir}/node.conf"
if [ -n "${LOGFERRY:-}" ]; then
  node_check=("${LOGFERRY}" check -c "${conf_dir}/node.conf")
else
  node_check=(cargo run --quiet -p logferry -- check -c "${conf_dir}/node.conf")
fi
# Clean: no error and no warning (a warning would be a parameter the agent ignores).
node_out="$("${node_check[@]}" 2>&1)" || fail "logferry check rejects daemonset/configmap.yaml's fluentd.conf: ${node_out}"
if grep -qiE '(^|: )warning' <<<"${node_out}"; then
  fail "logferry check warns about daemonset/configmap.yaml's fluentd.conf: ${node_out}"
fi
# The kit's ConfigMap is the original plus detect_json (and the comment saying why), no more.
grep -qx '  detect_json true' "${conf_dir}/configmap.conf" || fail "configmap.yaml must turn on detect_json"
if grep -q detect_json "${conf_dir}/configmap-original.conf"; then
  fail "configmap-original.yaml must be the original, verbatim"
fi
diff <(grep -v -e '^  detect_json true$' -e '^  # ' "${conf_dir}/configmap.conf") \
  <(grep -v -e '^  # ' "${conf_dir}/configmap-original.conf") >/dev/null \
  || fail "configmap.yaml and configmap-original.yaml differ by more than detect_json"

step "4. Dockerfiles build with CI's commands and toolchain"
check_dockerfile() {
  local file="$1" package="$2" build="$3"
  # Two builds, both CI's command: the dependencies' (over the skeleton), then the real one.
  [ "$(grep -c 'cargo build' "$file")" = 2 ] || fail "$file: expected two cargo builds (deps, then the workspace)"
  [ "$(grep -cE -- "${build}( |\$)" "$file")" = 2 ] || fail "$file: its builds are not both CI's \`${build}\`"
  grep -qE '^FROM .* AS deps$' "$file" || fail "$file: needs the \`deps\` stage cloudbuild.yml caches"
  grep -qF 'deploy/docker/dependency-stubs.sh' "$file" || fail "$file: the deps stage must build the skeleton of dependency-stubs.sh"
  grep -qF 'COPY --from=build /usr/bin/sleep /usr/bin/sleep' "$file" || fail "$file: the preStop hooks need /usr/bin/sleep"
  # Without it a checkout older than the skeleton's build leaves cargo thinking the stubs are
  # fresh, and the image ships an empty `fn main() {}` (seen with a local run of these steps).
  grep -qF "find crates bench -name '*.rs' -exec touch {} +" "$file" \
    || fail "$file: the final build must touch the real sources first (or cargo keeps the stubs)"
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
# The deps stage's skeleton is the same workspace: the same packages resolve from it, locked.
sh deploy/docker/dependency-stubs.sh . "${conf_dir}/stubs" || fail "dependency-stubs.sh failed"
(cd "${conf_dir}/stubs" && cargo metadata --locked --offline --format-version 1 --no-deps) \
  > "${conf_dir}/stubs.json" 2> "${conf_dir}/stubs.err" \
  || fail "the dependency skeleton does not load: $(cat "${conf_dir}/stubs.err")"
python3 - "${conf_dir}/metadata.json" "${conf_dir}/stubs.json" <<'PY'
import json, sys
real, stubs = (json.load(open(p)) for p in sys.argv[1:])
names = lambda m: sorted((p["name"], p["version"]) for p in m["packages"])
if names(real) != names(stubs):
    sys.exit(f"check-deploy: the dependency skeleton has {names(stubs)}, the workspace {names(real)}")
PY
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
for path in ("Cargo.toml", "Cargo.lock", "deploy/k8s/deployment.yaml", "deploy/k8s/configmap.yaml", "deploy/docker/dependency-stubs.sh"):
    if ignored(path):
        sys.exit(f"check-deploy: .dockerignore drops {path}, which the build needs")
PY
if [ "${CHECK_DEPLOY_BUILD:-0}" = 1 ]; then
  ${AGENT_BUILD}
  ${API_BUILD}
fi

step "5. GKE scripts"
for script in deploy/gke/*.sh deploy/docker/*.sh; do
  bash -n "${script}" || fail "${script} does not parse"
  grep -qE '^set -(euo pipefail|eu)$' "${script}" || fail "${script}: missing set -euo pipefail"
done
if grep -nE 'containerregistry|gcr\.io/\$' deploy/gke/*.sh; then
  fail "the GKE scripts must use Artifact Registry, not Container Registry"
fi

step "all checks passed"
