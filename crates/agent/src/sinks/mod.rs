//! Outputs (`<match>`): the [`Sink`] trait each output implements, and the runner that batches
//! events into chunks, flushes them by size, by time or as soon as the sources caught up,
//! retries refused chunks with backoff, and acknowledges delivered ones to the sources.

pub mod buffer;
pub mod disk_buffer;
pub mod file;
pub mod forward;
pub mod google_cloud;
pub mod metered;
pub mod null;
pub mod stdout;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::event::Event;

pub use buffer::{BufferConfig, OutputHandle, RoutedBatch, spawn_output};

/// The boxed future a sink returns.
pub type SendFuture = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'static>>;

/// A destination for events.
pub trait Sink: Send + Sync + 'static {
    /// Delivers one chunk. `Ok` means every event in it is accepted for good (or was put in a
    /// dead-letter file with its reason); an error means nothing may be assumed and the chunk is
    /// sent again later.
    fn send(&self, chunk: Arc<Vec<Event>>) -> SendFuture;

    /// How many chunks may be in flight at once. Sinks that must keep order (files) say 1.
    fn concurrency(&self) -> usize {
        1
    }

    /// Called once after the last chunk, before the agent exits.
    fn close(&self) -> SendFuture {
        Box::pin(async { Ok(()) })
    }
}

/// Why a chunk was not delivered; every error is retried.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    pub message: String,
    /// The server asked to wait this long (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SinkError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry_after: None,
        }
    }
}
