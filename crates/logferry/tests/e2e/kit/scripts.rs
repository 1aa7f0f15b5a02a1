//! deploy/gke/*.sh end to end: what they ask of the cloud (recorded), what they deploy (rendered
//! by the real `kubectl kustomize`), verify.sh against the pod simulation and the emulator with
//! the real `gcloud logging read`, and how they stop when a prerequisite is missing.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;

use super::super::pod::{CLUSTER, NAMESPACE, PROJECT, PodSim, query};
use super::*;

const REGISTRY_HOST: &str = "asia-northeast1-docker.pkg.dev";

fn node_sa(project: &str) -> String {
    format!("logferry-nodes@{project}.iam.gserviceaccount.com")
}

fn build_sa(project: &str) -> String {
    format!("logferry-builder@{project}.iam.gserviceaccount.com")
}

/// The run id verify.sh printed ("... tagged verify-...").
fn run_id(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("verify-"))
        .unwrap_or_else(|| panic!("no run id in:\n{stdout}"))
        .to_owned()
}

#[test]
fn up_sh_creates_builds_applies_and_verifies_against_the_pod_simulation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let fake = FakeCloud::new(root);
    let emulator = Emulator::start(&fresh_dir(root, "emulator"));
    let mut pod = PodSim::start(&root.join("pod"), &emulator, "configmap.yaml");
    let project = PROJECT;
    let config = gcloud_config_for(root, &emulator.url);

    let verify_env = |command: &mut std::process::Command| {
        command
            .env("PROJECT_ID", project)
            .env("NAMESPACE", NAMESPACE)
            .env("CLUSTER_NAME", CLUSTER)
            .env("API_URL", format!("http://{}", pod.addr))
            .env("REQUESTS", "20")
            .env("WAIT_SECONDS", "90")
            .env("REAL_GCLOUD", real_tool("gcloud"))
            .env("CLOUDSDK_CONFIG", &config)
            .env("FAKE_SIDECAR_LOG", root.join("pod/agent.log"));
    };
    let mut up = fake.script("up.sh", &[]);
    verify_env(&mut up);
    let out = up.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    for expected in [
        "22/22 lines in Cloud Logging",
        "OK: every line of verify-",
        "(the app line's severity: NOTICE)",
        "OK: the sidecar says \"Successfully sent to Google Cloud Logging API.\"",
    ] {
        assert!(
            stdout.contains(expected),
            "no {expected:?} in\n{}",
            text(&out)
        );
    }
    let run = run_id(&stdout);

    // What was asked of the cloud: Artifact Registry, the service accounts and their roles, the
    // autoscaling cluster, the build with a new tag; no Container Registry, no local docker.
    let enabled = fake.calls_of("gcloud", &["services", "enable"]);
    assert_eq!(enabled.len(), 1);
    assert!(enabled[0].contains(&"artifactregistry.googleapis.com".to_owned()));
    assert!(!enabled[0].iter().any(|w| w.contains("containerregistry")));
    let repo = fake.calls_of("gcloud", &["artifacts", "repositories", "create"]);
    assert_eq!(repo.len(), 1, "{:?}", fake.calls());
    assert_eq!(repo[0][3], "logferry");
    assert_eq!(flag(&repo[0], "--repository-format"), Some("docker"));
    assert_eq!(flag(&repo[0], "--location"), Some("asia-northeast1"));
    let accounts: Vec<String> = fake
        .calls_of("gcloud", &["iam", "service-accounts", "create"])
        .into_iter()
        .map(|c| c[3].clone())
        .collect();
    assert_eq!(accounts, ["logferry-nodes", "logferry-builder"]);
    let roles: BTreeSet<(String, String)> = fake
        .calls_of("gcloud", &["projects", "add-iam-policy-binding"])
        .iter()
        .chain(&fake.calls_of(
            "gcloud",
            &["artifacts", "repositories", "add-iam-policy-binding"],
        ))
        .map(|c| {
            (
                flag(c, "--member").unwrap().to_owned(),
                flag(c, "--role").unwrap().to_owned(),
            )
        })
        .collect();
    let member = |sa: String| format!("serviceAccount:{sa}");
    let want: BTreeSet<(String, String)> = [
        (
            member(node_sa(project)),
            "roles/container.defaultNodeServiceAccount",
        ),
        (member(node_sa(project)), "roles/logging.logWriter"),
        (member(node_sa(project)), "roles/artifactregistry.reader"),
        (member(build_sa(project)), "roles/cloudbuild.builds.builder"),
        (member(build_sa(project)), "roles/artifactregistry.writer"),
    ]
    .into_iter()
    .map(|(m, r)| (m, r.to_owned()))
    .collect();
    assert_eq!(roles, want);
    let cluster = fake.calls_of("gcloud", &["container", "clusters", "create"]);
    assert_eq!(cluster.len(), 1);
    let cluster = &cluster[0];
    assert_eq!(cluster[3], CLUSTER);
    assert!(cluster.contains(&"--enable-autoscaling".to_owned()));
    assert_eq!(flag(cluster, "--min-nodes"), Some("1"));
    assert_eq!(flag(cluster, "--max-nodes"), Some("3"));
    assert_eq!(
        flag(cluster, "--service-account"),
        Some(node_sa(project).as_str())
    );
    assert_eq!(flag(cluster, "--scopes"), Some("gke-default"));
    assert!(!cluster.contains(&"--workload-pool".to_owned()));
    let builds = fake.calls_of("gcloud", &["builds", "submit"]);
    assert_eq!(builds.len(), 1);
    let tag = fs::read_to_string(&fake.last_build)
        .unwrap()
        .trim()
        .to_owned();
    assert!(!tag.is_empty() && tag != "latest");
    let registry = format!("{REGISTRY_HOST}/{project}/logferry");
    assert_eq!(flag(&builds[0], "--config"), Some("deploy/cloudbuild.yml"));
    assert_eq!(
        flag(&builds[0], "--substitutions"),
        Some(format!("_REGISTRY={registry},_TAG={tag}").as_str())
    );
    assert_eq!(
        flag(&builds[0], "--service-account"),
        Some(format!("projects/{project}/serviceAccounts/{}", build_sa(project)).as_str())
    );
    assert!(
        fake.calls_of("docker", &[]).is_empty(),
        "the images build on Cloud Build"
    );

    // What was applied: the rendered overlay, with only the images just built.
    let applied = fs::read_to_string(&fake.applied).unwrap();
    for bad in ["PROJECT_ID", ":latest", "gcr.io"] {
        assert!(!applied.contains(bad), "{bad} in\n{applied}");
    }
    let images: BTreeSet<&str> = applied
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .collect();
    let want_images: BTreeSet<String> = ["logferry", "web-api"]
        .iter()
        .map(|i| format!("{registry}/{i}:{tag}"))
        .collect();
    assert_eq!(images, want_images.iter().map(String::as_str).collect());
    for kind in [
        "kind: ConfigMap",
        "kind: Deployment",
        "kind: Service",
        "detect_json true",
    ] {
        assert!(applied.contains(kind), "no {kind} in\n{applied}");
    }
    assert!(applied.contains(&format!("namespace: {NAMESPACE}")));
    assert_eq!(
        fake.calls_of("kubectl", &["-n", NAMESPACE, "rollout", "status"])
            .len(),
        1
    );

    // The alerts go with the pod where the cluster has Managed Prometheus.
    let monitoring = fake.calls_of("kubectl", &["-n", NAMESPACE, "apply", "-f"]);
    assert_eq!(monitoring.len(), 1, "{:?}", fake.calls());
    assert!(monitoring[0][4].ends_with("deploy/k8s/monitoring.yaml"));

    // Every gcloud command and role the scripts ran is one deploy/README.md documents.
    let readme = deploy_readme();
    for call in fake.calls_of("gcloud", &[]) {
        // The command's words: up to its first flag or value (a name the scripts chose).
        let is_value = |w: &&String| {
            w.starts_with('-')
                || w.contains(['.', '@', '"', ' '])
                || [project, CLUSTER, "logferry"].contains(&w.as_str())
        };
        let words: Vec<&str> = call
            .iter()
            .take_while(|w| !is_value(w))
            .map(String::as_str)
            .collect();
        let command = format!("gcloud {}", words.join(" "));
        assert!(
            readme.contains(&command),
            "deploy/README.md does not document `{command}`"
        );
    }
    for (_, role) in &want {
        assert!(
            readme.contains(role.as_str()),
            "deploy/README.md does not name {role}"
        );
    }

    // verify.sh fails, naming it, when one line is missing: a copy of the emulator's entries
    // without the access line of request 7.
    let missing = Emulator::start(&fresh_dir(root, "emulator-missing"));
    let entries = query(&emulator, project, "");
    let kept: Vec<serde_json::Value> = entries
        .into_iter()
        .filter(|e| e["httpRequest"]["requestUrl"] != format!("/items?run={run}&i=7").as_str())
        .map(|mut e| {
            e.as_object_mut().unwrap().remove("receiveTimestamp");
            e
        })
        .collect();
    write_entries(&missing.url, &kept);
    let mut again = fake.script("verify.sh", &[&run]);
    verify_env(&mut again);
    let out = again
        .env("CLOUDSDK_CONFIG", gcloud_config_for(root, &missing.url))
        .env("WAIT_SECONDS", "2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains(&format!("not every line of {run} reached Cloud Logging")),
        "{}",
        text(&out)
    );
    assert!(
        stderr.contains(&format!("the access line of GET /items?run={run}&i=7\n")),
        "{}",
        text(&out)
    );
    assert!(!stderr.contains("&i=8"), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("21/22 lines"),
        "{}",
        text(&out)
    );

    // ... and when the sidecar's log lacks the success line the original check relied on.
    let empty_log = root.join("empty.log");
    fs::write(&empty_log, "").unwrap();
    let mut again = fake.script("verify.sh", &[&run]);
    verify_env(&mut again);
    let out = again.env("FAKE_SIDECAR_LOG", &empty_log).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "the sidecar's log has no \"Successfully sent to Google Cloud Logging API.\""
        ),
        "{}",
        text(&out)
    );
    pod.stop();
}

/// deploy/README.md with its whitespace runs made single spaces, so a documented command can be
/// found whatever the line breaks.
fn deploy_readme() -> String {
    fs::read_to_string(workspace_root().join("deploy/README.md"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `root/name`, created.
fn fresh_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// POSTs `entries` to the emulator's entries:write (each entry carries its logName and resource).
fn write_entries(url: &str, entries: &[serde_json::Value]) {
    let body = serde_json::json!({ "entries": entries }).to_string();
    let addr = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /v2/entries:write HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[test]
fn verify_sh_finds_the_lines_the_original_configmap_ships_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let fake = FakeCloud::new(root);
    let emulator = Emulator::start(&fresh_dir(root, "emulator"));
    let mut pod = PodSim::start(&root.join("pod"), &emulator, "configmap-original.yaml");
    let out = fake
        .script("verify.sh", &[])
        .env("PROJECT_ID", PROJECT)
        .env("NAMESPACE", NAMESPACE)
        .env("API_URL", format!("http://{}", pod.addr))
        .env("REQUESTS", "5")
        .env("WAIT_SECONDS", "90")
        .env("REAL_GCLOUD", real_tool("gcloud"))
        .env("CLOUDSDK_CONFIG", gcloud_config_for(root, &emulator.url))
        .env("FAKE_SIDECAR_LOG", root.join("pod/agent.log"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The original ships each line as text: severity DEFAULT, the whole JSON line as payload.
    assert!(stdout.contains("7/7 lines in Cloud Logging"), "{stdout}");
    assert!(
        stdout.contains("(the app line's severity: DEFAULT)"),
        "{stdout}"
    );
    pod.stop();
}

#[test]
fn workload_identity_binds_the_pods_service_account_to_a_log_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCloud::new(dir.path());
    let project = "wi-project";
    let writer = format!("logferry-writer@{project}.iam.gserviceaccount.com");
    for script in ["create-cluster.sh", "apply.sh"] {
        let out = fake
            .script(script, &[])
            .env("PROJECT_ID", project)
            .env("WORKLOAD_IDENTITY", "1")
            .env("NAMESPACE", "shop")
            .env("TAG", "20260101-000000-abc1234")
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {}", text(&out));
    }
    let cluster = &fake.calls_of("gcloud", &["container", "clusters", "create"])[0];
    assert_eq!(
        flag(cluster, "--workload-pool"),
        Some(format!("{project}.svc.id.goog").as_str())
    );
    let binding = fake.calls_of(
        "gcloud",
        &["iam", "service-accounts", "add-iam-policy-binding"],
    );
    // The sidecar pods' account and the node agent's (apply.sh --daemonset).
    assert_eq!(binding.len(), 2);
    for (call, ksa) in binding
        .iter()
        .zip(["shop/logferry", "logferry/logferry-node"])
    {
        assert_eq!(call[3], writer);
        assert_eq!(flag(call, "--role"), Some("roles/iam.workloadIdentityUser"));
        assert_eq!(
            flag(call, "--member"),
            Some(format!("serviceAccount:{project}.svc.id.goog[{ksa}]").as_str())
        );
    }
    let writes = fake.calls_of("gcloud", &["projects", "add-iam-policy-binding"]);
    assert!(writes.iter().any(|c| flag(c, "--member")
        == Some(&format!("serviceAccount:{writer}"))
        && flag(c, "--role") == Some("roles/logging.logWriter")));
    let applied = fs::read_to_string(&fake.applied).unwrap();
    assert!(applied.contains("kind: ServiceAccount"), "{applied}");
    assert!(
        applied.contains(&format!("iam.gke.io/gcp-service-account: {writer}")),
        "{applied}"
    );
    assert!(
        applied.contains("serviceAccountName: logferry"),
        "{applied}"
    );
}

#[test]
fn apply_daemonset_rolls_out_the_node_kit_with_your_image() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCloud::new(dir.path());
    let project = "node-project";
    let tag = "20260101-000000-abc1234";
    let out = fake
        .script("apply.sh", &["--daemonset"])
        .env("PROJECT_ID", project)
        .env("WORKLOAD_IDENTITY", "1")
        .env("TAG", tag)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let applied = fs::read_to_string(&fake.applied).unwrap();
    for want in [
        "kind: DaemonSet".to_string(),
        "kind: ClusterRole".to_string(),
        "namespace: logferry".to_string(),
        format!("/logferry:{tag}"),
        "logferry/fluentd-conf-sha256:".to_string(),
        format!(
            "iam.gke.io/gcp-service-account: logferry-writer@{project}.iam.gserviceaccount.com"
        ),
    ] {
        assert!(applied.contains(&want), "{want} not in:\n{applied}");
    }
    // The sidecar's objects are not part of it.
    assert!(!applied.contains("kind: Service\n"), "{applied}");
    assert!(!applied.contains("name: fast-api-pod"), "{applied}");
    let rollout = fake.calls_of("kubectl", &["-n", "logferry", "rollout", "status"]);
    assert_eq!(rollout.len(), 1, "{:?}", fake.calls());
    assert_eq!(rollout[0][4], "daemonset/logferry-node");
    // An unknown argument names itself.
    let out = fake
        .script("apply.sh", &["--daemonsets"])
        .env("PROJECT_ID", project)
        .env("TAG", tag)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("unknown argument --daemonsets"),
        "{}",
        text(&out)
    );
}

/// (script, args, env, tool missing from PATH, expected message)
type MissingCase<'a> = (
    &'a str,
    &'a [&'a str],
    &'a [(&'a str, &'a str)],
    Option<&'a str>,
    &'a str,
);

#[test]
fn the_scripts_stop_with_a_clear_message_when_a_prerequisite_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCloud::new(dir.path());
    let cases: &[MissingCase] = &[
        (
            "create-cluster.sh",
            &[],
            &[("PROJECT_ID", "p")],
            Some("gcloud"),
            "`gcloud` is missing (the Google Cloud CLI). Install it:",
        ),
        (
            "create-cluster.sh",
            &[],
            &[("PROJECT_ID", "p")],
            Some("kubectl"),
            "`kubectl` is missing (the Kubernetes CLI). Install it:",
        ),
        (
            "apply.sh",
            &["--print"],
            &[("PROJECT_ID", "p"), ("TAG", "t1")],
            Some("kubectl"),
            "`kubectl` is missing",
        ),
        (
            "create-cluster.sh",
            &[],
            &[("PROJECT_ID", "p")],
            Some("gke-gcloud-auth-plugin"),
            "`gke-gcloud-auth-plugin` is missing (kubectl's GKE credentials)",
        ),
        (
            "create-cluster.sh",
            &[],
            &[],
            None,
            "no project: set PROJECT_ID, or run: gcloud config set project YOUR_PROJECT",
        ),
        (
            "build.sh",
            &[],
            &[("PROJECT_ID", "p"), ("FAKE_ACCOUNT", "")],
            None,
            "gcloud has no active account. Run: gcloud auth login",
        ),
        (
            "create-cluster.sh",
            &[],
            &[("PROJECT_ID", "p"), ("FAKE_BILLING", "False")],
            None,
            "billing is not enabled for p",
        ),
        (
            "apply.sh",
            &[],
            &[("PROJECT_ID", "p")],
            None,
            "no image tag: run deploy/gke/build.sh first",
        ),
        (
            "apply.sh",
            &[],
            &[("PROJECT_ID", "p"), ("TAG", "latest")],
            None,
            "TAG=latest would not roll out",
        ),
        (
            "build.sh",
            &[],
            &[("PROJECT_ID", "p"), ("TAG", "latest")],
            None,
            "TAG=latest would not roll out",
        ),
        (
            "apply.sh",
            &["--print"],
            &[
                ("PROJECT_ID", "p"),
                ("TAG", "t1"),
                ("DEPLOYMENT", "sidecar"),
            ],
            None,
            "DEPLOYMENT must be native or classic",
        ),
    ];
    for (script, args, env, without, message) in cases {
        let _ = fs::remove_file(&fake.record);
        let mut command = match without {
            Some(tool) => fake.script_without(script, args, tool),
            None => fake.script(script, args),
        };
        let out = command.envs(env.iter().copied()).output().unwrap();
        let what = format!("{script} {args:?} {env:?} without {without:?}");
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{script}: {message}")),
            "{what}: no {message:?} in {}",
            text(&out)
        );
        // It stopped before changing anything: nothing but look-ups reached the cloud.
        for call in fake.calls() {
            let words = call.join(" ");
            assert!(
                [
                    "gcloud config get-value",
                    "gcloud auth list",
                    "gcloud billing projects describe",
                    "kubectl kustomize"
                ]
                .iter()
                .any(|lookup| words.starts_with(lookup)),
                "{what} ran `{words}` before stopping"
            );
        }
    }
}

#[test]
fn a_second_create_changes_nothing_that_exists_and_down_all_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCloud::new(dir.path());
    let project = "again-project";
    let out = fake
        .script("create-cluster.sh", &[])
        .env("PROJECT_ID", project)
        .env("FAKE_EXISTS", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    for create in [
        &["artifacts", "repositories", "create"][..],
        &["iam", "service-accounts", "create"],
        &["container", "clusters", "create"],
    ] {
        assert!(
            fake.calls_of("gcloud", create).is_empty(),
            "{create:?} ran again"
        );
    }
    // Roles are granted again (a binding that exists is left as it is by IAM).
    assert_eq!(
        fake.calls_of("gcloud", &["container", "clusters", "get-credentials"])
            .len(),
        1
    );
    let _ = fs::remove_file(&fake.record);
    let out = fake
        .script("down.sh", &["--all"])
        .env("PROJECT_ID", project)
        .env("FAKE_EXISTS", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let deleted: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.contains(&"delete".to_owned()))
        .map(|c| c[1..].join(" "))
        .collect();
    let region = "--region asia-northeast1";
    assert_eq!(
        deleted,
        [
            format!("container clusters delete {CLUSTER} {region} --project {project} --quiet"),
            format!(
                "artifacts repositories delete logferry --location asia-northeast1 --project {project} --quiet"
            ),
            format!(
                "iam service-accounts delete {} --project {project} --quiet",
                node_sa(project)
            ),
            format!(
                "iam service-accounts delete {} --project {project} --quiet",
                build_sa(project)
            ),
            format!(
                "iam service-accounts delete logferry-writer@{project}.iam.gserviceaccount.com --project {project} --quiet"
            ),
        ]
    );
    let readme = deploy_readme();
    for command in [
        "gcloud container clusters delete",
        "gcloud artifacts repositories delete",
        "gcloud iam service-accounts delete",
    ] {
        assert!(
            readme.contains(command),
            "deploy/README.md does not document {command:?}"
        );
    }
}
