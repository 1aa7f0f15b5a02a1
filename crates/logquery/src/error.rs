//! The one error a filter can produce: a parse error that points at the byte
//! where parsing stopped. Callers (the emulator's `entries.list`, the web API)
//! show it to a user who typed the filter, so it carries line and column too.

use thiserror::Error;

/// A filter that could not be parsed (or a literal in it that is invalid,
/// such as a bad regular expression, CIDR range or timestamp).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{line}:{column}: expected {expected}, found {found}")]
pub struct ParseError {
    /// Byte offset (0-based) into the filter where the problem starts.
    pub position: usize,
    /// 1-based line of `position`.
    pub line: usize,
    /// 1-based column (in characters) of `position`.
    pub column: usize,
    /// What the parser wanted at `position`.
    pub expected: String,
    /// What it found there instead.
    pub found: String,
}

impl ParseError {
    /// Builds an error at `position` of `source`, computing line and column.
    pub(crate) fn at(
        source: &str,
        position: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        let position = position.min(source.len());
        let before = &source[..position];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ParseError {
            position,
            line,
            column,
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// Describes the text at `position` for the `found` half of an error.
pub(crate) fn describe_at(source: &str, position: usize) -> String {
    let rest = source.get(position..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return "end of input".to_string();
    };
    if "()=!<>:,.".contains(first) {
        return format!("'{first}'");
    }
    let token: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && !"()=!<>:,".contains(*c))
        .take(24)
        .collect();
    if token.is_empty() {
        format!("'{first}'")
    } else {
        format!("'{token}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let err = ParseError::at("a=1\nbé=", 7, "a value after '='", "end of input");
        assert_eq!((err.line, err.column), (2, 3));
        assert_eq!(
            err.to_string(),
            "2:3: expected a value after '=', found end of input"
        );
    }
}
