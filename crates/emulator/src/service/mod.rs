//! Cloud Logging itself, apart from any protocol: validating and storing writes, listing with the
//! query language, logs, live tail and resource descriptors. The REST handlers (`api`) and the
//! gRPC service (`grpc`) only translate their wire format to these calls and back, so an entry
//! written over one protocol reads back identically over the other, and an error carries the same
//! `google.rpc.Status` code and message on both.

mod descriptors;
mod read;
pub(crate) mod tail;
mod write;

use std::sync::Arc;

use gcloud_logging::WriteLogEntriesPartialErrors;
use gcloud_logging::wire::RpcCode;
use tokio_util::sync::CancellationToken;

use crate::store::{Store, StoreError};

pub(crate) use descriptors::list_descriptors;
pub(crate) use read::{delete_log, list_entries, list_logs};
pub use tail::TailHub;
pub(crate) use write::{nanos_of, request_too_large, write_entries};

/// Largest `pageSize` of every list method; 0 means [`DEFAULT_PAGE_SIZE`].
pub(crate) const MAX_PAGE_SIZE: i32 = 1000;
/// The page size when a request leaves it at 0.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 50;

/// What every request shares, whatever its protocol.
#[derive(Clone)]
pub struct AppState {
    /// The durable store.
    pub store: Arc<Store>,
    /// Announces newly written entries to live-tail subscribers (explorer and gRPC).
    pub tail: TailHub,
    /// Cancelled when the server starts shutting down, so endless streams (live tail) end.
    pub closing: CancellationToken,
}

impl AppState {
    /// State over an opened store.
    pub fn new(store: Store) -> AppState {
        AppState {
            store: Arc::new(store),
            tail: TailHub::new(),
            closing: CancellationToken::new(),
        }
    }
}

/// A failed call: a `google.rpc.Status` code and message, plus the per-entry errors of a
/// rejected write. Each protocol renders it in its own shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Error {
    pub(crate) code: RpcCode,
    pub(crate) message: String,
    pub(crate) partial_errors: Option<WriteLogEntriesPartialErrors>,
}

impl Error {
    pub(crate) fn new(code: RpcCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            partial_errors: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(RpcCode::InvalidArgument, message)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        tracing::error!(error = %e, "store failed");
        Error::new(RpcCode::Internal, format!("storage error: {e}"))
    }
}

/// Runs store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Error> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(Error::new(
            RpcCode::Internal,
            format!("store task failed: {e}"),
        )),
    }
}

/// Checks a resource name entries can live under: `projects/P`, `organizations/O`,
/// `folders/F` or `billingAccounts/B`. `field` names the request field in the error.
pub(crate) fn check_parent(field: &str, name: &str) -> Result<(), Error> {
    let ok = name.split_once('/').is_some_and(|(kind, id)| {
        matches!(
            kind,
            "projects" | "organizations" | "folders" | "billingAccounts"
        ) && !id.is_empty()
            && !id.contains('/')
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{field}: {name:?} is not supported; use projects/PROJECT_ID, \
             organizations/ORGANIZATION_ID, folders/FOLDER_ID or billingAccounts/ACCOUNT_ID"
        )))
    }
}

/// Reads a `pageSize`: 0 (unset) means the default, otherwise 1 to [`MAX_PAGE_SIZE`].
pub(crate) fn page_size(size: i32) -> Result<usize, Error> {
    match size {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n as usize),
        n => Err(Error::invalid(format!(
            "pageSize: {n} is out of range; it must be between 0 and {MAX_PAGE_SIZE}"
        ))),
    }
}

/// Page tokens are the hex of what the next page starts after, so they stay opaque and
/// URL-safe.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
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
    fn parents_are_the_four_kinds_the_api_names() {
        for ok in [
            "projects/a",
            "organizations/1",
            "folders/2",
            "billingAccounts/0A-1",
        ] {
            assert!(check_parent("resourceNames", ok).is_ok(), "{ok}");
        }
        for bad in [
            "projects/",
            "projects/a/b",
            "users/a",
            "a",
            "",
            "projects/p/locations/global/buckets/_Default/views/_AllLogs",
        ] {
            let e = check_parent("resourceNames", bad).unwrap_err();
            assert_eq!(e.code, RpcCode::InvalidArgument);
            assert!(e.message.starts_with("resourceNames: "), "{}", e.message);
        }
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(1000).unwrap(), 1000);
        assert!(page_size(1001).is_err());
        assert!(page_size(-1).is_err());
        assert_eq!(unhex(&hex(b"a:b")).unwrap(), b"a:b");
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
