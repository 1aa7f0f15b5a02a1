//! The `entries:write` request and response bodies.
//!
//! The request's `logName`, `resource` and `labels` are defaults for the entries that leave theirs
//! unset; `partialSuccess` lets the valid entries through when others are rejected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::entry::{LogEntry, MonitoredResource};
use super::is_false;

/// The body of `POST /v2/entries:write`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteLogEntriesRequest {
    /// Default `logName` for entries without one.
    #[serde(default, alias = "log_name", skip_serializing_if = "Option::is_none")]
    pub log_name: Option<String>,
    /// Default resource for entries without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<MonitoredResource>,
    /// Labels added to every entry (an entry's own label of the same key wins).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The entries, in order; error details refer to them by index.
    #[serde(default)]
    pub entries: Vec<LogEntry>,
    /// Write the valid entries even when some are rejected.
    #[serde(default, alias = "partial_success", skip_serializing_if = "is_false")]
    pub partial_success: bool,
    /// Validate only; write nothing.
    #[serde(default, alias = "dry_run", skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

/// The body of a successful `entries:write` answer: an empty object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WriteLogEntriesResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn false_flags_and_empty_labels_are_omitted() {
        let req = WriteLogEntriesRequest::default();
        assert_eq!(serde_json::to_value(&req).unwrap(), json!({"entries": []}));
        let req = WriteLogEntriesRequest {
            partial_success: true,
            ..WriteLogEntriesRequest::default()
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"entries": [], "partialSuccess": true})
        );
    }

    #[test]
    fn snake_case_flags_are_accepted() {
        let req: WriteLogEntriesRequest =
            serde_json::from_str(r#"{"entries":[],"partial_success":true,"dry_run":true}"#)
                .unwrap();
        assert!(req.partial_success && req.dry_run);
        let req: WriteLogEntriesRequest =
            serde_json::from_str(r#"{"partialSuccess":true,"dryRun":true}"#).unwrap();
        assert!(req.partial_success && req.dry_run);
    }

    #[test]
    fn response_is_an_empty_object() {
        assert_eq!(
            serde_json::to_string(&WriteLogEntriesResponse {}).unwrap(),
            "{}"
        );
        let _: WriteLogEntriesResponse = serde_json::from_str("{}").unwrap();
    }
}
