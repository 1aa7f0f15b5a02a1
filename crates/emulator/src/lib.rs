//! logferry's local Cloud Logging: the v2 API over REST and gRPC on one address
//! (`entries:write`/`WriteLogEntries`, `entries:list`/`ListLogEntries`, `TailLogEntries`, logs,
//! monitored resource descriptors) over a durable SQLite store, with the full query language from
//! `logquery`, so the whole system runs and is tested offline and Google's own client libraries
//! work against it in their default transport.
//!
//! [`serve`] is the testable entry point; [`cli`] holds `logferry emulator` and `logferry query`.

#![forbid(unsafe_code)]

mod api;
pub mod cli;
pub mod client;
pub mod convert;
mod grpc;
mod payload;
mod server;
mod service;
pub mod store;
mod ui;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

pub use api::router;
pub use service::{AppState, TailHub};
pub use store::{Store, StoreError};

/// How the emulator runs.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where the SQLite database lives (created if missing).
    pub data_dir: PathBuf,
    /// Entries whose timestamp is older than this are deleted (checked periodically).
    pub retention: Option<Duration>,
}

impl EmulatorConfig {
    /// A config storing under `data_dir`, keeping entries forever.
    pub fn new(data_dir: impl Into<PathBuf>) -> EmulatorConfig {
        EmulatorConfig {
            data_dir: data_dir.into(),
            retention: None,
        }
    }
}

/// Serves the API on `listener` until `shutdown` completes, then finishes in-flight requests.
/// Every acknowledged write is already durable, so stopping at any point loses nothing.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&data_dir)).await??;
    let state = AppState::new(store);
    let retention = config.retention.map(|keep| {
        let store = state.store.clone();
        tokio::spawn(expire_forever(store, keep))
    });
    tracing::info!(addr = %listener.local_addr()?, data_dir = %config.data_dir.display(), "emulator serving");
    let closing = state.closing.clone();
    server::serve(listener, router(state), shutdown, closing).await;
    if let Some(task) = retention {
        task.abort();
    }
    Ok(())
}

/// Deletes entries older than `keep`, now and then every `keep / 10` (at most every minute).
async fn expire_forever(store: std::sync::Arc<Store>, keep: Duration) {
    let period = (keep / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let now = service::nanos_of(gcloud_logging::Timestamp::now());
        let cutoff = now.saturating_sub(i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX));
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.expire(cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(deleted = n, "retention removed old entries"),
            Ok(Err(e)) => tracing::warn!(error = %e, "retention pass failed"),
            Err(e) => tracing::warn!(error = %e, "retention task failed"),
        }
    }
}
