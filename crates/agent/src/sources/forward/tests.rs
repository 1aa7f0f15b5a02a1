//! The forward input's server in process: real TCP on 127.0.0.1:0, a router with no outputs
//! (a message's `chunk` is acknowledged once it is routed), and the limits that keep what a
//! client can make it hold bounded: `max_connections` and `idle_timeout`.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::config::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ForwardSourceConfig};
use super::server::serve_on;
use crate::msgpack;
use crate::router::Router;
use crate::sources::tail::SourceControl;

/// Generous: CI machines are slow and shared.
const DEADLINE: Duration = Duration::from_secs(60);

fn config(params: &str) -> (Option<ForwardSourceConfig>, Vec<fluent_config::Diagnostic>) {
    let text = format!("<source>\n @type forward\n port 0\n{params}</source>\n");
    let (root, mut diags) = fluent_config::parse_str(&text, Path::new("t.conf")).unwrap();
    let section = root.sections[0].clone();
    let mut r = fluent_config::Reader::new(&section, &mut diags);
    r.plugin_type();
    let config = ForwardSourceConfig::from_reader(&mut r);
    r.finish();
    (config, diags)
}

/// A forward input serving on its own thread until dropped.
struct Input {
    addr: SocketAddr,
    name: String,
    control: SourceControl,
    thread: Option<JoinHandle<()>>,
}

impl Input {
    /// `name` keys the input's metric series: unique per test.
    fn start(name: &str, params: &str) -> Input {
        let (config, diags) = config(params);
        let mut config = config.unwrap_or_else(|| panic!("{diags:?}"));
        config.heartbeat = false;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Arc::new(Router::new(HashMap::new(), Vec::new()));
        let control = SourceControl::default();
        let thread =
            serve_on(listener, name.into(), config, router, None, control.clone()).unwrap();
        Input {
            addr,
            name: name.into(),
            control,
            thread: Some(thread),
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream
    }

    fn active(&self) -> i64 {
        self.control
            .metrics
            .forward_active_connections
            .with(&[&self.name])
            .get()
    }

    fn refused(&self) -> u64 {
        self.control
            .metrics
            .forward_refused_connections
            .with(&[&self.name])
            .get()
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends one Message-mode event with a `chunk` option and reads the server's `{"ack": chunk}`:
/// proof that the connection is being served.
fn round_trip(stream: &mut TcpStream, chunk: &str) {
    let mut message = Vec::new();
    msgpack::write_array_len(&mut message, 4);
    msgpack::write_str(&mut message, b"app");
    msgpack::write_uint(&mut message, 1_700_000_000);
    msgpack::write_map_len(&mut message, 1);
    msgpack::write_str(&mut message, b"message");
    msgpack::write_str(&mut message, b"hello");
    msgpack::write_map_len(&mut message, 1);
    msgpack::write_str(&mut message, b"chunk");
    msgpack::write_str(&mut message, chunk.as_bytes());
    stream.write_all(&message).unwrap();

    let mut expected = Vec::new();
    msgpack::write_map_len(&mut expected, 1);
    msgpack::write_str(&mut expected, b"ack");
    msgpack::write_str(&mut expected, chunk.as_bytes());
    let mut answer = vec![0; expected.len()];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(answer, expected);
}

/// Reads until the server closes the connection; fails if it sends anything or stays open
/// past the deadline.
fn assert_closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ) => {}
        Ok(n) => panic!("the server sent {n} bytes instead of closing"),
        Err(e) => panic!("the connection was not closed: {e}"),
    }
}

#[test]
fn limits_default_to_256_connections_and_an_hour_idle() {
    let (config, diags) = config("");
    let config = config.unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(config.max_connections, DEFAULT_MAX_CONNECTIONS);
    assert_eq!(DEFAULT_MAX_CONNECTIONS, 256);
    assert_eq!(config.idle_timeout, DEFAULT_IDLE_TIMEOUT);
    assert_eq!(DEFAULT_IDLE_TIMEOUT, Duration::from_secs(3600));

    let (config, _) = config_of(" max_connections 10\n idle_timeout 90s\n");
    assert_eq!(config.max_connections, 10);
    assert_eq!(config.idle_timeout, Duration::from_secs(90));

    for (params, message) in [
        (" max_connections 0\n", "max_connections must be at least 1"),
        (" idle_timeout 0\n", "idle_timeout must be more than 0"),
        (" max_connections -1\n", "max_connections"),
        (" idle_timeout soon\n", "idle_timeout"),
    ] {
        let (_, diags) = self::config(params);
        assert!(
            diags
                .iter()
                .any(|d| d.level == fluent_config::Level::Error && d.message.contains(message)),
            "{params}: {diags:?}"
        );
    }
}

fn config_of(params: &str) -> (ForwardSourceConfig, Vec<fluent_config::Diagnostic>) {
    let (config, diags) = config(params);
    (config.unwrap_or_else(|| panic!("{diags:?}")), diags)
}

#[test]
fn connections_beyond_max_connections_are_closed_at_once() {
    let input = Input::start("limit-test", " max_connections 2\n");
    let mut first = input.connect();
    let mut second = input.connect();
    round_trip(&mut first, "a1");
    round_trip(&mut second, "b1");
    assert_eq!(input.active(), 2);

    let mut third = input.connect();
    assert_closed_by_server(&mut third);
    assert_eq!(input.refused(), 1);
    // The two served connections are untouched.
    round_trip(&mut first, "a2");
    round_trip(&mut second, "b2");

    // A slot frees when a connection closes.
    drop(first);
    wait_until("the first connection to end", || input.active() == 1);
    let mut fourth = input.connect();
    round_trip(&mut fourth, "d1");
    assert_eq!(input.active(), 2);
    assert_eq!(input.refused(), 1);
}

#[test]
fn a_connection_silent_for_idle_timeout_is_closed_and_a_busy_one_is_not() {
    let idle_timeout = Duration::from_secs(1);
    let input = Input::start("idle-test", " idle_timeout 1s\n");
    let opened = Instant::now();
    let mut idle = input.connect();
    let mut busy = input.connect();
    // The busy client sends a message every 100 ms for 2.5 idle timeouts.
    let mut n = 0;
    while opened.elapsed() < idle_timeout * 5 / 2 {
        round_trip(&mut busy, &format!("busy{n}"));
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    // The idle one was closed meanwhile (reading now returns at once), not before its time.
    assert_closed_by_server(&mut idle);
    round_trip(&mut busy, "still open");
    wait_until("the idle connection to be counted out", || {
        input.active() == 1
    });

    // An idle connection is closed after idle_timeout, measured from its last message.
    let mut quiet = input.connect();
    round_trip(&mut quiet, "then silence");
    let last_message = Instant::now();
    assert_closed_by_server(&mut quiet);
    assert!(
        last_message.elapsed() >= idle_timeout,
        "closed after {:?}",
        last_message.elapsed()
    );
}
