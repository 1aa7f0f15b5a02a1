//! The forward input's server: accepts connections, runs the optional shared-key handshake,
//! decodes Message, Forward, PackedForward and CompressedPackedForward messages, routes their
//! events and, when a message carries a `chunk` option, answers `{"ack": chunk}` only once every
//! output has delivered its events. A malformed message closes its connection with a logged
//! reason; the other connections and the agent go on.
//!
//! Bounded at the network edge: at most `max_connections` are served at once (one more is
//! closed as soon as it is accepted, with a warning), a connection silent for `idle_timeout`
//! between messages is closed, and a message larger than `chunk_size_limit` closes its
//! connection.

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gcloud_logging::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::config::{ForwardSourceConfig, PARTIAL_MESSAGE_TIMEOUT};
use super::handshake;
use crate::ack::Ack;
use crate::event::{Event, Record};
use crate::metrics::{self, Counter, Gauge, Metrics};
use crate::msgpack::{self, DecodeError, Value};
use crate::router::Router;
use crate::sources::SourceBatch;
use crate::sources::tail::SourceControl;

/// Events gathered from the messages already received before they are routed together.
const BATCH_EVENTS: usize = 10_000;
const READ_SIZE: usize = 64 * 1024;

struct Ctx {
    config: ForwardSourceConfig,
    router: Arc<Router>,
    label: Option<String>,
    name: String,
    records: Arc<Counter>,
    connections: Arc<Counter>,
    refused: Arc<Counter>,
    active: Arc<Gauge>,
    metrics: Arc<Metrics>,
}

/// Listening sockets kept across pipelines, by configured address (port 0 excepted): across a
/// reload the new pipeline accepts on the socket the old one listened on, so a client
/// connecting while the old pipeline drains waits in the kernel's backlog instead of being
/// refused. One per agent, held by what outlives its pipelines (the supervisor's run options);
/// clones share the sockets.
#[derive(Clone, Default)]
pub struct KeptListeners(Arc<Mutex<Vec<(SocketAddr, std::net::TcpListener)>>>);

impl KeptListeners {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(SocketAddr, std::net::TcpListener)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The socket for `addr`: the kept one, else newly bound (and kept).
    fn listener(&self, addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
        if addr.port() == 0 {
            return std::net::TcpListener::bind(addr);
        }
        let mut kept = self.lock();
        if let Some((_, listener)) = kept.iter().find(|(a, _)| *a == addr) {
            return listener.try_clone();
        }
        let listener = std::net::TcpListener::bind(addr)?;
        kept.push((addr, listener.try_clone()?));
        Ok(listener)
    }

    /// Closes the kept sockets of addresses no `<source>` listens on any more (a reload
    /// removed them), so their port is free and clients are refused rather than left waiting.
    pub fn release_except(&self, addrs: &[SocketAddr]) {
        self.lock().retain(|(a, _)| addrs.contains(a));
    }
}

impl std::fmt::Debug for KeptListeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<SocketAddr> = self.lock().iter().map(|(a, _)| *a).collect();
        write!(f, "KeptListeners({addrs:?})")
    }
}

/// Binds the port now (so a taken port is a start error; a socket in `listeners` is taken
/// over) and serves on a thread of its own until the runtime drains (stop accepting, finish the
/// messages being answered) or stops.
pub fn spawn_forward_source(
    name: String,
    config: ForwardSourceConfig,
    router: Arc<Router>,
    label: Option<String>,
    control: SourceControl,
    listeners: &KeptListeners,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let listener = listeners.listener(config.addr)?;
    serve_on(listener, name, config, router, label, control)
}

/// [`spawn_forward_source`] on a socket already bound (tests bind `127.0.0.1:0`).
pub(crate) fn serve_on(
    listener: std::net::TcpListener,
    name: String,
    config: ForwardSourceConfig,
    router: Arc<Router>,
    label: Option<String>,
    control: SourceControl,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let udp = if config.heartbeat {
        match std::net::UdpSocket::bind(local) {
            Ok(socket) => socket.set_nonblocking(true).map(|_| Some(socket))?,
            Err(error) => {
                warn!(addr = %local, %error, "forward input: cannot answer UDP heartbeats on this port");
                None
            }
        }
    } else {
        None
    };
    info!("listening forward input on {local}");
    let m = control.metrics.clone();
    let ctx = Arc::new(Ctx {
        records: m.input_records.with(&[&name, "forward"]),
        connections: m.forward_connections.with(&[&name]),
        refused: m.forward_refused_connections.with(&[&name]),
        active: m.forward_active_connections.with(&[&name]),
        metrics: m,
        config,
        router,
        label,
        name: name.clone(),
    });
    std::thread::Builder::new()
        .name(format!("forward:{name}"))
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(error) => {
                    warn!(%error, "forward input: cannot start its runtime");
                    return;
                }
            };
            runtime.block_on(serve(ctx, listener, udp, control));
        })
}

async fn serve(
    ctx: Arc<Ctx>,
    listener: std::net::TcpListener,
    udp: Option<std::net::UdpSocket>,
    control: SourceControl,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    let drain = CancellationToken::new();
    let abort = CancellationToken::new();
    {
        let (drain, abort) = (drain.clone(), abort.clone());
        tokio::spawn(async move {
            loop {
                if control.stop.load(Ordering::Acquire) {
                    abort.cancel();
                    drain.cancel();
                    return;
                }
                if control.drain.load(Ordering::Acquire) || control.reload.load(Ordering::Acquire) {
                    drain.cancel();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    if let Some(udp) = udp.and_then(|u| UdpSocket::from_std(u).ok()) {
        tokio::spawn(heartbeats(udp, drain.clone()));
    }
    let tracker = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(ctx.config.max_connections));
    let mut refusals = Refusals::default();
    loop {
        tokio::select! {
            _ = drain.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        // Closed at once: the client sees EOF and can retry or go elsewhere.
                        drop(stream);
                        ctx.refused.inc();
                        refusals.warn(&ctx, peer);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    ctx.connections.inc();
                    let ctx = ctx.clone();
                    let (drain, abort) = (drain.clone(), abort.clone());
                    tracker.spawn(async move {
                        ctx.active.add(1);
                        match connection(&ctx, stream, peer, &drain, &abort).await {
                            Ok(()) => debug!(%peer, "forward connection closed"),
                            Err(Close { class, reason }) => {
                                ctx.metrics.error(class);
                                warn!(input = %ctx.name, %peer, %reason, "closing a forward connection");
                            }
                        }
                        ctx.active.add(-1);
                        drop(slot);
                    });
                }
                Err(error) => {
                    warn!(%error, "forward input: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    tracker.close();
    tokio::select! {
        _ = tracker.wait() => {}
        _ = abort.cancelled() => {}
    }
}

/// How often a refused connection is logged: the first at once, then one line per interval
/// with how many were refused since, so a flood of connections does not flood the log.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Refusals {
    last_logged: Option<tokio::time::Instant>,
    unlogged: u64,
}

impl Refusals {
    fn warn(&mut self, ctx: &Ctx, peer: SocketAddr) {
        self.unlogged += 1;
        let now = tokio::time::Instant::now();
        if self
            .last_logged
            .is_some_and(|last| now.duration_since(last) < REFUSAL_LOG_INTERVAL)
        {
            return;
        }
        warn!(
            input = %ctx.name,
            %peer,
            max_connections = ctx.config.max_connections,
            refused = self.unlogged,
            "forward input: refusing connections beyond max_connections"
        );
        self.last_logged = Some(now);
        self.unlogged = 0;
    }
}

/// fluentd's heartbeat: any datagram is answered with one zero byte.
async fn heartbeats(socket: UdpSocket, drain: CancellationToken) {
    let mut buf = [0u8; 128];
    loop {
        tokio::select! {
            _ = drain.cancelled() => return,
            received = socket.recv_from(&mut buf) => {
                if let Ok((_, peer)) = received {
                    let _ = socket.send_to(b"\0", peer).await;
                }
            }
        }
    }
}

/// Why a connection is closed.
#[derive(Debug)]
pub struct Close {
    class: &'static str,
    reason: String,
}

fn malformed(reason: impl Into<String>) -> Close {
    Close {
        class: metrics::class::FORWARD_MALFORMED,
        reason: reason.into(),
    }
}

/// Buffered reading of whole MessagePack values from a stream.
struct Frames {
    buf: Vec<u8>,
    start: usize,
    limit: usize,
    idle_timeout: Duration,
    /// Set when [`Frames::next`] ended because the client sent nothing for `idle_timeout`.
    idled: bool,
}

impl Frames {
    /// A value already complete in the buffer.
    fn buffered(&mut self) -> Result<Option<Value>, Close> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            return Ok(None);
        }
        match msgpack::decode(&self.buf[self.start..]) {
            Ok((value, used)) => {
                self.start += used;
                Ok(Some(value))
            }
            Err(DecodeError::Incomplete) => {
                if self.buf.len() - self.start > self.limit {
                    return Err(malformed(format!(
                        "a message is larger than chunk_size_limit ({} bytes)",
                        self.limit
                    )));
                }
                Ok(None)
            }
            Err(DecodeError::Invalid(why)) => Err(malformed(format!("invalid MessagePack: {why}"))),
        }
    }

    /// The next value, reading as needed. `None`: the peer closed between messages, the
    /// input is draining or the client was idle for `idle_timeout` (and no message is in
    /// progress).
    async fn next(
        &mut self,
        stream: &mut TcpStream,
        drain: &CancellationToken,
    ) -> Result<Option<Value>, Close> {
        loop {
            if let Some(value) = self.buffered()? {
                return Ok(Some(value));
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            // Read until the socket has nothing more at once, then try to decode again, so a
            // large message is not re-parsed after every read.
            loop {
                let in_progress = !self.buf.is_empty();
                let len = self.buf.len();
                self.buf.resize(len + READ_SIZE, 0);
                let read = tokio::select! {
                    // Bytes that already arrived are read before a drain closes the connection.
                    biased;
                    r = stream.read(&mut self.buf[len..]) => r,
                    _ = drain.cancelled(), if !in_progress => {
                        self.buf.truncate(len);
                        return Ok(None);
                    }
                    _ = tokio::time::sleep(self.idle_timeout), if !in_progress => {
                        self.buf.truncate(len);
                        self.idled = true;
                        return Ok(None);
                    }
                    _ = tokio::time::sleep(PARTIAL_MESSAGE_TIMEOUT), if in_progress => {
                        self.buf.truncate(len);
                        return Err(malformed("the client stopped in the middle of a message"));
                    }
                };
                let n = match read {
                    Ok(n) => n,
                    Err(e) => {
                        self.buf.truncate(len);
                        return Err(malformed(format!("read failed: {e}")));
                    }
                };
                self.buf.truncate(len + n);
                if n == 0 {
                    if in_progress {
                        return Err(malformed(format!(
                            "the connection closed in the middle of a message ({} bytes received)",
                            self.buf.len()
                        )));
                    }
                    return Ok(None);
                }
                if n < READ_SIZE || self.buf.len() > self.limit {
                    break;
                }
            }
        }
    }
}

async fn connection(
    ctx: &Ctx,
    mut stream: TcpStream,
    peer: SocketAddr,
    drain: &CancellationToken,
    abort: &CancellationToken,
) -> Result<(), Close> {
    let mut frames = Frames {
        buf: Vec::with_capacity(READ_SIZE),
        start: 0,
        limit: ctx.config.chunk_size_limit,
        idle_timeout: ctx.config.idle_timeout,
        idled: false,
    };
    let result = serve_connection(ctx, &mut stream, &mut frames, peer, drain, abort).await;
    if frames.idled {
        info!(input = %ctx.name, %peer, idle_timeout = ?ctx.config.idle_timeout, "closing an idle forward connection");
    }
    result
}

async fn serve_connection(
    ctx: &Ctx,
    stream: &mut TcpStream,
    frames: &mut Frames,
    peer: SocketAddr,
    drain: &CancellationToken,
    abort: &CancellationToken,
) -> Result<(), Close> {
    if let Some(security) = &ctx.config.security {
        let nonce = handshake::random_bytes();
        write(stream, &handshake::helo(&nonce, !ctx.config.deny_keepalive)).await?;
        let Some(ping) = frames.next(stream, drain).await? else {
            return Ok(());
        };
        let refuse = |reason: String| Close {
            class: metrics::class::FORWARD_AUTH,
            reason,
        };
        let (hostname, salt, digest) = handshake::parse_ping(&ping).map_err(refuse)?;
        let expected = handshake::shared_key_digest(&salt, &hostname, &nonce, &security.shared_key);
        let failure = if hostname == security.self_hostname {
            Some("same hostname between input and output: invalid configuration")
        } else if !handshake::same(&digest, &expected) {
            Some("shared_key mismatch")
        } else {
            None
        };
        if let Some(reason) = failure {
            let _ = write(stream, &handshake::pong(false, reason, "", "")).await;
            return Err(refuse(format!(
                "handshake with {hostname} failed: {reason}"
            )));
        }
        let answer = handshake::shared_key_digest(
            &salt,
            &security.self_hostname,
            &nonce,
            &security.shared_key,
        );
        write(
            stream,
            &handshake::pong(true, "", &security.self_hostname, &answer),
        )
        .await?;
        debug!(%peer, %hostname, "forward client authenticated");
    }
    loop {
        let Some(first) = frames.next(stream, drain).await? else {
            return Ok(());
        };
        let mut events = Vec::new();
        let mut chunks = Vec::new();
        handle_message(ctx, first, peer, &mut events, &mut chunks)?;
        while events.len() < BATCH_EVENTS
            && let Some(value) = frames.buffered()?
        {
            handle_message(ctx, value, peer, &mut events, &mut chunks)?;
        }
        let count = events.len();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let ack = Ack::new(move || {
            let _ = tx.send(());
        });
        let router = ctx.router.clone();
        let label = ctx.label.clone();
        let batch = SourceBatch {
            events,
            ack,
            caught_up: true,
        };
        if count > 0 {
            let routed =
                tokio::task::spawn_blocking(move || router.dispatch(label.as_deref(), batch));
            if routed.await.is_err() {
                return Err(malformed("routing the events failed"));
            }
            ctx.records.add(count as u64);
        } else {
            batch.ack.done();
        }
        if chunks.is_empty() {
            continue;
        }
        tokio::select! {
            delivered = rx => if delivered.is_err() {
                // An output was stopped before delivering: no ack, the client sends again.
                return Ok(());
            },
            _ = abort.cancelled() => return Ok(()),
        }
        let mut out = Vec::new();
        for chunk in chunks {
            msgpack::write_map_len(&mut out, 1);
            msgpack::write_str(&mut out, b"ack");
            msgpack::write_str(&mut out, chunk.as_bytes());
        }
        write(stream, &out).await?;
    }
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), Close> {
    stream.write_all(bytes).await.map_err(|e| Close {
        class: metrics::class::FORWARD_MALFORMED,
        reason: format!("write failed: {e}"),
    })
}

/// Appends the events of one message; its `chunk` option (if any) to `chunks`.
fn handle_message(
    ctx: &Ctx,
    message: Value,
    peer: SocketAddr,
    events: &mut Vec<Event>,
    chunks: &mut Vec<String>,
) -> Result<(), Close> {
    let Value::Array(items) = message else {
        return Err(malformed("a message must be an array [tag, ...]"));
    };
    if items.len() < 2 {
        return Err(malformed("a message must have a tag and events"));
    }
    let tag = items[0]
        .as_str_lossy()
        .ok_or_else(|| malformed("the tag is not a string"))?;
    let tag: Arc<str> = match (&ctx.config.tag, &ctx.config.add_tag_prefix) {
        (Some(tag), _) => tag.as_str().into(),
        (None, Some(prefix)) => format!("{prefix}.{tag}").into(),
        (None, None) => tag.into(),
    };
    let option_at = match &items[1] {
        Value::Array(_) | Value::Str(_) | Value::Bin(_) => 2,
        _ => 3,
    };
    let option = items.get(option_at);
    match option {
        None | Some(Value::Map(_)) | Some(Value::Nil) => {}
        Some(_) => return Err(malformed("the option of a message must be a map")),
    }
    let before = events.len();
    let mut add = |entry: Result<(Timestamp, Value), String>| -> Result<(), Close> {
        match entry.and_then(|(time, record)| match record {
            Value::Map(entries) => Ok((time, entries)),
            _ => Err("a record must be a map".to_string()),
        }) {
            Ok((time, entries)) => {
                let mut map = msgpack::map_to_json(&entries);
                if let Some(key) = &ctx.config.source_address_key {
                    map.insert(key.clone(), peer.ip().to_string().into());
                }
                if let Some(key) = &ctx.config.source_hostname_key {
                    map.insert(key.clone(), peer.ip().to_string().into());
                }
                events.push(Event {
                    tag: tag.clone(),
                    time,
                    record: Record::Map(map),
                    origin: None,
                });
                Ok(())
            }
            Err(why) if ctx.config.skip_invalid_event => {
                ctx.metrics.error(metrics::class::FORWARD_MALFORMED);
                warn!(input = %ctx.name, %peer, reason = %why, "skipped an invalid event");
                Ok(())
            }
            Err(why) => Err(malformed(format!("invalid event: {why}"))),
        }
    };
    match &items[1] {
        // Forward: [tag, [[time, record], ...], option]
        Value::Array(entries) => {
            for entry in entries {
                add(entry_of(entry))?;
            }
        }
        // PackedForward / CompressedPackedForward: [tag, bytes, option]
        Value::Str(packed) | Value::Bin(packed) => {
            let compressed = option
                .and_then(|o| o.get("compressed"))
                .and_then(Value::as_str_lossy);
            let inflated;
            let mut data: &[u8] = packed;
            match compressed.as_deref() {
                None | Some("text") => {}
                Some("gzip") => {
                    inflated = gunzip(packed, ctx.config.chunk_size_limit)?;
                    data = &inflated;
                }
                Some(other) => {
                    return Err(malformed(format!("unknown compression `{other}`")));
                }
            }
            let mut pos = 0;
            while pos < data.len() {
                match msgpack::decode(&data[pos..]) {
                    Ok((entry, used)) => {
                        pos += used;
                        add(entry_of(&entry))?;
                    }
                    Err(DecodeError::Incomplete) => {
                        return Err(malformed("packed entries end in the middle of an entry"));
                    }
                    Err(DecodeError::Invalid(why)) => {
                        return Err(malformed(format!(
                            "packed entries are not MessagePack: {why}"
                        )));
                    }
                }
            }
        }
        // Message: [tag, time, record, option]
        time => {
            let record = items
                .get(2)
                .cloned()
                .ok_or_else(|| malformed("a message [tag, time, record] has no record"))?;
            add(time_of(time).map(|t| (t, record)))?;
        }
    }
    if let Some(limit) = ctx.config.chunk_size_warn_limit
        && events.len() - before > 0
    {
        let size: usize = events[before..]
            .iter()
            .map(|e| e.record.approx_size())
            .sum();
        if size > limit {
            warn!(input = %ctx.name, %peer, size, limit, "a message is larger than chunk_size_warn_limit");
        }
    }
    if let Some(chunk) = option.and_then(|o| o.get("chunk")) {
        let chunk = chunk
            .as_str_lossy()
            .ok_or_else(|| malformed("the chunk option is not a string"))?;
        chunks.push(chunk);
    }
    Ok(())
}

fn entry_of(entry: &Value) -> Result<(Timestamp, Value), String> {
    match entry {
        Value::Array(pair) if pair.len() == 2 => Ok((time_of(&pair[0])?, pair[1].clone())),
        _ => Err("an entry must be [time, record]".into()),
    }
}

/// An integer, a float or an EventTime (extension 0).
fn time_of(value: &Value) -> Result<Timestamp, String> {
    let time = match value {
        Value::UInt(s) => i64::try_from(*s).ok().and_then(|s| Timestamp::new(s, 0)),
        Value::Int(s) => Timestamp::new(*s, 0),
        Value::Float(f) if f.is_finite() => {
            let s = f.floor();
            Timestamp::new(s as i64, ((f - s) * 1e9) as u32 % 1_000_000_000)
        }
        Value::Ext(0, data) if data.len() == 8 => {
            let (s, n) = msgpack::event_time(data);
            Timestamp::new(s as i64, n)
        }
        _ => return Err("the time is not an integer, a float or an EventTime".into()),
    };
    time.ok_or_else(|| "the time is out of range".into())
}

fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, Close> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| malformed(format!("gzip entries cannot be decompressed: {e}")))?;
    if out.len() > limit {
        return Err(malformed(format!(
            "decompressed entries are larger than chunk_size_limit ({limit} bytes)"
        )));
    }
    Ok(out)
}
