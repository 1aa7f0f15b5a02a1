//! Outputs (`<match>`): the [`Sink`] trait each output implements, and the runners (memory and
//! disk buffer) that batch events into chunks, flush them by size, by time or as soon as the
//! sources caught up, keep as many in flight as the destination's latency needs
//! (`concurrency.rs`), retry refused chunks with backoff, and acknowledge delivered ones to the
//! sources.

pub mod buffer;
pub mod concurrency;
pub mod disk_buffer;
pub mod file;
pub mod forward;
pub mod google_cloud;
pub mod metered;
pub mod null;
pub mod stdout;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::event::Event;

pub use buffer::{BufferConfig, OutputHandle, RoutedBatch, spawn_output};
pub use concurrency::Concurrency;

/// What a sink's `send` resolves to: the chunk back (a failed one is sent again) and the result.
pub type Sent = (Delivery, Result<(), SinkError>);

/// The boxed future of [`Sink::send`].
pub type SendFuture = Pin<Box<dyn Future<Output = Sent> + Send + 'static>>;

/// The boxed future of [`Sink::close`].
pub type CloseFuture = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'static>>;

/// One chunk on its way to a sink. It starts as events; a sink that sends something else (an
/// encoded request) makes it once in [`Sink::prepare`], and the runner keeps that across
/// retries instead of the events, so a chunk in flight holds its request and not both.
pub struct Delivery {
    /// The events, until the sink prepared them.
    pub events: Vec<Event>,
    /// What `prepare` made of the events, in the sink's own type.
    pub prepared: Option<Box<dyn Any + Send + Sync>>,
    /// Bytes `prepared` holds (a request body), for the output's memory bound.
    pub prepared_bytes: usize,
    /// How many events the chunk holds (fixed at sealing, whatever `prepare` does).
    pub entries: usize,
    /// Their size as the router counted them (`Record::approx_size`).
    pub routed_bytes: usize,
    /// What the events cost in memory (`Record::memory_size`): their bytes for lines, more
    /// for maps.
    pub memory_bytes: usize,
}

impl Delivery {
    pub fn new(events: Vec<Event>) -> Delivery {
        let routed_bytes = events.iter().map(|e| e.record.approx_size()).sum();
        let memory_bytes = events.iter().map(|e| e.record.memory_size()).sum();
        Delivery::sized(events, routed_bytes, memory_bytes)
    }

    /// [`Delivery::new`] with the events' sizes already summed by the caller.
    pub(crate) fn sized(events: Vec<Event>, routed_bytes: usize, memory_bytes: usize) -> Delivery {
        Delivery {
            entries: events.len(),
            routed_bytes,
            memory_bytes,
            events,
            prepared: None,
            prepared_bytes: 0,
        }
    }

    /// What is left of a chunk whose events went down with a task (a runtime shutting down):
    /// it keeps its count, so it is never taken for an empty chunk and acknowledged.
    pub(crate) fn lost(entries: usize, routed_bytes: usize) -> Delivery {
        Delivery {
            entries,
            routed_bytes,
            ..Delivery::new(Vec::new())
        }
    }

    /// Bytes this chunk keeps in memory now: its events until they are prepared, then what the
    /// sink prepared (both, while a sink keeps both).
    pub fn held_bytes(&self) -> usize {
        let events = if self.events.is_empty() {
            0
        } else {
            self.memory_bytes
        };
        events + self.prepared_bytes
    }

    /// Appends another unprepared chunk's events (the runner merges queued chunks into one
    /// request).
    pub(crate) fn absorb(&mut self, other: Delivery) {
        debug_assert!(self.prepared.is_none() && other.prepared.is_none());
        self.entries += other.entries;
        self.routed_bytes += other.routed_bytes;
        self.memory_bytes += other.memory_bytes;
        self.events.extend(other.events);
    }

    /// The prepared form, if it is `T`.
    pub fn prepared_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.prepared.as_mut()?.downcast_mut::<T>()
    }

    /// Keeps what the sink prepared instead of the events.
    pub fn set_prepared(&mut self, prepared: Prepared) {
        self.prepared = Some(prepared.payload);
        self.prepared_bytes = prepared.bytes;
        self.events = Vec::new();
    }
}

/// What a sink made of a chunk's events, in its own type.
pub struct Prepared {
    pub payload: Box<dyn Any + Send + Sync>,
    /// Bytes it holds (for the output's memory bound).
    pub bytes: usize,
}

/// How a sink wants its chunks grouped into sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// The most bytes one send should carry (as estimated below): queued chunks are merged
    /// into one send up to this.
    pub max_bytes: usize,
    /// What each event adds to its record's size in the send (an entry's fixed fields).
    pub per_event_bytes: usize,
}

/// A destination for events.
pub trait Sink: Send + Sync + 'static {
    /// Turns a chunk's events into what [`Sink::send`] delivers (CPU work, run once per chunk
    /// on a blocking thread before its first send; the runner then drops the events). `None`,
    /// the default, sends the events themselves.
    fn prepare(&self, _events: &[Event]) -> Option<Prepared> {
        None
    }

    /// Delivers one chunk and hands it back with the result. `Ok` means every event in it is
    /// accepted for good (or was put in a dead-letter file with its reason); an error means
    /// nothing may be assumed and the chunk is sent again later.
    fn send(&self, delivery: Delivery) -> SendFuture;

    /// How many chunks may be in flight at once. Sinks that must keep order (files) say 1.
    fn concurrency(&self) -> Concurrency {
        Concurrency::Fixed(1)
    }

    /// Whether queued chunks may be merged into one send, and up to what size.
    fn batching(&self) -> Option<Batching> {
        None
    }

    /// Called once after the last chunk, before the agent exits.
    fn close(&self) -> CloseFuture {
        Box::pin(async { Ok(()) })
    }
}

/// Why a send failed, as far as the runner's concurrency limit cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The destination asked to slow down (HTTP 429, `RESOURCE_EXHAUSTED`).
    Throttled,
    /// The destination failed (HTTP 5xx).
    Server,
    /// No answer in time.
    Timeout,
    /// No connection, or it broke.
    Connection,
    /// Anything else: credentials, permissions, configuration, a local file.
    Other,
}

impl FailureKind {
    /// A sign of an overloaded destination: the concurrency limit goes down.
    pub fn is_backpressure(self) -> bool {
        matches!(
            self,
            FailureKind::Throttled | FailureKind::Server | FailureKind::Timeout
        )
    }
}

/// Why a chunk was not delivered; every error is retried.
#[derive(Debug)]
pub struct SinkError {
    /// What failed, in the sink's own terms.
    pub failure: SinkFailure,
    /// The server asked to wait this long (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

/// What failed. Each sink says it in its own error type, so a caller tells a refused token
/// from an unreachable server by matching, and the metrics label the failure with
/// [`SinkError::class`] instead of reading its text.
#[derive(Debug, thiserror::Error)]
pub enum SinkFailure {
    #[error(transparent)]
    GoogleCloud(#[from] google_cloud::WriteError),
    #[error(transparent)]
    Forward(#[from] forward::ForwardFailure),
    /// A local file or stream could not be written (the file and stdout outputs).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Anything else: a chunk whose events went down with a task, a preparation that failed
    /// (a bug). The text says what.
    #[error("{0}")]
    Other(String),
}

impl SinkError {
    /// A failure without a type of its own (see [`SinkFailure::Other`]).
    pub fn other(message: impl Into<String>) -> Self {
        SinkFailure::Other(message.into()).into()
    }

    /// A local write that failed.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        SinkFailure::Io {
            what: what.into(),
            source,
        }
        .into()
    }

    /// With the wait the server asked for.
    pub fn retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Why it failed, as far as the runner's concurrency limit cares.
    pub fn kind(&self) -> FailureKind {
        match &self.failure {
            SinkFailure::GoogleCloud(e) => e.kind(),
            SinkFailure::Forward(e) => e.kind(),
            SinkFailure::Io { .. } | SinkFailure::Other(_) => FailureKind::Other,
        }
    }

    /// The class of `logferry_errors_total` this failure is counted under.
    pub fn class(&self) -> &'static str {
        use crate::metrics::class;
        match &self.failure {
            SinkFailure::GoogleCloud(e) => e.class(),
            SinkFailure::Forward(e) => e.class(),
            SinkFailure::Io { .. } => class::OUTPUT_IO,
            SinkFailure::Other(_) => class::OUTPUT_OTHER,
        }
    }
}

impl From<SinkFailure> for SinkError {
    fn from(failure: SinkFailure) -> Self {
        SinkError {
            failure,
            retry_after: None,
        }
    }
}

impl From<google_cloud::WriteError> for SinkError {
    fn from(error: google_cloud::WriteError) -> Self {
        SinkFailure::GoogleCloud(error).into()
    }
}

impl From<forward::ForwardFailure> for SinkError {
    fn from(error: forward::ForwardFailure) -> Self {
        SinkFailure::Forward(error).into()
    }
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.failure.fmt(f)
    }
}

impl std::error::Error for SinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.failure)
    }
}

/// A finished send for sinks whose `send` has nothing to wait for.
pub(crate) fn ready(delivery: Delivery, result: Result<(), SinkError>) -> SendFuture {
    Box::pin(async move { (delivery, result) })
}
