//! The operations endpoint: `/metrics` (Prometheus), `/healthz` (the process answers),
//! `/readyz` (a config is loaded and every output is delivering, or has not been failing for
//! longer than [`READY_FAILING_LIMIT`]), `/api/plugins.json` (fluentd `monitor_agent`'s shape)
//! and `POST /api/config.reload`. Served by `--health-listen`, `<source> @type prometheus` and
//! `<source> @type monitor_agent` alike.
//!
//! The probes and `/metrics` answer anyone who can reach the address (a kubelet or a scraper
//! reaches a pod on its own IP), but the reload answers only loopback peers: a sidecar bound to
//! `0.0.0.0` must not let every pod in the cluster make it re-read its config. Inside the pod
//! (or on the machine) `127.0.0.1` still can, and SIGHUP works everywhere.
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

/// How long an output may fail without a single success before `/readyz` says not ready.
pub const READY_FAILING_LIMIT: Duration = Duration::from_secs(300);

/// A reload request: the answer is `Ok(summary)` or `Err(diagnostics)`.
pub type ReloadRequest = oneshot::Sender<Result<String, String>>;

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

struct State {
    loaded: AtomicBool,
    outputs: Mutex<BTreeMap<String, Arc<OutputHealth>>>,
    plugins: Mutex<Vec<PluginInfo>>,
}

static STATE: State = State {
    loaded: AtomicBool::new(false),
    outputs: Mutex::new(BTreeMap::new()),
    plugins: Mutex::new(Vec::new()),
};

/// The health of output `plugin_id`, fresh for a new pipeline.
pub fn register_output(plugin_id: &str) -> Arc<OutputHealth> {
    let health = Arc::new(OutputHealth::default());
    STATE
        .outputs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(plugin_id.to_string(), health.clone());
    health
}

/// A pipeline is starting with these plugins: outputs of an earlier one no longer count.
pub fn pipeline_started(plugins: Vec<PluginInfo>) {
    STATE
        .outputs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    *STATE.plugins.lock().unwrap_or_else(|p| p.into_inner()) = plugins;
    STATE.loaded.store(true, Ordering::Release);
}

/// `Ok(())` when ready, else the reasons.
pub fn readiness() -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    if !STATE.loaded.load(Ordering::Acquire) {
        reasons.push("no configuration loaded yet".to_string());
    }
    for (name, health) in STATE
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

fn plugins_json() -> String {
    let plugins = STATE
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
                v["retry_count"] = series(&metrics::OUTPUT_RETRY_COUNT, p).unwrap_or(0).into();
                v["emit_records"] = series(&metrics::OUTPUT_EMIT_RECORDS, p).unwrap_or(0).into();
                v["write_count"] = series(&metrics::OUTPUT_WRITE_COUNT, p).unwrap_or(0).into();
                v["buffer_total_queued_size"] =
                    gauge(&metrics::OUTPUT_BUFFER_BYTES, p).unwrap_or(0).into();
                v["buffer_queue_length"] = gauge(&metrics::OUTPUT_BUFFER_ENTRIES, p)
                    .unwrap_or(0)
                    .into();
            } else {
                v["emit_records"] = series(&metrics::INPUT_RECORDS, p).unwrap_or(0).into();
            }
            v
        })
        .collect();
    serde_json::json!({ "plugins": list }).to_string()
}

/// Binds `addr` (fails at once when the port is taken) and serves until `shutdown`.
pub async fn bind(
    addr: SocketAddr,
    reload: Option<mpsc::Sender<ReloadRequest>>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    info!("serving /metrics, /healthz, /readyz and /api on http://{local}");
    tokio::spawn(serve(listener, reload, shutdown));
    Ok(local)
}

/// Serves connections on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    reload: Option<mpsc::Sender<ReloadRequest>>,
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
        tokio::spawn(async move {
            if let Err(e) = handle(stream, peer.ip(), reload).await {
                debug!(%peer, error = %e, "health endpoint: connection ended");
            }
        });
    }
}

async fn handle(
    mut stream: TcpStream,
    peer: IpAddr,
    reload: Option<mpsc::Sender<ReloadRequest>>,
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
    let (status, content_type, body) = route(&method, &path, peer, reload).await;
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

/// Whether `peer` may ask for a reload: only the machine (the pod) itself.
fn may_reload(peer: IpAddr) -> bool {
    peer.to_canonical().is_loopback()
}

async fn route(
    method: &str,
    path: &str,
    peer: IpAddr,
    reload: Option<mpsc::Sender<ReloadRequest>>,
) -> (&'static str, &'static str, String) {
    let get = method == "GET" || method == "HEAD";
    match path {
        "/healthz" | "/livez" if get => ("200 OK", TEXT, "ok\n".into()),
        "/readyz" if get => match readiness() {
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
            metrics::render(),
        ),
        "/api/plugins.json" | "/api/plugins" if get => ("200 OK", JSON, plugins_json()),
        // fluentd's RPC answers GET; POST is what a careful client sends.
        "/api/config.reload" if (method == "POST" || method == "GET") && !may_reload(peer) => {
            warn!(%peer, "refused a configuration reload from another host");
            (
                "403 Forbidden",
                JSON,
                r#"{"ok":false,"error":"reload is served to loopback peers only: ask from 127.0.0.1 inside the pod, or send SIGHUP"}"#
                    .into(),
            )
        }
        "/api/config.reload" if method == "POST" || method == "GET" => {
            let Some(reload) = reload else {
                return (
                    "501 Not Implemented",
                    JSON,
                    r#"{"ok":false,"error":"this endpoint cannot reload the configuration"}"#
                        .into(),
                );
            };
            let (tx, rx) = oneshot::channel();
            if reload.send(tx).await.is_err() {
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
        let addr = bind("127.0.0.1:0".parse().unwrap(), Some(tx), shutdown.clone())
            .await
            .unwrap();
        let health = get(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
        assert!(health.ends_with("ok\n"), "{health}");
        pipeline_started(Vec::new());
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

    #[tokio::test]
    async fn a_reload_from_another_host_is_refused_and_the_probes_still_answer_it() {
        let (tx, mut rx) = mpsc::channel::<ReloadRequest>(1);
        let pod_peer: IpAddr = "10.8.0.12".parse().unwrap();
        let (status, _, body) =
            route("POST", "/api/config.reload", pod_peer, Some(tx.clone())).await;
        assert_eq!(status, "403 Forbidden");
        assert!(body.contains("loopback"), "{body}");
        let mapped: IpAddr = "::ffff:10.8.0.12".parse().unwrap();
        let (status, _, _) = route("GET", "/api/config.reload", mapped, Some(tx.clone())).await;
        assert_eq!(status, "403 Forbidden");
        assert!(
            rx.try_recv().is_err(),
            "a refused reload must not reach the supervisor"
        );
        for path in ["/healthz", "/metrics"] {
            let (status, _, _) = route("GET", path, pod_peer, Some(tx.clone())).await;
            assert_eq!(status, "200 OK", "{path}");
        }
        // Loopback, IPv4, IPv6 and IPv4-mapped, is the pod itself: the reload goes through.
        for local in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(may_reload(local.parse().unwrap()), "{local}");
        }
        tokio::spawn(async move {
            let reply = rx.recv().await.unwrap();
            let _ = reply.send(Ok("reloaded".into()));
        });
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let (status, _, body) = route("POST", "/api/config.reload", local, Some(tx)).await;
        assert_eq!(status, "200 OK", "{body}");
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
