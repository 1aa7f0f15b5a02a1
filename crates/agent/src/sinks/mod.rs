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
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    pub message: String,
    pub kind: FailureKind,
    /// The server asked to wait this long (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SinkError {
    pub fn new(message: impl Into<String>) -> Self {
        Self::of(FailureKind::Other, message)
    }

    pub fn of(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind,
            retry_after: None,
        }
    }
}

/// A finished send for sinks whose `send` has nothing to wait for.
pub(crate) fn ready(delivery: Delivery, result: Result<(), SinkError>) -> SendFuture {
    Box::pin(async move { (delivery, result) })
}
