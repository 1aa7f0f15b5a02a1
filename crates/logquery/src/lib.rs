//! The Cloud Logging query language
//! (<https://cloud.google.com/logging/docs/view/logging-query-language>):
//! parse a filter once, then test LogEntry JSON values against it. The
//! emulator uses it for `entries.list`/tail filters and the agent for
//! exclusion filters, so both agree with what Google would return.
//!
//! ```
//! let query = logquery::parse(r#"resource.type="k8s_container" severity>=WARNING"#).unwrap();
//! let entry = serde_json::json!({"resource": {"type": "k8s_container"}, "severity": "ERROR"});
//! assert!(query.matches(&entry));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ast;
mod error;
mod eval;
mod functions;
#[doc(hidden)]
pub mod fuzzing;
mod narrowing;
mod parser;
mod schema;
pub mod time;

use std::fmt;
use std::str::FromStr;

pub use error::ParseError;
pub use narrowing::{Narrowing, TIMESTAMP_CHARS, TimeBound, for_each_searchable_leaf};
pub use parser::{MAX_FILTER_CHARS, MAX_NESTING};
pub use schema::FieldKind;

/// A parsed filter, ready to test entries against.
#[derive(Debug, Clone)]
pub struct Query {
    source: String,
    expr: Option<ast::Expr>,
}

/// Parses a filter. An empty filter (only whitespace or comments) is valid
/// and matches every entry. A filter longer than [`MAX_FILTER_CHARS`] or
/// nested deeper than [`MAX_NESTING`] is an error.
pub fn parse(filter: &str) -> Result<Query, ParseError> {
    Ok(Query {
        source: filter.to_string(),
        expr: parser::parse_filter(filter)?,
    })
}

impl Query {
    /// Whether `entry` (a LogEntry in its REST JSON shape) satisfies the filter.
    pub fn matches(&self, entry: &serde_json::Value) -> bool {
        self.expr
            .as_ref()
            .is_none_or(|expr| eval::eval(expr, entry))
    }

    /// True for the empty filter, which matches everything.
    pub fn is_empty(&self) -> bool {
        self.expr.is_none()
    }

    /// A conservative pre-filter: every entry this query matches is admitted
    /// by the returned narrowing (see [`Narrowing`]).
    pub fn restrictions(&self) -> Narrowing {
        Narrowing::of(self.expr.as_ref())
    }

    /// The syntax tree, `None` for the empty filter.
    pub fn expr(&self) -> Option<&ast::Expr> {
        self.expr.as_ref()
    }

    /// The filter text as given to [`parse`].
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl FromStr for Query {
    type Err = ParseError;

    fn from_str(filter: &str) -> Result<Self, Self::Err> {
        parse(filter)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
