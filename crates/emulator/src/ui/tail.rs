//! The explorer's live tail: `GET /ui/api/tail?filter=…&minSeverity=…&resourceNames=…` answers
//! with server-sent events, one `entry` event per newly written entry that matches (from the
//! service's tail hub); a page too slow to keep up gets a `lagged` event saying how many it
//! missed instead of stalling writers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{UiError, check_parents, min_severity, parse_filter, secure};
use crate::api::AppState;
use crate::service::tail::{Announced, Subscription};

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

pub(super) async fn tail(
    State(state): State<AppState>,
    Query(params): Query<TailParams>,
) -> Response {
    let subscription = match subscription(params) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // Subscribe before answering, so an entry written right after the `ready` event is seen.
    let receiver = state.tail.subscribe();
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
    Ok(Subscription::new(
        parents,
        min_severity(&params.min_severity)?,
        parse_filter(&params.filter)?,
    ))
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
    use crate::service::TailHub;
    use crate::store::StoredEntry;
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
            text_keys: Vec::new(),
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
        let mut events = Box::pin(events(hub.subscribe(), subscription, closing.clone()));
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
