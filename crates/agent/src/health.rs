//! The operations endpoint: `/metrics` (Prometheus), `/healthz` (the process answers),
//! `/readyz` (a config is loaded and every output is delivering, or has not been failing for
//! longer than [`READY_FAILING_LIMIT`]), `/api/plugins.json` (fluentd `monitor_agent`'s shape)
//! and `POST /api/config.reload`. Served by `--health-listen`, `<source> @type prometheus` and
//! `<source> @type monitor_agent` alike.
//!
//! The probes and `/metrics` answer anyone who can reach the address (a kubelet or a scraper
//! reaches a pod on its own IP), but the reload answers only loopback peers: a sidecar bound to
//! `0.0.0.0` must not let every pod in the cluster make it re-read its config. Inside the pod
//! (or on the machine) `127.0.0.1` still can, and SIGHUP works everywhere. With a token
//! (`--reload-token-file`) the token decides instead, from any peer, loopback included: a
//! request must carry `Authorization: Bearer <token>`.
//!
//! A tiny HTTP/1.1 server of its own (one request per connection): the probes and a scraper
//! need nothing more, and it keeps a server framework out of the sidecar.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::metrics;
use crate::telemetry::Telemetry;

/// How long an output may fail without a single success before `/readyz` says not ready.
pub const READY_FAILING_LIMIT: Duration = Duration::from_secs(300);

/// A reload request: the answer is `Ok(summary)` or `Err(diagnostics)`.
pub type ReloadRequest = oneshot::Sender<Result<String, String>>;

/// The secret a reload request must present as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct ReloadToken(Arc<[u8]>);

impl ReloadToken {
    /// The token in `text` (a file's content): surrounding whitespace, such as the newline
    /// `echo` or a Kubernetes Secret leaves, is not part of it. `None` when nothing is left.
    pub fn from_text(text: &str) -> Option<ReloadToken> {
        let token = text.trim();
        (!token.is_empty()).then(|| ReloadToken(token.as_bytes().into()))
    }

    /// Whether `presented` is the token, in time that does not depend on where they differ
    /// (only on the length of `presented`), so the answer's timing does not leak a prefix.
    fn matches(&self, presented: &[u8]) -> bool {
        let expected = &*self.0;
        let mut difference = expected.len() ^ presented.len();
        for (i, byte) in presented.iter().enumerate() {
            let want = expected.get(i).copied().unwrap_or(!byte);
            difference |= usize::from(want ^ byte);
        }
        difference == 0
    }
}

impl std::fmt::Debug for ReloadToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadToken(..)")
    }
}

/// How the endpoint reaches the supervisor, and who may ask it to reload.
#[derive(Debug, Clone)]
pub struct Reload {
    pub requests: mpsc::Sender<ReloadRequest>,
    /// `None`: loopback peers only. `Some`: whoever presents the token.
    pub token: Option<ReloadToken>,
}

/// Whether one output is delivering.
#[derive(Debug, Default)]
pub struct OutputHealth {
    failing_since: Mutex<Option<Instant>>,
    consecutive_failures: AtomicU64,
}

impl OutputHealth {
    pub fn delivered(&self) {
        *self.failing_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.consecutive_failures.store(0, Ordering::Relaxed);
    }

    pub fn failed(&self) {
        let mut since = self.failing_since.lock().unwrap_or_else(|p| p.into_inner());
        since.get_or_insert_with(Instant::now);
        self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// `Some(how long)` when failing for longer than `limit`.
    fn failing_longer_than(&self, limit: Duration) -> Option<Duration> {
        let since = *self.failing_since.lock().unwrap_or_else(|p| p.into_inner());
        since.map(|t| t.elapsed()).filter(|d| *d > limit)
    }
}

/// A plugin as `/api/plugins.json` lists it.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub plugin_id: String,
    pub category: &'static str,
    pub kind: String,
}

/// What `/readyz` and `/api/plugins.json` answer from: whether a pipeline runs, its plugins
/// and whether each output is delivering. One per agent (see [`Telemetry`]).
#[derive(Default)]
pub struct Health {
    loaded: AtomicBool,
    outputs: Mutex<BTreeMap<String, Arc<OutputHealth>>>,
    plugins: Mutex<Vec<PluginInfo>>,
}

impl Health {
    /// The health of output `plugin_id`, fresh for a new pipeline.
    pub fn register_output(&self, plugin_id: &str) -> Arc<OutputHealth> {
        let health = Arc::new(OutputHealth::default());
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(plugin_id.to_string(), health.clone());
        health
    }

    /// A pipeline is starting with these plugins: outputs of an earlier one no longer count.
    pub fn pipeline_started(&self, plugins: Vec<PluginInfo>) {
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.plugins.lock().unwrap_or_else(|p| p.into_inner()) = plugins;
        self.loaded.store(true, Ordering::Release);
    }

    /// `Ok(())` when ready, else the reasons.
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let mut reasons = Vec::new();
        if !self.loaded.load(Ordering::Acquire) {
            reasons.push("no configuration loaded yet".to_string());
        }
        for (name, health) in self
            .outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            if let Some(d) = health.failing_longer_than(READY_FAILING_LIMIT) {
                reasons.push(format!(
                    "output {name} has failed every delivery for {}s ({} attempts)",
                    d.as_secs(),
                    health.consecutive_failures.load(Ordering::Relaxed)
                ));
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }
}

fn plugins_json(telemetry: &Telemetry) -> String {
    let m = &telemetry.metrics;
    let plugins = telemetry
        .health
        .plugins
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let series = |family: &metrics::CounterFamily, p: &PluginInfo| {
        family
            .snapshot()
            .into_iter()
            .find(|(l, _)| l[0] == p.plugin_id && l[1] == p.kind)
            .map(|(_, c)| c.get())
    };
    let gauge = |family: &metrics::GaugeFamily, p: &PluginInfo| {
        family
            .snapshot()
            .into_iter()
            .find(|(l, _)| l[0] == p.plugin_id && l[1] == p.kind)
            .map(|(_, g)| g.get())
    };
    let list: Vec<serde_json::Value> = plugins
        .iter()
        .map(|p| {
            let output = p.category == "output";
            let mut v = serde_json::json!({
                "plugin_id": p.plugin_id,
                "plugin_category": p.category,
                "type": p.kind,
                "config": {"@type": p.kind, "@id": p.plugin_id},
                "output_plugin": output,
            });
            if output {
                v["retry_count"] = series(&m.output_retry_count, p).unwrap_or(0).into();
                v["emit_records"] = series(&m.output_emit_records, p).unwrap_or(0).into();
                v["write_count"] = series(&m.output_write_count, p).unwrap_or(0).into();
                v["buffer_total_queued_size"] =
                    gauge(&m.output_buffer_bytes, p).unwrap_or(0).into();
                v["buffer_queue_length"] = gauge(&m.output_buffer_entries, p).unwrap_or(0).into();
            } else {
                v["emit_records"] = series(&m.input_records, p).unwrap_or(0).into();
            }
            v
        })
        .collect();
    serde_json::json!({ "plugins": list }).to_string()
}

/// Binds `addr` (fails at once when the port is taken) and serves `telemetry` until `shutdown`.
pub async fn bind(
    addr: SocketAddr,
    telemetry: Telemetry,
    reload: Option<Reload>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    info!("serving /metrics, /healthz, /readyz and /api on http://{local}");
    tokio::spawn(serve(listener, telemetry, reload, shutdown));
    Ok(local)
}

/// Serves `telemetry` (and the reload) to connections on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    telemetry: Telemetry,
    reload: Option<Reload>,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "health endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let reload = reload.clone();
        let telemetry = telemetry.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, peer.ip(), &telemetry, reload).await {
                debug!(%peer, error = %e, "health endpoint: connection ended");
            }
        });
    }
}

async fn handle(
    mut stream: TcpStream,
    peer: IpAddr,
    telemetry: &Telemetry,
    reload: Option<Reload>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                return Ok(end);
            }
            if buf.len() > 16 * 1024 {
                return Err(std::io::Error::other("request head too large"));
            }
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::other("closed before the request head"));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .map_err(|_| std::io::Error::other("request head timed out"))??;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let target = words.next().unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_string();
    let authorization = header(&head, "authorization");
    let caller = Caller {
        peer,
        authorization,
    };
    let (status, content_type, body) = route(&method, &path, &caller, telemetry, reload).await;
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// Who sent a request: what the reload's gate looks at.
struct Caller<'a> {
    peer: IpAddr,
    /// The `Authorization` header's value, if any.
    authorization: Option<&'a str>,
}

/// The value of header `name` in a request head.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Whether the peer (IPv4, IPv6 or IPv4-mapped) is the machine (the pod) itself.
fn is_loopback(peer: IpAddr) -> bool {
    peer.to_canonical().is_loopback()
}

/// `Err(why)` when `caller` may not ask for a reload: without a token, only the machine itself
/// may; with one, whoever presents it may, and nobody else.
fn may_reload(caller: &Caller<'_>, token: Option<&ReloadToken>) -> Result<(), &'static str> {
    let Some(token) = token else {
        return if is_loopback(caller.peer) {
            Ok(())
        } else {
            Err(
                r#"{"ok":false,"error":"reload is served to loopback peers only: ask from 127.0.0.1 inside the pod, or send SIGHUP"}"#,
            )
        };
    };
    let presented = caller.authorization.and_then(|value| {
        let (scheme, credentials) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| credentials.trim())
    });
    match presented {
        Some(p) if token.matches(p.as_bytes()) => Ok(()),
        Some(_) => Err(r#"{"ok":false,"error":"the reload token is wrong"}"#),
        None => Err(
            r#"{"ok":false,"error":"reload needs the header `Authorization: Bearer <token>` (--reload-token-file)"}"#,
        ),
    }
}

async fn route(
    method: &str,
    path: &str,
    caller: &Caller<'_>,
    telemetry: &Telemetry,
    reload: Option<Reload>,
) -> (&'static str, &'static str, String) {
    let get = method == "GET" || method == "HEAD";
    match path {
        "/healthz" | "/livez" if get => ("200 OK", TEXT, "ok\n".into()),
        "/readyz" if get => match telemetry.health.readiness() {
            Ok(()) => ("200 OK", TEXT, "ready\n".into()),
            Err(reasons) => (
                "503 Service Unavailable",
                TEXT,
                format!("not ready:\n{}\n", reasons.join("\n")),
            ),
        },
        "/metrics" | "/aggregated_metrics" if get => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            telemetry.metrics.render(),
        ),
        "/api/plugins.json" | "/api/plugins" if get => ("200 OK", JSON, plugins_json(telemetry)),
        // fluentd's RPC answers GET; POST is what a careful client sends.
        "/api/config.reload" if method == "POST" || method == "GET" => {
            let Some(reload) = reload else {
                return (
                    "501 Not Implemented",
                    JSON,
                    r#"{"ok":false,"error":"this endpoint cannot reload the configuration"}"#
                        .into(),
                );
            };
            if let Err(why) = may_reload(caller, reload.token.as_ref()) {
                warn!(peer = %caller.peer, "refused a configuration reload: {why}");
                return ("403 Forbidden", JSON, why.into());
            }
            let (tx, rx) = oneshot::channel();
            if reload.requests.send(tx).await.is_err() {
                return (
                    "503 Service Unavailable",
                    JSON,
                    r#"{"ok":false,"error":"the agent is shutting down"}"#.into(),
                );
            }
            match rx.await {
                Ok(Ok(summary)) => (
                    "200 OK",
                    JSON,
                    serde_json::json!({"ok": true, "message": summary}).to_string(),
                ),
                Ok(Err(error)) => (
                    "400 Bad Request",
                    JSON,
                    serde_json::json!({"ok": false, "error": error}).to_string(),
                ),
                Err(_) => (
                    "503 Service Unavailable",
                    JSON,
                    r#"{"ok":false,"error":"the agent is shutting down"}"#.into(),
                ),
            }
        }
        "/healthz" | "/readyz" | "/metrics" | "/api/plugins.json" | "/api/config.reload" => (
            "405 Method Not Allowed",
            TEXT,
            "method not allowed\n".into(),
        ),
        _ => ("404 Not Found", TEXT, "not found\n".into()),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_probes_metrics_and_reload() {
        let shutdown = CancellationToken::new();
        let (tx, mut rx) = mpsc::channel::<ReloadRequest>(1);
        tokio::spawn(async move {
            let reply = rx.recv().await.unwrap();
            let _ = reply.send(Err("bad.conf:1:1: error".into()));
        });
        let reload = Reload {
            requests: tx,
            token: None,
        };
        let telemetry = Telemetry::default();
        let addr = bind(
            "127.0.0.1:0".parse().unwrap(),
            telemetry.clone(),
            Some(reload),
            shutdown.clone(),
        )
        .await
        .unwrap();
        let health = get(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
        assert!(health.ends_with("ok\n"), "{health}");
        let ready = get(addr, "GET /readyz HTTP/1.1\r\n\r\n").await;
        assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
        telemetry.health.pipeline_started(Vec::new());
        let ready = get(addr, "GET /readyz HTTP/1.1\r\n\r\n").await;
        assert!(ready.starts_with("HTTP/1.1 200 OK"), "{ready}");
        let metrics = get(addr, "GET /metrics HTTP/1.1\r\n\r\n").await;
        assert!(
            metrics.contains("# TYPE logferry_build_info gauge"),
            "{metrics}"
        );
        let reload = get(addr, "POST /api/config.reload HTTP/1.1\r\n\r\n").await;
        assert!(reload.starts_with("HTTP/1.1 400"), "{reload}");
        assert!(reload.contains("bad.conf:1:1"), "{reload}");
        let missing = get(addr, "GET /nope HTTP/1.1\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        shutdown.cancel();
    }

    fn from(peer: &str, authorization: Option<&'static str>) -> Caller<'static> {
        Caller {
            peer: peer.parse().unwrap(),
            authorization,
        }
    }

    fn reload(requests: &mpsc::Sender<ReloadRequest>, token: Option<&str>) -> Option<Reload> {
        Some(Reload {
            requests: requests.clone(),
            token: token.map(|t| ReloadToken::from_text(t).unwrap()),
        })
    }

    #[tokio::test]
    async fn a_reload_from_another_host_is_refused_and_the_probes_still_answer_it() {
        let (tx, mut rx) = mpsc::channel::<ReloadRequest>(1);
        let pod_peer = from("10.8.0.12", None);
        let telemetry = Telemetry::default();
        let (status, _, body) = route(
            "POST",
            "/api/config.reload",
            &pod_peer,
            &telemetry,
            reload(&tx, None),
        )
        .await;
        assert_eq!(status, "403 Forbidden");
        assert!(body.contains("loopback"), "{body}");
        let mapped = from("::ffff:10.8.0.12", None);
        let (status, _, _) = route(
            "GET",
            "/api/config.reload",
            &mapped,
            &telemetry,
            reload(&tx, None),
        )
        .await;
        assert_eq!(status, "403 Forbidden");
        assert!(
            rx.try_recv().is_err(),
            "a refused reload must not reach the supervisor"
        );
        for path in ["/healthz", "/metrics"] {
            let (status, _, _) = route("GET", path, &pod_peer, &telemetry, reload(&tx, None)).await;
            assert_eq!(status, "200 OK", "{path}");
        }
        // Loopback, IPv4, IPv6 and IPv4-mapped, is the pod itself: the reload goes through.
        for local in ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"] {
            assert!(may_reload(&from(local, None), None).is_ok(), "{local}");
        }
        tokio::spawn(async move {
            let reply = rx.recv().await.unwrap();
            let _ = reply.send(Ok("reloaded".into()));
        });
        let local = from("127.0.0.1", None);
        let (status, _, body) = route(
            "POST",
            "/api/config.reload",
            &local,
            &telemetry,
            reload(&tx, None),
        )
        .await;
        assert_eq!(status, "200 OK", "{body}");
    }

    #[tokio::test]
    async fn with_a_token_only_its_bearer_may_reload_from_any_host() {
        let token = ReloadToken::from_text("s3cret-token\n").unwrap();
        let gate = |peer, authorization| may_reload(&from(peer, authorization), Some(&token));
        for peer in ["10.8.0.12", "127.0.0.1", "::1"] {
            assert!(gate(peer, Some("Bearer s3cret-token")).is_ok(), "{peer}");
            assert!(gate(peer, Some("bearer  s3cret-token ")).is_ok(), "{peer}");
            // A token set means the token decides, loopback included.
            let missing = gate(peer, None).unwrap_err();
            assert!(missing.contains("Authorization: Bearer"), "{missing}");
            for wrong in [
                "Bearer s3cret-tokeN",
                "Bearer s3cret-token2",
                "Bearer s3cret",
                "Bearer ",
                "Basic s3cret-token",
                "s3cret-token",
            ] {
                assert!(gate(peer, Some(wrong)).is_err(), "{peer} {wrong}");
            }
        }
        assert!(ReloadToken::from_text(" \n").is_none());
        assert_eq!(format!("{token:?}"), "ReloadToken(..)");

        // Over a socket: the header is read from the request head, case-insensitively.
        let (tx, mut rx) = mpsc::channel::<ReloadRequest>(1);
        let shutdown = CancellationToken::new();
        let addr = bind(
            "127.0.0.1:0".parse().unwrap(),
            Telemetry::default(),
            reload(&tx, Some("s3cret-token")),
            shutdown.clone(),
        )
        .await
        .unwrap();
        let refused = get(addr, "POST /api/config.reload HTTP/1.1\r\n\r\n").await;
        assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
        let wrong = "POST /api/config.reload HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n";
        let refused = get(addr, wrong).await;
        assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
        assert!(
            rx.try_recv().is_err(),
            "a refused reload reached the supervisor"
        );
        tokio::spawn(async move {
            let reply = rx.recv().await.unwrap();
            let _ = reply.send(Ok("reloaded".into()));
        });
        let right = "POST /api/config.reload HTTP/1.1\r\nhost: x\r\nauthorization: Bearer s3cret-token\r\n\r\n";
        let accepted = get(addr, right).await;
        assert!(accepted.starts_with("HTTP/1.1 200"), "{accepted}");
        shutdown.cancel();
    }

    #[tokio::test]
    async fn an_output_failing_past_the_limit_is_not_ready() {
        let limit = Duration::from_millis(20);
        let health = OutputHealth::default();
        health.failed();
        assert!(health.failing_longer_than(limit).is_none());
        tokio::time::sleep(limit * 2).await;
        health.failed();
        assert!(health.failing_longer_than(limit).is_some());
        health.delivered();
        assert!(health.failing_longer_than(limit).is_none());
    }
}
