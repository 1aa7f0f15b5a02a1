//! Accepting connections: HTTP/1.1 (REST, the explorer) and HTTP/2 without TLS (gRPC, and REST
//! from clients that speak it) on one listener, told apart by the HTTP/2 connection preface, all
//! served by the one router, at most [`MAX_CONNECTIONS`] at once, with a graceful shutdown that
//! lets in-flight requests finish.
//!
//! hyper is driven directly rather than through axum's `serve` because axum's HTTP/2 support
//! switches on hyper-util's `http2` feature, which (features being shared across the workspace)
//! would change the agent's HTTP client type too.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Every HTTP/2 connection without TLS starts with these bytes ("prior knowledge"); no HTTP/1
/// request line starts with `PRI`.
const HTTP2_PREFACE_START: &[u8] = b"PRI ";
/// A connection that has not sent its first bytes by then is dropped.
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; past it, new ones wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 1024;

/// Serves `app` on `listener` until `shutdown` completes; then cancels `closing` (ending
/// endless streams such as live tail), asks every connection to finish its requests and waits
/// for them.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    closing: CancellationToken,
) {
    let connections = TaskTracker::new();
    let stop = CancellationToken::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        // A free slot first, so a full server stops accepting instead of piling up tasks.
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break }; // the semaphore is never closed
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let connection = serve_connection(stream, app.clone(), stop.clone());
                connections.spawn(async move {
                    connection.await;
                    drop(slot);
                });
            }
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    closing.cancel();
    stop.cancel();
    connections.close();
    connections.wait().await;
}

async fn serve_connection(stream: TcpStream, app: Router, stop: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let http2 = match tokio::time::timeout(FIRST_BYTES_TIMEOUT, speaks_http2(&stream)).await {
        Ok(Ok(http2)) => http2,
        Ok(Err(_)) | Err(_) => return,
    };
    let service = hyper::service::service_fn(move |request: axum::http::Request<Incoming>| {
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let io = TokioIo::new(stream);
    let result = if http2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder.timer(TokioTimer::new());
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => result,
            _ = stop.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new());
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => result,
            _ = stop.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Looks at (without consuming) the connection's first bytes.
async fn speaks_http2(stream: &TcpStream) -> std::io::Result<bool> {
    let mut first = [0u8; HTTP2_PREFACE_START.len()];
    loop {
        let n = stream.peek(&mut first).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if first[..n] != HTTP2_PREFACE_START[..n] {
            return Ok(false);
        }
        if n == first.len() {
            return Ok(true);
        }
        // The start of the preface arrived split; the rest follows at once.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
