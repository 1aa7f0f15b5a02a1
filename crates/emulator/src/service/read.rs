//! Reading back: `ListLogEntries` (filter, order, keyset paging with an opaque token),
//! `ListLogs` and `DeleteLog`.

use gcloud_logging::wire::{ListLogEntriesRequest, RpcCode};
use serde_json::Value;

use super::{AppState, Error, blocking, check_parent, hex, page_size, unhex};
use crate::store::{Cursor, ListQuery};

/// One page of `ListLogEntries`: entries as stored (canonical LogEntry JSON).
#[derive(Debug, Default)]
pub(crate) struct EntriesPage {
    pub(crate) entries: Vec<Value>,
    pub(crate) next_page_token: Option<String>,
}

pub(crate) async fn list_entries(
    state: &AppState,
    request: ListLogEntriesRequest,
) -> Result<EntriesPage, Error> {
    if request.resource_names.is_empty() {
        return Err(Error::invalid(
            "resourceNames: at least one resource name (projects/PROJECT_ID) is required",
        ));
    }
    for name in &request.resource_names {
        check_parent("resourceNames", name)?;
    }
    let query = logquery::parse(request.filter.as_deref().unwrap_or(""))
        .map_err(|e| Error::invalid(format!("filter: {e}")))?;
    let order: Vec<&str> = request
        .order_by
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let descending = match order[..] {
        [] | ["timestamp"] | ["timestamp", "asc"] => false,
        ["timestamp", "desc"] => true,
        _ => {
            return Err(Error::invalid(format!(
                "orderBy: {:?} is not supported; use \"timestamp asc\" or \"timestamp desc\"",
                request.order_by.unwrap_or_default()
            )));
        }
    };
    let page_size = page_size(request.page_size.unwrap_or(0))?;
    let after = match request.page_token.as_deref() {
        None | Some("") => None,
        Some(token) => Some(
            decode_token(token).ok_or_else(|| Error::invalid("pageToken: invalid page token"))?,
        ),
    };
    let list = ListQuery {
        parents: request.resource_names,
        query,
        narrow: true,
        descending,
        page_size,
        after,
    };
    let store = state.store.clone();
    let page = blocking(move || store.list(&list)).await?;
    Ok(EntriesPage {
        entries: page.entries,
        next_page_token: page.next.as_ref().map(encode_token),
    })
}

/// `ListLogs` of `parent`: log names in order, with a token when the page is full.
pub(crate) async fn list_logs(
    state: &AppState,
    parent: String,
    size: i32,
    token: &str,
) -> Result<(Vec<String>, Option<String>), Error> {
    check_parent("parent", &parent)?;
    let limit = page_size(size)?;
    let after = match token {
        "" => None,
        t => Some(
            unhex(t)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Error::invalid("pageToken: invalid page token"))?,
        ),
    };
    let store = state.store.clone();
    let names = blocking(move || store.log_names(&parent, after.as_deref(), limit)).await?;
    let next = (names.len() == limit)
        .then(|| names.last().map(|last| hex(last.as_bytes())))
        .flatten();
    Ok((names, next))
}

/// `DeleteLog`: every entry of the log goes; a log with no entries is `NOT_FOUND`.
pub(crate) async fn delete_log(state: &AppState, log_name: &str) -> Result<(), Error> {
    let (parent, log_id) = super::write::check_log_name(log_name).map_err(Error::invalid)?;
    let store = state.store.clone();
    let deleted = blocking(move || store.delete_log(&parent, &log_id)).await?;
    if deleted == 0 {
        return Err(Error::new(
            RpcCode::NotFound,
            format!("Log {log_name} does not exist"),
        ));
    }
    Ok(())
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
