//! Evaluates a parsed filter against one LogEntry in its REST JSON shape.
//!
//! Rules that are easy to get wrong, all from the Cloud Logging docs:
//! - A field of `LogEntry` or of its typed messages (`trace`, `httpRequest.status`,
//!   `operation.first`, ...) is *defaulted*: when absent it compares as its
//!   default (`""`, `0`, `false`, `"0s"`), so `trace!="x"` holds on an entry
//!   without a trace. `:*` still asks whether the field is present.
//! - A comparison on a missing free-form field (`jsonPayload.*`, `labels.*`,
//!   `resource.labels.*`, `protoPayload.*`) is false, whatever the operator:
//!   so `f!="x"` and `f!~"x"` are false when `f` is missing, while
//!   `NOT f="x"` is true (NOT simply inverts the comparison).
//! - `httpRequest.latency` compares by length (`"1s"` = `"1000ms"`), and
//!   booleans match `true`/`false` in any letter case.
//! - A path through an array fans out: `f OP v` holds if any element does.
//!   `!=` and `!~` are the exception: they hold when the field is present and
//!   no element equals / matches (they mean "present and not `=`").
//! - `severity` compares by rank; a missing severity is DEFAULT (proto3 omits
//!   the zero value from JSON, so an entry without one *is* DEFAULT).
//! - `timestamp`/`receiveTimestamp`, and any `*timestamp*` field when both
//!   sides parse as RFC 3339, compare as instants.
//! - Otherwise both sides compare as numbers when both parse as numbers, else
//!   as strings (`=` exact and case-sensitive, `:` case-insensitive substring).

use std::cmp::Ordering;

use serde_json::Value;

use crate::ast::{
    CompareOp, Comparison, Expr, FieldPath, Literal, TextLiteral, parse_number, severity_rank,
};
use crate::functions;
use crate::schema::FieldKind;
use crate::time::{parse_duration, parse_timestamp};

/// Whether `entry` satisfies `expr`.
pub(crate) fn eval(expr: &Expr, entry: &Value) -> bool {
    match expr {
        Expr::And(items) => items.iter().all(|e| eval(e, entry)),
        Expr::Or(items) => items.iter().any(|e| eval(e, entry)),
        Expr::Not(inner) => !eval(inner, entry),
        Expr::Compare(cmp) => compare(cmp, entry),
        Expr::Exists(path) => !resolve(entry, path).is_empty(),
        Expr::Global(text) => contains_text(entry, &text.to_lowercase()),
        Expr::Function(function) => functions::eval(function, entry),
    }
}

/// The values a path reaches, with arrays flattened (an empty array reaches
/// nothing, like an unset repeated field).
pub(crate) fn resolve<'a>(entry: &'a Value, path: &FieldPath) -> Vec<&'a Value> {
    let mut current = vec![entry];
    for segment in &path.segments {
        let mut next = Vec::new();
        for value in current {
            let mut objects = Vec::new();
            flatten(value, &mut objects);
            next.extend(objects.into_iter().filter_map(|v| v.get(segment.as_str())));
        }
        current = next;
    }
    let mut out = Vec::new();
    for value in current {
        flatten(value, &mut out);
    }
    out
}

/// The values a comparison sees at `path`: those [`resolve`] reaches, or the
/// field's default when it is a typed field that is absent.
pub(crate) fn field_values<'a>(entry: &'a Value, path: &FieldPath) -> Vec<&'a Value> {
    let values = resolve(entry, path);
    match path.kind.default_value() {
        Some(default) if values.is_empty() => vec![default],
        _ => values,
    }
}

fn flatten<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        other => out.push(other),
    }
}

fn compare(cmp: &Comparison, entry: &Value) -> bool {
    if let Literal::Text(lit) = &cmp.value
        && cmp.path.is(&["severity"])
    {
        return compare_severity(cmp.op, lit, entry);
    }
    let values = field_values(entry, &cmp.path);
    if values.is_empty() {
        return false;
    }
    match cmp.op {
        CompareOp::Ne => !values
            .iter()
            .any(|v| compare_one(CompareOp::Eq, &cmp.value, &cmp.path, v)),
        CompareOp::NotMatches => !values
            .iter()
            .any(|v| compare_one(CompareOp::Matches, &cmp.value, &cmp.path, v)),
        op => values
            .iter()
            .any(|v| compare_one(op, &cmp.value, &cmp.path, v)),
    }
}

/// The rank of an entry's severity; missing or unknown is DEFAULT (0).
pub(crate) fn entry_severity(entry: &Value) -> i64 {
    match entry.get("severity") {
        Some(Value::String(s)) => severity_rank(s).unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn compare_severity(op: CompareOp, lit: &TextLiteral, entry: &Value) -> bool {
    let rank = entry_severity(entry);
    let Some(want) = lit.severity else {
        return false;
    };
    match op {
        CompareOp::Eq | CompareOp::Has => rank == want,
        CompareOp::Ne => rank != want,
        CompareOp::Lt => rank < want,
        CompareOp::Le => rank <= want,
        CompareOp::Gt => rank > want,
        CompareOp::Ge => rank >= want,
        // Regexes are `Literal::Regex` and never reach here.
        CompareOp::Matches | CompareOp::NotMatches => false,
    }
}

/// One positive comparison (`=`, `<`..`>=`, `:`, `=~`) against one value.
fn compare_one(op: CompareOp, literal: &Literal, path: &FieldPath, value: &Value) -> bool {
    match literal {
        Literal::Null => op == CompareOp::Eq && value.is_null(),
        Literal::Regex(regex) => {
            op == CompareOp::Matches && scalar_text(value).is_some_and(|s| regex.is_match(&s))
        }
        Literal::Text(lit) => {
            if op == CompareOp::Has {
                return contains_text(value, &lit.text.to_lowercase());
            }
            let ordering = if let Some(want) = lit.instant.filter(|_| path.is_time_like()) {
                let got = value.as_str().and_then(parse_timestamp);
                match got {
                    Some(got) => Some(got.cmp(&want)),
                    None if path.is_entry_time() => None,
                    None => order_generic(value, lit),
                }
            } else if let Some(want) = lit.duration.filter(|_| path.kind == FieldKind::Duration) {
                match value.as_str().and_then(parse_duration) {
                    Some(got) => Some(got.cmp(&want)),
                    None => order_generic(value, lit),
                }
            } else {
                order_generic(value, lit)
            };
            ordering.is_some_and(|o| op_accepts(op, o))
        }
    }
}

fn op_accepts(op: CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Has | CompareOp::Matches | CompareOp::NotMatches => false,
    }
}

/// Booleans when the value is one (the literal in any letter case), numbers
/// when both sides are numbers, else strings; objects, arrays and nulls are
/// not ordered against text.
fn order_generic(value: &Value, lit: &TextLiteral) -> Option<Ordering> {
    if let (Value::Bool(got), Some(want)) = (value, lit.boolean) {
        return Some(got.cmp(&want));
    }
    if let Some(want) = lit.number {
        let got = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => parse_number(s),
            _ => None,
        };
        if let Some(got) = got {
            return got.partial_cmp(&want);
        }
    }
    scalar_text(value).map(|s| s.as_str().cmp(lit.text.as_str()))
}

/// The text of a string, number or boolean.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether any string, number or boolean leaf under `value` contains
/// `needle_lower` case-insensitively.
pub(crate) fn contains_text(value: &Value, needle_lower: &str) -> bool {
    any_leaf(value, &mut |leaf| {
        leaf.to_lowercase().contains(needle_lower)
    })
}

/// Calls `test` on the text of every scalar leaf until one returns true.
pub(crate) fn any_leaf(value: &Value, test: &mut dyn FnMut(&str) -> bool) -> bool {
    match value {
        Value::Object(map) => map.values().any(|v| any_leaf(v, test)),
        Value::Array(items) => items.iter().any(|v| any_leaf(v, test)),
        Value::Null => false,
        scalar => scalar_text(scalar).is_some_and(|s| test(&s)),
    }
}
