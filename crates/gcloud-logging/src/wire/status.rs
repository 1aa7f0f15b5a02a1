//! Errors as Google APIs return them: the JSON error body, `google.rpc.Status`, the canonical
//! codes, and `WriteLogEntriesPartialErrors`, which says which entries of a write were rejected.
//!
//! A rejected write answers e.g. HTTP 400 with
//! `{"error":{"code":400,"message":"…","status":"INVALID_ARGUMENT","details":[{"@type":
//! "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors","logEntryErrors":{"3":
//! {"code":3,"message":"…"}}}]}}`; the sink dead-letters exactly the listed indexes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::int;

/// `google.rpc.Status`: a canonical code, a message for developers, and typed details.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Status {
    /// A [`RpcCode`] number.
    #[serde(default, with = "int::int32")]
    pub code: i32,
    /// What went wrong, in English.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// `google.protobuf.Any` messages, each with its `@type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Value>,
}

impl Status {
    /// A status with no details.
    pub fn new(code: RpcCode, message: impl Into<String>) -> Status {
        Status {
            code: code as i32,
            message: message.into(),
            details: Vec::new(),
        }
    }
}

/// The canonical error codes of Google APIs (`google.rpc.Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum RpcCode {
    /// Not an error.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// Unknown error.
    Unknown = 2,
    /// The client sent something invalid, whatever the system's state.
    InvalidArgument = 3,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// Something requested was not found.
    NotFound = 5,
    /// What the client tried to create already exists.
    AlreadyExists = 6,
    /// The caller lacks permission.
    PermissionDenied = 7,
    /// A quota or rate limit ran out.
    ResourceExhausted = 8,
    /// The system is not in a state the operation needs.
    FailedPrecondition = 9,
    /// Aborted, typically by a concurrency conflict.
    Aborted = 10,
    /// Past the valid range.
    OutOfRange = 11,
    /// Not implemented or not supported.
    Unimplemented = 12,
    /// An internal invariant broke.
    Internal = 13,
    /// The service is unavailable for now; retry with backoff.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request lacks valid credentials.
    Unauthenticated = 16,
}

impl RpcCode {
    /// Every code, by number.
    pub const ALL: [RpcCode; 17] = [
        RpcCode::Ok,
        RpcCode::Cancelled,
        RpcCode::Unknown,
        RpcCode::InvalidArgument,
        RpcCode::DeadlineExceeded,
        RpcCode::NotFound,
        RpcCode::AlreadyExists,
        RpcCode::PermissionDenied,
        RpcCode::ResourceExhausted,
        RpcCode::FailedPrecondition,
        RpcCode::Aborted,
        RpcCode::OutOfRange,
        RpcCode::Unimplemented,
        RpcCode::Internal,
        RpcCode::Unavailable,
        RpcCode::DataLoss,
        RpcCode::Unauthenticated,
    ];

    /// The code with this number.
    pub fn from_i32(code: i32) -> Option<RpcCode> {
        usize::try_from(code)
            .ok()
            .and_then(|i| RpcCode::ALL.get(i).copied())
    }

    /// The name used in an error body's `status`, e.g. `INVALID_ARGUMENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            RpcCode::Ok => "OK",
            RpcCode::Cancelled => "CANCELLED",
            RpcCode::Unknown => "UNKNOWN",
            RpcCode::InvalidArgument => "INVALID_ARGUMENT",
            RpcCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            RpcCode::NotFound => "NOT_FOUND",
            RpcCode::AlreadyExists => "ALREADY_EXISTS",
            RpcCode::PermissionDenied => "PERMISSION_DENIED",
            RpcCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            RpcCode::FailedPrecondition => "FAILED_PRECONDITION",
            RpcCode::Aborted => "ABORTED",
            RpcCode::OutOfRange => "OUT_OF_RANGE",
            RpcCode::Unimplemented => "UNIMPLEMENTED",
            RpcCode::Internal => "INTERNAL",
            RpcCode::Unavailable => "UNAVAILABLE",
            RpcCode::DataLoss => "DATA_LOSS",
            RpcCode::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The code with this name.
    pub fn from_name(name: &str) -> Option<RpcCode> {
        RpcCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The HTTP status Google's REST front end answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            RpcCode::Ok => 200,
            RpcCode::Cancelled => 499,
            RpcCode::Unknown | RpcCode::Internal | RpcCode::DataLoss => 500,
            RpcCode::InvalidArgument | RpcCode::FailedPrecondition | RpcCode::OutOfRange => 400,
            RpcCode::DeadlineExceeded => 504,
            RpcCode::NotFound => 404,
            RpcCode::AlreadyExists | RpcCode::Aborted => 409,
            RpcCode::PermissionDenied => 403,
            RpcCode::ResourceExhausted => 429,
            RpcCode::Unimplemented => 501,
            RpcCode::Unavailable => 503,
            RpcCode::Unauthenticated => 401,
        }
    }
}

/// The JSON body of a failed REST call: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ApiError,
}

/// The `error` object of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiError {
    /// The HTTP status code, e.g. 400.
    #[serde(default, with = "int::int32")]
    pub code: i32,
    /// What went wrong, in English.
    #[serde(default)]
    pub message: String,
    /// The [`RpcCode`] name, e.g. `INVALID_ARGUMENT`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// `google.protobuf.Any` messages, each with its `@type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Value>,
}

impl ErrorBody {
    /// An error body for `code`, with its HTTP status and name filled in.
    pub fn new(code: RpcCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: ApiError {
                code: i32::from(code.http_status()),
                message: message.into(),
                status: code.as_str().to_owned(),
                details: Vec::new(),
            },
        }
    }

    /// Adds a `WriteLogEntriesPartialErrors` detail.
    pub fn with_partial_errors(mut self, errors: &WriteLogEntriesPartialErrors) -> ErrorBody {
        self.error.details.push(errors.to_detail());
        self
    }

    /// The canonical code named by `status`, if it names one.
    pub fn rpc_code(&self) -> Option<RpcCode> {
        RpcCode::from_name(&self.error.status)
    }

    /// The per-entry errors in `details`, if there are any (several such details are merged).
    pub fn partial_errors(&self) -> Option<WriteLogEntriesPartialErrors> {
        let mut found: Option<WriteLogEntriesPartialErrors> = None;
        for detail in &self.error.details {
            if let Some(errors) = WriteLogEntriesPartialErrors::from_detail(detail) {
                found
                    .get_or_insert_with(Default::default)
                    .log_entry_errors
                    .extend(errors.log_entry_errors);
            }
        }
        found
    }
}

/// `google.logging.v2.WriteLogEntriesPartialErrors`: the status of each rejected entry, keyed by
/// its index in the request's `entries` (a string key on the wire: `{"3": {...}}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteLogEntriesPartialErrors {
    /// Index in the request's `entries` → why that entry was rejected.
    #[serde(default, alias = "log_entry_errors")]
    pub log_entry_errors: BTreeMap<i32, Status>,
}

impl WriteLogEntriesPartialErrors {
    /// The `@type` of this message inside an error's `details`.
    pub const TYPE_URL: &'static str =
        "type.googleapis.com/google.logging.v2.WriteLogEntriesPartialErrors";

    /// This message as a `details` element, `@type` first.
    pub fn to_detail(&self) -> Value {
        let mut detail = serde_json::Map::new();
        detail.insert("@type".to_owned(), Value::String(Self::TYPE_URL.to_owned()));
        let errors = self
            .log_entry_errors
            .iter()
            .map(|(index, status)| {
                (
                    index.to_string(),
                    serde_json::to_value(status).unwrap_or(Value::Null),
                )
            })
            .collect();
        detail.insert("logEntryErrors".to_owned(), Value::Object(errors));
        Value::Object(detail)
    }

    /// Reads a `details` element, if it is one of these.
    pub fn from_detail(detail: &Value) -> Option<WriteLogEntriesPartialErrors> {
        if detail.get("@type")?.as_str()? != Self::TYPE_URL {
            return None;
        }
        WriteLogEntriesPartialErrors::deserialize(detail).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_have_names_numbers_and_http_statuses() {
        for (i, code) in RpcCode::ALL.into_iter().enumerate() {
            assert_eq!(code as usize, i);
            assert_eq!(RpcCode::from_i32(i as i32), Some(code));
            assert_eq!(RpcCode::from_name(code.as_str()), Some(code));
        }
        assert_eq!(RpcCode::from_i32(17), None);
        assert_eq!(RpcCode::from_i32(-1), None);
        assert_eq!(RpcCode::ResourceExhausted.http_status(), 429);
        assert_eq!(RpcCode::Unauthenticated.http_status(), 401);
    }

    #[test]
    fn partial_errors_round_trip_through_an_error_body() {
        let mut errors = WriteLogEntriesPartialErrors::default();
        errors
            .log_entry_errors
            .insert(2, Status::new(RpcCode::InvalidArgument, "bad"));
        errors
            .log_entry_errors
            .insert(10, Status::new(RpcCode::InvalidArgument, "worse"));
        let body = ErrorBody::new(RpcCode::InvalidArgument, "some entries were rejected")
            .with_partial_errors(&errors);
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(
            v,
            json!({"error": {
                "code": 400,
                "message": "some entries were rejected",
                "status": "INVALID_ARGUMENT",
                "details": [{
                    "@type": WriteLogEntriesPartialErrors::TYPE_URL,
                    "logEntryErrors": {"2": {"code": 3, "message": "bad"}, "10": {"code": 3, "message": "worse"}}
                }]
            }})
        );
        let back: ErrorBody = serde_json::from_value(v).unwrap();
        assert_eq!(back.partial_errors(), Some(errors));
        assert_eq!(back.rpc_code(), Some(RpcCode::InvalidArgument));
    }

    #[test]
    fn other_details_are_not_partial_errors() {
        let body: ErrorBody = serde_json::from_value(json!({"error": {
            "code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}]
        }}))
        .unwrap();
        assert_eq!(body.partial_errors(), None);
        assert_eq!(body.rpc_code(), Some(RpcCode::ResourceExhausted));
        let minimal: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":503,"message":"down"}}"#).unwrap();
        assert_eq!(minimal.rpc_code(), None);
    }

    #[test]
    fn bad_index_keys_are_not_partial_errors() {
        let detail = json!({"@type": WriteLogEntriesPartialErrors::TYPE_URL, "logEntryErrors": {"x": {"code": 3}}});
        assert_eq!(WriteLogEntriesPartialErrors::from_detail(&detail), None);
    }
}
