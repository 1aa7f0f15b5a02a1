//! The pod of deploy/k8s/deployment.yaml on one machine: the web API and the logferry sidecar as
//! separate processes with the manifests' arguments and the ConfigMap's fluentd.conf, a fake GKE
//! metadata server, and the emulator as Cloud Logging ([`PodSim`], which the deployment kit's
//! tests in `kit.rs` also run). Also `logferry demo`.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::support::*;

/// What the fake metadata server and the downward API say about the pod.
pub const PROJECT: &str = "fastapi-project-303004";
pub const CLUSTER: &str = "fastapi-cluster";
pub const LOCATION: &str = "asia-northeast1";
const POD: &str = "fast-api-pod-7c9d8f6b5-x2x4q";
pub const NAMESPACE: &str = "shop";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn manifest(name: &str) -> String {
    fs::read_to_string(workspace_root().join("deploy/k8s").join(name)).unwrap()
}

/// The `web-api` binary the workspace build put next to `logferry`.
fn web_api_bin() -> PathBuf {
    let path = Path::new(BIN).with_file_name("web-api");
    assert!(
        path.is_file(),
        "{} is missing: cargo build -p web-api (cargo test --workspace builds it)",
        path.display()
    );
    path
}

/// The one-line `args: [...]` of a container in a Deployment manifest.
pub fn container_args(yaml: &str, name: &str) -> Vec<String> {
    let mut lines = yaml
        .lines()
        .skip_while(|l| l.trim() != format!("- name: {name}"));
    lines
        .next()
        .unwrap_or_else(|| panic!("no container {name}"));
    let list = lines
        .find_map(|l| l.trim().strip_prefix("args:").map(str::to_owned))
        .unwrap_or_else(|| panic!("container {name} has no args"));
    serde_json::from_str(list.trim()).unwrap()
}

/// The `value:` of env `var` (the first one in the file).
fn env_value(yaml: &str, var: &str) -> String {
    let mut lines = yaml
        .lines()
        .skip_while(|l| l.trim() != format!("- name: {var}"));
    lines.next().unwrap_or_else(|| panic!("no env {var}"));
    let line = lines.next().unwrap().trim();
    line.strip_prefix("value:").unwrap().trim().to_owned()
}

/// The `fluentd.conf` of ConfigMap manifest `file`, unindented.
pub fn configmap_fluentd_conf(file: &str) -> String {
    let yaml = manifest(file);
    let mut lines = yaml.lines().skip_while(|l| l.trim() != "fluentd.conf: |");
    lines
        .next()
        .unwrap_or_else(|| panic!("{file} has no fluentd.conf"));
    let block: Vec<&str> = lines
        .take_while(|l| l.trim().is_empty() || l.starts_with("    "))
        .collect();
    block
        .iter()
        .map(|l| l.get(4..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Serves the GKE metadata server's answers for cluster fastapi-cluster on 127.0.0.1:0.
pub fn fake_metadata_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answers: HashMap<&str, String> = HashMap::from([
        ("project/project-id", PROJECT.to_owned()),
        ("project/numeric-project-id", "657336926711".to_owned()),
        (
            "instance/zone",
            format!("projects/657336926711/zones/{LOCATION}-a"),
        ),
        ("instance/id", "657336926711535358".to_owned()),
        (
            "instance/name",
            "gke-fastapi-cluster-default-pool-1a2b3c4d-wxyz".to_owned(),
        ),
        ("instance/attributes/cluster-name", CLUSTER.to_owned()),
        ("instance/attributes/cluster-location", LOCATION.to_owned()),
    ]);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answers = answers.clone();
            std::thread::spawn(move || serve_metadata(stream, &answers));
        }
    });
    addr
}

fn serve_metadata(stream: TcpStream, answers: &HashMap<&str, String>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let Some((request_line, headers)) = read_request_head(&mut reader) else {
            return;
        };
        let flavor = headers.iter().any(|h| h == "metadata-flavor: google");
        let path = request_line.split_whitespace().nth(1).unwrap_or_default();
        let key = path
            .strip_prefix("/computeMetadata/v1/")
            .unwrap_or_default();
        let (status, body) = match answers.get(key) {
            _ if !flavor => ("403 Forbidden", "missing Metadata-Flavor".to_owned()),
            Some(value) => ("200 OK", value.clone()),
            None => ("404 Not Found", "not found".to_owned()),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nMetadata-Flavor: Google\r\nContent-Type: application/text\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// A child process with its output in a file.
pub struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(command: &mut Command, log: PathBuf) -> Proc {
        let out = fs::File::create(&log).unwrap();
        let child = command
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Proc { child, log }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its peak resident memory so far, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.child.id())
    }

    /// SIGKILL (a crash, an OOM kill), and waits for it to be gone.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for exit 0; returns the log.
    pub fn stop(&mut self, what: &str) -> String {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let status = wait_exit(&mut self.child);
        let log = self.log();
        assert!(status.success(), "{what} exited with {status}:\n{log}");
        log
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sidecar's manifest args for a local run: the health listener on a free local port.
pub fn local_agent_args(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = args.into_iter();
    while let Some(word) = words.next() {
        if word == "--health-listen" {
            words.next();
            out.extend([word, "127.0.0.1:0".to_owned()]);
        } else {
            out.push(word);
        }
    }
    out
}

/// Reads one HTTP/1.1 response with a Content-Length; returns the status.
fn read_response(reader: &mut BufReader<TcpStream>) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    std::io::Read::read_exact(reader, &mut vec![0; length]).unwrap();
    status
}

/// Request `n` of the load: every endpoint kind, each URL tagged `r=n`.
fn request(n: usize, addr: SocketAddr) -> (String, u16) {
    let (method, path, body, status) = match n % 5 {
        0 => ("GET", "/health".to_owned(), "", 200),
        1 => ("GET", "/items".to_owned(), "", 200),
        2 => (
            "POST",
            "/items".to_owned(),
            r#"{"name":"tea","price":3}"#,
            201,
        ),
        3 => ("GET", format!("/items/{}", 1_000_000 + n), "", 404),
        _ => (
            "POST",
            "/log".to_owned(),
            r#"{"severity":"NOTICE","message":"hello"}"#,
            200,
        ),
    };
    (
        format!(
            "{method} {path}?r={n} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        status,
    )
}

/// Sends requests `0..total` over `connections` keep-alive connections.
fn drive(addr: SocketAddr, total: usize, connections: usize) {
    let threads: Vec<_> = (0..connections)
        .map(|c| {
            std::thread::spawn(move || {
                let stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                for n in (c..total).step_by(connections) {
                    let (text, want) = request(n, addr);
                    writer.write_all(text.as_bytes()).unwrap();
                    assert_eq!(read_response(&mut reader), want, "request {n}");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Every entry of `project` matching `filter`, via `logferry query`.
pub fn query(emulator: &Emulator, project: &str, filter: &str) -> Vec<serde_json::Value> {
    let out = Command::new(BIN)
        .args(["query", "--emulator", &emulator.url, "--project", project])
        .args(["--limit", "1000000", "--order", "asc", "--format", "json"])
        .args(["--freshness", "3650d", filter])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The pod of deployment.yaml on this machine: the sidecar (started first, as a native sidecar
/// is) and the API as separate processes with the manifests' args, the `fluentd.conf` of a
/// ConfigMap manifest with the emulator's `endpoint` added, a fake GKE metadata server, and the
/// pod's directories under a temp dir.
pub struct PodSim {
    pub agent: Proc,
    pub api: Proc,
    pub addr: SocketAddr,
    pub api_log: PathBuf,
    marker: PathBuf,
}

impl PodSim {
    /// Starts the pod under `root` shipping to `emulator`, with `configmap` (a file of deploy/k8s).
    pub fn start(root: &Path, emulator: &Emulator, configmap: &str) -> PodSim {
        let api_log = root.join("api/log");
        for d in ["api/log", "var/log", "etc/fluentd", "tmp"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let metadata = fake_metadata_server();
        let deployment = manifest("deployment.yaml");

        // The ConfigMap unchanged but for the emptyDir's place and the emulator's address: the
        // project, cluster and location come from the metadata server, the pod from the env.
        let conf = configmap_fluentd_conf(configmap)
            .replace("/api/log", &api_log.display().to_string())
            .replace(
                "type google_cloud\n",
                &format!("type google_cloud\n  endpoint {}\n", emulator.url),
            );
        assert!(conf.contains("endpoint http://"), "{conf}");
        let conf_path = root.join("etc/fluentd/fluentd.conf");
        fs::write(&conf_path, conf).unwrap();

        let fluentd_args = env_value(&deployment, "FLUENTD_ARGS");
        assert_eq!(fluentd_args, "-c /etc/fluentd/fluentd.conf");
        let agent = Proc::spawn(
            Command::new(BIN)
                .args(
                    local_agent_args(container_args(&deployment, "fluentd-container"))
                        .into_iter()
                        .map(|a| a.replace("/api/log", &api_log.display().to_string())),
                )
                .env(
                    "FLUENTD_ARGS",
                    fluentd_args.replace(
                        "/etc/fluentd",
                        &root.join("etc/fluentd").display().to_string(),
                    ),
                )
                .env("GCE_METADATA_HOST", metadata.to_string())
                .env("POD_NAME", POD)
                .env("POD_NAMESPACE", NAMESPACE)
                .env("CONTAINER_NAME", env_value(&deployment, "CONTAINER_NAME"))
                .env("TMPDIR", root.join("tmp")),
            root.join("agent.log"),
        );
        wait_until("the sidecar to start", || {
            agent.log().contains("using configuration file")
        });

        let port_file = root.join("web-api.port");
        let mut api_args = container_args(&deployment, "fast-api-container");
        for i in 0..api_args.len() {
            if i > 0 && api_args[i - 1] == "--bind" {
                api_args[i] = "127.0.0.1:0".into();
            } else if let Some(rest) = api_args[i].strip_prefix("/api/log") {
                api_args[i] = format!("{}{rest}", api_log.display());
            }
        }
        assert!(api_args.contains(&format!("{}/app.log", api_log.display())));
        let marker = PathBuf::from(
            &api_args[api_args.iter().position(|a| a == "--exit-marker").unwrap() + 1],
        );
        let api = Proc::spawn(
            Command::new(web_api_bin())
                .args(&api_args)
                .arg("--port-file")
                .arg(&port_file)
                .stdin(Stdio::null()),
            root.join("web-api.log"),
        );
        wait_until("the API to listen", || {
            fs::read_to_string(&port_file).is_ok_and(|t| t.ends_with('\n'))
        });
        let addr: SocketAddr = fs::read_to_string(&port_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        PodSim {
            agent,
            api,
            addr,
            api_log,
            marker,
        }
    }

    /// Stops the pod in native-sidecar order (the API, then the sidecar, which drains); returns
    /// the sidecar's log.
    pub fn stop(&mut self) -> String {
        self.api.stop("the API");
        assert!(
            fs::read_to_string(&self.marker)
                .unwrap()
                .contains(r#""drained":true"#)
        );
        let agent_log = self.agent.stop("the sidecar");
        assert!(
            agent_log.contains("every line read was delivered"),
            "{agent_log}"
        );
        agent_log
    }
}

#[test]
fn a_pod_of_the_manifests_ships_every_one_of_10000_requests_once_with_k8s_container_labels() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let emulator = Emulator::start(root);
    let mut pod = PodSim::start(root, &emulator, "configmap.yaml");
    let addr = pod.addr;

    let total = 10_000;
    let start = Instant::now();
    drive(addr, total, 8);
    eprintln!("{total} requests in {:?}", start.elapsed());

    // Native-sidecar order: the app container stops first, then the sidecar drains.
    pod.stop();

    let lines_written = count_lines(&pod.api_log.join("app.log"));
    let entries = query(
        &emulator,
        PROJECT,
        &format!(r#"resource.type="k8s_container" resource.labels.cluster_name="{CLUSTER}""#),
    );
    let all = query(&emulator, PROJECT, "");
    assert_eq!(
        all.len(),
        entries.len(),
        "entries outside the pod's resource"
    );
    assert_eq!(
        entries.len(),
        lines_written,
        "every line of app.log once, no more"
    );
    let want_labels = serde_json::json!({
        "project_id": PROJECT,
        "location": LOCATION,
        "cluster_name": CLUSTER,
        "namespace_name": NAMESPACE,
        "pod_name": POD,
        "container_name": "fast-api-container",
    });
    let mut seen = vec![0u32; total];
    let mut insert_ids = std::collections::HashSet::new();
    for entry in &entries {
        assert_eq!(entry["resource"]["labels"], want_labels, "{entry}");
        assert_eq!(entry["logName"], format!("projects/{PROJECT}/logs/app.log"));
        assert!(insert_ids.insert(entry["insertId"].as_str().unwrap().to_owned()));
        // The kit's ConfigMap lifts the API's structured lines: every entry has the severity
        // its line was written with, and the access lines carry their httpRequest. (A line
        // left with only its `message` becomes the textPayload, as with Google's agents.)
        assert!(
            entry["textPayload"].is_string() || entry["jsonPayload"]["message"].is_string(),
            "{entry}"
        );
        assert!(entry["sourceLocation"]["file"].is_string(), "{entry}");
        assert_ne!(entry["severity"], "DEFAULT", "{entry}");
        if let Some(url) = entry["httpRequest"]["requestUrl"].as_str() {
            let n: usize = url.rsplit("r=").next().unwrap().parse().unwrap();
            assert_eq!(
                entry["httpRequest"]["status"].as_u64(),
                Some(u64::from(request(n, addr).1)),
                "{entry}"
            );
            seen[n] += 1;
        }
    }
    let lost: Vec<usize> = (0..total).filter(|n| seen[*n] == 0).collect();
    let repeated: Vec<usize> = (0..total).filter(|n| seen[*n] > 1).collect();
    assert!(
        lost.is_empty() && repeated.is_empty(),
        "{} requests without an access line (first {:?}), {} with several (first {:?})",
        lost.len(),
        lost.first(),
        repeated.len(),
        repeated.first()
    );
}

#[test]
fn logferry_demo_runs_the_pod_sends_traffic_and_stops_it_in_native_sidecar_order() {
    web_api_bin();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("emulator-data");
    let out = Command::new(BIN)
        .args(["demo", "--requests", "50", "--exit-after-traffic", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for expected in [
        "Open the log viewer:  http://127.0.0.1:",
        "logferry query --emulator http://127.0.0.1:",
        r#"'resource.type="k8s_container" resource.labels.cluster_name="fastapi-cluster"'"#,
        "'severity>=ERROR'",
        "'trace=\"projects/local-project/traces/",
        "10 at severity ERROR or above; 2 in the trace of the first GET /error",
        "stopping the pod in native-sidecar order\n  web API exited (exit status: 0)\n  logferry sidecar exited (exit status: 0): every line read was delivered",
        "emulator exited (exit status: 0)",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    // The emulator's data outlives the demo: every request's access line is there, once.
    let emulator = Emulator::start(dir.path());
    let access = emulator.query(
        r#"resource.type="k8s_container" resource.labels.cluster_name="fastapi-cluster" httpRequest.userAgent="logferry-demo""#,
    );
    assert_eq!(access.len(), 50);
    assert!(
        access
            .iter()
            .all(|e| e["resource"]["labels"]["container_name"] == "fast-api-container")
    );
    // The suggested query finds the API's errors, with their httpRequest lifted: five GET /error,
    // each an ERROR access line (status 500) and the ERROR line the handler logged.
    let errors = emulator.query("severity>=ERROR");
    assert_eq!(errors.len(), 10, "{errors:#?}");
    let access_errors: Vec<_> = errors
        .iter()
        .filter(|e| e["httpRequest"]["status"] == 500)
        .collect();
    assert_eq!(access_errors.len(), 5, "{errors:#?}");
    assert!(access_errors.iter().all(|e| {
        e["severity"] == "ERROR"
            && e["httpRequest"]["requestMethod"] == "GET"
            && e["httpRequest"]["requestUrl"]
                .as_str()
                .is_some_and(|u| u.starts_with("/error?demo="))
    }));
    // Every request is a trace: an error's access line and app line share it.
    for entry in &access_errors {
        let trace = entry["trace"].as_str().unwrap();
        assert!(
            trace.starts_with("projects/local-project/traces/"),
            "{entry}"
        );
        assert_eq!(emulator.query(&format!("trace=\"{trace}\"")).len(), 2);
    }
}
