//! Serving with a bounded drain: when `shutdown` resolves, stop accepting, let in-flight
//! requests finish until `drain_deadline`, then return so the caller can flush the log.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::routes::{AppState, app};

/// What `run` needs besides the listener.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// How long in-flight requests may take after shutdown was requested (`--shutdown-timeout`).
    pub drain_deadline: Duration,
    pub state: AppState,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            drain_deadline: Duration::from_secs(10),
            state: AppState::default(),
        }
    }
}

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection finished before the deadline.
    Drained,
    /// The deadline passed with requests still running; they were abandoned.
    DeadlineExceeded,
}

/// Errors from the accept loop.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then drains within the deadline.
pub async fn run<F>(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: F,
) -> Result<Stopped, ServeError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let stop = CancellationToken::new();
    let trigger = stop.clone();
    let signal_task = tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    // Small JSON answers: send them now rather than waiting on Nagle.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let service = app(config.state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service)
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);

    let outcome = tokio::select! {
        res = &mut server => res.map(|()| Stopped::Drained),
        () = stop.cancelled() => {
            tracing::info!(
                deadline_ms = config.drain_deadline.as_millis() as u64,
                "shutdown requested: no longer accepting, draining in-flight requests"
            );
            match tokio::time::timeout(config.drain_deadline, &mut server).await {
                Ok(res) => res.map(|()| Stopped::Drained),
                Err(_) => {
                    tracing::warn!("drain deadline passed with requests still in flight; abandoning them");
                    Ok(Stopped::DeadlineExceeded)
                }
            }
        }
    };
    signal_task.abort();
    Ok(outcome?)
}
