//! The syntax tree a filter parses into. Literals are pre-digested at parse
//! time (numbers, instants, severities, compiled regexes, CIDR ranges) so that
//! evaluating a filter over thousands of entries does no re-parsing, and so
//! that bad literals are reported as parse errors with a position.

use std::net::IpAddr;

use regex::Regex;

use crate::schema::FieldKind;
use crate::time::Instant;

/// A boolean expression over one log entry.
#[derive(Debug, Clone)]
pub enum Expr {
    /// All must hold (explicit `AND` or juxtaposition).
    And(Vec<Expr>),
    /// At least one must hold.
    Or(Vec<Expr>),
    /// `NOT x` or `-x`.
    Not(Box<Expr>),
    /// `field OP value`.
    Compare(Comparison),
    /// `field:*`.
    Exists(FieldPath),
    /// A bare word or quoted phrase not attached to a field.
    Global(String),
    /// `SEARCH`, `log_id`, `sample` or `ip_in_net`.
    Function(Function),
}

/// A dotted field path such as `labels."k8s-pod/app"`, already unquoted and
/// checked against the fields of `LogEntry` (proto names such as
/// `http_request` are rewritten to their JSON names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// The path's segments, unquoted.
    pub segments: Vec<String>,
    /// What the path reaches: a typed field (with a default), a typed
    /// message, or free-form content.
    pub kind: FieldKind,
}

impl FieldPath {
    /// True when the path is exactly the given dotted segments.
    pub fn is(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self.segments.iter().zip(segments).all(|(a, b)| a == b)
    }

    /// `timestamp` and `receiveTimestamp`: literals must be valid instants.
    pub fn is_entry_time(&self) -> bool {
        self.is(&["timestamp"]) || self.is(&["receiveTimestamp"])
    }

    /// Any field whose last segment names a timestamp; values that parse as
    /// RFC 3339 on both sides compare as instants.
    pub fn is_time_like(&self) -> bool {
        self.segments
            .last()
            .is_some_and(|s| s.to_ascii_lowercase().contains("timestamp"))
    }
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `:` (has)
    Has,
    /// `=~`
    Matches,
    /// `!~`
    NotMatches,
}

impl CompareOp {
    /// The operator as written in a filter.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Has => ":",
            CompareOp::Matches => "=~",
            CompareOp::NotMatches => "!~",
        }
    }
}

/// `field OP value`.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The field on the left.
    pub path: FieldPath,
    /// The operator.
    pub op: CompareOp,
    /// The value on the right.
    pub value: Literal,
}

/// A right-hand value with its interpretations worked out up front.
#[derive(Debug, Clone)]
pub enum Literal {
    /// `NULL_VALUE`: matches an explicit JSON `null`.
    Null,
    /// The pattern of `=~` / `!~`.
    Regex(Regex),
    /// Any other value, quoted or not.
    Text(TextLiteral),
}

/// A plain value and the typed readings of it that parsed.
#[derive(Debug, Clone)]
pub struct TextLiteral {
    /// The value as written, unquoted and unescaped.
    pub text: String,
    /// The value read as a number, when it is one.
    pub number: Option<f64>,
    /// The value read as an RFC 3339 instant, when it is one.
    pub instant: Option<Instant>,
    /// The severity rank, set only when the field is `severity`.
    pub severity: Option<i64>,
    /// The value read as a duration in nanoseconds, set only when the field
    /// is a `Duration` (`httpRequest.latency`).
    pub duration: Option<i128>,
    /// The value read as a boolean, in any letter case (`TRUE`, `False`).
    pub boolean: Option<bool>,
}

/// The built-in functions.
#[derive(Debug, Clone)]
pub enum Function {
    /// `SEARCH("text")` or `SEARCH(field, "text")`.
    Search {
        /// The field to search, or the whole entry.
        path: Option<FieldPath>,
        /// The search text; backquoted text is an exact phrase.
        text: String,
    },
    /// `log_id("name")`: the log ID part of `logName`, URL-decoded.
    LogId(String),
    /// `sample(field, fraction)`: a deterministic fraction of entries.
    Sample {
        /// The field whose value is hashed (usually `insertId`).
        path: FieldPath,
        /// Fraction kept, in `0.0..=1.0`.
        fraction: f64,
    },
    /// `ip_in_net(field, "cidr")`.
    IpInNet {
        /// The field holding an IP address.
        path: FieldPath,
        /// The network address.
        network: IpAddr,
        /// The prefix length in bits.
        prefix: u8,
    },
}

/// Severity names and their ranks, as in `google.logging.type.LogSeverity`.
pub const SEVERITIES: [(&str, i64); 9] = [
    ("DEFAULT", 0),
    ("DEBUG", 100),
    ("INFO", 200),
    ("NOTICE", 300),
    ("WARNING", 400),
    ("ERROR", 500),
    ("CRITICAL", 600),
    ("ALERT", 700),
    ("EMERGENCY", 800),
];

/// The rank of a severity written as a name (any case) or a number.
pub fn severity_rank(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some((_, rank)) = SEVERITIES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
    {
        return Some(*rank);
    }
    text.parse::<i64>().ok()
}

/// Reads a string as a number if it looks like one (no `inf`/`NaN` words).
pub fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let plausible = !text.is_empty()
        && text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if plausible { text.parse().ok() } else { None }
}
