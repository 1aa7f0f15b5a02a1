//! The `entries:list` request and response, and the `logs.list` response: what the CLI's `query`
//! and the emulator's viewer use to read entries back.

use serde::{Deserialize, Serialize};

use super::entry::LogEntry;
use super::int;

/// The body of `POST /v2/entries:list`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListLogEntriesRequest {
    /// Where to search: `projects/P` (or an organization, folder, billing account or log view).
    #[serde(default, alias = "resource_names")]
    pub resource_names: Vec<String>,
    /// A query in the logging query language; empty matches everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `timestamp asc` (the default) or `timestamp desc`.
    #[serde(default, alias = "order_by", skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// The most entries to return in one page.
    #[serde(
        default,
        alias = "page_size",
        with = "int::opt_int32",
        skip_serializing_if = "Option::is_none"
    )]
    pub page_size: Option<i32>,
    /// `nextPageToken` of the previous page, to continue from it.
    #[serde(default, alias = "page_token", skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

/// The answer to `entries:list`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListLogEntriesResponse {
    /// The matching entries of this page.
    #[serde(default)]
    pub entries: Vec<LogEntry>,
    /// Present when more entries may follow.
    #[serde(
        default,
        alias = "next_page_token",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_page_token: Option<String>,
}

/// The answer to `GET /v2/projects/P/logs`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListLogsResponse {
    /// Full log names, `projects/P/logs/<url-encoded log id>`.
    #[serde(default, alias = "log_names")]
    pub log_names: Vec<String>,
    /// Present when more names may follow.
    #[serde(
        default,
        alias = "next_page_token",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_page_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_request_round_trips() {
        let body = json!({
            "resourceNames": ["projects/p"],
            "filter": "severity>=ERROR",
            "orderBy": "timestamp desc",
            "pageSize": 50,
            "pageToken": "t1"
        });
        let req: ListLogEntriesRequest = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(req.page_size, Some(50));
        assert_eq!(serde_json::to_value(&req).unwrap(), body);
        let req: ListLogEntriesRequest =
            serde_json::from_value(json!({"resource_names": ["projects/p"], "page_size": "5"}))
                .unwrap();
        assert_eq!(req.page_size, Some(5));
    }

    #[test]
    fn responses_default_when_empty() {
        let r: ListLogEntriesResponse = serde_json::from_str("{}").unwrap();
        assert!(r.entries.is_empty() && r.next_page_token.is_none());
        let r: ListLogsResponse =
            serde_json::from_str(r#"{"logNames":["projects/p/logs/app.log"],"nextPageToken":"n"}"#)
                .unwrap();
        assert_eq!(r.log_names, ["projects/p/logs/app.log"]);
        assert_eq!(r.next_page_token.as_deref(), Some("n"));
    }
}
