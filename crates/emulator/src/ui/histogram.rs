//! `POST /ui/api/histogram`: how many entries match the page's filter in each slice of the time
//! range, split by severity, so the page can draw a stacked bar chart without listing entries.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gcloud_logging::Severity;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{UiError, check_parents, min_severity, parse_filter, secure};
use crate::api::AppState;
use crate::store::{HistogramCounts, HistogramQuery};

/// More bars than this would be thinner than a pixel on any screen.
const MAX_BUCKETS: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HistogramRequest {
    /// `projects/P` names; empty means every project.
    #[serde(default)]
    resource_names: Vec<String>,
    /// The query typed in the page (without the time range and severity, sent apart).
    #[serde(default)]
    filter: String,
    /// Lowest severity counted, by name; empty counts all.
    #[serde(default)]
    min_severity: String,
    /// Range start, RFC 3339.
    start: String,
    /// Range end (exclusive), RFC 3339.
    end: String,
    /// How many bars.
    buckets: usize,
}

pub(super) async fn histogram(
    State(state): State<AppState>,
    Json(request): Json<HistogramRequest>,
) -> Response {
    match count(state, request).await {
        Ok(body) => secure(Json(body).into_response()),
        Err(e) => e.into_response(),
    }
}

async fn count(state: AppState, request: HistogramRequest) -> Result<Value, UiError> {
    let query = parse_filter(&request.filter)?;
    let min_severity = min_severity(&request.min_severity)?;
    check_parents(&request.resource_names)?;
    let time = |name: &str, text: &str| {
        logquery::time::parse_timestamp(text)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| UiError::invalid(format!("{name}: {text:?} is not an RFC 3339 time")))
    };
    let start_nanos = time("start", &request.start)?;
    let end_nanos = time("end", &request.end)?;
    if end_nanos <= start_nanos {
        return Err(UiError::invalid("end: must be after start"));
    }
    if !(1..=MAX_BUCKETS).contains(&request.buckets) {
        return Err(UiError::invalid(format!(
            "buckets: must be between 1 and {MAX_BUCKETS}"
        )));
    }
    let store = state.store.clone();
    let resource_names = request.resource_names;
    let buckets = request.buckets;
    let counts = tokio::task::spawn_blocking(move || {
        let parents = if resource_names.is_empty() {
            store.parents()?
        } else {
            resource_names
        };
        store.histogram(&HistogramQuery {
            parents,
            query,
            min_severity,
            start_nanos,
            end_nanos,
            buckets,
        })
    })
    .await
    .map_err(|e| UiError::internal(e.to_string()))?
    .map_err(|e| UiError::internal(e.to_string()))?;
    Ok(to_json(start_nanos, &counts))
}

/// `{startMillis, bucketMillis, total, truncated, buckets: [{startMillis, counts: {ERROR: n}}]}`.
fn to_json(start_nanos: i64, counts: &HistogramCounts) -> Value {
    let millis = |nanos: i64| nanos as f64 / 1e6;
    let mut total = 0;
    let buckets: Vec<Value> = counts
        .counts
        .iter()
        .enumerate()
        .map(|(i, by_severity)| {
            let mut named = Map::new();
            for &(rank, n) in by_severity {
                total += n;
                let name = Severity::from_rank(rank)
                    .unwrap_or_else(|| Severity::from_number(rank))
                    .as_str();
                let before = named.get(name).and_then(Value::as_u64).unwrap_or(0);
                named.insert(name.to_string(), json!(before + n));
            }
            json!({
                "startMillis": millis(start_nanos + counts.width_nanos * i as i64),
                "counts": named,
            })
        })
        .collect();
    json!({
        "startMillis": millis(start_nanos),
        "bucketMillis": millis(counts.width_nanos),
        "total": total,
        "truncated": counts.truncated,
        "buckets": buckets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_named_by_severity_and_totalled() {
        let counts = HistogramCounts {
            width_nanos: 1_000_000_000,
            counts: vec![vec![(500, 2), (0, 1)], vec![], vec![(450, 4)]],
            truncated: false,
        };
        let out = to_json(0, &counts);
        assert_eq!(out["total"], 7);
        assert_eq!(out["bucketMillis"], 1000.0);
        assert_eq!(
            out["buckets"][0]["counts"],
            json!({"ERROR": 2, "DEFAULT": 1})
        );
        assert_eq!(out["buckets"][2]["counts"], json!({"WARNING": 4}));
        assert_eq!(out["buckets"][2]["startMillis"], 2000.0);
    }
}
