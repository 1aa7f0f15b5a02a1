//! The node of deploy/k8s/daemonset on one machine: a fake kubelet writes CRI logs for a few
//! pods under a temp dir (`var/log/pods/NAMESPACE_POD_UID/CONTAINER/N.log`, with the
//! `var/log/containers/POD_NAMESPACE_CONTAINER-ID.log` symlinks), rotates one container's file,
//! restarts another, starts a pod and deletes one, while logferry runs with the DaemonSet's args
//! and its ConfigMap's node config (paths moved under the temp dir, the emulator's `endpoint`
//! added), a fake GKE metadata server and `NODE_NAME`. Every line arrives once, with its pod's
//! `k8s_container` resource, its stream's log and the node's label. With a fake Kubernetes API
//! server ([`super::kube_api`]) the entries also carry their pod's labels (`k8s-pod/KEY`), through
//! relabelling, deletion right after the last lines, and the API server going down and back.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::kube_api::FakeKubeApi;
use super::pod::{
    CLUSTER, LOCATION, PROJECT, Proc, configmap_fluentd_conf, container_args, fake_metadata_server,
    local_agent_args, manifest, query,
};
use super::support::*;

const NODE: &str = "gke-fastapi-cluster-default-pool-1a2b3c4d-wxyz";

/// One container as kubelet lays out its logs.
pub(super) struct Container {
    pub(super) namespace: &'static str,
    pub(super) pod: &'static str,
    pub(super) uid: &'static str,
    pub(super) name: &'static str,
    /// The runtime's id of the current run (64 hex digits).
    pub(super) id: String,
    pub(super) restarts: u32,
    /// Rotations so far, for the rotated files' names.
    rotations: u32,
}

/// What one line must arrive as.
pub(super) struct Expected {
    namespace: &'static str,
    pub(super) pod: &'static str,
    container: &'static str,
    stream: &'static str,
    json: bool,
    /// The values its entry's `k8s-pod/app` label may have (`None`: no such label): the pod's
    /// labels when the line was written, or the ones before a change the agent may not have
    /// seen yet.
    apps: Vec<Option<String>>,
}

impl Container {
    pub(super) fn new(
        namespace: &'static str,
        pod: &'static str,
        uid: &'static str,
        name: &'static str,
    ) -> Self {
        let mut c = Container {
            namespace,
            pod,
            uid,
            name,
            id: String::new(),
            restarts: 0,
            rotations: 0,
        };
        c.id = c.container_id();
        c
    }

    fn container_id(&self) -> String {
        let seed = format!("{}{}{}", self.pod, self.name, self.restarts);
        let mut id = String::new();
        while id.len() < 64 {
            id.push_str(&format!("{:x}", seed.len() * 7 + id.len()));
            id.push_str(
                &seed
                    .bytes()
                    .map(|b| format!("{:x}", b % 16))
                    .collect::<String>(),
            );
        }
        id.truncate(64);
        id
    }

    pub(super) fn dir(&self, root: &Path) -> PathBuf {
        root.join("var/log/pods")
            .join(format!("{}_{}_{}", self.namespace, self.pod, self.uid))
            .join(self.name)
    }

    pub(super) fn file(&self, root: &Path) -> PathBuf {
        self.dir(root).join(format!("{}.log", self.restarts))
    }

    pub(super) fn link(&self, root: &Path) -> PathBuf {
        root.join("var/log/containers").join(format!(
            "{}_{}_{}-{}.log",
            self.pod, self.namespace, self.name, self.id
        ))
    }

    /// The container starts: its log file and the symlink kubelet makes to it.
    pub(super) fn start(&self, root: &Path) {
        fs::create_dir_all(self.dir(root)).unwrap();
        fs::File::create(self.file(root)).unwrap();
        std::os::unix::fs::symlink(self.file(root), self.link(root)).unwrap();
    }

    /// The container exits and runs again: a new id, the next `N.log`, a new symlink (the old
    /// one stays until kubelet collects the dead container).
    pub(super) fn restart(&mut self, root: &Path) {
        self.restarts += 1;
        self.id = self.container_id();
        self.start(root);
    }

    /// Kubelet's rotation: `N.log` renamed with a timestamp, the runtime reopens a new one.
    pub(super) fn rotate(&mut self, root: &Path) {
        self.rename_current(root);
        fs::File::create(self.file(root)).unwrap();
    }

    /// The first half of a rotation, kubelet's: `N.log` renamed to `N.log.YYYYMMDD-HHMMSS`
    /// (one second apart per rotation, as kubelet's checks are), until the runtime reopens
    /// `N.log`. Returns the rotated file.
    pub(super) fn rename_current(&mut self, root: &Path) -> PathBuf {
        let file = self.file(root);
        let seconds = 15 * 60 + self.rotations;
        self.rotations += 1;
        let stamp = format!(
            "log.20261203-{:02}{:02}{:02}",
            4 + seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        let rotated = file.with_extension(stamp);
        fs::rename(&file, &rotated).unwrap();
        rotated
    }

    /// The pod is deleted: kubelet removes its logs and the symlinks of all its containers'
    /// runs.
    pub(super) fn delete(&self, root: &Path) {
        let prefix = format!("{}_{}_{}-", self.pod, self.namespace, self.name);
        for link in fs::read_dir(root.join("var/log/containers")).unwrap() {
            let link = link.unwrap();
            if link.file_name().to_string_lossy().starts_with(&prefix) {
                fs::remove_file(link.path()).unwrap();
            }
        }
        fs::remove_dir_all(self.dir(root).parent().unwrap()).unwrap();
    }

    /// Appends `count` lines, the runtime's way: stdout and stderr interleaved, every fifth a
    /// JSON line, every seventh split into a `P` and an `F` part.
    pub(super) fn write(
        &self,
        root: &Path,
        from: usize,
        count: usize,
        apps: &[Option<String>],
        expected: &mut HashMap<String, Expected>,
    ) {
        let mut text = String::new();
        for n in from..from + count {
            let stream = if n % 2 == 0 { "stdout" } else { "stderr" };
            let message = format!("{}/{}#{} line {n}", self.pod, self.name, self.restarts);
            let time = gcloud_logging::Timestamp::now().to_rfc3339();
            let json = n % 5 == 0;
            let body = if json {
                format!(r#"{{"severity":"WARNING","message":"{message}"}}"#)
            } else {
                message.clone()
            };
            if n % 7 == 3 && !json {
                let (first, rest) = body.split_at(body.len() / 2);
                text.push_str(&format!(
                    "{time} {stream} P {first}\n{time} {stream} F {rest}\n"
                ));
            } else {
                text.push_str(&format!("{time} {stream} F {body}\n"));
            }
            expected.insert(
                message,
                Expected {
                    namespace: self.namespace,
                    pod: self.pod,
                    container: self.name,
                    stream,
                    json,
                    apps: apps.to_vec(),
                },
            );
        }
        append(&self.file(root), &text);
    }
}

/// The entries of the node's containers in the emulator.
pub(super) fn container_entries(emulator: &Emulator) -> Vec<serde_json::Value> {
    query(emulator, PROJECT, r#"resource.type="k8s_container""#)
}

pub(super) fn message_of(entry: &serde_json::Value) -> String {
    entry["textPayload"]
        .as_str()
        .or_else(|| entry["jsonPayload"]["message"].as_str())
        .unwrap_or_else(|| panic!("no message in {entry}"))
        .to_owned()
}

fn wait_for_count(emulator: &Emulator, agent: &Proc, n: usize, phase: &str) {
    let mut last = 0;
    let arrived = wait_for(|| {
        last = container_entries(emulator).len();
        last >= n
    });
    assert!(
        arrived,
        "{phase}: {last} of {n} lines arrived\n{}",
        agent.log()
    );
}

/// The node: its directories under a temp dir, the emulator, the fake metadata server, and the
/// DaemonSet's args and node config, ready to start agents with.
pub(super) struct Node {
    dir: tempfile::TempDir,
    pub(super) emulator: Emulator,
    metadata: std::net::SocketAddr,
    args: Vec<String>,
    /// Every line written so far, by message.
    pub(super) expected: HashMap<String, Expected>,
    /// Per pod, the `k8s-pod/app` values its next lines may arrive with (default: none).
    apps: HashMap<&'static str, Vec<Option<String>>>,
}

impl Node {
    fn new() -> Node {
        Node::with_api(None)
    }

    /// The node; with `api`, its config's filter asks that API server (as the pod's service
    /// account would ask the cluster's), with the test's token and quick retries.
    pub(super) fn with_api(api: Option<&FakeKubeApi>) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in [
            "var/log/containers",
            "var/log/pods",
            "var/lib/logferry",
            "etc/logferry",
            "tmp",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let emulator = Emulator::start(root);
        let metadata = fake_metadata_server();

        // The DaemonSet's node config, unchanged but for where the node's directories are, the
        // emulator's address, and files found within a second (the test's pods start fast).
        let conf = configmap_fluentd_conf("daemonset/configmap.yaml")
            .replace("/var/log", &root.join("var/log").display().to_string())
            .replace(
                "/var/lib/logferry",
                &root.join("var/lib/logferry").display().to_string(),
            )
            .replace(
                "@type google_cloud\n",
                &format!("@type google_cloud\n  endpoint {}\n", emulator.url),
            )
            .replace(
                "refresh_interval 5s\n",
                "refresh_interval 1s\n  poll_interval 20ms\n",
            );
        let conf = match api {
            Some(api) => conf.replace(
                "@type kubernetes_metadata\n",
                &format!(
                    "@type kubernetes_metadata\n  kubernetes_url {}/api\n  bearer_token_file {}\n  watch_retry_interval 0.1\n",
                    api.url(),
                    api.write_token(root).display()
                ),
            ),
            None => conf,
        };
        assert_eq!(conf.contains("kubernetes_url"), api.is_some(), "{conf}");
        assert!(conf.contains("refresh_interval 1s"), "{conf}");
        assert!(conf.contains("endpoint http://"), "{conf}");
        let conf_path = root.join("etc/logferry/fluentd.conf");
        fs::write(&conf_path, &conf).unwrap();
        let daemonset = manifest("daemonset/daemonset.yaml");
        let args: Vec<String> = local_agent_args(container_args(&daemonset, "logferry"))
            .into_iter()
            .map(|a| {
                a.replace(
                    "/etc/logferry",
                    &root.join("etc/logferry").display().to_string(),
                )
            })
            .collect();
        assert!(args.contains(&conf_path.display().to_string()), "{args:?}");
        Node {
            dir,
            emulator,
            metadata,
            args,
            expected: HashMap::new(),
            apps: HashMap::new(),
        }
    }

    pub(super) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The agents started from now on send to `url` (a proxy in front of the emulator).
    pub(super) fn send_through(&self, url: &str) {
        let conf_path = self.root().join("etc/logferry/fluentd.conf");
        let conf = fs::read_to_string(&conf_path).unwrap();
        let endpoint = format!("endpoint {}\n", self.emulator.url);
        assert!(conf.contains(&endpoint), "{conf}");
        fs::write(
            &conf_path,
            conf.replace(&endpoint, &format!("endpoint {url}\n")),
        )
        .unwrap();
    }

    /// The agent as the DaemonSet runs it (`log` names its output file).
    pub(super) fn start_agent(&self, log: &str) -> Proc {
        Proc::spawn(
            Command::new(BIN)
                .args(&self.args)
                .env("GCE_METADATA_HOST", self.metadata.to_string())
                .env("NODE_NAME", NODE)
                // Not the cluster this test may run in: only the API server the config names.
                .env_remove("KUBERNETES_SERVICE_HOST")
                .env_remove("K8S_NODE_NAME")
                .env("TMPDIR", self.root().join("tmp")),
            self.root().join(log),
        )
    }

    pub(super) fn write(&mut self, c: &Container, from: usize, count: usize) {
        let root = self.dir.path().to_owned();
        let apps = self.apps.get(c.pod).cloned().unwrap_or(vec![None]);
        c.write(&root, from, count, &apps, &mut self.expected);
    }

    /// The `k8s-pod/app` values `pod`'s next lines may arrive with.
    pub(super) fn expect_apps(&mut self, pod: &'static str, apps: &[Option<&str>]) {
        let apps = apps.iter().map(|a| a.map(str::to_owned)).collect();
        self.apps.insert(pod, apps);
    }

    /// Writes lines to `c` (from `from` on) until one arrives with `k8s-pod/app` `app`: the
    /// agent has seen the change; returns where the next line starts.
    fn write_until_app(
        &mut self,
        agent: &Proc,
        c: &Container,
        mut from: usize,
        app: Option<&str>,
    ) -> usize {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            self.write(c, from, 5);
            from += 5;
            self.wait_for_all(
                agent,
                "lines while the agent catches up with the API server",
            );
            let entries = container_entries(&self.emulator);
            let seen = entries.iter().any(|e| {
                e["resource"]["labels"]["pod_name"] == c.pod
                    && message_of(e).ends_with(&format!(" line {}", from - 1))
                    && e["labels"]["k8s-pod/app"].as_str() == app
            });
            if seen {
                return from;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no line of {} arrived with app {app:?}\n{}",
                c.pod,
                agent.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn wait_for_all(&self, agent: &Proc, phase: &str) {
        wait_for_count(&self.emulator, agent, self.expected.len(), phase);
    }

    /// Every line written is in the emulator once, with its pod, its stream's log and the node.
    pub(super) fn assert_every_line_once(&self, log: &str) {
        let entries = container_entries(&self.emulator);
        let all = query(&self.emulator, PROJECT, "");
        assert_eq!(all.len(), entries.len(), "every entry is a container's");
        let mut seen: HashMap<String, usize> = HashMap::new();
        for entry in &entries {
            let message = message_of(entry);
            *seen.entry(message.clone()).or_default() += 1;
            let want = self
                .expected
                .get(&message)
                .unwrap_or_else(|| panic!("unexpected entry {entry}"));
            assert_eq!(
                entry["resource"]["labels"],
                serde_json::json!({
                    "project_id": PROJECT,
                    "location": LOCATION,
                    "cluster_name": CLUSTER,
                    "namespace_name": want.namespace,
                    "pod_name": want.pod,
                    "container_name": want.container,
                }),
                "{entry}"
            );
            assert_eq!(
                entry["logName"],
                format!("projects/{PROJECT}/logs/{}", want.stream),
                "{entry}"
            );
            assert_eq!(
                entry["labels"]["compute.googleapis.com/resource_name"], NODE,
                "{entry}"
            );
            let app = entry["labels"]["k8s-pod/app"].as_str().map(str::to_owned);
            assert!(want.apps.contains(&app), "{:?} wanted: {entry}", want.apps);
            if want.json {
                assert_eq!(entry["severity"], "WARNING", "{entry}");
            } else {
                assert!(entry["textPayload"].is_string(), "{entry}");
            }
        }
        let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        let lost: Vec<_> = self
            .expected
            .keys()
            .filter(|m| !seen.contains_key(*m))
            .collect();
        assert!(
            repeated.is_empty() && lost.is_empty(),
            "{} repeated (e.g. {:?}), {} lost (e.g. {:?})\n{log}",
            repeated.len(),
            repeated.first(),
            lost.len(),
            lost.first()
        );
    }
}

#[test]
fn every_container_line_arrives_once_with_its_pod() {
    let mut node = Node::new();
    let root = node.root().to_owned();
    let root = root.as_path();
    let mut web0 = Container::new(
        "shop",
        "web-0",
        "0f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e01",
        "api",
    );
    let mut web1 = Container::new(
        "shop",
        "web-1",
        "1f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e02",
        "api",
    );
    let dns = Container::new(
        "kube-system",
        "coredns-7d9f8b6c5d-x2x4z",
        "2f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e03",
        "coredns",
    );
    for c in [&web0, &web1, &dns] {
        c.start(root);
        node.write(c, 0, 50);
    }
    // The agent's own log, which the node config leaves out.
    let own = Container::new(
        "logferry",
        "logferry-node-8x2kq",
        "3f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e04",
        "logferry",
    );
    own.start(root);
    append(
        &own.file(root),
        &format!(
            "{} stderr F the agent's own line\n",
            gcloud_logging::Timestamp::now().to_rfc3339()
        ),
    );

    let mut agent = node.start_agent("agent.log");
    // Lines already on disk, and lines written while the agent runs.
    for c in [&web0, &web1, &dns] {
        node.write(c, 50, 50);
    }
    node.wait_for_all(&agent, "running pods");

    // Kubelet rotates web-0's file right after lines the agent may not have read yet; web-1's
    // container restarts; a new pod starts; coredns's pod is deleted right after its last lines.
    node.write(&web0, 100, 30);
    web0.rotate(root);
    node.write(&web0, 130, 30);
    web1.restart(root);
    node.write(&web1, 0, 40);
    let batch = Container::new(
        "jobs",
        "report-28391",
        "4f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e05",
        "main",
    );
    batch.start(root);
    node.write(&batch, 0, 40);
    node.write(&dns, 100, 20);
    dns.delete(root);
    node.wait_for_all(&agent, "rotation, restart, new and deleted pods");

    let log = agent.stop("the agent");
    node.assert_every_line_once(&log);
}

/// The agent killed (-9) while the pods write, and started again (a crash, an upgrade): it
/// resumes every file from the positions it kept on the node's disk; nothing is lost, and what
/// it had sent but not saved is sent again with the same insertId and timestamp, so Cloud
/// Logging keeps it once.
#[test]
fn a_killed_agent_resumes_from_the_positions_on_the_node() {
    let mut node = Node::new();
    let root = node.root().to_owned();
    let root = root.as_path();
    let mut pods: Vec<Container> = (0..4)
        .map(|i| {
            Container::new(
                "shop",
                ["web-0", "web-1", "web-2", "web-3"][i],
                [
                    "5f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e10",
                    "5f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e11",
                    "5f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e12",
                    "5f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e13",
                ][i],
                "api",
            )
        })
        .collect();
    for c in &pods {
        c.start(root);
        node.write(c, 0, 200);
    }
    let mut agent = node.start_agent("agent-1.log");
    let mut written = 200;
    // Kill it while it ships: once it saved a position for every file (a file it never saved
    // is read from the head again, as it should be), with more lines being written.
    let pos_file = root.join("var/lib/logferry/containers.log.pos");
    wait_until("a saved position for every file", || {
        let saved = fs::read_to_string(&pos_file).unwrap_or_default();
        pods.iter().all(|c| {
            let link = c.link(root).display().to_string();
            saved.lines().any(|l| {
                let mut fields = l.split('\t');
                fields.next() == Some(link.as_str())
                    && fields
                        .next()
                        .and_then(|o| u64::from_str_radix(o, 16).ok())
                        .is_some_and(|o| o > 0)
            })
        })
    });
    for c in &pods {
        node.write(c, written, 100);
    }
    written += 100;
    agent.kill();
    for c in &pods {
        node.write(c, written, 100);
    }
    written += 100;
    // Kubelet rotates one of them while the agent is down: its unread end is in
    // `0.log.TIMESTAMP` beside the link's target, not beside the link.
    pods[0].rotate(root);
    for c in &pods {
        node.write(c, written, 50);
    }
    written += 50;

    let mut agent = node.start_agent("agent-2.log");
    let rotated = pods[0].link(root).display().to_string();
    wait_until(
        "the restarted agent to finish the file rotated while it was down",
        || {
            agent.log().lines().any(|l| {
                l.contains("finishing") && l.contains(&format!("(rotated from {rotated})"))
            })
        },
    );
    // From the saved positions, not from the head (which read_from_head would do without
    // them, and Cloud Logging's dedup would hide).
    for c in &pods[1..] {
        let link = c.link(root).display().to_string();
        wait_until("the restarted agent to resume each file", || {
            agent.log().lines().any(|l| {
                l.contains(&link)
                    && l.contains("resumed at offset")
                    && !l.contains("resumed at offset 0 ")
            })
        });
    }
    for c in &pods {
        node.write(c, written, 100);
    }
    node.wait_for_all(&agent, "after the restart");
    let log = agent.stop("the restarted agent");
    node.assert_every_line_once(&log);
}

/// A pod of the API server's, as the fake kubelet lays it out.
pub(super) fn api_pod(api: &FakeKubeApi, c: &Container, app: &str) {
    api.put_pod(
        c.namespace,
        c.pod,
        c.uid,
        NODE,
        c.name,
        &c.id,
        serde_json::json!({"app": app, "app.kubernetes.io/part-of": "shop"}),
    );
}

/// With the API server: every entry carries its pod's labels as `k8s-pod/KEY` (de-dotted, as
/// the plugin writes them), through a relabel, a pod started, a pod deleted right after its
/// last lines, and an outage (a pod started while the API is down goes out with what its path
/// says, a known pod keeps its labels, and after the relist the new pod gets its own), every
/// line once.
#[test]
fn pod_labels_from_the_api_server_reach_every_entry() {
    let api = FakeKubeApi::start();
    api.put_namespace("shop", serde_json::json!({"team": "payments"}));
    api.put_namespace("jobs", serde_json::json!({}));
    let mut node = Node::with_api(Some(&api));
    let root = node.root().to_owned();
    let root = root.as_path();
    let web0 = Container::new(
        "shop",
        "web-0",
        "6f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e20",
        "api",
    );
    let web1 = Container::new(
        "shop",
        "web-1",
        "6f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e21",
        "api",
    );
    for c in [&web0, &web1] {
        api_pod(&api, c, "web");
        node.expect_apps(c.pod, &[Some("web")]);
        c.start(root);
        node.write(c, 0, 50);
    }
    let mut agent = node.start_agent("agent.log");
    for c in [&web0, &web1] {
        node.write(c, 50, 50);
    }
    node.wait_for_all(&agent, "running pods");
    let entries = container_entries(&node.emulator);
    let web = entries
        .iter()
        .find(|e| e["resource"]["labels"]["pod_name"] == "web-0")
        .unwrap();
    assert_eq!(
        web["labels"]["k8s-pod/app_kubernetes_io/part-of"], "shop",
        "{web}"
    );

    // Relabelled: lines go on; once one carries the new label, all the next ones do.
    api_pod(&api, &web1, "web-v2");
    node.expect_apps("web-1", &[Some("web"), Some("web-v2")]);
    let next = node.write_until_app(&agent, &web1, 100, Some("web-v2"));
    node.expect_apps("web-1", &[Some("web-v2")]);
    node.write(&web1, next, 30);

    // A pod started; a pod deleted right after its last lines (its files gone with it).
    let report = Container::new(
        "jobs",
        "report-28391",
        "6f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e22",
        "main",
    );
    api_pod(&api, &report, "report");
    node.expect_apps(report.pod, &[Some("report")]);
    report.start(root);
    node.write(&report, 0, 40);
    node.write(&web0, 100, 20);
    api.delete_pod(web0.uid);
    web0.delete(root);
    node.wait_for_all(&agent, "a new pod and a deleted one");

    // The API server goes down: a known pod keeps its labels; a pod started meanwhile goes
    // out with what its path says.
    api.go_down();
    let lists = api.lists("pods");
    let web2 = Container::new(
        "shop",
        "web-2",
        "6f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e23",
        "api",
    );
    api_pod(&api, &web2, "web");
    web2.start(root);
    node.write(&web2, 0, 40);
    node.write(&web1, next + 30, 20);
    node.wait_for_all(&agent, "lines while the API server is down");
    // Back: after its relist the agent knows web-2.
    api.come_back();
    node.expect_apps("web-2", &[None, Some("web")]);
    wait_until("the agent to list the pods again", || {
        api.lists("pods") > lists
    });
    let next = node.write_until_app(&agent, &web2, 40, Some("web"));
    node.expect_apps("web-2", &[Some("web")]);
    node.write(&web2, next, 20);
    node.wait_for_all(&agent, "after the API server came back");

    let log = agent.stop("the agent");
    node.assert_every_line_once(&log);
}

/// The API server unreachable from the start and for a while: nothing waits on it, every line
/// arrives once with what its path says; when it answers, the next lines get their labels.
#[test]
fn an_api_server_down_from_the_start_holds_nothing_back() {
    let api = FakeKubeApi::start();
    api.go_down();
    let mut node = Node::with_api(Some(&api));
    let root = node.root().to_owned();
    let root = root.as_path();
    let pods: Vec<Container> = (0..3)
        .map(|i| {
            Container::new(
                "shop",
                ["api-0", "api-1", "api-2"][i],
                [
                    "7f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e30",
                    "7f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e31",
                    "7f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e32",
                ][i],
                "api",
            )
        })
        .collect();
    for c in &pods {
        api_pod(&api, c, "api");
        c.start(root);
        node.write(c, 0, 100);
    }
    let mut agent = node.start_agent("agent.log");
    for c in &pods {
        node.write(c, 100, 100);
    }
    node.wait_for_all(&agent, "lines while the API server is down");
    assert!(
        agent.log().contains("does not answer"),
        "the outage is logged\n{}",
        agent.log()
    );

    api.come_back();
    for c in &pods {
        node.expect_apps(c.pod, &[None, Some("api")]);
    }
    let next = node.write_until_app(&agent, &pods[0], 200, Some("api"));
    for c in &pods {
        node.expect_apps(c.pod, &[Some("api")]);
        node.write(c, next, 50);
    }
    node.wait_for_all(&agent, "after the API server answered");
    let log = agent.stop("the agent");
    node.assert_every_line_once(&log);
}
