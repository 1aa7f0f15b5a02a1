//! `POST /v2/entries:write`: decode the JSON body (gzip too) and hand its entries to the
//! service. An entry that is not a valid LogEntry is rejected by index, like any other invalid
//! entry, so `partialSuccess` still writes the others.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gcloud_logging::{LogEntry, MAX_REQUEST_BYTES, WriteLogEntriesRequest};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{ApiError, AppState};
use crate::service;

pub(super) async fn write_entries(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = decode_body(&headers, body)?;
    let invalid =
        |e: serde_json::Error| ApiError::invalid(format!("Invalid JSON payload received. {e}"));
    let parts: Body<'_> = match serde_json::from_slice(&body) {
        Ok(parts) => parts,
        // Whether the body is JSON at all, or JSON of the wrong shape.
        Err(e) if e.is_data() => {
            return Err(ApiError::invalid("the request body must be a JSON object"));
        }
        Err(e) => return Err(invalid(e)),
    };
    let entries: Vec<&RawValue> = match parts.entries.map(RawValue::get) {
        None | Some("null") => Vec::new(),
        Some(list) if list.starts_with('[') => serde_json::from_str(list).map_err(invalid)?,
        Some(_) => return Err(ApiError::invalid("entries: must be a list of LogEntry")),
    };
    let request: WriteLogEntriesRequest =
        serde_json::from_value(Value::Object(parts.rest)).map_err(invalid)?;
    let entries = entries
        .into_iter()
        .map(|raw| {
            serde_json::from_str::<LogEntry>(raw.get())
                .map_err(|e| format!("Invalid LogEntry: {e}"))
                .and_then(crate::convert::entry_to_proto)
        })
        .collect();
    service::write_entries(&state, request, entries).await?;
    Ok(axum::Json(serde_json::json!({})).into_response())
}

/// A write request's body in one pass: its entries as their JSON text, each decoded on its
/// own (so one bad entry is rejected by index), and its other fields, few and small.
struct Body<'a> {
    entries: Option<&'a RawValue>,
    rest: Map<String, Value>,
}

impl<'de> Deserialize<'de> for Body<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Body<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a WriteLogEntriesRequest object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body<'de>, A::Error> {
                let mut body = Body {
                    entries: None,
                    rest: Map::new(),
                };
                while let Some(key) = map.next_key::<String>()? {
                    if key == "entries" {
                        body.entries = Some(map.next_value()?);
                    } else {
                        body.rest.insert(key, map.next_value()?);
                    }
                }
                Ok(body)
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// Undoes `Content-Encoding: gzip` and enforces the request size limit (on the decoded body).
fn decode_body(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ApiError> {
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let body = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .take(MAX_REQUEST_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| ApiError::invalid(format!("cannot decode the gzip request body: {e}")))?;
        Bytes::from(out)
    } else {
        body
    };
    if body.len() > MAX_REQUEST_BYTES {
        return Err(service::request_too_large().into());
    }
    Ok(body)
}
