//! Helpers shared by the end-to-end tests: a temp dir per test, the agent as a child process,
//! and waiting on conditions with generous deadlines instead of sleeping.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_logferry");

/// A generous deadline: CI machines are busy.
pub const DEADLINE: Duration = Duration::from_secs(120);

pub struct Agent {
    pub child: Child,
    pub stderr: PathBuf,
}

impl Agent {
    pub fn start(config: &Path) -> Agent {
        let stderr = config.with_extension(format!("stderr.{}", next_id()));
        let child = Command::new(BIN)
            .arg("run")
            .arg("-c")
            .arg(config)
            .env("LOGFERRY_LOG", "info")
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start logferry");
        Agent { child, stderr }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let status = wait_exit(&mut self.child);
        let log = fs::read_to_string(&self.stderr).unwrap_or_default();
        assert!(status.success(), "logferry exited with {status}:\n{log}");
        assert!(
            !log.contains('\u{1b}'),
            "terminal escape codes in a log written to a file:\n{log}"
        );
        log
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The agent's peak resident memory so far, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.child.id())
    }
}

/// The peak resident memory so far (VmHWM) of process `pid`, in MiB (0 once it is gone).
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn next_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static ID: AtomicU32 = AtomicU32::new(0);
    ID.fetch_add(1, Ordering::Relaxed)
}

pub fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < DEADLINE, "logferry did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` has `file` open (its canonical path).
pub fn has_open(pid: u32, file: &Path) -> bool {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == file))
}

/// Polls `condition` until it holds; panics with `what` at the deadline.
pub fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    assert!(wait_for(condition), "timed out waiting for {what}");
}

/// Polls `condition` until it holds or the deadline passes; says which.
pub fn wait_for(mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > DEADLINE {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The `message` of every JSON line the file output wrote (all files matching `prefix*`).
pub fn messages(path: &Path) -> Vec<String> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| l.ends_with('}'))
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad output line {line:?}: {e}"));
            value["message"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

pub fn count_lines(path: &Path) -> usize {
    fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

pub fn append(path: &Path, text: &str) {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// A config with one tail source and a file output.
pub fn tail_to_file(dir: &Path, extra_source: &str) -> PathBuf {
    let config = dir.join("fluentd.conf");
    fs::write(
        &config,
        format!(
            "<source>\n  @type tail\n  path {d}/app.log\n  pos_file {d}/app.log.pos\n  tag app.log\n  rotate_wait 1s\n  poll_interval 20ms\n{extra_source}</source>\n<match **>\n  @type file\n  path {d}/out.log\n  flush_interval 200ms\n</match>\n",
            d = dir.display()
        ),
    )
    .unwrap();
    config
}

/// Asserts `got` is exactly `0..n` as `line N` messages, in order, naming the first problem.
pub fn assert_exactly_once_in_order(got: &[String], n: usize) {
    let mut seen = vec![0u32; n];
    for message in got {
        let number: usize = message
            .strip_prefix("line ")
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected message {message:?}"));
        seen[number] += 1;
    }
    let lost: Vec<usize> = (0..n).filter(|i| seen[*i] == 0).collect();
    let repeated: Vec<usize> = (0..n).filter(|i| seen[*i] > 1).collect();
    assert!(
        lost.is_empty() && repeated.is_empty(),
        "{} lost (first {:?}), {} repeated (first {:?})",
        lost.len(),
        lost.first(),
        repeated.len(),
        repeated.first()
    );
    let numbers: Vec<usize> = got
        .iter()
        .map(|m| m[5..].split(' ').next().unwrap().parse().unwrap())
        .collect();
    if let Some(i) = numbers.windows(2).position(|w| w[0] > w[1]) {
        panic!(
            "out of order at output line {i}: {} then {}",
            numbers[i],
            numbers[i + 1]
        );
    }
}

/// A `logferry emulator` child process on 127.0.0.1 with its own data dir.
pub struct Emulator {
    pub child: Child,
    pub url: String,
    stderr: PathBuf,
}

impl Emulator {
    pub fn start(dir: &Path) -> Emulator {
        let stderr = dir.join(format!("emulator.stderr.{}", next_id()));
        let child = Command::new(BIN)
            .args(["emulator", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.join("emulator-data"))
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start the emulator");
        let mut url = String::new();
        wait_until("the emulator to listen", || {
            let text = fs::read_to_string(&stderr).unwrap_or_default();
            // Only a whole line: the emulator may be halfway through writing it.
            match text
                .split_inclusive('\n')
                .filter(|l| l.ends_with('\n'))
                .find_map(|l| l.split("emulator listening on ").nth(1))
            {
                Some(u) => {
                    url = u.trim().to_string();
                    true
                }
                None => false,
            }
        });
        Emulator { child, url, stderr }
    }

    /// Entries matching `filter`, oldest first, via `logferry query`.
    pub fn query(&self, filter: &str) -> Vec<serde_json::Value> {
        let out = Command::new(BIN)
            .args([
                "query",
                "--emulator",
                &self.url,
                "--project",
                "local-project",
                "--limit",
                // More than any test writes: a limit would read as lost lines.
                "100000000",
                "--order",
                "asc",
                "--format",
                "json",
                "--freshness",
                "3650d",
            ])
            .arg(filter)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "query failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            fs::read_to_string(&self.stderr).unwrap_or_default()
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "bad query output ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// [`Agent::start`] with more `logferry run` flags.
    pub fn start_with(config: &Path, args: &[&str]) -> Agent {
        let stderr = config.with_extension(format!("stderr.{}", next_id()));
        let child = Command::new(BIN)
            .arg("run")
            .arg("-c")
            .arg(config)
            .args(args)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start logferry");
        Agent { child, stderr }
    }
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The request line and header lines (trimmed, lowercased) of the next request on a
/// keep-alive connection, for the fake servers; `None` once the client closed it.
pub fn read_request_head(reader: &mut impl std::io::BufRead) -> Option<(String, Vec<String>)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.trim().is_empty() {
            return Some((request_line, headers));
        }
        headers.push(line.trim().to_ascii_lowercase());
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port`: `(status, body)`, or `None` if nothing answers.
pub fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    http_with(port, method, path, "")
}

/// [`http`] with extra header lines (each ending in `\r\n`).
pub fn http_with(port: u16, method: &str, path: &str, headers: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(DEADLINE)).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{headers}content-length: 0\r\n\r\n"
    )
    .ok()?;
    read_response(stream)
}

/// Reads a whole HTTP/1.1 response (the server closes the connection): `(status, body)`.
fn read_response(mut stream: std::net::TcpStream) -> Option<(u16, String)> {
    use std::io::Read;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// One `POST` of a JSON body to `url` (`http://127.0.0.1:PORT`) + `path`: `(status, body)`, or
/// `None` if nothing answers (or the server drops the connection, as a crashed one does).
pub fn http_post_json(url: &str, path: &str, body: &serde_json::Value) -> Option<(u16, String)> {
    let address = url.strip_prefix("http://").expect("an http:// URL");
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(DEADLINE)).ok()?;
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    read_response(stream)
}
