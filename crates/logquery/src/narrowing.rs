//! A conservative summary of a filter that a store can use to pre-select
//! candidate rows (by resource type, log, time range, severity) before running
//! the full evaluator. It is read only from the filter's top-level AND chain,
//! and only from restrictions that *must* hold for an entry to match, so every
//! entry the query matches satisfies the narrowing; extra rows may get through.

use serde_json::Value;

use crate::ast::{CompareOp, Comparison, Expr, FieldPath, Function, Literal};
use crate::eval::{contains_text, entry_severity, field_values, scalar_text};
use crate::functions::log_id_of;
use crate::schema::FieldKind;
use crate::time::{Instant, parse_timestamp};

/// Necessary conditions for a match. `None` means "no restriction".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Narrowing {
    /// `resource.type` must equal one of these.
    pub resource_types: Option<Vec<String>>,
    /// `logName` must equal one of these.
    pub log_names: Option<Vec<String>>,
    /// The URL-decoded log ID (the part of `logName` after `/logs/`) must be one of these.
    pub log_ids: Option<Vec<String>>,
    /// `timestamp` must be at or after (or strictly after) this instant.
    pub timestamp_from: Option<TimeBound>,
    /// `timestamp` must be at or before (or strictly before) this instant.
    pub timestamp_to: Option<TimeBound>,
    /// Lowest severity rank (a missing severity counts as DEFAULT, 0).
    pub min_severity: Option<i64>,
    /// Highest severity rank.
    pub max_severity: Option<i64>,
    /// Lowercased texts one of a match's [searchable leaves](for_each_searchable_leaf)
    /// contains: its bare words and
    /// phrases (but those that could be part of a timestamp), and `:` (has) on
    /// `textPayload`/`jsonPayload`, from the top-level AND chain.
    pub text_contains: Vec<String>,
}

/// Calls `visit` with the text of each leaf a bare word searches: every string, number and
/// boolean leaf of the entry, as it is in the entry (the evaluator lowercases both sides),
/// except the entry's own `timestamp` and `receiveTimestamp` (unique to every entry, so the
/// costliest text to index, and made of [`TIMESTAMP_CHARS`] only). Every text in
/// [`Narrowing::text_contains`] is held within one of these leaves, lowercased, by every entry
/// the filter matches (the evaluator looks for it in one leaf at a time), so an index over
/// them narrows without losing matches; the evaluator still decides.
pub fn for_each_searchable_leaf(entry: &Value, visit: &mut dyn FnMut(&str)) {
    fn walk(value: &Value, visit: &mut dyn FnMut(&str)) {
        match value {
            Value::Object(map) => map.values().for_each(|v| walk(v, visit)),
            Value::Array(items) => items.iter().for_each(|v| walk(v, visit)),
            Value::String(s) => visit(s),
            Value::Null => {}
            scalar => {
                if let Some(text) = scalar_text(scalar) {
                    visit(&text);
                }
            }
        }
    }
    match entry {
        Value::Object(fields) => {
            for (name, value) in fields {
                if name != "timestamp" && name != "receiveTimestamp" {
                    walk(value, visit);
                }
            }
        }
        other => walk(other, visit),
    }
}

/// The characters of an RFC 3339 timestamp, lowercased. A needle made of these alone may be
/// found in the timestamps [`for_each_searchable_leaf`] leaves out, so it does not narrow.
pub const TIMESTAMP_CHARS: &str = "0123456789-:.tz+";

/// Whether `needle` can only be found in the leaves [`for_each_searchable_leaf`] gives.
fn outside_timestamps(needle: &str) -> bool {
    needle.chars().any(|c| !TIMESTAMP_CHARS.contains(c))
}

/// One end of a time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBound {
    /// Nanoseconds since the Unix epoch.
    pub nanos: Instant,
    /// Whether the bound itself is included.
    pub inclusive: bool,
}

impl Narrowing {
    /// Derives the narrowing of a parsed filter (`None`: the empty filter).
    pub(crate) fn of(expr: Option<&Expr>) -> Narrowing {
        let mut narrowing = Narrowing::default();
        let conjuncts: &[Expr] = match expr {
            None => &[],
            Some(Expr::And(items)) => items,
            Some(single) => std::slice::from_ref(single),
        };
        for conjunct in conjuncts {
            narrowing.add(conjunct);
        }
        narrowing
    }

    /// True when the narrowing restricts nothing.
    pub fn is_unrestricted(&self) -> bool {
        *self == Narrowing::default()
    }

    /// Whether `entry` satisfies every restriction; always true for entries
    /// the originating query matches.
    pub fn admits(&self, entry: &Value) -> bool {
        let one_of = |allowed: &Option<Vec<String>>, got: Vec<String>| match allowed {
            None => true,
            Some(allowed) => got.iter().any(|g| allowed.contains(g)),
        };
        // `resource.type` and `logName` are defaulted ("" when absent), as the
        // evaluator reads them; `timestamp` has no default.
        let texts = |path: &[&str]| -> Vec<String> {
            let kind = if path == ["timestamp"] {
                FieldKind::Timestamp
            } else {
                FieldKind::Text
            };
            let path = FieldPath {
                segments: path.iter().map(|s| s.to_string()).collect(),
                kind,
            };
            field_values(entry, &path)
                .into_iter()
                .filter_map(scalar_text)
                .collect()
        };
        if !one_of(&self.resource_types, texts(&["resource", "type"]))
            || !one_of(&self.log_names, texts(&["logName"]))
            || !one_of(&self.log_ids, log_id_of(entry).into_iter().collect())
        {
            return false;
        }
        let severity = entry_severity(entry);
        if self.min_severity.is_some_and(|min| severity < min)
            || self.max_severity.is_some_and(|max| severity > max)
        {
            return false;
        }
        let times: Vec<Instant> = texts(&["timestamp"])
            .iter()
            .filter_map(|t| parse_timestamp(t))
            .collect();
        let after = |b: &TimeBound| {
            times
                .iter()
                .any(|t| *t > b.nanos || (b.inclusive && *t == b.nanos))
        };
        let before = |b: &TimeBound| {
            times
                .iter()
                .any(|t| *t < b.nanos || (b.inclusive && *t == b.nanos))
        };
        self.timestamp_from.as_ref().is_none_or(after)
            && self.timestamp_to.as_ref().is_none_or(before)
            && self.text_contains.iter().all(|t| contains_text(entry, t))
    }

    fn add(&mut self, conjunct: &Expr) {
        if let Some(types) = equality_set(conjunct, &["resource", "type"]) {
            intersect(&mut self.resource_types, types);
        } else if let Some(names) = equality_set(conjunct, &["logName"]) {
            intersect(&mut self.log_names, names);
        } else if let Some(ids) = log_id_set(conjunct) {
            intersect(&mut self.log_ids, ids);
        } else if let Expr::Global(text) = conjunct {
            let needle = text.to_lowercase();
            if !needle.is_empty() && outside_timestamps(&needle) {
                self.text_contains.push(needle);
            }
        } else if let Expr::Compare(cmp) = conjunct {
            let on_payload = cmp
                .path
                .segments
                .first()
                .is_some_and(|s| s == "textPayload" || s == "jsonPayload");
            match &cmp.value {
                Literal::Text(lit)
                    if cmp.op == CompareOp::Has && on_payload && !lit.text.is_empty() =>
                {
                    // A payload holds no entry timestamp: every needle narrows
                    // (but the empty one, which an absent textPayload's default
                    // "" holds too).
                    self.text_contains.push(lit.text.to_lowercase());
                }
                _ => self.add_range(cmp),
            }
        }
    }

    fn add_range(&mut self, cmp: &Comparison) {
        let Literal::Text(lit) = &cmp.value else {
            return;
        };
        if cmp.path.is(&["severity"]) {
            let Some(rank) = lit.severity else { return };
            let (min, max) = match cmp.op {
                CompareOp::Eq | CompareOp::Has => (Some(rank), Some(rank)),
                CompareOp::Ge => (Some(rank), None),
                CompareOp::Gt => (Some(rank + 1), None),
                CompareOp::Le => (None, Some(rank)),
                CompareOp::Lt => (None, Some(rank - 1)),
                _ => (None, None),
            };
            if let Some(min) = min {
                self.min_severity = Some(self.min_severity.map_or(min, |m| m.max(min)));
            }
            if let Some(max) = max {
                self.max_severity = Some(self.max_severity.map_or(max, |m| m.min(max)));
            }
        } else if cmp.path.is(&["timestamp"]) {
            let Some(nanos) = lit.instant else { return };
            let inclusive = TimeBound {
                nanos,
                inclusive: true,
            };
            let exclusive = TimeBound {
                nanos,
                inclusive: false,
            };
            let (from, to) = match cmp.op {
                CompareOp::Eq => (Some(inclusive), Some(inclusive)),
                CompareOp::Ge => (Some(inclusive), None),
                CompareOp::Gt => (Some(exclusive), None),
                CompareOp::Le => (None, Some(inclusive)),
                CompareOp::Lt => (None, Some(exclusive)),
                _ => (None, None),
            };
            if let Some(from) = from {
                self.timestamp_from = Some(tighter(self.timestamp_from, from, true));
            }
            if let Some(to) = to {
                self.timestamp_to = Some(tighter(self.timestamp_to, to, false));
            }
        }
    }
}

/// Picks the more restrictive of two bounds (the later lower bound, the
/// earlier upper bound; on a tie the exclusive one).
fn tighter(current: Option<TimeBound>, new: TimeBound, lower: bool) -> TimeBound {
    let Some(current) = current else { return new };
    match current.nanos.cmp(&new.nanos) {
        std::cmp::Ordering::Equal => TimeBound {
            nanos: new.nanos,
            inclusive: current.inclusive && new.inclusive,
        },
        std::cmp::Ordering::Less => {
            if lower {
                new
            } else {
                current
            }
        }
        std::cmp::Ordering::Greater => {
            if lower {
                current
            } else {
                new
            }
        }
    }
}

fn intersect(slot: &mut Option<Vec<String>>, values: Vec<String>) {
    *slot = Some(match slot.take() {
        None => values,
        Some(existing) => existing
            .into_iter()
            .filter(|v| values.contains(v))
            .collect(),
    });
}

/// `path="a"`, or an OR of such equalities (as a value list expands to).
/// Values that read as numbers are skipped: `=` compares those numerically.
fn equality_set(expr: &Expr, path: &[&str]) -> Option<Vec<String>> {
    match expr {
        Expr::Compare(Comparison {
            path: p,
            op: CompareOp::Eq,
            value: Literal::Text(lit),
        }) if p.is(path) && lit.number.is_none() => Some(vec![lit.text.clone()]),
        Expr::Or(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(equality_set(item, path)?);
            }
            Some(all)
        }
        _ => None,
    }
}

fn log_id_set(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Function(Function::LogId(id)) => Some(vec![crate::functions::percent_decode(id)]),
        Expr::Or(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(log_id_set(item)?);
            }
            Some(all)
        }
        _ => None,
    }
}
