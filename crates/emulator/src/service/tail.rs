//! Live tail, shared by the explorer's server-sent events and gRPC `TailLogEntries`: the write
//! path announces entries on a broadcast channel once they are durable; each subscriber keeps
//! what its [`Subscription`] wants. A subscriber too slow to keep up is told how many
//! announcements it missed instead of stalling writers.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use super::{Error, check_parent};
use crate::store::StoredEntry;

/// Entries buffered per subscriber before it is told it lagged.
const TAIL_CAPACITY: usize = 4096;

/// One written entry, as announced to subscribers.
#[derive(Debug)]
pub(crate) struct Announced {
    pub(crate) parent: String,
    pub(crate) severity: i64,
    pub(crate) timestamp_nanos: i64,
    pub(crate) entry: Value,
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
                timestamp_nanos: stored.timestamp_nanos,
                entry,
            }));
        }
    }

    /// Starts receiving announcements from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Announced>> {
        self.sender.subscribe()
    }
}

/// What one subscriber wants.
#[derive(Debug)]
pub(crate) struct Subscription {
    parents: Vec<String>,
    min_severity: i64,
    query: logquery::Query,
}

impl Subscription {
    /// Entries under any of `parents` (every parent when empty), of at least `min_severity`,
    /// matching `query`.
    pub(crate) fn new(
        parents: Vec<String>,
        min_severity: i64,
        query: logquery::Query,
    ) -> Subscription {
        Subscription {
            parents,
            min_severity,
            query,
        }
    }

    /// Like [`Subscription::new`], checking the parents and parsing `filter` as
    /// `ListLogEntries` does.
    pub(crate) fn parse(parents: Vec<String>, filter: &str) -> Result<Subscription, Error> {
        for parent in &parents {
            check_parent("resourceNames", parent)?;
        }
        let query = logquery::parse(filter).map_err(|e| Error::invalid(format!("filter: {e}")))?;
        Ok(Subscription::new(parents, 0, query))
    }

    pub(crate) fn wants(&self, announced: &Announced) -> bool {
        (self.parents.is_empty() || self.parents.contains(&announced.parent))
            && announced.severity >= self.min_severity
            && self.query.matches(&announced.entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    async fn subscribers_keep_what_they_asked_for() {
        let hub = TailHub::new();
        let mut receiver = hub.subscribe();
        let query = logquery::parse("textPayload:boom").unwrap();
        let subscription = Subscription::new(vec!["projects/a".into()], 500, query);
        hub.announce(&[
            stored("projects/b", 500, r#"{"textPayload":"boom other project"}"#),
            stored("projects/a", 200, r#"{"textPayload":"boom but info"}"#),
            stored("projects/a", 500, r#"{"textPayload":"quiet"}"#),
            stored("projects/a", 500, r#"{"textPayload":"boom"}"#),
        ]);
        let mut kept = Vec::new();
        for _ in 0..4 {
            let announced = receiver.recv().await.unwrap();
            if subscription.wants(&announced) {
                kept.push(announced.entry["textPayload"].clone());
            }
        }
        assert_eq!(kept, ["boom"]);
    }

    #[test]
    fn bad_filters_and_parents_are_refused() {
        let e = Subscription::parse(vec![], "severity>=").unwrap_err();
        assert!(e.message.starts_with("filter: "), "{}", e.message);
        let e = Subscription::parse(vec!["users/x".into()], "").unwrap_err();
        assert!(e.message.starts_with("resourceNames: "), "{}", e.message);
    }
}
