//! `@type forward` output: sends events to a Fluentd, Fluent Bit or logferry `forward` input as
//! PackedForward messages (one per run of events with the same tag), over one kept-open
//! connection with the optional shared-key handshake. With `require_ack_response` a chunk is
//! delivered only when the receiver acknowledged every message of it; a broken connection fails
//! over to the next `<server>`, and the buffer retries what was not acknowledged.

mod config;

use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{info, warn};

pub use config::{ForwardSinkConfig, Server};

use super::{SendFuture, Sink, SinkError};
use crate::event::{Event, Record};
use crate::metrics;
use crate::msgpack::{self, DecodeError, Value};
use crate::sources::forward::handshake;

pub struct ForwardSink {
    config: ForwardSinkConfig,
    state: Arc<tokio::sync::Mutex<State>>,
}

#[derive(Default)]
struct State {
    conn: Option<Conn>,
    /// Index of the server to try first.
    current: usize,
    /// A chunk that failed part-way and how many of its messages were acknowledged, so its
    /// retry does not send those again.
    progress: Option<(Weak<Vec<Event>>, usize)>,
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    server: usize,
}

impl ForwardSink {
    pub fn new(config: ForwardSinkConfig) -> ForwardSink {
        ForwardSink {
            config,
            state: Arc::default(),
        }
    }
}

impl Sink for ForwardSink {
    fn send(&self, chunk: Arc<Vec<Event>>) -> SendFuture {
        let config = self.config.clone();
        let state = self.state.clone();
        Box::pin(async move {
            let mut state = state.lock().await;
            let messages = encode(&config, &chunk);
            let skip = match &state.progress {
                Some((weak, done)) if std::ptr::eq(weak.as_ptr(), Arc::as_ptr(&chunk)) => *done,
                _ => 0,
            };
            for (i, (bytes, id)) in messages.iter().enumerate().skip(skip) {
                if let Err(e) = deliver(&config, &mut state, bytes, id.as_deref()).await {
                    state.progress = Some((Arc::downgrade(&chunk), i));
                    metrics::error(metrics::class::FORWARD_OUTPUT);
                    return Err(e);
                }
            }
            state.progress = None;
            Ok(())
        })
    }
}

/// Sends one message, failing over through the servers.
async fn deliver(
    config: &ForwardSinkConfig,
    state: &mut State,
    bytes: &[u8],
    chunk_id: Option<&str>,
) -> Result<(), SinkError> {
    let n = config.servers.len();
    let mut errors = Vec::new();
    for attempt in 0..n {
        let index = (state.current + attempt) % n;
        if state.conn.as_ref().is_some_and(|c| c.server != index) {
            state.conn = None;
        }
        if state.conn.is_none() {
            match connect(config, index).await {
                Ok(conn) => {
                    info!(server = %config.servers[index].name, "forward output connected");
                    state.conn = Some(conn);
                }
                Err(e) => {
                    warn!(server = %config.servers[index].name, error = %e, "forward output: cannot use this server");
                    errors.push(format!("{}: {e}", config.servers[index].name));
                    continue;
                }
            }
        }
        let Some(conn) = state.conn.as_mut() else {
            continue;
        };
        match exchange(config, conn, bytes, chunk_id).await {
            Ok(()) => {
                state.current = index;
                return Ok(());
            }
            Err(e) => {
                warn!(server = %config.servers[index].name, error = %e, "forward output: sending failed");
                errors.push(format!("{}: {e}", config.servers[index].name));
                state.conn = None;
            }
        }
    }
    Err(SinkError::new(format!(
        "no forward server took the chunk: {}",
        errors.join("; ")
    )))
}

async fn exchange(
    config: &ForwardSinkConfig,
    conn: &mut Conn,
    bytes: &[u8],
    chunk_id: Option<&str>,
) -> Result<(), String> {
    tokio::time::timeout(config.send_timeout, conn.stream.write_all(bytes))
        .await
        .map_err(|_| format!("send_timeout ({:?}) passed", config.send_timeout))?
        .map_err(|e| format!("write failed: {e}"))?;
    let Some(id) = chunk_id else {
        return Ok(());
    };
    let answer = read_value(conn, config.ack_response_timeout).await?;
    if handshake::message(&answer, "HELO").is_some() {
        return Err("the server asks for the shared-key handshake: add <security> with self_hostname and shared_key".into());
    }
    match answer.get("ack").and_then(Value::as_str_lossy) {
        Some(ack) if ack == id => Ok(()),
        Some(other) => Err(format!("acknowledged chunk {other}, expected {id}")),
        None => Err("the answer is not an ack".into()),
    }
}

async fn read_value(conn: &mut Conn, timeout: Duration) -> Result<Value, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if !conn.buf.is_empty() {
            match msgpack::decode(&conn.buf) {
                Ok((value, used)) => {
                    conn.buf.drain(..used);
                    return Ok(value);
                }
                Err(DecodeError::Incomplete) if conn.buf.len() < 1 << 20 => {}
                Err(e) => return Err(format!("the server sent something unexpected: {e}")),
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, conn.stream.read(&mut chunk))
            .await
            .map_err(|_| format!("no answer within {timeout:?}"))?
            .map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        conn.buf.extend_from_slice(&chunk[..n]);
    }
}

async fn connect(config: &ForwardSinkConfig, index: usize) -> Result<Conn, String> {
    let server = &config.servers[index];
    let stream = tokio::time::timeout(
        config.connect_timeout,
        TcpStream::connect((server.host.as_str(), server.port)),
    )
    .await
    .map_err(|_| format!("connect_timeout ({:?}) passed", config.connect_timeout))?
    .map_err(|e| format!("connect failed: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        server: index,
    };
    if let Some(security) = &config.security {
        let shared_key = server.shared_key.as_deref().unwrap_or(&security.shared_key);
        let helo = read_value(&mut conn, config.connect_timeout).await?;
        let options = handshake::message(&helo, "HELO")
            .and_then(|items| items.first())
            .ok_or("expected HELO from the server")?;
        let nonce = options
            .get("nonce")
            .and_then(Value::as_bytes)
            .ok_or("HELO has no nonce")?
            .to_vec();
        let salt = handshake::random_bytes();
        let digest =
            handshake::shared_key_digest(&salt, &security.self_hostname, &nonce, shared_key);
        conn.stream
            .write_all(&handshake::ping(&security.self_hostname, &salt, &digest))
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        let pong = read_value(&mut conn, config.connect_timeout).await?;
        let items = handshake::message(&pong, "PONG").ok_or("expected PONG from the server")?;
        if items.len() < 4 {
            return Err("PONG has too few fields".into());
        }
        if items[0] != Value::Bool(true) {
            let reason = items[1].as_str_lossy().unwrap_or_default();
            return Err(format!("the server refused the handshake: {reason}"));
        }
        let hostname = items[2].as_str_lossy().unwrap_or_default();
        let answer = items[3].as_str_lossy().unwrap_or_default();
        if hostname == security.self_hostname {
            return Err("same hostname between input and output: invalid configuration".into());
        }
        let expected = handshake::shared_key_digest(&salt, &hostname, &nonce, shared_key);
        if !handshake::same(&answer, &expected) {
            return Err("the server's shared_key digest does not match".into());
        }
    }
    Ok(conn)
}

/// One PackedForward message per run of same-tag events, with its chunk id when acks are
/// required.
fn encode(config: &ForwardSinkConfig, chunk: &[Event]) -> Vec<(Vec<u8>, Option<String>)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < chunk.len() {
        let tag = &chunk[start].tag;
        let end = chunk[start..]
            .iter()
            .position(|e| e.tag != *tag)
            .map_or(chunk.len(), |p| start + p);
        let mut entries = Vec::with_capacity((end - start) * 64);
        for event in &chunk[start..end] {
            msgpack::write_array_len(&mut entries, 2);
            let seconds = event.time.seconds.clamp(0, u32::MAX as i64) as u32;
            if config.time_as_integer {
                msgpack::write_uint(&mut entries, seconds as u64);
            } else {
                msgpack::write_event_time(&mut entries, seconds, event.time.nanos);
            }
            match &event.record {
                Record::Line(line) => {
                    msgpack::write_map_len(&mut entries, 1);
                    msgpack::write_str(&mut entries, b"message");
                    msgpack::write_str(
                        &mut entries,
                        &String::from_utf8_lossy(line).into_owned().into_bytes(),
                    );
                }
                Record::Json(json) => msgpack::write_json_map(&mut entries, &json.to_map()),
                Record::Map(map) => msgpack::write_json_map(&mut entries, map),
            }
        }
        if config.gzip {
            use std::io::Write as _;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = gz.write_all(&entries);
            entries = gz.finish().unwrap_or_default();
        }
        let id = config
            .require_ack_response
            .then(|| base64::engine::general_purpose::STANDARD.encode(handshake::random_bytes()));
        let mut message = Vec::with_capacity(entries.len() + tag.len() + 64);
        msgpack::write_array_len(&mut message, 3);
        msgpack::write_str(&mut message, tag.as_bytes());
        msgpack::write_bin(&mut message, &entries);
        let fields = 1 + usize::from(id.is_some()) + usize::from(config.gzip);
        msgpack::write_map_len(&mut message, fields);
        msgpack::write_str(&mut message, b"size");
        msgpack::write_uint(&mut message, (end - start) as u64);
        if let Some(id) = &id {
            msgpack::write_str(&mut message, b"chunk");
            msgpack::write_str(&mut message, id.as_bytes());
        }
        if config.gzip {
            msgpack::write_str(&mut message, b"compressed");
            msgpack::write_str(&mut message, b"gzip");
        }
        out.push((message, id));
        start = end;
    }
    out
}
