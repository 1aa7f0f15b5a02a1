//! The forward protocol through the real binary: Python's fluent-logger (with and without the
//! shared-key handshake), every message mode with `chunk` acks, one logferry forwarding to
//! another with acks, and malformed input that must only close its own connection.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::support::*;

/// A sender built on fluent-logger's `FluentSender`; with a shared key it runs the forward
/// protocol's HELO/PING/PONG handshake on each new connection (fluent-logger has none itself).
const SENDER: &str = r#"
import hashlib, os, sys
import msgpack
from fluent import sender

port, start, count, tag = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
shared_key = sys.argv[5] if len(sys.argv) > 5 else None
hostname = sys.argv[6] if len(sys.argv) > 6 else "python-client"

class SecureSender(sender.FluentSender):
    def _reconnect(self):
        fresh = self.socket is None
        super()._reconnect()
        if fresh and self.socket is not None and shared_key is not None:
            self._handshake()

    def _handshake(self):
        unpacker = msgpack.Unpacker(raw=False)
        def read():
            while True:
                for obj in unpacker:
                    return obj
                data = self.socket.recv(4096)
                if not data:
                    raise ConnectionError("closed during the handshake")
                unpacker.feed(data)
        helo = read()
        assert helo[0] == "HELO", helo
        nonce = helo[1]["nonce"]
        salt = os.urandom(16)
        key = shared_key.encode()
        digest = hashlib.sha512(salt + hostname.encode() + nonce + key).hexdigest()
        self.socket.sendall(msgpack.packb(["PING", hostname, salt, digest, "", ""]))
        pong = read()
        if not pong[1]:
            raise ConnectionError("handshake refused: " + pong[2])
        expected = hashlib.sha512(salt + pong[3].encode() + nonce + key).hexdigest()
        if pong[4] != expected:
            raise ConnectionError("the server's digest does not match")

s = SecureSender(tag, host="127.0.0.1", port=port, nanosecond_precision=True, timeout=10)
for i in range(start, start + count):
    if not s.emit("app", {"message": "line %d payload" % i, "n": i}):
        print("emit failed:", s.last_error, file=sys.stderr)
        sys.exit(1)
s.close()
print("sent", count)
"#;

/// Forward, PackedForward and CompressedPackedForward messages with `chunk`, waiting for each
/// ack; plus a Message-mode message with an integer time.
const MODES: &str = r#"
import gzip, socket, struct, sys, time
import msgpack

port = int(sys.argv[1])
sock = socket.create_connection(("127.0.0.1", port), timeout=30)
unpacker = msgpack.Unpacker(raw=False)

def ack(chunk):
    while True:
        for obj in unpacker:
            assert obj == {"ack": chunk}, obj
            return
        data = sock.recv(4096)
        assert data, "closed before the ack of " + chunk
        unpacker.feed(data)

def event_time(t):
    return msgpack.ExtType(0, struct.pack(">II", int(t), int((t % 1) * 1e9)))

def entry(i):
    return [event_time(time.time()), {"message": "line %d payload" % i}]

n = 0
# Forward mode: [tag, [[time, record], ...], {"chunk": id}]
sock.sendall(msgpack.packb(["m.forward", [entry(n + i) for i in range(100)], {"chunk": "c1"}]))
ack("c1"); n += 100
# PackedForward: [tag, bin(entries), {"chunk": id, "size": n}]
packed = b"".join(msgpack.packb(entry(n + i)) for i in range(100))
sock.sendall(msgpack.packb(["m.packed", packed, {"chunk": "c2", "size": 100}]))
ack("c2"); n += 100
# CompressedPackedForward: gzip of the packed entries (two members, as fluentd appends them)
first = b"".join(msgpack.packb(entry(n + i)) for i in range(50))
second = b"".join(msgpack.packb(entry(n + 50 + i)) for i in range(50))
sock.sendall(msgpack.packb(["m.gzip", gzip.compress(first) + gzip.compress(second),
                            {"chunk": "c3", "size": 100, "compressed": "gzip"}]))
ack("c3"); n += 100
# Message mode with an integer time and a chunk
sock.sendall(msgpack.packb(["m.message", int(time.time()), {"message": "line %d payload" % n}, {"chunk": "c4"}]))
ack("c4"); n += 1
sock.close()
print("sent", n)
"#;

fn python(dir: &Path, name: &str, script: &str, args: &[String]) -> std::process::Output {
    let path = dir.join(name);
    fs::write(&path, script).unwrap();
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("python3 (pip install -r scripts/test-requirements.txt)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named"),
        "install the test requirements (pip install -r scripts/test-requirements.txt): {stderr}"
    );
    out
}

/// A config with a forward input on `port` (plus `extra` inside it) and a file output.
fn forward_to_file(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let config = dir.join("fluentd.conf");
    fs::write(
        &config,
        format!(
            "<source>\n  @type forward\n  @id in_forward\n  port {port}\n{extra}</source>\n<match **>\n  @type file\n  path {d}/out.log\n  flush_interval 100ms\n</match>\n",
            d = dir.display()
        ),
    )
    .unwrap();
    config
}

fn wait_listening(agent: &Agent, port: u16) {
    wait_until("the forward input to listen", || {
        agent
            .log()
            .contains(&format!("listening forward input on 127.0.0.1:{port}"))
    });
}

fn sorted_messages(path: &Path) -> Vec<String> {
    let mut got = messages(path);
    got.sort_by_key(|m| m[5..].split(' ').next().unwrap().parse::<usize>().unwrap());
    got
}

#[test]
fn fluent_logger_events_arrive_at_the_file_output() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = forward_to_file(dir.path(), port, "");
    let agent = Agent::start(&config);
    wait_listening(&agent, port);
    let out = python(
        dir.path(),
        "send.py",
        SENDER,
        &[port.to_string(), "0".into(), "2000".into(), "app".into()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out_log = dir.path().join("out.log");
    wait_until("2,000 events", || count_lines(&out_log) >= 2_000);
    agent.stop();
    // fluent-logger sends one message per event over one connection: order is kept.
    assert_exactly_once_in_order(&messages(&out_log), 2_000);
    let first: serde_json::Value = serde_json::from_str(
        fs::read_to_string(&out_log)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["n"], 0, "{first}");
}

#[test]
fn fluent_logger_with_the_shared_key_handshake_is_accepted_and_a_wrong_key_refused() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let security =
        "  <security>\n    self_hostname logferry-test\n    shared_key s3cret\n  </security>\n";
    let config = forward_to_file(dir.path(), port, security);
    let agent = Agent::start(&config);
    wait_listening(&agent, port);
    let args = |key: &str| {
        vec![
            port.to_string(),
            "0".into(),
            "500".into(),
            "app".into(),
            key.to_string(),
            "python-client".into(),
        ]
    };
    let refused = python(dir.path(), "send.py", SENDER, &args("wrong"));
    assert!(
        !refused.status.success(),
        "a wrong shared_key must be refused"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("shared_key mismatch"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = python(dir.path(), "send.py", SENDER, &args("s3cret"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out_log = dir.path().join("out.log");
    wait_until("500 events", || count_lines(&out_log) >= 500);
    let log = agent.stop();
    assert_exactly_once_in_order(&messages(&out_log), 500);
    assert!(log.contains("shared_key mismatch"), "{log}");
}

#[test]
fn forward_packed_and_compressed_messages_are_acknowledged_after_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = forward_to_file(dir.path(), port, "");
    let agent = Agent::start(&config);
    wait_listening(&agent, port);
    let out = python(dir.path(), "modes.py", MODES, &[port.to_string()]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        agent.log()
    );
    // Every ack came after the file output synced its chunk: the lines are there already.
    let out_log = dir.path().join("out.log");
    assert_eq!(count_lines(&out_log), 301);
    agent.stop();
    assert_exactly_once_in_order(&sorted_messages(&out_log), 301);
    let text = fs::read_to_string(&out_log).unwrap();
    for tag in ["m.forward", "m.packed", "m.gzip", "m.message"] {
        assert!(text.contains("payload"), "{tag}");
    }
}

#[test]
fn forward_output_fails_over_and_delivers_to_a_second_logferry_with_acks() {
    let dir = tempfile::tempdir().unwrap();
    let receiver_dir = dir.path().join("receiver");
    let sender_dir = dir.path().join("sender");
    fs::create_dir_all(&receiver_dir).unwrap();
    fs::create_dir_all(&sender_dir).unwrap();
    let port = free_port();
    let security = "  <security>\n    self_hostname receiver\n    shared_key k3y\n  </security>\n";
    let receiver = Agent::start(&forward_to_file(&receiver_dir, port, security));
    wait_listening(&receiver, port);
    let config = sender_dir.join("fluentd.conf");
    fs::write(
        &config,
        format!(
            "<source>\n  @type tail\n  path {d}/app.log\n  pos_file {d}/app.log.pos\n  tag app.log\n  poll_interval 20ms\n</source>\n<match **>\n  @type forward\n  require_ack_response true\n  compress gzip\n  <security>\n    self_hostname sender\n    shared_key k3y\n  </security>\n  <server>\n    host 127.0.0.1\n    port {dead}\n  </server>\n  <server>\n    host 127.0.0.1\n    port {port}\n  </server>\n  flush_interval 100ms\n</match>\n",
            d = sender_dir.display(),
            dead = free_port(),
        ),
    )
    .unwrap();
    let log = sender_dir.join("app.log");
    let total = 20_000;
    let mut text = String::new();
    for i in 0..total / 2 {
        text.push_str(&format!("line {i} payload\n"));
    }
    append(&log, &text);
    let sender = Agent::start(&config);
    let mut text = String::new();
    for i in total / 2..total {
        text.push_str(&format!("line {i} payload\n"));
    }
    append(&log, &text);
    let out = receiver_dir.join("out.log");
    if !wait_for(|| count_lines(&out) >= total) {
        panic!(
            "timed out at {} lines\nsender:\n{}\nreceiver:\n{}",
            count_lines(&out),
            sender.log(),
            receiver.log()
        );
    }
    let sender_log = sender.stop();
    receiver.stop();
    assert_exactly_once_in_order(&messages(&out), total);
    assert!(
        sender_log.contains("forward output connected"),
        "{sender_log}"
    );
    // Positions moved only over acknowledged lines, and they all were.
    let pos = fs::read_to_string(sender_dir.join("app.log.pos")).unwrap();
    let size = fs::metadata(&log).unwrap().len();
    assert!(pos.contains(&format!("{size:016x}")), "{pos} vs {size}");
}

#[test]
fn malformed_frames_close_only_their_connection() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = forward_to_file(dir.path(), port, "");
    let agent = Agent::start(&config);
    wait_listening(&agent, port);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = vec![0u8; 4096];
    for b in random.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *b = seed as u8;
    }
    random[0] = 0xc1; // never valid MessagePack
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random bytes", random),
        ("not an array", vec![0xa3, b'a', b'b', b'c']),
        ("tag is not a string", vec![0x93, 0x01, 0x02, 0x80]),
        ("time is a string", vec![0x93, 0xa1, b't', 0xa1, b'x', 0x80]),
        ("record is not a map", vec![0x93, 0xa1, b't', 0x01, 0x05]),
        ("entries are not pairs", vec![0x92, 0xa1, b't', 0x91, 0x01]),
        (
            "packed entries are truncated",
            vec![0x92, 0xa1, b't', 0xc4, 0x02, 0x92, 0x01],
        ),
        ("bad gzip", {
            let mut m = vec![0x93, 0xa1, b't', 0xc4, 0x03, 1, 2, 3, 0x81];
            m.extend_from_slice(&[0xaa]);
            m.extend_from_slice(b"compressed");
            m.extend_from_slice(&[0xa4]);
            m.extend_from_slice(b"gzip");
            m
        }),
        (
            "a huge declared array, then the connection closes",
            vec![0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01],
        ),
    ];
    for (what, bytes) in &cases {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(bytes).unwrap();
        if what.contains("closes") {
            stream.shutdown(std::net::Shutdown::Write).unwrap();
        }
        let mut rest = Vec::new();
        // The server closes the connection (EOF, or a reset when bytes were left unread).
        let closed = match stream.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => {
                e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut
            }
        };
        assert!(closed, "{what}: the connection stayed open");
    }
    // A truncated message left hanging does not block others.
    let mut hanging = TcpStream::connect(("127.0.0.1", port)).unwrap();
    hanging
        .write_all(&[0x93, 0xa1, b't', 0xd7, 0x00, 1, 2])
        .unwrap();
    let out = python(
        dir.path(),
        "send.py",
        SENDER,
        &[port.to_string(), "0".into(), "100".into(), "app".into()],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        agent.log()
    );
    let out_log = dir.path().join("out.log");
    wait_until("100 events", || count_lines(&out_log) >= 100);
    drop(hanging);
    let log = agent.stop();
    assert_exactly_once_in_order(&messages(&out_log), 100);
    assert!(log.contains("closing a forward connection"), "{log}");
    assert!(log.contains("invalid MessagePack"), "{log}");
    assert!(log.contains("invalid event"), "{log}");
}

/// One Message-mode event asking for an ack: `[tag, time, {"message": …}, {"chunk": id}]`.
fn acked_message(i: usize) -> (Vec<u8>, String) {
    fn str8(out: &mut Vec<u8>, s: &str) {
        out.push(0xd9);
        out.push(s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }
    let chunk = format!("c{i}");
    let mut out = vec![0x94];
    str8(&mut out, "reload.test");
    out.push(0xce);
    out.extend_from_slice(&1_800_000_000u32.to_be_bytes());
    out.push(0x81);
    str8(&mut out, "message");
    str8(&mut out, &format!("line {i} payload"));
    out.push(0x81);
    str8(&mut out, "chunk");
    str8(&mut out, &chunk);
    (out, chunk)
}

/// Sends `i` on a new connection and waits for its ack. `Err(true)`: the connection was
/// refused; `Err(false)`: it closed or timed out before the ack (the input was draining).
fn send_acked(port: u16, i: usize) -> Result<(), bool> {
    let mut stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Err(true),
        Err(_) => return Err(false),
    };
    let (frame, chunk) = acked_message(i);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    if stream.write_all(&frame).is_err() {
        return Err(false);
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.windows(chunk.len()).any(|w| w == chunk.as_bytes()) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return Err(false),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Ok(())
}

/// A reload keeps the forward input's listening socket: a client connecting while the old
/// pipeline drains waits in the backlog and is served by the new one, never refused. A client
/// that asks for acks resends what was not acknowledged, so every event arrives.
#[test]
fn a_reload_keeps_the_forward_port_open_and_acked_events_all_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = forward_to_file(dir.path(), port, "");
    let agent = Agent::start(&config);
    wait_listening(&agent, port);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = {
        let done = done.clone();
        std::thread::spawn(move || {
            let (mut sent, mut refused, mut unacked) = (0usize, 0usize, 0usize);
            while !done.load(std::sync::atomic::Ordering::Acquire) || sent < 200 {
                match send_acked(port, sent) {
                    Ok(()) => sent += 1,
                    Err(true) => refused += 1,
                    Err(false) => unacked += 1,
                }
            }
            (sent, refused, unacked)
        })
    };
    let reloads = 3;
    for i in 1..=reloads {
        std::thread::sleep(Duration::from_millis(300));
        agent.signal("HUP");
        wait_until("the reload", || {
            agent.log().matches("configuration reloaded").count() >= i
        });
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let (sent, refused, unacked) = client.join().unwrap();
    let out_log = dir.path().join("out.log");
    wait_until("every acknowledged event", || count_lines(&out_log) >= sent);
    let log = agent.stop();
    assert_eq!(refused, 0, "connections refused during the reloads:\n{log}");
    // At least once: an event resent after a lost ack may show twice; none may be missing.
    let mut seen = std::collections::BTreeSet::new();
    for m in messages(&out_log) {
        let n: usize = m[5..].split(' ').next().unwrap().parse().unwrap();
        seen.insert(n);
    }
    let missing: Vec<usize> = (0..sent).filter(|n| !seen.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?}; {unacked} sends were not acked"
    );
    eprintln!("{sent} acked events over {reloads} reloads, {unacked} resends, 0 refused");
}
