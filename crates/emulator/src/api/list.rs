//! Reading back: `entries:list` (filter, order, keyset paging with an opaque token),
//! `logs.list` and `logs.delete`.

use axum::Json;
use axum::extract::{Path, Query as UrlQuery, RawQuery, State};
use axum::response::{IntoResponse, Response};
use gcloud_logging::wire::ListLogEntriesRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, blocking, severity_as_number, wants_int_enums};
use crate::store::{Cursor, ListQuery};

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: i32 = 1000;

pub(super) async fn list_entries(
    State(state): State<AppState>,
    RawQuery(raw_query): RawQuery,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: ListLogEntriesRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ListLogEntriesRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("Invalid JSON payload received. {e}")))?
    };
    if request.resource_names.is_empty() {
        return Err(ApiError::invalid(
            "resourceNames: at least one resource name (projects/PROJECT_ID) is required",
        ));
    }
    let mut parents = Vec::new();
    for name in &request.resource_names {
        match name.strip_prefix("projects/") {
            Some(p) if !p.is_empty() && !p.contains('/') => parents.push(name.clone()),
            _ => {
                return Err(ApiError::invalid(format!(
                    "resourceNames: {name:?} is not supported; use projects/PROJECT_ID"
                )));
            }
        }
    }
    let query = logquery::parse(request.filter.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::invalid(format!("filter: {e}")))?;
    let descending = match request
        .order_by
        .as_deref()
        .map(|o| o.split_whitespace().collect::<Vec<_>>())
        .as_deref()
    {
        None | Some([]) | Some(["timestamp"]) | Some(["timestamp", "asc"]) => false,
        Some(["timestamp", "desc"]) => true,
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "orderBy: {:?} is not supported; use \"timestamp asc\" or \"timestamp desc\"",
                request.order_by.unwrap_or_default()
            )));
        }
    };
    let page_size = match request.page_size.unwrap_or(0) {
        0 => DEFAULT_PAGE_SIZE,
        n if (1..=MAX_PAGE_SIZE).contains(&n) => n as usize,
        n => {
            return Err(ApiError::invalid(format!(
                "pageSize: {n} is out of range; it must be between 0 and {MAX_PAGE_SIZE}"
            )));
        }
    };
    let after = match request.page_token.as_deref() {
        None | Some("") => None,
        Some(token) => Some(
            decode_token(token)
                .ok_or_else(|| ApiError::invalid("pageToken: invalid page token"))?,
        ),
    };
    let list = ListQuery {
        parents,
        query,
        narrow: true,
        descending,
        page_size,
        after,
    };
    let store = state.store.clone();
    let page = blocking(move || store.list(&list)).await?;
    let mut entries = page.entries;
    if wants_int_enums(raw_query.as_deref()) {
        entries.iter_mut().for_each(severity_as_number);
    }
    let mut out = json!({ "entries": entries });
    if entries_is_empty(&out) {
        out.as_object_mut().map(|o| o.remove("entries"));
    }
    if let Some(next) = page.next {
        out["nextPageToken"] = Value::String(encode_token(&next));
    }
    Ok(Json(out).into_response())
}

fn entries_is_empty(v: &Value) -> bool {
    v["entries"].as_array().is_some_and(Vec::is_empty)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LogsParams {
    #[serde(default, alias = "page_size")]
    page_size: Option<i32>,
    #[serde(default, alias = "page_token")]
    page_token: Option<String>,
}

pub(super) async fn list_logs(
    State(state): State<AppState>,
    Path(project): Path<String>,
    UrlQuery(params): UrlQuery<LogsParams>,
) -> Result<Response, ApiError> {
    let limit = match params.page_size.unwrap_or(0) {
        0 => DEFAULT_PAGE_SIZE,
        n if (1..=MAX_PAGE_SIZE).contains(&n) => n as usize,
        n => {
            return Err(ApiError::invalid(format!(
                "pageSize: {n} is out of range; it must be between 0 and {MAX_PAGE_SIZE}"
            )));
        }
    };
    let after = match params.page_token.as_deref() {
        None | Some("") => None,
        Some(t) => Some(
            String::from_utf8(unhex(t).ok_or_else(|| ApiError::invalid("pageToken: invalid"))?)
                .map_err(|_| ApiError::invalid("pageToken: invalid"))?,
        ),
    };
    let store = state.store.clone();
    let parent = format!("projects/{project}");
    let names = blocking(move || store.log_names(&parent, after.as_deref(), limit)).await?;
    let mut out = json!({ "logNames": names });
    if names.len() == limit
        && let Some(last) = names.last()
    {
        out["nextPageToken"] = Value::String(hex(last.as_bytes()));
    }
    Ok(Json(out).into_response())
}

pub(super) async fn delete_log(
    State(state): State<AppState>,
    Path((project, log)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let parent = format!("projects/{project}");
    let log_id = log.clone();
    let deleted = blocking(move || store.delete_log(&parent, &log_id)).await?;
    if deleted == 0 {
        return Err(ApiError::new(
            gcloud_logging::wire::RpcCode::NotFound,
            format!("Log projects/{project}/logs/{log} does not exist"),
        ));
    }
    Ok(Json(json!({})).into_response())
}

/// The token is the hex of `timestamp_nanos:insertId` of the last row examined.
fn encode_token(c: &Cursor) -> String {
    hex(format!("{}:{}", c.timestamp_nanos, c.insert_id).as_bytes())
}

fn decode_token(token: &str) -> Option<Cursor> {
    let text = String::from_utf8(unhex(token)?).ok()?;
    let (ts, id) = text.split_once(':')?;
    Some(Cursor {
        timestamp_nanos: ts.parse().ok()?,
        insert_id: id.to_string(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let c = Cursor {
            timestamp_nanos: -5,
            insert_id: "a:b".into(),
        };
        assert_eq!(decode_token(&encode_token(&c)), Some(c));
        assert_eq!(decode_token("zz"), None);
        assert_eq!(decode_token("abc"), None);
    }
}
