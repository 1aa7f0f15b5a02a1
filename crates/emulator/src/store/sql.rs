//! The SQL that picks a listing's candidate rows: the index to walk and the conditions the
//! filter's narrowing becomes over the extracted columns.

use logquery::Narrowing;
use rusqlite::types::Value as SqlValue;

/// The index to scan: one already in (timestamp, insertId) order for the rows asked for, so a
/// page stops after `page_size` matches instead of sorting every candidate first. SQLite's
/// planner cannot know the scan stops early and would otherwise pick another index and sort
/// all its rows. One log or one resource type has its own index; everything else (severity
/// among them) is checked on the rows of the time-ordered scan: each index costs every write
/// a B-tree insert, and two fewer made ingest half again as fast.
pub(super) fn ordered_index(narrowing: Option<&Narrowing>) -> &'static str {
    let single = |set: &Option<Vec<String>>| set.as_ref().is_some_and(|v| v.len() == 1);
    match narrowing {
        Some(n) if single(&n.log_ids) => "entries_log_id",
        Some(n) if single(&n.resource_types) => "entries_resource",
        _ => "entries_dedup",
    }
}

pub(super) fn push_in(sql: &mut String, args: &mut Vec<SqlValue>, column: &str, values: &[String]) {
    if values.is_empty() {
        sql.push_str(" 0");
        return;
    }
    sql.push_str(column);
    sql.push_str(" IN (");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('?');
        args.push(SqlValue::Text(v.clone()));
    }
    sql.push(')');
}

/// Turns the query's necessary conditions into SQL over the extracted columns.
pub(super) fn push_narrowing(sql: &mut String, args: &mut Vec<SqlValue>, n: &Narrowing) {
    for (column, values) in [
        ("resource_type", &n.resource_types),
        ("log_name", &n.log_names),
        ("log_id", &n.log_ids),
    ] {
        if let Some(values) = values {
            sql.push_str(" AND ");
            push_in(sql, args, column, values);
        }
    }
    if let Some(from) = n.timestamp_from {
        let op = if from.inclusive { ">=" } else { ">" };
        sql.push_str(&format!(" AND timestamp_nanos {op} ?"));
        args.push(SqlValue::Integer(clamp_nanos(from.nanos)));
    }
    if let Some(to) = n.timestamp_to {
        let op = if to.inclusive { "<=" } else { "<" };
        sql.push_str(&format!(" AND timestamp_nanos {op} ?"));
        args.push(SqlValue::Integer(clamp_nanos(to.nanos)));
    }
    if let Some(min) = n.min_severity {
        sql.push_str(" AND severity >= ?");
        args.push(SqlValue::Integer(min));
    }
    if let Some(max) = n.max_severity {
        sql.push_str(" AND severity <= ?");
        args.push(SqlValue::Integer(max));
    }
}

/// Bounds far outside i64 nanoseconds (years beyond 2262) clamp; stored timestamps fit.
fn clamp_nanos(n: i128) -> i64 {
    n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}
