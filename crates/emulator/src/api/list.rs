//! Reading back over REST: `entries:list`, `logs.list`, `logs.delete` and
//! `monitoredResourceDescriptors.list`, as JSON around the service's calls.

use axum::Json;
use axum::extract::{Path, Query as UrlQuery, RawQuery, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use gcloud_logging::wire::ListLogEntriesRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, severity_as_number, wants_int_enums};
use crate::service;

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
    let page = service::list_entries(&state, request).await?;
    let mut entries = page.entries;
    if wants_int_enums(raw_query.as_deref()) {
        entries.iter_mut().for_each(severity_as_number);
    }
    let mut out = json!({});
    if !entries.is_empty() {
        out["entries"] = Value::Array(entries);
    }
    if let Some(next) = page.next_page_token {
        out["nextPageToken"] = Value::String(next);
    }
    Ok(Json(out).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageParams {
    #[serde(default, alias = "page_size")]
    page_size: Option<i32>,
    #[serde(default, alias = "page_token")]
    page_token: Option<String>,
}

pub(super) async fn list_logs(
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    UrlQuery(params): UrlQuery<PageParams>,
) -> Result<Response, ApiError> {
    let (names, next) = service::list_logs(
        &state,
        format!("{kind}/{id}"),
        params.page_size.unwrap_or(0),
        params.page_token.as_deref().unwrap_or(""),
    )
    .await?;
    let mut out = json!({ "logNames": names });
    if let Some(next) = next {
        out["nextPageToken"] = Value::String(next);
    }
    Ok(Json(out).into_response())
}

pub(super) async fn delete_log(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Response, ApiError> {
    // The log name as sent, with its LOG_ID still URL-encoded (`a%2Fb`), as gRPC carries it.
    let log_name = uri.path().trim_start_matches("/v2/");
    service::delete_log(&state, log_name).await?;
    Ok(Json(json!({})).into_response())
}

pub(super) async fn list_descriptors(
    UrlQuery(params): UrlQuery<PageParams>,
) -> Result<Response, ApiError> {
    let (page, next) = service::list_descriptors(
        params.page_size.unwrap_or(0),
        params.page_token.as_deref().unwrap_or(""),
    )?;
    let descriptors: Vec<Value> = page
        .iter()
        .map(|d| {
            json!({
                "type": d.r#type,
                "displayName": d.display_name,
                "description": d.description,
                "labels": d.labels.iter().map(|(key, description)| {
                    json!({"key": key, "description": description})
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = json!({ "resourceDescriptors": descriptors });
    if let Some(next) = next {
        out["nextPageToken"] = Value::String(next);
    }
    Ok(Json(out).into_response())
}
