//! Live tail: `GET /ui/api/tail?filter=…&minSeverity=…&resourceNames=…` answers with
//! server-sent events, one `entry` event per newly written entry that matches. The write path
//! announces entries on a broadcast channel after they are durable; a subscriber too slow to
//! keep up gets a `lagged` event saying how many it missed instead of stalling writers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{UiError, check_parents, min_severity, parse_filter, secure};
use crate::api::AppState;
use crate::store::StoredEntry;

/// Entries buffered per subscriber before it is told it lagged.
const TAIL_CAPACITY: usize = 4096;

/// One written entry, as announced to subscribers.
#[derive(Debug)]
struct Announced {
    parent: String,
    severity: i64,
    entry: Value,
}

/// The broadcast side of live tail, shared by the write path and the tail handlers.
#[derive(Clone)]
pub struct TailHub {
    sender: broadcast::Sender<Arc<Announced>>,
}

impl Default for TailHub {
    fn default() -> Self {
        TailHub::new()
    }
}

impl TailHub {
    /// A hub with no subscribers.
    pub fn new() -> TailHub {
        TailHub {
            sender: broadcast::channel(TAIL_CAPACITY).0,
        }
    }

    /// Tells every subscriber about newly stored entries; costs nothing when nobody tails.
    pub(crate) fn announce<'a>(&self, entries: impl IntoIterator<Item = &'a StoredEntry>) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        for stored in entries {
            let Ok(entry) = serde_json::from_str(&stored.json) else {
                continue;
            };
            // An error only means every subscriber left meanwhile.
            let _ = self.sender.send(Arc::new(Announced {
                parent: stored.parent.clone(),
                severity: stored.severity,
                entry,
            }));
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TailParams {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    min_severity: String,
    /// Comma-separated `projects/P` names; empty means every project.
    #[serde(default)]
    resource_names: String,
}

/// What one subscriber wants.
struct Subscription {
    parents: Vec<String>,
    min_severity: i64,
    query: logquery::Query,
}

impl Subscription {
    fn wants(&self, announced: &Announced) -> bool {
        (self.parents.is_empty() || self.parents.contains(&announced.parent))
            && announced.severity >= self.min_severity
            && self.query.matches(&announced.entry)
    }
}

pub(super) async fn tail(
    State(state): State<AppState>,
    Query(params): Query<TailParams>,
) -> Response {
    let subscription = match subscription(params) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // Subscribe before answering, so an entry written right after the `ready` event is seen.
    let receiver = state.tail.sender.subscribe();
    let events = events(receiver, subscription, state.closing.clone());
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    secure(response)
}

fn subscription(params: TailParams) -> Result<Subscription, UiError> {
    let parents: Vec<String> = params
        .resource_names
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    check_parents(&parents)?;
    Ok(Subscription {
        parents,
        min_severity: min_severity(&params.min_severity)?,
        query: parse_filter(&params.filter)?,
    })
}

/// `ready` first, then one `entry` per match, until the server shuts down.
fn events(
    receiver: broadcast::Receiver<Arc<Announced>>,
    subscription: Subscription,
    closing: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let ready = stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    let entries = stream::unfold(
        (receiver, subscription, closing),
        |(mut receiver, subscription, closing)| async move {
            loop {
                let next = tokio::select! {
                    _ = closing.cancelled() => return None,
                    next = receiver.recv() => next,
                };
                let event = match next {
                    Ok(announced) if subscription.wants(&announced) => {
                        let data = serde_json::to_string(&announced.entry).unwrap_or_default();
                        Event::default().event("entry").data(data)
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        Event::default().event("lagged").data(missed.to_string())
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                return Some((Ok(event), (receiver, subscription, closing)));
            }
        },
    );
    futures_util::StreamExt::chain(ready, entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn stored(parent: &str, severity: i64, json: &str) -> StoredEntry {
        StoredEntry {
            parent: parent.into(),
            log_name: format!("{parent}/logs/app"),
            log_id: "app".into(),
            timestamp_nanos: 0,
            insert_id: "1".into(),
            severity,
            resource_type: "global".into(),
            receive_nanos: 0,
            json: json.into(),
        }
    }

    #[tokio::test]
    async fn only_matching_entries_are_streamed() {
        let hub = TailHub::new();
        let closing = CancellationToken::new();
        let subscription = subscription(TailParams {
            filter: "textPayload:boom".into(),
            min_severity: "ERROR".into(),
            resource_names: "projects/a".into(),
        })
        .unwrap();
        let mut events = Box::pin(events(
            hub.sender.subscribe(),
            subscription,
            closing.clone(),
        ));
        assert!(events.next().await.is_some(), "ready");
        hub.announce(&[
            stored("projects/b", 500, r#"{"textPayload":"boom other project"}"#),
            stored("projects/a", 200, r#"{"textPayload":"boom but info"}"#),
            stored("projects/a", 500, r#"{"textPayload":"quiet"}"#),
            stored("projects/a", 500, r#"{"textPayload":"boom"}"#),
        ]);
        let event = events.next().await.unwrap().unwrap();
        let text = format!("{event:?}");
        assert!(text.contains("boom") && !text.contains("other"), "{text}");
        closing.cancel();
        assert!(events.next().await.is_none(), "stream ends on shutdown");
    }

    #[test]
    fn bad_filters_are_refused_with_their_position() {
        match subscription(TailParams {
            filter: "severity>=".into(),
            min_severity: String::new(),
            resource_names: String::new(),
        }) {
            Err(UiError::Query(e)) => assert_eq!(e.position, 10),
            _ => panic!("expected a query error"),
        }
    }
}
