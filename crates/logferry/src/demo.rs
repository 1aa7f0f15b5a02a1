//! `logferry demo`: the pod of the original system on one machine. The Cloud Logging emulator
//! stands in for Google, a temp dir for the pod's emptyDir, and the web API and the sidecar run
//! with the arguments and the fluentd.conf of `deploy/k8s` (compiled in, so what the demo shows
//! is what the manifests deploy). The ConfigMap's `detect_json true` lifts the API's structured
//! lines, so the explorer shows their severities, `httpRequest` and traces. Ctrl-C stops them in
//! a native sidecar's order: API, agent, emulator.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The manifests the demo runs, as deployed.
const DEPLOYMENT_YAML: &str = include_str!("../../../deploy/k8s/deployment.yaml");
const CONFIGMAP_YAML: &str = include_str!("../../../deploy/k8s/configmap.yaml");

/// The containers' names in deployment.yaml.
pub const API_CONTAINER: &str = "fast-api-container";
pub const AGENT_CONTAINER: &str = "fluentd-container";
/// What the GKE metadata server would say about the cluster.
pub const CLUSTER_NAME: &str = "fastapi-cluster";
const PROJECT: &str = "local-project";
const POD_NAME: &str = "fast-api-pod-demo";
const NAMESPACE: &str = "default";

/// How long a child gets to start or to stop before the demo gives up on it.
const START_DEADLINE: Duration = Duration::from_secs(60);
const API_STOP_DEADLINE: Duration = Duration::from_secs(15);
const AGENT_STOP_DEADLINE: Duration = Duration::from_secs(40);

#[derive(clap::Args)]
pub struct DemoArgs {
    /// The emulator's data directory (kept afterwards). Default: a temp dir removed at exit.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Requests sent to the API once the pod is up (a mix of every endpoint).
    #[arg(long, default_value_t = 30)]
    requests: usize,
    /// Stop as soon as the traffic's lines are in the emulator, instead of waiting for Ctrl-C.
    #[arg(long)]
    exit_after_traffic: bool,
    /// Stop after this long (e.g. `30s`, `5m`), instead of waiting for Ctrl-C.
    #[arg(long, value_parser = fluent_config::literal::parse_duration)]
    duration: Option<Duration>,
}

pub fn run(args: DemoArgs) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = runtime
        .map_err(anyhow::Error::from)
        .and_then(|r| r.block_on(demo(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // Listening replaces the default action: Ctrl-C reaches only the demo, which stops the
    // children in order (they run in their own process groups, so the terminal's SIGINT
    // does not reach them directly).
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;

    let exe = std::env::current_exe().context("cannot find the logferry executable")?;
    let web_api = exe.with_file_name("web-api");
    if !web_api.is_file() {
        bail!(
            "the web API binary is missing: {} (the demo runs the `web-api` next to `logferry`); \
             build both first: cargo build -p logferry -p web-api (add --release for speed)",
            web_api.display()
        );
    }
    let temp = tempfile::Builder::new()
        .prefix("logferry-demo-")
        .tempdir()?;
    let pod = Pod::layout(temp.path())?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| temp.path().join("emulator-data"));

    println!("logferry demo: the original system's pod on this machine");
    println!("  pod emptyDir /api/log  {}", pod.api_log.display());

    let mut children = Children::default();
    let emulator = spawn(
        Command::new(&exe)
            .args(["emulator", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data),
        &pod.root.join("emulator.log"),
    )?;
    let emulator = children.push("emulator", emulator, pod.root.join("emulator.log"));
    let url = wait_for_line(&mut children, emulator, "emulator listening on ")?;
    println!("  Cloud Logging emulator {url}  (data: {})", data.display());

    // The sidecar first, as a native sidecar starts before the app container.
    let config = pod.write_agent_config(&url)?;
    let agent_args: Vec<String> = agent_args()?.iter().map(|arg| pod.rewrite(arg)).collect();
    let agent = spawn(
        Command::new(&exe)
            .args(&agent_args)
            .env("FLUENTD_ARGS", format!("-c {}", config.display()))
            .env("POD_NAME", POD_NAME)
            .env("POD_NAMESPACE", NAMESPACE)
            .env("CONTAINER_NAME", API_CONTAINER)
            .env("TMPDIR", &pod.tmp),
        &pod.root.join("agent.log"),
    )?;
    let agent = children.push("agent", agent, pod.root.join("agent.log"));
    wait_for_line(&mut children, agent, "using configuration file")?;
    println!(
        "  logferry sidecar       logferry {}  (FLUENTD_ARGS=-c {})",
        agent_args.join(" "),
        config.display()
    );

    let port_file = pod.root.join("web-api.port");
    let api_args = pod.api_args(&port_file)?;
    let api = spawn(
        Command::new(&web_api).args(&api_args),
        &pod.root.join("web-api.log"),
    )?;
    let api = children.push("web API", api, pod.root.join("web-api.log"));
    let addr = wait_for_file(&mut children, api, &port_file)?;
    let addr: SocketAddr = addr
        .trim()
        .parse()
        .with_context(|| format!("bad port file {}", port_file.display()))?;
    println!(
        "  web API                http://{addr}  (web-api {})",
        api_args.join(" ")
    );

    let sent = send_traffic(addr, args.requests)?;
    println!(
        "\nsent {sent} requests to every endpoint; waiting for their lines in the emulator..."
    );
    let query =
        format!(r#"resource.type="k8s_container" resource.labels.cluster_name="{CLUSTER_NAME}""#);
    // Every request's access line carries the demo's user agent in its lifted httpRequest.
    let access = format!(r#"{query} httpRequest.userAgent="{USER_AGENT}""#);
    wait_for_entries(&exe, &url, &access, sent, &mut children)?;
    let entries = wait_for_entries(&exe, &url, &query, sent, &mut children)?;
    // The ConfigMap's `detect_json true` lifts what the API wrote: its errors are ERROR entries,
    // and a request's lines share the trace it arrived with.
    let errors = format!(r#"{query} severity>=ERROR"#);
    let error_count = wait_for_entries(&exe, &url, &errors, errors_sent(sent), &mut children)?;
    let trace = format!(
        r#"trace="projects/{PROJECT}/traces/{}""#,
        trace_id(ERROR_REQUEST)
    );
    println!("{entries} entries in the emulator: an access line per request, and the app's lines");
    if sent > ERROR_REQUEST {
        let traced = wait_for_entries(&exe, &url, &trace, 2, &mut children)?;
        println!(
            "{error_count} at severity ERROR or above; {traced} in the trace of the first GET /error"
        );
    }
    println!();
    println!("Open the log viewer:  {url}/");
    println!("Try a query:");
    for suggestion in [
        query.as_str(),
        r#"severity>=ERROR"#,
        r#"httpRequest.status>=400"#,
        trace.as_str(),
    ] {
        println!("  logferry query --emulator {url} '{suggestion}'");
    }
    println!(
        "  logferry query --emulator {url} 'severity>=WARNING httpRequest.requestMethod=\"POST\"' --format json"
    );

    if !args.exit_after_traffic {
        let until = args.duration.map(|d| tokio::time::Instant::now() + d);
        println!(
            "\nCtrl-C stops the pod: the API first, then the sidecar (it drains), then the emulator."
        );
        let sleep = async {
            match until {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = interrupt.recv() => println!(),
            _ = terminate.recv() => {}
            _ = sleep => {}
        }
    }
    println!("stopping the pod in native-sidecar order");
    let api_status = children.stop(api, API_STOP_DEADLINE)?;
    println!("  web API exited ({api_status})");
    let agent_status = children.stop(agent, AGENT_STOP_DEADLINE)?;
    let agent_log = fs::read_to_string(pod.root.join("agent.log")).unwrap_or_default();
    let drained = agent_log.contains("every line read was delivered");
    println!(
        "  logferry sidecar exited ({agent_status}){}",
        if drained {
            ": every line read was delivered and positions are saved"
        } else {
            ""
        }
    );
    let emulator_status = children.stop(emulator, API_STOP_DEADLINE)?;
    println!("  emulator exited ({emulator_status})");
    if !(api_status.success() && agent_status.success() && emulator_status.success()) {
        bail!(
            "a process did not stop cleanly; logs in {}",
            pod.root.display()
        );
    }
    if args.data.is_some() {
        println!(
            "the emulator's data stays in {}: logferry emulator --data {}",
            data.display(),
            data.display()
        );
    }
    Ok(())
}

/// The pod's filesystem under a temp dir: `/api/log` and `/var/log` (emptyDirs),
/// `/etc/fluentd` (the ConfigMap), `/tmp`.
struct Pod {
    root: PathBuf,
    api_log: PathBuf,
    var_log: PathBuf,
    etc_fluentd: PathBuf,
    tmp: PathBuf,
}

impl Pod {
    fn layout(root: &Path) -> anyhow::Result<Pod> {
        let pod = Pod {
            root: root.to_path_buf(),
            api_log: root.join("api/log"),
            var_log: root.join("var/log"),
            etc_fluentd: root.join("etc/fluentd"),
            tmp: root.join("tmp"),
        };
        for dir in [&pod.api_log, &pod.var_log, &pod.etc_fluentd, &pod.tmp] {
            fs::create_dir_all(dir)?;
        }
        Ok(pod)
    }

    /// The pod path `path` (`/api/log/app.log`) inside this pod's root.
    fn rewrite(&self, path: &str) -> String {
        for (pod_dir, here) in [("/api/log", &self.api_log), ("/var/log", &self.var_log)] {
            if let Some(rest) = path.strip_prefix(pod_dir) {
                return format!("{}{rest}", here.display());
            }
        }
        path.to_owned()
    }

    /// The ConfigMap's fluentd.conf with this pod's paths and the emulator in place of Google.
    fn write_agent_config(&self, emulator_url: &str) -> anyhow::Result<PathBuf> {
        let original = configmap_fluentd_conf(CONFIGMAP_YAML)?;
        let extra = format!(
            "  # logferry demo: the emulator stands in for Cloud Logging, these for the metadata server\n  \
             endpoint {emulator_url}\n  project_id {PROJECT}\n  use_metadata_service false\n  \
             resource_type k8s_container\n  resource_labels location:local,cluster_name:{CLUSTER_NAME}\n  \
             dead_letter_path {}\n",
            self.tmp.join("dead-letter.jsonl").display()
        );
        let config = agent_config(&original, &self.api_log, &extra)?;
        let path = self.etc_fluentd.join("fluentd.conf");
        fs::write(&path, config)?;
        Ok(path)
    }

    /// deployment.yaml's API args with this pod's paths, a free port and a port file.
    fn api_args(&self, port_file: &Path) -> anyhow::Result<Vec<String>> {
        let mut args = container_args(DEPLOYMENT_YAML, API_CONTAINER)?;
        let mut i = 0;
        while i < args.len() {
            if args[i] == "--bind" && i + 1 < args.len() {
                args[i + 1] = "127.0.0.1:0".into();
            } else {
                args[i] = self.rewrite(&args[i]);
            }
            i += 1;
        }
        args.push("--port-file".into());
        args.push(port_file.display().to_string());
        Ok(args)
    }
}

/// deployment.yaml's sidecar args, the health listener moved to a free local port (the pod's
/// `0.0.0.0:24231` would clash with a second demo and is not needed off the cluster).
fn agent_args() -> anyhow::Result<Vec<String>> {
    let args = container_args(DEPLOYMENT_YAML, AGENT_CONTAINER)?;
    Ok(local_agent_args(args))
}

/// The sidecar's manifest args for a local run (see [`agent_args`]).
pub fn local_agent_args(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = args.into_iter();
    while let Some(word) = words.next() {
        if word == "--health-listen" {
            let _ = words.next();
            out.push(word);
            out.push("127.0.0.1:0".into());
        } else {
            out.push(word);
        }
    }
    out
}

/// The `fluentd.conf` block of the ConfigMap, with the YAML indentation removed.
pub fn configmap_fluentd_conf(yaml: &str) -> anyhow::Result<String> {
    let mut lines = yaml.lines();
    let key_indent = loop {
        let line = lines
            .next()
            .context("configmap.yaml has no `fluentd.conf: |` block")?;
        if line.trim() == "fluentd.conf: |" {
            break indent(line);
        }
    };
    let mut block = Vec::new();
    for line in lines {
        if !line.trim().is_empty() && indent(line) <= key_indent {
            break;
        }
        block.push(line);
    }
    let strip = block
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent(l))
        .min()
        .unwrap_or(0);
    let mut text = String::new();
    for line in block {
        text.push_str(line.get(strip..).unwrap_or(""));
        text.push('\n');
    }
    Ok(text.trim_end().to_owned() + "\n")
}

/// `original` with `/api/log` moved to `api_log` and `extra` parameters added to the
/// `google_cloud` output.
pub fn agent_config(original: &str, api_log: &Path, extra: &str) -> anyhow::Result<String> {
    let moved = original.replace("/api/log", &api_log.display().to_string());
    let output = moved
        .find("type google_cloud")
        .context("the ConfigMap's fluentd.conf has no google_cloud output")?;
    let end = output
        + moved[output..]
            .find("</match>")
            .context("the google_cloud <match> is not closed")?;
    let line_start = moved[..end].rfind('\n').map_or(0, |i| i + 1);
    Ok(format!(
        "{}{extra}{}",
        &moved[..line_start],
        &moved[line_start..]
    ))
}

/// The flow-style `args: [...]` of container `name` in a Deployment.
pub fn container_args(yaml: &str, name: &str) -> anyhow::Result<Vec<String>> {
    let mut lines = yaml
        .lines()
        .skip_while(|l| l.trim() != format!("- name: {name}"));
    let container = lines
        .next()
        .with_context(|| format!("deployment.yaml has no container {name}"))?;
    for line in lines {
        let trimmed = line.trim();
        if indent(line) <= indent(container) && !trimmed.is_empty() {
            break;
        }
        if let Some(list) = trimmed.strip_prefix("args:") {
            return serde_json::from_str(list.trim())
                .with_context(|| format!("the args of {name} are not a one-line list: {list}"));
        }
    }
    bail!("container {name} in deployment.yaml has no args")
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The demo's children, killed if the demo itself fails half-way.
#[derive(Default)]
struct Children {
    list: Vec<(&'static str, Option<Child>, PathBuf)>,
}

impl Children {
    fn push(&mut self, name: &'static str, child: Child, log: PathBuf) -> usize {
        self.list.push((name, Some(child), log));
        self.list.len() - 1
    }

    /// Fails with the child's log when it has exited.
    fn check_alive(&mut self, id: usize) -> anyhow::Result<()> {
        let (name, child, log) = &mut self.list[id];
        if let Some(child) = child
            && let Some(status) = child.try_wait()?
        {
            let text = fs::read_to_string(log).unwrap_or_default();
            bail!("the {name} exited ({status}):\n{text}");
        }
        Ok(())
    }

    fn log(&self, id: usize) -> String {
        fs::read_to_string(&self.list[id].2).unwrap_or_default()
    }

    /// SIGTERM, then waits up to `deadline` (SIGKILL after it).
    fn stop(&mut self, id: usize, deadline: Duration) -> anyhow::Result<ExitStatus> {
        let (name, slot, _) = &mut self.list[id];
        let mut child = slot.take().context("stopped twice")?;
        let pid = rustix::process::Pid::from_child(&child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > deadline {
                eprintln!("the {name} did not stop within {deadline:?}; killing it");
                let _ = child.kill();
                return Ok(child.wait()?);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child, _) in self.list.iter_mut().rev() {
            if let Some(mut child) = child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Starts `command` in its own process group with stdout and stderr going to `log`.
fn spawn(command: &mut Command, log: &Path) -> anyhow::Result<Child> {
    let out = fs::File::create(log)?;
    command
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {:?}", command.get_program()))
}

/// Waits for a line containing `marker` in a child's log; returns what follows the marker.
fn wait_for_line(children: &mut Children, id: usize, marker: &str) -> anyhow::Result<String> {
    let start = Instant::now();
    loop {
        // Only whole lines: the child may be halfway through writing the one we wait for.
        if let Some(rest) = children
            .log(id)
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .find_map(|l| l.split(marker).nth(1).map(str::to_owned))
        {
            return Ok(rest.trim().to_owned());
        }
        children.check_alive(id)?;
        if start.elapsed() > START_DEADLINE {
            bail!("timed out waiting for `{marker}`:\n{}", children.log(id));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a non-empty `path` written by a child; returns its contents.
fn wait_for_file(children: &mut Children, id: usize, path: &Path) -> anyhow::Result<String> {
    let start = Instant::now();
    loop {
        if let Ok(text) = fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return Ok(text);
        }
        children.check_alive(id)?;
        if start.elapsed() > START_DEADLINE {
            bail!(
                "timed out waiting for {}:\n{}",
                path.display(),
                children.log(id)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The requests the demo cycles through: every endpoint, successes and failures.
const TRAFFIC: &[(&str, &str, &str)] = &[
    ("GET", "/", ""),
    ("GET", "/health", ""),
    ("POST", "/items", r#"{"name":"coffee","price":4.5}"#),
    ("GET", "/items", ""),
    ("GET", "/items/1", ""),
    ("GET", "/items/999999", ""),
    (
        "POST",
        "/log",
        r#"{"severity":"WARNING","message":"disk almost full"}"#,
    ),
    ("POST", "/items", r#"{"name":"","price":-1}"#),
    ("GET", "/slow?ms=20", ""),
    ("GET", "/error", ""),
];

/// The index in [`TRAFFIC`] of `GET /error`, whose access line and app line are both ERROR.
const ERROR_REQUEST: usize = 9;

/// The demo's requests say who they are: their access lines are found by it.
const USER_AGENT: &str = "logferry-demo";

/// How many entries at ERROR or above `sent` requests make: two per `GET /error`.
fn errors_sent(sent: usize) -> usize {
    2 * (sent / TRAFFIC.len() + usize::from(sent % TRAFFIC.len() > ERROR_REQUEST))
}

/// The W3C trace id request `i` is sent with (`traceparent`), so each request is a trace.
fn trace_id(i: usize) -> String {
    format!("4c6f6766657272792d64656d{i:08x}")
}

/// Sends `count` requests over one keep-alive connection; returns how many got an answer.
fn send_traffic(addr: SocketAddr, count: usize) -> anyhow::Result<usize> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    for i in 0..count {
        let (method, path, body) = TRAFFIC[i % TRAFFIC.len()];
        let sep = if path.contains('?') { '&' } else { '?' };
        write!(
            writer,
            "{method} {path}{sep}demo={i} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {USER_AGENT}\r\n\
             traceparent: 00-{}-{:016x}-01\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            trace_id(i),
            i + 1,
            body.len()
        )?;
        read_response(&mut reader).with_context(|| format!("{method} {path}"))?;
    }
    Ok(count)
}

/// Reads one HTTP/1.1 response (Content-Length or chunked); returns the status.
fn read_response(reader: &mut impl BufRead) -> anyhow::Result<u16> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let (mut length, mut chunked) = (0usize, false);
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    if !chunked {
        reader.read_exact(&mut vec![0; length])?;
        return Ok(status);
    }
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)?;
        reader.read_exact(&mut vec![0; size + 2])?;
        if size == 0 {
            return Ok(status);
        }
    }
}

/// Waits until `query` finds at least `want` entries; returns how many it found.
fn wait_for_entries(
    exe: &Path,
    url: &str,
    query: &str,
    want: usize,
    children: &mut Children,
) -> anyhow::Result<usize> {
    let start = Instant::now();
    loop {
        let out = Command::new(exe)
            .args(["query", "--emulator", url, "--project", PROJECT])
            .args(["--limit", "100000", "--format", "json", query])
            .output()?;
        if out.status.success() {
            let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
            if entries.len() >= want {
                return Ok(entries.len());
            }
        }
        for id in 0..children.list.len() {
            children.check_alive(id)?;
        }
        if start.elapsed() > START_DEADLINE {
            bail!("the lines did not reach the emulator in time");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configmap_block_is_the_original_fluentd_conf_with_structured_logs() {
        let conf = configmap_fluentd_conf(CONFIGMAP_YAML).unwrap();
        assert!(
            conf.starts_with("# Web-API log file -> fluentd log file\n<source>\n  type tail\n")
        );
        assert!(conf.contains("  path /api/log/app.log\n  pos_file /api/log/app.log.pos\n"));
        assert!(
            conf.ends_with("  type google_cloud\n  # The API's lines are structured JSON: lift severity, httpRequest, trace... (see above)\n  detect_json true\n</match>\n"),
            "{conf}"
        );
    }

    #[test]
    fn the_error_count_follows_the_traffic_cycle() {
        assert_eq!(TRAFFIC[ERROR_REQUEST], ("GET", "/error", ""));
        assert_eq!(errors_sent(9), 0);
        assert_eq!(errors_sent(10), 2);
        assert_eq!(errors_sent(30), 6);
        assert_eq!(errors_sent(50), 10);
        assert_eq!(errors_sent(59), 10);
        assert_eq!(errors_sent(60), 12);
        assert_eq!(trace_id(ERROR_REQUEST).len(), 32);
    }

    #[test]
    fn the_agent_config_moves_the_paths_and_adds_the_endpoint_to_the_output() {
        let conf = configmap_fluentd_conf(CONFIGMAP_YAML).unwrap();
        let out =
            agent_config(&conf, Path::new("/tmp/x/api/log"), "  endpoint http://e\n").unwrap();
        assert!(out.contains("path /tmp/x/api/log/app.log\n"));
        assert!(
            out.ends_with("  detect_json true\n  endpoint http://e\n</match>\n"),
            "{out}"
        );
    }

    #[test]
    fn both_containers_have_one_line_args() {
        let api = container_args(DEPLOYMENT_YAML, API_CONTAINER).unwrap();
        assert_eq!(&api[..2], ["--bind", "0.0.0.0:5000"]);
        let agent = container_args(DEPLOYMENT_YAML, AGENT_CONTAINER).unwrap();
        assert_eq!(agent[0], "run");
        let local = local_agent_args(agent);
        assert!(
            local
                .windows(2)
                .any(|w| w == ["--health-listen", "127.0.0.1:0"])
        );
        assert!(!local.iter().any(|a| a.contains("24231")));
    }
}
