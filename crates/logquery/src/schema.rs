//! The fields of `LogEntry` and of its typed messages, as the query language
//! sees them (<https://cloud.google.com/logging/docs/view/logging-query-language#missing-fields>):
//! a path into a typed message names a known field, which has a default value
//! when absent (`""`, `0`, `false`, `"0s"`); a path into a free-form field
//! (`jsonPayload`, `protoPayload`, `labels`, `resource.labels`) may name
//! anything and may be missing; any other path is an error before the query
//! runs. Paths are checked (and snake_case names mapped to the JSON names) at
//! parse time, so evaluation only looks the kind up.

use std::sync::LazyLock;

use serde_json::Value;

/// What a checked field path reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A string field of a typed message; `""` when absent.
    Text,
    /// An integer field of a typed message; `0` when absent.
    Integer,
    /// A boolean field of a typed message; `false` when absent.
    Boolean,
    /// A `google.protobuf.Duration` (`httpRequest.latency`); `"0s"` when absent.
    Duration,
    /// `timestamp` and `receiveTimestamp`: compared as instants, no default.
    Timestamp,
    /// `severity`: compared by rank, DEFAULT when absent.
    Severity,
    /// A typed message itself (`httpRequest`, `resource`, ...): no default.
    Message,
    /// Inside (or the root of) a free-form field: missing when absent.
    FreeForm,
}

impl FieldKind {
    /// The value an absent field of this kind compares as, if it has one.
    pub(crate) fn default_value(self) -> Option<&'static Value> {
        static TEXT: Value = Value::String(String::new());
        static INTEGER: LazyLock<Value> = LazyLock::new(|| Value::from(0));
        static BOOLEAN: Value = Value::Bool(false);
        static DURATION: LazyLock<Value> = LazyLock::new(|| Value::from("0s"));
        match self {
            FieldKind::Text => Some(&TEXT),
            FieldKind::Integer => Some(&INTEGER),
            FieldKind::Boolean => Some(&BOOLEAN),
            FieldKind::Duration => Some(&DURATION),
            FieldKind::Timestamp
            | FieldKind::Severity
            | FieldKind::Message
            | FieldKind::FreeForm => None,
        }
    }
}

/// One field of a typed message: its JSON name, its proto (snake_case) name,
/// and what it holds.
type Field = (&'static str, &'static str, Shape);

#[derive(Clone, Copy)]
enum Shape {
    Leaf(FieldKind),
    Message(&'static str, &'static [Field]),
    FreeForm,
}

const LOG_ENTRY: &[Field] = &[
    ("logName", "log_name", Shape::Leaf(FieldKind::Text)),
    (
        "resource",
        "resource",
        Shape::Message("MonitoredResource", MONITORED_RESOURCE),
    ),
    ("protoPayload", "proto_payload", Shape::FreeForm),
    ("textPayload", "text_payload", Shape::Leaf(FieldKind::Text)),
    ("jsonPayload", "json_payload", Shape::FreeForm),
    ("timestamp", "timestamp", Shape::Leaf(FieldKind::Timestamp)),
    (
        "receiveTimestamp",
        "receive_timestamp",
        Shape::Leaf(FieldKind::Timestamp),
    ),
    ("severity", "severity", Shape::Leaf(FieldKind::Severity)),
    ("insertId", "insert_id", Shape::Leaf(FieldKind::Text)),
    (
        "httpRequest",
        "http_request",
        Shape::Message("HttpRequest", HTTP_REQUEST),
    ),
    ("labels", "labels", Shape::FreeForm),
    (
        "operation",
        "operation",
        Shape::Message("LogEntryOperation", OPERATION),
    ),
    ("trace", "trace", Shape::Leaf(FieldKind::Text)),
    ("spanId", "span_id", Shape::Leaf(FieldKind::Text)),
    (
        "traceSampled",
        "trace_sampled",
        Shape::Leaf(FieldKind::Boolean),
    ),
    (
        "sourceLocation",
        "source_location",
        Shape::Message("LogEntrySourceLocation", SOURCE_LOCATION),
    ),
    ("split", "split", Shape::Message("LogSplit", SPLIT)),
    (
        "errorGroups",
        "error_groups",
        Shape::Message("LogErrorGroup", ERROR_GROUP),
    ),
    // The App Hub messages are deep and rarely queried: their contents are
    // left free-form rather than mirrored here.
    ("apphub", "apphub", Shape::FreeForm),
    ("apphubDestination", "apphub_destination", Shape::FreeForm),
    ("apphubSource", "apphub_source", Shape::FreeForm),
];

const MONITORED_RESOURCE: &[Field] = &[
    ("type", "type", Shape::Leaf(FieldKind::Text)),
    ("labels", "labels", Shape::FreeForm),
];

const HTTP_REQUEST: &[Field] = &[
    (
        "requestMethod",
        "request_method",
        Shape::Leaf(FieldKind::Text),
    ),
    ("requestUrl", "request_url", Shape::Leaf(FieldKind::Text)),
    (
        "requestSize",
        "request_size",
        Shape::Leaf(FieldKind::Integer),
    ),
    ("status", "status", Shape::Leaf(FieldKind::Integer)),
    (
        "responseSize",
        "response_size",
        Shape::Leaf(FieldKind::Integer),
    ),
    ("userAgent", "user_agent", Shape::Leaf(FieldKind::Text)),
    ("remoteIp", "remote_ip", Shape::Leaf(FieldKind::Text)),
    ("serverIp", "server_ip", Shape::Leaf(FieldKind::Text)),
    ("referer", "referer", Shape::Leaf(FieldKind::Text)),
    ("latency", "latency", Shape::Leaf(FieldKind::Duration)),
    (
        "cacheLookup",
        "cache_lookup",
        Shape::Leaf(FieldKind::Boolean),
    ),
    ("cacheHit", "cache_hit", Shape::Leaf(FieldKind::Boolean)),
    (
        "cacheValidatedWithOriginServer",
        "cache_validated_with_origin_server",
        Shape::Leaf(FieldKind::Boolean),
    ),
    (
        "cacheFillBytes",
        "cache_fill_bytes",
        Shape::Leaf(FieldKind::Integer),
    ),
    ("protocol", "protocol", Shape::Leaf(FieldKind::Text)),
];

const OPERATION: &[Field] = &[
    ("id", "id", Shape::Leaf(FieldKind::Text)),
    ("producer", "producer", Shape::Leaf(FieldKind::Text)),
    ("first", "first", Shape::Leaf(FieldKind::Boolean)),
    ("last", "last", Shape::Leaf(FieldKind::Boolean)),
];

const SOURCE_LOCATION: &[Field] = &[
    ("file", "file", Shape::Leaf(FieldKind::Text)),
    ("line", "line", Shape::Leaf(FieldKind::Integer)),
    ("function", "function", Shape::Leaf(FieldKind::Text)),
];

const SPLIT: &[Field] = &[
    ("uid", "uid", Shape::Leaf(FieldKind::Text)),
    ("index", "index", Shape::Leaf(FieldKind::Integer)),
    (
        "totalSplits",
        "total_splits",
        Shape::Leaf(FieldKind::Integer),
    ),
];

const ERROR_GROUP: &[Field] = &[("id", "id", Shape::Leaf(FieldKind::Text))];

/// Why a path names no field: the index of the offending segment and what
/// was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownField {
    pub segment: usize,
    pub expected: String,
}

/// Checks `segments` against the schema, rewriting proto (snake_case) names
/// to their JSON names, and returns what the path reaches.
pub(crate) fn check(segments: &mut [String]) -> Result<FieldKind, UnknownField> {
    let mut fields = LOG_ENTRY;
    let mut message = "LogEntry";
    for i in 0..segments.len() {
        let found = fields
            .iter()
            .find(|(json, proto, _)| segments[i] == *json || segments[i] == *proto);
        let Some((json, _, shape)) = found else {
            return Err(UnknownField {
                segment: i,
                expected: format!("a field of {message}"),
            });
        };
        segments[i] = (*json).to_string();
        match shape {
            Shape::FreeForm => return Ok(FieldKind::FreeForm),
            Shape::Leaf(kind) if i + 1 == segments.len() => return Ok(*kind),
            Shape::Leaf(_) => {
                return Err(UnknownField {
                    segment: i + 1,
                    expected: format!("no field after '{json}', which is not a message"),
                });
            }
            Shape::Message(name, inner) => {
                fields = inner;
                message = name;
            }
        }
    }
    Ok(FieldKind::Message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(path: &str) -> Result<FieldKind, UnknownField> {
        let mut segments: Vec<String> = path.split('.').map(str::to_string).collect();
        check(&mut segments)
    }

    #[test]
    fn typed_free_form_and_unknown_paths() {
        assert_eq!(kind("trace"), Ok(FieldKind::Text));
        assert_eq!(kind("httpRequest.latency"), Ok(FieldKind::Duration));
        assert_eq!(kind("http_request.cache_hit"), Ok(FieldKind::Boolean));
        assert_eq!(kind("resource.labels.zone"), Ok(FieldKind::FreeForm));
        assert_eq!(kind("jsonPayload"), Ok(FieldKind::FreeForm));
        assert_eq!(kind("httpRequest"), Ok(FieldKind::Message));
        assert_eq!(kind("thud").unwrap_err().segment, 0);
        assert_eq!(kind("operation.thud").unwrap_err().segment, 1);
        assert_eq!(kind("textPayload.thud").unwrap_err().segment, 1);
    }

    #[test]
    fn proto_names_become_json_names() {
        let mut segments = vec!["http_request".to_string(), "remote_ip".to_string()];
        check(&mut segments).unwrap();
        assert_eq!(segments, ["httpRequest", "remoteIp"]);
    }
}
