//! The torture suite, scaled to fit CI: the real agent shipping to the real emulator through a
//! fault-injecting proxy, while it is killed, the endpoint fails, files rotate and the writer
//! outlives SIGTERM. Each scenario prints what it measured and asserts that nothing was lost and
//! nothing shows twice in query results. `LOGFERRY_TORTURE_SCALE=10` runs it ten times larger;
//! `LOGFERRY_TORTURE_KILLS=20` kills the agent 20 times in each crash loop instead of 8 (the
//! issue's full size is `LOGFERRY_TORTURE_SCALE=20 LOGFERRY_TORTURE_KILLS=20`: 1M lines).

use std::collections::HashMap;
use std::fmt::Debug;
use std::fs;
use std::hash::Hash;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::support::*;

pub(super) fn kills() -> usize {
    std::env::var("LOGFERRY_TORTURE_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
}

pub(super) fn scale() -> usize {
    std::env::var("LOGFERRY_TORTURE_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// What the proxy does to requests.
#[derive(Default)]
struct Faults {
    /// Fail one request in this many (0: none), cycling through 429, 500, 503, reset, stall.
    one_in: AtomicU64,
    /// Refuse everything (the endpoint is down).
    down: AtomicBool,
    /// Answer each request this many milliseconds after it arrived (Cloud Logging's latency).
    latency_ms: AtomicU64,
}

/// An HTTP/1.1 proxy on 127.0.0.1 in front of the emulator that injects faults and counts
/// the entries it forwarded (to report raw resends).
pub(super) struct Proxy {
    pub(super) url: String,
    faults: Arc<Faults>,
    forwarded_entries: Arc<AtomicU64>,
    failed_requests: Arc<AtomicU64>,
    /// Requests being answered now, and the most at once.
    in_flight: Arc<InFlight>,
}

#[derive(Default)]
struct InFlight {
    now: AtomicU64,
    most: AtomicU64,
}

impl InFlight {
    fn begin(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }
    fn end(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Proxy {
    pub(super) fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let faults = Arc::new(Faults::default());
        let forwarded_entries = Arc::new(AtomicU64::new(0));
        let failed_requests = Arc::new(AtomicU64::new(0));
        let counter = Arc::new(AtomicU64::new(0));
        let in_flight = Arc::new(InFlight::default());
        let (f, fe, fr, fl) = (
            faults.clone(),
            forwarded_entries.clone(),
            failed_requests.clone(),
            in_flight.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (f, fe, fr, c, up, fl) = (
                    f.clone(),
                    fe.clone(),
                    fr.clone(),
                    counter.clone(),
                    upstream.clone(),
                    fl.clone(),
                );
                std::thread::spawn(move || {
                    let counters = Counters {
                        forwarded: &fe,
                        failed: &fr,
                        requests: &c,
                        in_flight: &fl,
                    };
                    serve(conn, &up, &f, &counters)
                });
            }
        });
        Proxy {
            url,
            faults,
            forwarded_entries,
            failed_requests,
            in_flight,
        }
    }
}

fn read_request(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut byte).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < length {
        let n = conn.read(&mut byte).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&byte[..n]);
    }
    Some((head, body))
}

/// What the proxy counts, shared by its connections.
struct Counters<'a> {
    forwarded: &'a AtomicU64,
    failed: &'a AtomicU64,
    requests: &'a AtomicU64,
    in_flight: &'a InFlight,
}

fn serve(mut conn: TcpStream, upstream: &str, faults: &Faults, counters: &Counters<'_>) {
    while let Some((head, body)) = read_request(&mut conn) {
        counters.in_flight.begin();
        let answered = answer(&mut conn, upstream, faults, counters, &head, &body);
        counters.in_flight.end();
        if !answered {
            return;
        }
    }
}

/// Answers one request (faults, latency, or the emulator's answer); false when the
/// connection is done.
fn answer(
    conn: &mut TcpStream,
    upstream: &str,
    faults: &Faults,
    counters: &Counters<'_>,
    head: &str,
    body: &[u8],
) -> bool {
    let (forwarded, failed) = (counters.forwarded, counters.failed);
    let arrived = std::time::Instant::now();
    let latency = Duration::from_millis(faults.latency_ms.load(Ordering::Relaxed));
    let n = counters.requests.fetch_add(1, Ordering::Relaxed);
    let one_in = faults.one_in.load(Ordering::Relaxed);
    if faults.down.load(Ordering::Relaxed) {
        failed.fetch_add(1, Ordering::Relaxed);
        let _ = conn.shutdown(Shutdown::Both);
        return false;
    }
    if one_in > 0 && n % one_in == one_in - 1 {
        failed.fetch_add(1, Ordering::Relaxed);
        let status = match (n / one_in) % 5 {
            0 => "429 Too Many Requests\r\nRetry-After: 1",
            1 => "500 Internal Server Error",
            2 => "503 Service Unavailable",
            3 => {
                let _ = conn.shutdown(Shutdown::Both); // connection reset
                return false;
            }
            _ => {
                std::thread::sleep(Duration::from_secs(6)); // past the request timeout
                let _ = conn.shutdown(Shutdown::Both);
                return false;
            }
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
        );
        return conn.write_all(reply.as_bytes()).is_ok();
    }
    let entries = body.windows(10).filter(|w| w == b"\"insertId\"").count() as u64;
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return false;
    };
    // Forward with `Connection: close` so the response ends with the connection.
    let mut head_lines: Vec<&str> = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    head_lines.push("connection: close");
    let request = format!("{}\r\n\r\n", head_lines.join("\r\n"));
    if up
        .write_all(request.as_bytes())
        .and_then(|()| up.write_all(body))
        .is_err()
    {
        return false;
    }
    let mut response = Vec::new();
    if up.read_to_end(&mut response).is_err() {
        return false;
    }
    forwarded.fetch_add(entries, Ordering::Relaxed);
    std::thread::sleep(latency.saturating_sub(arrived.elapsed()));
    // Re-frame for keep-alive: the emulator answered with content-length.
    conn.write_all(&response).is_ok()
}

/// Writes numbered lines at full speed (optionally rotating by rename every `rotate_every`).
fn spawn_writer(
    log: PathBuf,
    total: usize,
    rotate_every: usize,
    stop_at: Option<Arc<AtomicBool>>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut rotations = 0;
        let mut written = 0;
        let mut batch = String::new();
        while written < total {
            if stop_at.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
                break;
            }
            batch.clear();
            let end = (written + 100).min(total);
            for i in written..end {
                batch.push_str(&format!("line {i} {}\n", "x".repeat(i % 40)));
            }
            file.write_all(batch.as_bytes()).unwrap();
            for i in written..end {
                if rotate_every > 0 && (i + 1) % rotate_every == 0 {
                    rotations += 1;
                    fs::rename(&log, log.with_extension(format!("log.{rotations}"))).unwrap();
                    file = fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&log)
                        .unwrap();
                }
            }
            written = end;
            if stop_at.is_some() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        written
    })
}

fn config(dir: &Path, endpoint: &str) -> PathBuf {
    config_with(dir, endpoint, "")
}

/// [`config`] with more lines for the `<match>`.
fn config_with(dir: &Path, endpoint: &str, extra: &str) -> PathBuf {
    let d = dir.display();
    let path = dir.join("fluentd.conf");
    fs::write(
        &path,
        format!(
            "<source>\n  @type tail\n  path {d}/app.log\n  pos_file {d}/app.log.pos\n  tag app.log\n  rotate_wait 1s\n  poll_interval 20ms\n</source>\n<match **>\n  @type google_cloud\n  endpoint {endpoint}\n  project_id local-project\n  use_metadata_service false\n  resource_type global\n  request_timeout 5s\n  chunk_limit_size 512k\n  dead_letter_path {d}/dead-letter.jsonl\n  retry_wait 200ms\n  retry_max_interval 2s\n{extra}</match>\n"
        ),
    )
    .unwrap();
    path
}

pub(super) struct Report {
    scenario: String,
    written: usize,
    delivered: usize,
    lost: usize,
    duplicates: usize,
    resends: u64,
    failed_requests: u64,
    max_exposure: Duration,
    peak_rss_mib: f64,
}

impl Report {
    pub(super) fn print_and_check(&self) {
        // One print, so scenarios running in parallel do not interleave their rows.
        println!(
            "\n| scenario | written | delivered | lost | visible duplicates | raw resends | failed requests | max exposure | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} | {} | {:.2} s | {:.1} MiB |",
            self.scenario,
            self.written,
            self.delivered,
            self.lost,
            self.duplicates,
            self.resends,
            self.failed_requests,
            self.max_exposure.as_secs_f64(),
            self.peak_rss_mib
        );
        assert_eq!(self.lost, 0, "{}: lines lost", self.scenario);
        assert_eq!(self.duplicates, 0, "{}: lines visible twice", self.scenario);
        assert_eq!(self.delivered, self.written, "{}", self.scenario);
    }
}

/// Counts, by line number, what reached the emulator.
fn account(
    scenario: &str,
    emulator: &Emulator,
    written: usize,
    proxy: &Proxy,
    peak_rss_mib: f64,
) -> Report {
    let expected: Vec<usize> = (0..written).collect();
    tally(
        scenario,
        &emulator.query(""),
        &expected,
        |entry| {
            entry["textPayload"]
                .as_str()
                .unwrap_or_default()
                .strip_prefix("line ")
                .and_then(|s| s.split(' ').next())
                .and_then(|s| s.parse().ok())
        },
        proxy,
        peak_rss_mib,
    )
}

/// Counts which of the `expected` lines (in the order they were written) `entries` hold, and
/// how many times, by the key `key_of` finds in each entry: the table row of one scenario.
pub(super) fn tally<K: Hash + Eq + Debug>(
    scenario: &str,
    entries: &[serde_json::Value],
    expected: &[K],
    key_of: impl Fn(&serde_json::Value) -> Option<K>,
    proxy: &Proxy,
    peak_rss_mib: f64,
) -> Report {
    let mut seen: HashMap<K, Vec<&serde_json::Value>> = HashMap::new();
    let mut max_exposure = Duration::ZERO;
    for entry in entries {
        if let Some(key) = key_of(entry) {
            seen.entry(key).or_default().push(entry);
        }
        let (Some(ts), Some(rx)) = (
            entry["timestamp"].as_str(),
            entry["receiveTimestamp"].as_str(),
        ) else {
            continue;
        };
        if let (Some(a), Some(b)) = (secs(ts), secs(rx)) {
            max_exposure = max_exposure.max(Duration::from_secs_f64((b - a).max(0.0)));
        }
    }
    // Runs of lost lines, as (first, last) in the order they were written.
    let mut lost_runs: Vec<(&K, &K)> = Vec::new();
    let mut lost = 0;
    let mut previous_lost = false;
    for key in expected {
        let is_lost = !seen.contains_key(key);
        if is_lost {
            lost += 1;
            match lost_runs.last_mut() {
                Some((_, last)) if previous_lost => *last = key,
                _ => lost_runs.push((key, key)),
            }
        }
        previous_lost = is_lost;
    }
    if lost > 0 {
        eprintln!(
            "{scenario}: lost line ranges {:?}",
            &lost_runs[..lost_runs.len().min(10)]
        );
    }
    if let Some((key, same)) = seen.iter().find(|(_, same)| same.len() > 1) {
        eprintln!(
            "{scenario}: line {key:?} is visible {} times: {:#?}",
            same.len(),
            same.iter()
                .map(|e| (&e["insertId"], &e["timestamp"]))
                .collect::<Vec<_>>()
        );
    }
    let duplicates = seen.values().filter(|same| same.len() > 1).count();
    Report {
        scenario: scenario.to_owned(),
        written: expected.len(),
        delivered: expected.iter().filter(|k| seen.contains_key(*k)).count(),
        lost,
        duplicates,
        resends: proxy
            .forwarded_entries
            .load(Ordering::Relaxed)
            .saturating_sub(entries.len() as u64),
        failed_requests: proxy.failed_requests.load(Ordering::Relaxed),
        max_exposure,
        peak_rss_mib,
    }
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp (enough for differences).
fn secs(ts: &str) -> Option<f64> {
    let (date, time) = ts.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let days = y * 372 + m * 31 + day; // monotonic, enough within a test run
    let mut t = time.split(':');
    let (h, mi, s) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    Some(days as f64 * 86_400.0 + h * 3600.0 + mi * 60.0 + s)
}

fn wait_delivered(emulator: &Emulator, n: usize) {
    let done = wait_for(|| emulator.query("").len() >= n);
    if !done {
        eprintln!("only {} of {n} entries arrived", emulator.query("").len());
    }
}

#[test]
fn crash_loop_kill_9_while_writing_loses_and_shows_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(dir.path());
    let proxy = Proxy::start(&emulator.url);
    let config = config(dir.path(), &proxy.url);
    crash_loop("crash loop", dir.path(), &config, &emulator, &proxy);
}

/// The same crash loop with `<buffer> @type file`: lines are acknowledged once they are in the
/// buffer, so every kill also tears the buffer's newest segment somewhere.
#[test]
fn crash_loop_with_the_disk_buffer_loses_and_shows_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(dir.path());
    let proxy = Proxy::start(&emulator.url);
    let d = dir.path().display();
    let config = dir.path().join("fluentd.conf");
    fs::write(
        &config,
        format!(
            "<source>\n  @type tail\n  path {d}/app.log\n  pos_file {d}/app.log.pos\n  tag app.log\n  rotate_wait 1s\n  poll_interval 20ms\n</source>\n<match **>\n  @type google_cloud\n  endpoint {}\n  project_id local-project\n  use_metadata_service false\n  resource_type global\n  request_timeout 5s\n  dead_letter_path {d}/dead-letter.jsonl\n  <buffer>\n    @type file\n    path {d}/buffer\n    chunk_limit_size 512k\n    flush_interval 200ms\n    retry_wait 200ms\n    retry_max_interval 2s\n  </buffer>\n</match>\n",
            proxy.url
        ),
    )
    .unwrap();
    crash_loop(
        "crash loop, disk buffer",
        dir.path(),
        &config,
        &emulator,
        &proxy,
    );
}

/// The crash loop against an endpoint that answers after 100 ms, as Cloud Logging does, with
/// requests kept small: the agent keeps many requests in flight, so each kill lands while
/// several are unanswered (sent, maybe written, not acknowledged).
#[test]
fn crash_loop_with_many_requests_in_flight_loses_and_shows_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(dir.path());
    let proxy = Proxy::start(&emulator.url);
    proxy.faults.latency_ms.store(100, Ordering::Relaxed);
    let config = config_with(
        dir.path(),
        &proxy.url,
        "  chunk_limit_size 64k\n  max_request_bytes 200000\n",
    );
    crash_loop(
        "crash loop, 100 ms answers",
        dir.path(),
        &config,
        &emulator,
        &proxy,
    );
    let most = proxy.in_flight.most.load(Ordering::SeqCst);
    eprintln!("crash loop, 100 ms answers: at most {most} requests in flight at once");
    assert!(
        most > 2,
        "expected more than 2 requests in flight, saw {most}"
    );
}

/// Writes `50,000 × scale` lines while the agent is started and killed with -9 [`kills`] times
/// at random moments, then lets one last agent finish and accounts for every line.
fn crash_loop(label: &str, dir: &Path, config: &Path, emulator: &Emulator, proxy: &Proxy) {
    let total = 50_000 * scale();
    let kills = kills();
    let writer = spawn_writer(
        dir.join("app.log"),
        total,
        0,
        Some(Arc::new(AtomicBool::new(false))),
    );
    let mut seed = 0x9e37_79b9_u64;
    let mut peak: f64 = 0.0;
    for _ in 0..kills {
        let agent = Agent::start(config);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(100 + seed % 400));
        let mut agent = agent;
        peak = peak.max(agent.peak_rss_mib());
        let _ = agent.child.kill(); // SIGKILL
        let _ = agent.child.wait();
        if std::env::var("TORTURE_DEBUG").is_ok() {
            let journal = fs::read_to_string(dir.join("app.log.pos.readtimes")).unwrap_or_default();
            let pos = fs::read_to_string(dir.join("app.log.pos")).unwrap_or_default();
            fs::write(
                format!("/tmp/torture-journal-{}", seed % 1000),
                format!("{pos}\n{journal}"),
            )
            .unwrap();
            eprintln!(
                "run ended: pos {pos:?}, journal {} lines",
                journal.lines().count()
            );
        }
    }
    let written = writer.join().unwrap();
    let agent = Agent::start(config);
    wait_delivered(emulator, written);
    let peak = peak.max(agent.peak_rss_mib());
    agent.stop();
    let scenario = format!("{label} ({kills} × kill -9)");
    account(&scenario, emulator, written, proxy, peak).print_and_check();
}

#[test]
fn endpoint_faults_and_an_outage_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(dir.path());
    let proxy = Proxy::start(&emulator.url);
    proxy.faults.one_in.store(10, Ordering::Relaxed);
    let config = config(dir.path(), &proxy.url);
    let total = 30_000 * scale();
    let agent = Agent::start(&config);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(dir.path().join("app.log"), total, 0, Some(stop.clone()));
    std::thread::sleep(Duration::from_millis(500));
    proxy.faults.down.store(true, Ordering::Relaxed);
    // Scaled from the 60 s.
    std::thread::sleep(Duration::from_secs(5));
    proxy.faults.down.store(false, Ordering::Relaxed);
    let written = writer.join().unwrap();
    wait_delivered(&emulator, written);
    let peak = agent.peak_rss_mib();
    agent.stop();
    account("faults 10% + 5 s outage", &emulator, written, &proxy, peak).print_and_check();
}

#[test]
fn rotation_under_load_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(dir.path());
    let proxy = Proxy::start(&emulator.url);
    let config = config(dir.path(), &proxy.url);
    let total = 100_000 * scale();
    // The sidecar starts first (a native sidecar is an init container): a file renamed away
    // before the agent ever looked at its path cannot be found, by fluentd or by logferry.
    fs::write(dir.path().join("app.log"), "").unwrap();
    let agent = Agent::start(&config);
    wait_until("following tail", || agent.log().contains("following tail"));
    let written = spawn_writer(dir.path().join("app.log"), total, 5_000, None)
        .join()
        .unwrap();
    wait_delivered(&emulator, written);
    let peak = agent.peak_rss_mib();
    agent.stop();
    account(
        "rename rotation every 5,000 lines",
        &emulator,
        written,
        &proxy,
        peak,
    )
    .print_and_check();
}

#[test]
fn the_writer_outliving_sigterm_by_two_seconds_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(dir.path());
    let proxy = Proxy::start(&emulator.url);
    let config = config(dir.path(), &proxy.url);
    let agent = Agent::start(&config);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(
        dir.path().join("app.log"),
        usize::MAX,
        0,
        Some(stop.clone()),
    );
    std::thread::sleep(Duration::from_millis(500));
    agent.signal("TERM");
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    let peak = agent.peak_rss_mib();
    let mut agent = agent;
    let status = wait_exit(&mut agent.child);
    assert!(status.success(), "{}", agent.log());
    account(
        "writer goes on 2 s after SIGTERM",
        &emulator,
        written,
        &proxy,
        peak,
    )
    .print_and_check();
}

#[test]
fn bad_input_is_reported_and_everything_else_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(dir.path());
    let proxy = Proxy::start(&emulator.url);
    let config = config(dir.path(), &proxy.url);
    let log = dir.path().join("app.log");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"line 0 ok\n");
    bytes.extend_from_slice(b"invalid \xff\xfe utf8\n");
    bytes.extend_from_slice(b"nul \0 byte\n");
    bytes.extend_from_slice(&vec![b'a'; 10 * 1024 * 1024]);
    bytes.push(b'\n');
    bytes.extend_from_slice(format!("{{\"message\":\"{}\"}}\n", "j".repeat(300 * 1024)).as_bytes());
    bytes.extend_from_slice(
        &(0..=255u8)
            .cycle()
            .take(4096)
            .filter(|b| *b != b'\n')
            .collect::<Vec<u8>>(),
    );
    bytes.push(b'\n');
    bytes.extend_from_slice(b"line 1 ok\n");
    fs::write(&log, &bytes).unwrap();
    // A corrupted pos_file: reported, and the file is read by read_from_head.
    fs::write(dir.path().join("app.log.pos"), b"garbage\xff\n").unwrap();
    let agent = Agent::start(&config);
    wait_until("both good lines", || {
        let texts: Vec<String> = emulator
            .query("")
            .iter()
            .filter_map(|e| e["textPayload"].as_str().map(str::to_string))
            .collect();
        texts.iter().any(|t| t == "line 0 ok") && texts.iter().any(|t| t == "line 1 ok")
    });
    // The log file is replaced by a directory: reported once, and the agent carries on; when a
    // file is back at the path, its lines arrive.
    fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    fs::create_dir(&log).unwrap();
    wait_until("the directory to be reported", || {
        agent.log().contains("not a regular file")
    });
    fs::remove_dir(&log).unwrap();
    fs::write(&log, "line 2 ok\n").unwrap();
    wait_until("the line of the file that came back", || {
        emulator
            .query("")
            .iter()
            .any(|e| e["textPayload"] == "line 2 ok")
    });
    let log_text = agent.stop();
    assert!(log_text.contains("pos_file line is damaged"), "{log_text}");
    assert!(log_text.contains("longer than max_line_size"), "{log_text}");
    let entries = emulator.query("");
    let texts: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["textPayload"].as_str())
        .collect();
    assert!(
        texts.contains(&"invalid \u{fffd}\u{fffd} utf8"),
        "{texts:?}"
    );
    assert!(texts.contains(&"nul \0 byte"), "{texts:?}");
    // The 10 MiB line arrives whole: split at max_line_size, then each piece at Cloud
    // Logging's 256 KiB entry limit (linked by `split`).
    if let Ok(dead) = fs::read_to_string(dir.path().join("dead-letter.jsonl")) {
        eprintln!(
            "dead letters: {}",
            dead.lines()
                .map(|l| l.chars().take(300).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let a_bytes: usize = entries
        .iter()
        .filter_map(|e| e["textPayload"].as_str())
        .filter(|t| t.bytes().all(|b| b == b'a'))
        .map(str::len)
        .sum();
    assert_eq!(a_bytes, 10 * 1024 * 1024);
    let _ = proxy;
}
