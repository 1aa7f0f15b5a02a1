//! `@type forward` output: sends events to a Fluentd, Fluent Bit or logferry `forward` input as
//! PackedForward messages (one per run of events with the same tag), over one kept-open
//! connection per chunk in flight (kept open and reused), with the optional shared-key
//! handshake. With `require_ack_response` a chunk is delivered only when the receiver
//! acknowledged every message of it; a broken connection fails over to the next `<server>`, and
//! the buffer retries what was not acknowledged. A chunk's messages (and their chunk ids) are
//! encoded once, so a retry resends the same ids.

mod config;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{info, warn};

pub use config::{ForwardSinkConfig, Server};

use super::{Concurrency, Delivery, FailureKind, Prepared, SendFuture, Sink, SinkError};
use crate::event::{Event, Record};
use crate::metrics::class;
use crate::msgpack::{self, DecodeError, Value};
use crate::sources::forward::handshake;

pub struct ForwardSink {
    config: Arc<ForwardSinkConfig>,
    pool: Arc<Pool>,
}

/// Open connections not in use, and the server to try first (the last one that worked).
#[derive(Default)]
struct Pool {
    idle: Mutex<Vec<Conn>>,
    current: AtomicUsize,
}

impl Pool {
    fn take(&self) -> Option<Conn> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn give_back(&self, conn: Conn) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    server: usize,
}

/// A chunk's PackedForward messages with their chunk ids, and how many are acknowledged.
struct Messages {
    messages: Vec<(Vec<u8>, Option<String>)>,
    done: usize,
}

impl ForwardSink {
    pub fn new(config: ForwardSinkConfig) -> ForwardSink {
        ForwardSink {
            config: Arc::new(config),
            pool: Arc::default(),
        }
    }
}

/// Chunks in flight, each on its own connection: two to start with, adapted to the receiver.
const CONCURRENCY: Concurrency = Concurrency::Adaptive {
    initial: 2,
    max: 16,
};

impl Sink for ForwardSink {
    fn prepare(&self, events: &[Event]) -> Option<Prepared> {
        let messages = encode(&self.config, events);
        let bytes = messages.iter().map(|(m, _)| m.len()).sum();
        Some(Prepared {
            payload: Box::new(Messages { messages, done: 0 }),
            bytes,
        })
    }

    fn send(&self, mut delivery: Delivery) -> SendFuture {
        if delivery.prepared_mut::<Messages>().is_none() {
            let prepared = self.prepare(&delivery.events);
            delivery.set_prepared(prepared.expect("forward always prepares"));
        }
        let config = self.config.clone();
        let pool = self.pool.clone();
        Box::pin(async move {
            let chunk = delivery.prepared_mut::<Messages>().expect("prepared above");
            let mut conn = pool.take();
            let mut result = Ok(());
            while let Some((bytes, id)) = chunk.messages.get(chunk.done) {
                if let Err(e) = deliver(&config, &pool, &mut conn, bytes, id.as_deref()).await {
                    result = Err(SinkError::from(e));
                    break;
                }
                chunk.done += 1;
            }
            if let Some(conn) = conn {
                pool.give_back(conn);
            }
            (delivery, result)
        })
    }

    fn concurrency(&self) -> Concurrency {
        CONCURRENCY
    }
}

/// Sends one message, failing over through the servers.
async fn deliver(
    config: &ForwardSinkConfig,
    pool: &Pool,
    conn: &mut Option<Conn>,
    bytes: &[u8],
    chunk_id: Option<&str>,
) -> Result<(), ForwardFailure> {
    let n = config.servers.len();
    let mut attempts = Vec::new();
    let first = pool.current.load(Ordering::Relaxed);
    for attempt in 0..n {
        let index = (first + attempt) % n;
        if conn.as_ref().is_some_and(|c| c.server != index) {
            *conn = None;
        }
        if conn.is_none() {
            match connect(config, index).await {
                Ok(new) => {
                    info!(server = %config.servers[index].name, "forward output connected");
                    *conn = Some(new);
                }
                Err(e) => {
                    warn!(server = %config.servers[index].name, error = %e, "forward output: cannot use this server");
                    attempts.push((config.servers[index].name.clone(), e));
                    continue;
                }
            }
        }
        let Some(open) = conn.as_mut() else {
            continue;
        };
        match exchange(config, open, bytes, chunk_id).await {
            Ok(()) => {
                pool.current.store(index, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) => {
                warn!(server = %config.servers[index].name, error = %e, "forward output: sending failed");
                attempts.push((config.servers[index].name.clone(), e));
                *conn = None;
            }
        }
    }
    Err(ForwardFailure { attempts })
}

/// No server took a message: what each one tried said, in the order they were tried.
#[derive(Debug, thiserror::Error)]
#[error("no forward server took the chunk: {}", list(.attempts))]
pub struct ForwardFailure {
    /// `(server name, why)`.
    pub attempts: Vec<(String, ForwardError)>,
}

fn list(attempts: &[(String, ForwardError)]) -> String {
    let each: Vec<String> = attempts.iter().map(|(s, e)| format!("{s}: {e}")).collect();
    each.join("; ")
}

impl ForwardFailure {
    /// The last server's failure decides (the one the next attempt starts after).
    fn last(&self) -> Option<&ForwardError> {
        self.attempts.last().map(|(_, e)| e)
    }

    /// As far as the concurrency limit cares.
    pub fn kind(&self) -> FailureKind {
        self.last()
            .map_or(FailureKind::Connection, ForwardError::kind)
    }

    /// The class of `logferry_errors_total`.
    pub fn class(&self) -> &'static str {
        self.last()
            .map_or(class::FORWARD_CONNECTION, ForwardError::class)
    }
}

/// Why one server did not take a message: the connection, the handshake or the answer.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("connect_timeout ({0:?}) passed")]
    ConnectTimeout(Duration),
    #[error("connect failed: {0}")]
    Connect(#[source] std::io::Error),
    #[error("send_timeout ({0:?}) passed")]
    SendTimeout(Duration),
    /// No answer (an ack, a handshake step) in time.
    #[error("no answer within {0:?}")]
    AnswerTimeout(Duration),
    #[error("write failed: {0}")]
    Write(#[source] std::io::Error),
    #[error("read failed: {0}")]
    Read(#[source] std::io::Error),
    #[error("the server closed the connection")]
    Closed,
    /// The server's bytes are not MessagePack (or one value is too large).
    #[error("the server sent something unexpected: {0}")]
    Undecodable(#[source] DecodeError),
    /// The server wants the shared-key handshake and this output has no `<security>`.
    #[error(
        "the server asks for the shared-key handshake: add <security> with self_hostname and shared_key"
    )]
    HandshakeRequired,
    /// The handshake failed: its messages were not as expected, or the keys do not match.
    #[error("{0}")]
    Handshake(&'static str),
    /// The server refused the handshake with this reason (a wrong shared key, ...).
    #[error("the server refused the handshake: {0}")]
    HandshakeRefused(String),
    #[error("acknowledged chunk {got}, expected {expected}")]
    WrongAck { got: String, expected: String },
    #[error("the answer is not an ack")]
    NotAnAck,
}

impl ForwardError {
    fn kind(&self) -> FailureKind {
        match self {
            ForwardError::ConnectTimeout(_)
            | ForwardError::SendTimeout(_)
            | ForwardError::AnswerTimeout(_) => FailureKind::Timeout,
            ForwardError::Connect(_)
            | ForwardError::Write(_)
            | ForwardError::Read(_)
            | ForwardError::Closed => FailureKind::Connection,
            ForwardError::Undecodable(_)
            | ForwardError::HandshakeRequired
            | ForwardError::Handshake(_)
            | ForwardError::HandshakeRefused(_)
            | ForwardError::WrongAck { .. }
            | ForwardError::NotAnAck => FailureKind::Other,
        }
    }

    fn class(&self) -> &'static str {
        match self.kind() {
            FailureKind::Timeout => class::FORWARD_TIMEOUT,
            FailureKind::Connection => class::FORWARD_CONNECTION,
            _ => match self {
                ForwardError::HandshakeRequired
                | ForwardError::Handshake(_)
                | ForwardError::HandshakeRefused(_) => class::FORWARD_HANDSHAKE,
                _ => class::FORWARD_PROTOCOL,
            },
        }
    }
}

async fn exchange(
    config: &ForwardSinkConfig,
    conn: &mut Conn,
    bytes: &[u8],
    chunk_id: Option<&str>,
) -> Result<(), ForwardError> {
    tokio::time::timeout(config.send_timeout, conn.stream.write_all(bytes))
        .await
        .map_err(|_| ForwardError::SendTimeout(config.send_timeout))?
        .map_err(ForwardError::Write)?;
    let Some(id) = chunk_id else {
        return Ok(());
    };
    let answer = read_value(conn, config.ack_response_timeout).await?;
    if handshake::message(&answer, "HELO").is_some() {
        return Err(ForwardError::HandshakeRequired);
    }
    match answer.get("ack").and_then(Value::as_str_lossy) {
        Some(ack) if ack == id => Ok(()),
        Some(got) => Err(ForwardError::WrongAck {
            got,
            expected: id.to_owned(),
        }),
        None => Err(ForwardError::NotAnAck),
    }
}

async fn read_value(conn: &mut Conn, timeout: Duration) -> Result<Value, ForwardError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if !conn.buf.is_empty() {
            match msgpack::decode(&conn.buf) {
                Ok((value, used)) => {
                    conn.buf.drain(..used);
                    return Ok(value);
                }
                Err(DecodeError::Incomplete) if conn.buf.len() < 1 << 20 => {}
                Err(e) => return Err(ForwardError::Undecodable(e)),
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, conn.stream.read(&mut chunk))
            .await
            .map_err(|_| ForwardError::AnswerTimeout(timeout))?
            .map_err(ForwardError::Read)?;
        if n == 0 {
            return Err(ForwardError::Closed);
        }
        conn.buf.extend_from_slice(&chunk[..n]);
    }
}

async fn connect(config: &ForwardSinkConfig, index: usize) -> Result<Conn, ForwardError> {
    let server = &config.servers[index];
    let stream = tokio::time::timeout(
        config.connect_timeout,
        TcpStream::connect((server.host.as_str(), server.port)),
    )
    .await
    .map_err(|_| ForwardError::ConnectTimeout(config.connect_timeout))?
    .map_err(ForwardError::Connect)?;
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
            .ok_or(ForwardError::Handshake("expected HELO from the server"))?;
        let nonce = options
            .get("nonce")
            .and_then(Value::as_bytes)
            .ok_or(ForwardError::Handshake("HELO has no nonce"))?
            .to_vec();
        let salt = handshake::random_bytes();
        let digest =
            handshake::shared_key_digest(&salt, &security.self_hostname, &nonce, shared_key);
        conn.stream
            .write_all(&handshake::ping(&security.self_hostname, &salt, &digest))
            .await
            .map_err(ForwardError::Write)?;
        let pong = read_value(&mut conn, config.connect_timeout).await?;
        let items = handshake::message(&pong, "PONG")
            .ok_or(ForwardError::Handshake("expected PONG from the server"))?;
        if items.len() < 4 {
            return Err(ForwardError::Handshake("PONG has too few fields"));
        }
        if items[0] != Value::Bool(true) {
            let reason = items[1].as_str_lossy().unwrap_or_default();
            return Err(ForwardError::HandshakeRefused(reason));
        }
        let hostname = items[2].as_str_lossy().unwrap_or_default();
        let answer = items[3].as_str_lossy().unwrap_or_default();
        if hostname == security.self_hostname {
            return Err(ForwardError::Handshake(
                "same hostname between input and output: invalid configuration",
            ));
        }
        let expected = handshake::shared_key_digest(&salt, &hostname, &nonce, shared_key);
        if !handshake::same(&answer, &expected) {
            return Err(ForwardError::Handshake(
                "the server's shared_key digest does not match",
            ));
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
