//! `TailLogEntries`: a bidirectional stream. The client's first message says what to follow
//! (`resourceNames`, `filter`, `bufferWindow`); the server answers at once with an empty
//! response (the tail is listening), then sends entries as they are written. Each entry is held for the buffer window; when it leaves, so does every waiting entry
//! stamped no later than it, sorted by timestamp, so an entry arriving up to a window late
//! still comes out in order. When the client reads
//! too slowly and the live-tail buffer overflows, the next response says how many entries were
//! skipped (`SuppressionInfo` with reason `NOT_CONSUMED`) instead of slowing down writers.
//!
//! The count is of entries written to any project while the client was behind, matching or not:
//! the skipped ones are gone before they could be filtered.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use googleapis_tonic_google_logging_v2::google::logging::v2;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::Streaming;
use tonic::server::StreamingService;

use v2::tail_log_entries_response::SuppressionInfo;
use v2::tail_log_entries_response::suppression_info::Reason;

use super::{BoxFuture, entry_to_proto, status};
use crate::service::tail::{Announced, Subscription};
use crate::service::{self, AppState};

/// `bufferWindow` when the request leaves it unset, as Cloud Logging.
const DEFAULT_WINDOW: Duration = Duration::from_secs(2);
/// The longest `bufferWindow` accepted.
const MAX_WINDOW: Duration = Duration::from_secs(60);
/// At most this many entries per response.
const MAX_BATCH: usize = 1000;

type Responses =
    Pin<Box<dyn Stream<Item = Result<v2::TailLogEntriesResponse, tonic::Status>> + Send>>;

/// The `TailLogEntries` method.
pub(super) struct Tail(pub(super) AppState);

impl StreamingService<v2::TailLogEntriesRequest> for Tail {
    type Response = v2::TailLogEntriesResponse;
    type ResponseStream = Responses;
    type Future = BoxFuture<Result<tonic::Response<Responses>, tonic::Status>>;

    fn call(
        &mut self,
        request: tonic::Request<Streaming<v2::TailLogEntriesRequest>>,
    ) -> Self::Future {
        let state = self.0.clone();
        Box::pin(async move {
            let mut requests = request.into_inner();
            let first = requests.message().await?.ok_or_else(|| {
                tonic::Status::invalid_argument(
                    "the stream ended before its first TailLogEntriesRequest",
                )
            })?;
            let (subscription, window) = parse(first).map_err(status)?;
            // Subscribe before answering, so an entry written once the client sees the
            // response headers is not missed.
            let tail = Tailing {
                receiver: state.tail.subscribe(),
                subscription,
                window,
                requests: Some(requests),
                closing: state.closing.clone(),
                pending: VecDeque::new(),
                suppressed: 0,
            };
            // An empty first response says the tail is listening: Google's Python client waits
            // for a first message before `tail_log_entries` returns, and a caller can then
            // write knowing the entries will be seen.
            let ready =
                futures_util::stream::once(async { Ok(v2::TailLogEntriesResponse::default()) });
            let responses: Responses = Box::pin(futures_util::StreamExt::chain(
                ready,
                futures_util::stream::unfold(tail, next),
            ));
            Ok(tonic::Response::new(responses))
        })
    }
}

fn parse(request: v2::TailLogEntriesRequest) -> Result<(Subscription, Duration), service::Error> {
    if request.resource_names.is_empty() {
        return Err(service::Error::invalid(
            "resourceNames: at least one resource name (projects/PROJECT_ID) is required",
        ));
    }
    let window = match request.buffer_window {
        None => DEFAULT_WINDOW,
        Some(d) => u64::try_from(d.seconds)
            .ok()
            .zip(u32::try_from(d.nanos).ok())
            .map(|(s, n)| Duration::new(s, n))
            .filter(|w| *w <= MAX_WINDOW)
            .ok_or_else(|| {
                service::Error::invalid(format!(
                    "bufferWindow: {}.{:09}s is out of range; it must be between 0 and 60 seconds",
                    d.seconds, d.nanos
                ))
            })?,
    };
    Ok((
        Subscription::parse(request.resource_names, &request.filter)?,
        window,
    ))
}

/// One client's tail.
struct Tailing {
    receiver: broadcast::Receiver<Arc<Announced>>,
    subscription: Subscription,
    window: Duration,
    /// The client's side of the stream, read (and ignored) until it closes.
    requests: Option<Streaming<v2::TailLogEntriesRequest>>,
    closing: CancellationToken,
    /// Matching entries waiting out the buffer window, in arrival order.
    pending: VecDeque<(Instant, Arc<Announced>)>,
    /// Entries skipped since the last response because the client fell behind.
    suppressed: u64,
}

type Item = Result<v2::TailLogEntriesResponse, tonic::Status>;

/// The next response: released entries and/or suppression info; `None` when the server shuts
/// down.
async fn next(mut tail: Tailing) -> Option<(Item, Tailing)> {
    loop {
        let now = Instant::now();
        let due = tail.pending.iter().take_while(|(at, _)| *at <= now).count();
        if due > 0 || tail.suppressed > 0 {
            let response = tail.release(due.min(MAX_BATCH));
            return Some((response, tail));
        }
        let release_at = tail.pending.front().map(|(at, _)| *at);
        tokio::select! {
            _ = tail.closing.cancelled() => return None,
            received = tail.receiver.recv() => match received {
                Ok(announced) => {
                    tail.keep(announced);
                    // Take what else is already waiting, so a burst leaves in few responses.
                    for _ in 0..MAX_BATCH {
                        match tail.receiver.try_recv() {
                            Ok(announced) => tail.keep(announced),
                            Err(broadcast::error::TryRecvError::Lagged(n)) => tail.suppressed += n,
                            Err(_) => break,
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => tail.suppressed += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            _ = sleep_until(release_at) => {}
            message = read(&mut tail.requests) => {
                // Later requests carry nothing the emulator uses; the stream goes on after the
                // client closes its side.
                if !matches!(message, Ok(Some(_))) {
                    tail.requests = None;
                }
            }
        }
    }
}

impl Tailing {
    fn keep(&mut self, announced: Arc<Announced>) {
        if self.subscription.wants(&announced) {
            self.pending
                .push_back((Instant::now() + self.window, announced));
        }
    }

    /// The first `due` pending entries, and every other pending entry stamped no later than
    /// them (a late arrival that belongs before them), oldest timestamp first; and any
    /// suppression info.
    fn release(&mut self, due: usize) -> Item {
        let mut released: Vec<Arc<Announced>> = self.pending.drain(..due).map(|(_, a)| a).collect();
        if let Some(watermark) = released.iter().map(|a| a.timestamp_nanos).max() {
            let (early, later): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|(_, a)| a.timestamp_nanos <= watermark);
            released.extend(early.into_iter().map(|(_, a)| a));
            self.pending = later;
        }
        released.sort_by_key(|a| a.timestamp_nanos);
        let entries = released
            .iter()
            .map(|a| {
                serde_json::from_value(a.entry.clone())
                    .map_err(|e| e.to_string())
                    .and_then(entry_to_proto)
                    .map_err(|e| {
                        tonic::Status::internal(format!("an entry cannot be encoded: {e}"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut suppression_info = Vec::new();
        if self.suppressed > 0 {
            suppression_info.push(SuppressionInfo {
                reason: Reason::NotConsumed as i32,
                suppressed_count: i32::try_from(self.suppressed).unwrap_or(i32::MAX),
            });
            self.suppressed = 0;
        }
        Ok(v2::TailLogEntriesResponse {
            entries,
            suppression_info,
        })
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn read(
    requests: &mut Option<Streaming<v2::TailLogEntriesRequest>>,
) -> Result<Option<v2::TailLogEntriesRequest>, tonic::Status> {
    match requests {
        Some(r) => r.message().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(window: Option<(i64, i32)>) -> v2::TailLogEntriesRequest {
        v2::TailLogEntriesRequest {
            resource_names: vec!["projects/p".into()],
            filter: String::new(),
            buffer_window: window.map(|(seconds, nanos)| prost_types::Duration { seconds, nanos }),
        }
    }

    #[test]
    fn buffer_window_defaults_and_bounds() {
        assert_eq!(parse(request(None)).unwrap().1, DEFAULT_WINDOW);
        assert_eq!(
            parse(request(Some((0, 500_000_000)))).unwrap().1,
            Duration::from_millis(500)
        );
        assert_eq!(parse(request(Some((60, 0)))).unwrap().1, MAX_WINDOW);
        for bad in [(61, 0), (-1, 0), (0, -5)] {
            let e = parse(request(Some(bad))).unwrap_err();
            assert!(e.message.starts_with("bufferWindow: "), "{}", e.message);
        }
        let mut no_names = request(None);
        no_names.resource_names.clear();
        assert!(parse(no_names).is_err());
    }
}
