//! The end-to-end benchmark of the logferry agent: it writes the workloads, runs the release
//! binary against a counting `entries:write` sink (answering at once or after Cloud Logging's
//! tens of milliseconds) and against the emulator, in backlog mode (file written before start),
//! live mode (a writer thread at a fixed rate) and drain mode (SIGTERM with the backlog unsent),
//! and reports the medians of several runs as a Markdown table, with `wc -l` on the same file as
//! the floor.

pub mod node;
pub mod process;
pub mod sink;
pub mod workload;

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use process::Watched;
use sink::Sink;
use workload::Kind;

/// How much to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `logferry` binary.
    pub bin: PathBuf,
    /// Lines per backlog workload.
    pub lines: u64,
    pub runs: usize,
    /// How long each live run writes.
    pub live_seconds: f64,
    /// Only scenarios whose label contains this.
    pub only: Option<String>,
    /// Where workloads and agent state go.
    pub work_dir: PathBuf,
    /// Progress on stderr.
    pub verbose: bool,
    /// Extra lines for the agent's `<match>` section (e.g. `chunk_limit_size 4m`), for A/B runs.
    pub output_params: Vec<String>,
    /// Every counting sink answers after this many milliseconds instead of each row's own.
    pub sink_latency_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Counting,
    Emulator,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Backlog,
    /// Lines per second.
    Live(u64),
    /// An empty file: RSS and CPU of an agent with nothing to do.
    Idle,
    /// A backlog, and SIGTERM as soon as the agent follows the file (the pod deleted with its
    /// log unsent): the time from SIGTERM to exit 0 with every line delivered.
    Drain,
    /// Live at this many lines/s for 1.6 × `--live-seconds`, with a 429 storm (every other
    /// request refused) from 0.3 × to 1.3 × `--live-seconds`: the agent's concurrency limit,
    /// scraped from its /metrics, must fall and recover, and every line arrive.
    Storm(u64),
    /// kubelet's layout with `files` container logs (CRI format), `per_file_rate` lines/s
    /// written to each of the first `active` for `--live-seconds`, read by the DaemonSet's
    /// config (see [`node`]).
    Node {
        files: usize,
        active: usize,
        per_file_rate: u64,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub kind: Kind,
    pub mode: Mode,
    pub sink: SinkKind,
    /// How long the counting sink takes to answer each request.
    pub latency_ms: u64,
}

impl Scenario {
    pub fn label(&self) -> String {
        let mode = match self.mode {
            Mode::Backlog => "backlog".to_owned(),
            Mode::Live(rate) => format!("live {}k/s", rate / 1000),
            Mode::Idle => "idle".to_owned(),
            Mode::Drain => "drain".to_owned(),
            Mode::Storm(rate) => format!("live {}k/s, 429 storm", rate / 1000),
            Mode::Node {
                files,
                active,
                per_file_rate,
            } => format!("node, {active} of {files} files × {per_file_rate}/s"),
        };
        let kind = match self.mode {
            Mode::Node { .. } => "cri",
            _ => self.kind.name(),
        };
        let sink = match (self.sink, self.latency_ms) {
            (SinkKind::Counting, 0) => "counting".to_owned(),
            (SinkKind::Counting, ms) => format!("sink at {ms} ms"),
            (SinkKind::Emulator, _) => "emulator".to_owned(),
        };
        format!("{kind} {mode} → {sink}")
    }
}

/// Every row of the table, in order.
pub fn scenarios() -> Vec<Scenario> {
    use Kind::*;
    use Mode::*;
    use SinkKind::*;
    let node = |files, active| Node {
        files,
        active,
        per_file_rate: 100,
    };
    let s = |kind, mode, sink, latency_ms| Scenario {
        kind,
        mode,
        sink,
        latency_ms,
    };
    vec![
        s(Text, Backlog, Counting, 0),
        s(Text, Backlog, Counting, 50),
        s(Text, Backlog, Counting, 200),
        s(Json, Backlog, Counting, 0),
        s(Json, Backlog, Counting, 50),
        s(Json, Backlog, Counting, 200),
        s(Text, Drain, Counting, 100),
        s(Text, Backlog, Emulator, 0),
        s(Json, Backlog, Emulator, 0),
        s(Text, Live(10_000), Counting, 0),
        s(Text, Live(10_000), Counting, 50),
        s(Json, Live(10_000), Counting, 50),
        s(Text, Live(100_000), Counting, 50),
        s(Json, Live(100_000), Counting, 50),
        s(Text, Storm(100_000), Counting, 200),
        s(Text, node(1000, 1000), Counting, 50),
        // Discovery's cost: the same 50 busy files alone, and among 4,950 idle ones.
        s(Text, node(50, 50), Counting, 50),
        s(Text, node(5000, 50), Counting, 50),
        s(Text, Idle, Counting, 0),
    ]
}

/// One run's figures.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub lines: u64,
    pub bytes: u64,
    /// Process start → last line acknowledged (drain: SIGTERM → exit).
    pub wall_s: f64,
    pub cpu_s: f64,
    /// System time within `cpu_s`.
    pub sys_s: f64,
    pub page_faults: u64,
    pub peak_rss_kib: u64,
    pub idle_rss_kib: Option<u64>,
    pub following_ms: f64,
    pub exposure_ms: Option<(f64, f64)>,
    pub requests: u64,
    pub request_bytes: u64,
    pub wc_cpu_s: f64,
    /// The concurrency limit: highest before the storm, lowest in it, highest after it.
    pub limits: Option<(i64, i64, i64)>,
}

pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;

/// Runs every selected scenario `runs` times and returns the Markdown table.
pub fn run(options: &Options) -> Result<String, String> {
    std::fs::create_dir_all(&options.work_dir).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for scenario in scenarios() {
        let label = scenario.label();
        if options
            .only
            .as_ref()
            .is_some_and(|o| !label.contains(o.as_str()))
        {
            continue;
        }
        let mut runs = Vec::new();
        for i in 0..options.runs.max(1) {
            if options.verbose {
                eprint!("{label} run {}/{}… ", i + 1, options.runs);
            }
            let m = run_once(options, scenario).map_err(|e| format!("{label}: {e}"))?;
            if options.verbose {
                eprintln!(
                    "{:.2} s, {:.0} lines/s, {:.2} CPU s ({:.2} sys, {} page faults), wc -l {:.3} s, peak {} KiB",
                    m.wall_s,
                    m.lines as f64 / m.wall_s,
                    m.cpu_s,
                    m.sys_s,
                    m.page_faults,
                    m.wc_cpu_s,
                    m.peak_rss_kib
                );
            }
            runs.push(m);
        }
        rows.push((label, scenario, runs));
    }
    Ok(table(&rows))
}

fn workload_path(options: &Options, kind: Kind, lines: u64) -> Result<(PathBuf, u64), String> {
    let path = options
        .work_dir
        .join(format!("{}-{lines}.log", kind.name()));
    if let Ok(meta) = std::fs::metadata(&path)
        && meta.len() > 0
    {
        return Ok((path, meta.len()));
    }
    let bytes = workload::write_file(&path, kind, lines).map_err(|e| e.to_string())?;
    Ok((path, bytes))
}

fn config(kind: Kind, log: &Path, pos: &Path, endpoint: SocketAddr, extra: &[String]) -> String {
    let extra: String = extra.iter().map(|line| format!("  {line}\n")).collect();
    format!(
        "<source>\n  @type tail\n  path {}\n  pos_file {}\n  tag bench.log\n  format {}\n</source>\n\
         <match **>\n  @type google_cloud\n  endpoint http://{endpoint}\n  project_id bench-project\n  use_metadata_service false\n{extra}</match>\n",
        log.display(),
        pos.display(),
        kind.format()
    )
}

fn fresh_dir(options: &Options, name: &str) -> Result<PathBuf, String> {
    let dir = options.work_dir.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn run_once(options: &Options, scenario: Scenario) -> Result<Measured, String> {
    let run_dir = fresh_dir(options, "run")?;
    let lines = match scenario.mode {
        Mode::Backlog | Mode::Drain => options.lines,
        Mode::Live(rate) => {
            ((rate as f64 * options.live_seconds) as u64).clamp(1, options.lines.max(1))
        }
        Mode::Storm(rate) => (rate as f64 * options.live_seconds * 1.6) as u64,
        Mode::Node {
            active,
            per_file_rate,
            ..
        } => ((active as u64 * per_file_rate) as f64 * options.live_seconds) as u64,
        Mode::Idle => 0,
    };
    let lines = match scenario.mode {
        Mode::Node { .. } => lines.clamp(1, options.lines.max(1)),
        _ => lines,
    };
    let (log, bytes) = match scenario.mode {
        Mode::Backlog | Mode::Drain => workload_path(options, scenario.kind, lines)?,
        _ => {
            let path = run_dir.join("app.log");
            std::fs::File::create(&path).map_err(|e| e.to_string())?;
            (path, 0)
        }
    };
    let emulator = match scenario.sink {
        SinkKind::Emulator => Some(start_emulator(options, &fresh_dir(options, "emulator")?)?),
        SinkKind::Counting => None,
    };
    let result = measure(
        options,
        scenario,
        &run_dir,
        &log,
        bytes,
        lines,
        emulator.as_ref().map(|e| e.1),
    );
    if let Some((emulator, _)) = emulator {
        emulator.kill();
    }
    result
}

fn start_emulator(options: &Options, data: &Path) -> Result<(Watched, SocketAddr), String> {
    let mut command = Command::new(&options.bin);
    command
        .args(["emulator", "--listen", "127.0.0.1:0", "--data"])
        .arg(data);
    let emulator =
        Watched::spawn(command, Instant::now(), "emulator listening").map_err(|e| e.to_string())?;
    let url = emulator
        .wait_line("emulator listening on http://", Duration::from_secs(20))
        .ok_or_else(|| format!("the emulator did not start:\n{}", emulator.log_tail()))?;
    let addr = url
        .parse()
        .map_err(|e| format!("emulator address {url}: {e}"))?;
    Ok((emulator, addr))
}

fn measure(
    options: &Options,
    scenario: Scenario,
    run_dir: &Path,
    log: &Path,
    bytes: u64,
    lines: u64,
    upstream: Option<SocketAddr>,
) -> Result<Measured, String> {
    let config_path = run_dir.join("agent.conf");
    let base = Instant::now();
    let latency = Duration::from_millis(options.sink_latency_ms.unwrap_or(scenario.latency_ms));
    let sink = Sink::start(base, lines, upstream, latency).map_err(|e| e.to_string())?;
    let node_logs = match scenario.mode {
        Mode::Node { files, .. } => node::lay_out(run_dir, files).map_err(|e| e.to_string())?,
        _ => Vec::new(),
    };
    let config_text = match scenario.mode {
        Mode::Node { .. } => node::config(run_dir, sink.addr, &options.output_params),
        _ => config(
            scenario.kind,
            log,
            &run_dir.join("app.log.pos"),
            sink.addr,
            &options.output_params,
        ),
    };
    std::fs::write(&config_path, config_text).map_err(|e| e.to_string())?;
    let mut command = Command::new(&options.bin);
    command.arg("run").arg("-c").arg(&config_path);
    // The DaemonSet gives the agent its node's name from the downward API.
    command.env("NODE_NAME", "gke-bench-default-pool-1a2b3c4d-wxyz");
    let metrics = match scenario.mode {
        Mode::Storm(_) => {
            let addr = free_port().map_err(|e| e.to_string())?;
            command.arg("--health-listen").arg(addr.to_string());
            Some(addr)
        }
        _ => None,
    };
    let started = base.elapsed();
    let agent = Watched::spawn(command, base, "following tail").map_err(|e| e.to_string())?;
    let following = agent
        .wait_marker(Duration::from_secs(20))
        .ok_or_else(|| format!("no \"following tail\" line:\n{}", agent.log_tail()))?;
    let mut m = Measured {
        lines,
        bytes,
        following_ms: (following - started).as_secs_f64() * 1e3,
        ..Measured::default()
    };
    let mut written_at = Vec::new();
    match scenario.mode {
        Mode::Idle => {
            std::thread::sleep(Duration::from_millis(1000));
            m.idle_rss_kib = agent.rss_kib();
            let cpu0 = agent.cpu_s().unwrap_or(0.0);
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_secs_f64(
                options.live_seconds.clamp(1.0, 5.0),
            ));
            m.wall_s = t0.elapsed().as_secs_f64();
            m.cpu_s = agent.cpu_s().unwrap_or(0.0) - cpu0;
        }
        Mode::Live(rate) => {
            let (w, b) =
                write_live(log, scenario.kind, lines, rate, base).map_err(|e| e.to_string())?;
            written_at = w;
            m.bytes = b;
        }
        Mode::Storm(rate) => {
            let live = Duration::from_secs_f64(options.live_seconds);
            let scrape = metrics.expect("a storm run listens for metrics");
            let storm = std::thread::scope(|scope| {
                let watcher = scope.spawn(|| storm_limits(&sink, scrape, live));
                let written = write_live(log, scenario.kind, lines, rate, base);
                (written, watcher.join().expect("the storm thread"))
            });
            let (w, b) = storm.0.map_err(|e| e.to_string())?;
            written_at = w;
            m.bytes = b;
            m.limits = Some(storm.1?);
        }
        Mode::Node {
            active,
            per_file_rate,
            ..
        } => {
            let (w, b) = node::write(&node_logs, active, per_file_rate, lines, base)
                .map_err(|e| e.to_string())?;
            written_at = w;
            m.bytes = b;
        }
        Mode::Drain => return drain(agent, &sink, log, m),
        Mode::Backlog => {}
    }
    if lines > 0 {
        let timeout = Duration::from_secs(60 + lines / 10_000);
        if !sink.wait_all(timeout) {
            let got = sink.distinct();
            agent.kill();
            return Err(format!("only {got} of {lines} lines arrived"));
        }
    }
    let received = sink.received();
    let last = received.arrivals.iter().copied().max().unwrap_or(0);
    if lines > 0 {
        m.wall_s = Duration::from_nanos(last)
            .saturating_sub(started)
            .as_secs_f64();
    }
    if !written_at.is_empty() {
        let mut exposure: Vec<f64> = written_at
            .iter()
            .zip(&received.arrivals)
            .map(|(&w, &a)| (a.saturating_sub(w)) as f64 / 1e6)
            .collect();
        exposure.sort_by(|a, b| a.total_cmp(b));
        m.exposure_ms = Some((percentile(&exposure, 0.5), percentile(&exposure, 0.99)));
    }
    m.requests = received.requests;
    m.request_bytes = received.body_bytes;
    let log_tail = agent.log_tail();
    let usage = agent.terminate();
    if usage.exit_code != 0 {
        return Err(format!(
            "the agent exited with {}:\n{log_tail}",
            usage.exit_code
        ));
    }
    if !matches!(scenario.mode, Mode::Idle) {
        m.cpu_s = usage.cpu_s;
        m.sys_s = usage.sys_s;
        m.page_faults = usage.page_faults;
    }
    m.peak_rss_kib = usage.max_rss_kib;
    if m.bytes > 0 && node_logs.is_empty() {
        m.wc_cpu_s = process::wc_cpu_s(log, 3);
    }
    Ok(m)
}

/// A free port on 127.0.0.1 (bound and released: the agent binds it right after).
fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// Runs the storm (from 0.3 × to 1.3 × `live`, on the sink) while scraping the agent's
/// concurrency limit every 50 ms; returns its highest value before, lowest during and highest
/// after the storm.
fn storm_limits(
    sink: &Sink,
    metrics: SocketAddr,
    live: Duration,
) -> Result<(i64, i64, i64), String> {
    let start = Instant::now();
    let (from, to, end) = (live.mul_f64(0.3), live.mul_f64(1.3), live.mul_f64(1.6));
    let (mut before, mut during, mut after) = (i64::MIN, i64::MAX, i64::MIN);
    while start.elapsed() < end {
        let t = start.elapsed();
        sink.throttle(t >= from && t < to);
        if let Some(limit) = scrape_limit(metrics) {
            if t < from {
                before = before.max(limit);
            } else if t < to {
                during = during.min(limit);
            } else {
                after = after.max(limit);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    sink.throttle(false);
    if sink.throttled() == 0 || before == i64::MIN || during == i64::MAX || after == i64::MIN {
        return Err(format!(
            "the storm was not seen: {} requests refused, limits {before}/{during}/{after}",
            sink.throttled()
        ));
    }
    Ok((before, during, after))
}

/// `logferry_output_concurrency_limit` from the agent's /metrics.
fn scrape_limit(addr: SocketAddr) -> Option<i64> {
    use std::io::Read as _;
    let mut conn = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    conn.write_all(b"GET /metrics HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    conn.read_to_string(&mut text).ok()?;
    text.lines()
        .find(|l| l.starts_with("logferry_output_concurrency_limit{"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// SIGTERM at once, then: every line delivered, and the agent's exit, within the time given.
fn drain(agent: Watched, sink: &Sink, log: &Path, mut m: Measured) -> Result<Measured, String> {
    let sigterm = Instant::now();
    let usage = agent.terminate();
    m.wall_s = sigterm.elapsed().as_secs_f64();
    let got = sink.distinct();
    if usage.exit_code != 0 || got < m.lines {
        return Err(format!(
            "after SIGTERM the agent exited with {} and {got} of {} lines had arrived",
            usage.exit_code, m.lines
        ));
    }
    let received = sink.received();
    m.requests = received.requests;
    m.request_bytes = received.body_bytes;
    m.cpu_s = usage.cpu_s;
    m.sys_s = usage.sys_s;
    m.page_faults = usage.page_faults;
    m.peak_rss_kib = usage.max_rss_kib;
    m.wc_cpu_s = process::wc_cpu_s(log, 3);
    Ok(m)
}

/// Appends `lines` lines to `log` at `rate` lines/s, in a small batch every millisecond;
/// returns each line's write time (ns since `base`) and the bytes written.
fn write_live(
    log: &Path,
    kind: Kind,
    lines: u64,
    rate: u64,
    base: Instant,
) -> std::io::Result<(Vec<u64>, u64)> {
    let mut file = std::fs::OpenOptions::new().append(true).open(log)?;
    let mut written_at = Vec::with_capacity(lines as usize);
    let mut buf = Vec::new();
    let start = Instant::now();
    let mut seq = 0;
    let mut bytes = 0;
    while seq < lines {
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64 + 1).min(lines);
        if due > seq {
            buf.clear();
            for s in seq..due {
                workload::line(kind, s, &mut buf);
            }
            file.write_all(&buf)?;
            bytes += buf.len() as u64;
            let now = base.elapsed().as_nanos() as u64;
            written_at.extend(std::iter::repeat_n(now, (due - seq) as usize));
            seq = due;
        }
        std::thread::sleep(Duration::from_micros(1000));
    }
    Ok((written_at, bytes))
}

/// The Markdown table of medians.
pub fn table(rows: &[(String, Scenario, Vec<Measured>)]) -> String {
    let mut out = String::new();
    out.push_str("| scenario | lines | MiB | lines/s | MiB/s | CPU s | CPU s/GiB | wc -l CPU s/GiB | ratio | CPU % core | peak RSS MiB | idle RSS MiB | start→following ms | exposure p50 ms | exposure p99 ms | requests | mean request KiB | wall s | limit before / storm / after |\n");
    out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (label, scenario, runs) in rows {
        let med = |f: &dyn Fn(&Measured) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).filter(|x| x.is_finite()).collect();
            median(&mut v)
        };
        let fmt = |x: f64, digits: usize| {
            if x.is_finite() {
                format!("{x:.digits$}")
            } else {
                "–".to_owned()
            }
        };
        let gib = |m: &Measured| m.bytes as f64 / GIB;
        let lines = med(&|m| m.lines as f64);
        let idle = matches!(scenario.mode, Mode::Idle);
        let live = matches!(
            scenario.mode,
            Mode::Live(_) | Mode::Storm(_) | Mode::Node { .. }
        );
        let na = f64::NAN;
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            fmt(lines, 0),
            fmt(med(&|m| m.bytes as f64 / MIB), 1),
            fmt(
                if idle {
                    na
                } else {
                    med(&|m| m.lines as f64 / m.wall_s)
                },
                0
            ),
            fmt(
                if idle {
                    na
                } else {
                    med(&|m| m.bytes as f64 / MIB / m.wall_s)
                },
                1
            ),
            fmt(med(&|m| m.cpu_s), 3),
            fmt(if idle { na } else { med(&|m| m.cpu_s / gib(m)) }, 2),
            fmt(
                if idle {
                    na
                } else {
                    med(&|m| m.wc_cpu_s / gib(m))
                },
                2
            ),
            fmt(
                if idle {
                    na
                } else {
                    med(&|m| m.cpu_s / m.wc_cpu_s)
                },
                1
            ),
            fmt(
                if live || idle {
                    med(&|m| 100.0 * m.cpu_s / m.wall_s)
                } else {
                    na
                },
                2
            ),
            fmt(med(&|m| m.peak_rss_kib as f64 / 1024.0), 1),
            fmt(
                med(&|m| m.idle_rss_kib.map_or(na, |k| k as f64 / 1024.0)),
                1
            ),
            fmt(med(&|m| m.following_ms), 1),
            fmt(med(&|m| m.exposure_ms.map_or(na, |e| e.0)), 0),
            fmt(med(&|m| m.exposure_ms.map_or(na, |e| e.1)), 0),
            fmt(
                if idle {
                    na
                } else {
                    med(&|m| m.requests as f64)
                },
                0
            ),
            fmt(
                if idle {
                    na
                } else {
                    med(&|m| m.request_bytes as f64 / m.requests as f64 / 1024.0)
                },
                1
            ),
            fmt(if idle { na } else { med(&|m| m.wall_s) }, 2),
            {
                let part = |f: fn(&(i64, i64, i64)) -> i64| {
                    med(&|m| m.limits.as_ref().map_or(na, |l| f(l) as f64))
                };
                if matches!(scenario.mode, Mode::Storm(_)) {
                    format!(
                        "{} / {} / {}",
                        fmt(part(|l| l.0), 0),
                        fmt(part(|l| l.1), 0),
                        fmt(part(|l| l.2), 0)
                    )
                } else {
                    "–".to_owned()
                }
            },
        );
    }
    out
}
