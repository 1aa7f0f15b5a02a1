//! A minimal `entries:write` endpoint on 127.0.0.1: plain HTTP/1.1, a thread per connection,
//! and just enough parsing to find each entry's `seq=` marker. It answers `{}` itself (the
//! counting sink), or relays each request to the emulator and counts it once the emulator has
//! answered (so "acknowledged" means stored). Arrival times are kept per sequence number.
//!
//! With a latency, every answer leaves that long after its request arrived, as Cloud Logging
//! answers after tens of milliseconds: a sink that answers at once hides what waiting costs.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::workload::seqs_in;

/// Not arrived yet.
const PENDING: u64 = u64::MAX;

pub struct Sink {
    pub addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    base: Instant,
    upstream: Option<SocketAddr>,
    /// How long each answer is held back.
    latency: Duration,
    /// While set, every other request is answered 429 (Cloud Logging's quota exhausted).
    throttle: AtomicBool,
    throttled: AtomicU64,
    /// Requests seen, answered or refused.
    seen: AtomicU64,
    stop: AtomicBool,
    requests: AtomicU64,
    body_bytes: AtomicU64,
    arrivals: Mutex<Arrivals>,
    all_arrived: Condvar,
}

struct Arrivals {
    at: Vec<u64>,
    distinct: u64,
}

/// What the sink saw.
#[derive(Debug, Clone)]
pub struct Received {
    pub requests: u64,
    pub body_bytes: u64,
    /// Nanoseconds since `base` at which each line arrived (`u64::MAX`: never).
    pub arrivals: Vec<u64>,
}

impl Sink {
    /// Starts a sink expecting lines `0..lines`; `upstream` turns it into a relay, `latency`
    /// delays every answer.
    pub fn start(
        base: Instant,
        lines: u64,
        upstream: Option<SocketAddr>,
        latency: Duration,
    ) -> io::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            base,
            upstream,
            latency,
            throttle: AtomicBool::new(false),
            throttled: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            arrivals: Mutex::new(Arrivals {
                at: vec![PENDING; lines as usize],
                distinct: 0,
            }),
            all_arrived: Condvar::new(),
        });
        let accept_state = state.clone();
        std::thread::Builder::new()
            .name("sink-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if accept_state.stop.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let state = accept_state.clone();
                    let _ = std::thread::Builder::new()
                        .name("sink-conn".into())
                        .spawn(move || {
                            let _ = serve(conn, &state);
                        });
                }
            })?;
        Ok(Sink { addr, state })
    }

    /// Waits until every expected line arrived; false on timeout.
    pub fn wait_all(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut arrivals = self.state.arrivals.lock().unwrap();
        while arrivals.distinct < arrivals.at.len() as u64 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            arrivals = self
                .state
                .all_arrived
                .wait_timeout(arrivals, left)
                .unwrap()
                .0;
        }
        true
    }

    /// Starts or ends a 429 storm: every other request refused while it lasts.
    pub fn throttle(&self, on: bool) {
        self.state.throttle.store(on, Ordering::SeqCst);
    }

    /// Requests refused by [`Sink::throttle`].
    pub fn throttled(&self) -> u64 {
        self.state.throttled.load(Ordering::SeqCst)
    }

    pub fn distinct(&self) -> u64 {
        self.state.arrivals.lock().unwrap().distinct
    }

    pub fn received(&self) -> Received {
        Received {
            requests: self.state.requests.load(Ordering::Relaxed),
            body_bytes: self.state.body_bytes.load(Ordering::Relaxed),
            arrivals: self.state.arrivals.lock().unwrap().at.clone(),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
    }
}

fn serve(mut conn: TcpStream, state: &State) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut upstream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(1 << 16);
    let mut seqs = Vec::new();
    loop {
        let Some((head_len, body_len)) = read_message(&mut conn, &mut buf)? else {
            return Ok(());
        };
        let arrived = Instant::now();
        let body = &buf[head_len..head_len + body_len];
        let nth = state.seen.fetch_add(1, Ordering::SeqCst);
        let refuse = state.throttle.load(Ordering::SeqCst) && nth.is_multiple_of(2);
        if refuse {
            state.throttled.fetch_add(1, Ordering::SeqCst);
        }
        let answer = match state.upstream {
            _ if refuse => {
                let body = br#"{"error":{"code":429,"message":"Quota exceeded (bench storm)","status":"RESOURCE_EXHAUSTED"}}"#;
                let mut answer = format!(
                    "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                answer.extend_from_slice(body);
                answer
            }
            None => {
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                    .to_vec()
            }
            Some(addr) => relay(&mut upstream, addr, &buf[..head_len + body_len])?,
        };
        let ok = answer.starts_with(b"HTTP/1.1 2");
        seqs.clear();
        if ok {
            seqs_in(body, |s| seqs.push(s));
        }
        // The answer leaves `latency` after the request arrived; its lines count from then.
        std::thread::sleep(state.latency.saturating_sub(arrived.elapsed()));
        if ok {
            let now = state.base.elapsed().as_nanos() as u64;
            state.requests.fetch_add(1, Ordering::Relaxed);
            state
                .body_bytes
                .fetch_add(body_len as u64, Ordering::Relaxed);
            let mut arrivals = state.arrivals.lock().unwrap();
            for &s in &seqs {
                if let Some(slot) = arrivals.at.get_mut(s as usize)
                    && *slot == PENDING
                {
                    *slot = now;
                    arrivals.distinct += 1;
                }
            }
            if arrivals.distinct == arrivals.at.len() as u64 {
                state.all_arrived.notify_all();
            }
        }
        buf.drain(..head_len + body_len);
        conn.write_all(&answer)?;
    }
}

/// Reads one HTTP/1.1 message (content-length framed) into `buf`: `(head length, body length)`,
/// or `None` when the peer closed between messages.
fn read_message(conn: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<(usize, usize)>> {
    let mut chunk = [0u8; 64 * 1024];
    let head_len = loop {
        if let Some(at) = memchr::memmem::find(buf, b"\r\n\r\n") {
            break at + 4;
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let body_len = content_length(&buf[..head_len])
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no content-length"))?;
    let want = head_len + body_len;
    if buf.len() < want {
        let have = buf.len();
        buf.resize(want, 0);
        conn.read_exact(&mut buf[have..])?;
    }
    Ok(Some((head_len, body_len)))
}

fn content_length(head: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(head).ok()?;
    text.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

/// Sends `request` as is to `addr` (one kept-alive connection per agent connection) and returns
/// the complete answer.
fn relay(
    upstream: &mut Option<TcpStream>,
    addr: SocketAddr,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    if upstream.is_none() {
        let conn = TcpStream::connect(addr)?;
        conn.set_nodelay(true)?;
        *upstream = Some(conn);
    }
    let conn = upstream.as_mut().expect("connected above");
    conn.write_all(request)?;
    let mut answer = Vec::new();
    match read_message(conn, &mut answer)? {
        Some((h, b)) => {
            answer.truncate(h + b);
            Ok(answer)
        }
        None => {
            let _ = conn.shutdown(Shutdown::Both);
            *upstream = None;
            Err(io::ErrorKind::UnexpectedEof.into())
        }
    }
}
