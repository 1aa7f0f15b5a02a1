//! Recursive-descent parser from filter text to [`Expr`]. It works directly on
//! the bytes, without a separate lexer, because what a token is depends on
//! where it sits: after an operator an unquoted value runs to the next space
//! (so `timestamp>=2026-11-25T10:00:00Z` keeps its colons), elsewhere `.`, `:`
//! and `=` split field paths from operators.
//!
//! Grammar (NOT binds tightest, then OR, then AND — OR binds tighter than AND
//! in this language, so `a AND b OR c` is `a AND (b OR c)`):
//!
//! ```text
//! query   := and? EOF
//! and     := or ((AND)? or)*          -- juxtaposition is AND
//! or      := unary (OR unary)*
//! unary   := NOT unary | '-' unary | primary
//! primary := '(' and ')' | function | path OP value | path ':*' | word | "phrase"
//! value   := "quoted" | unquoted | NULL_VALUE | '(' list ')'
//! ```
//!
//! The filter comes from whoever calls `entries.list`, so the parser bounds
//! what it spends on it: at most [`MAX_FILTER_CHARS`] characters (Cloud
//! Logging's own limit) and [`MAX_NESTING`] levels of `(`, `NOT` and `-`. The
//! recursion here, and the evaluator's and narrowing's over the tree it
//! builds (`AND`/`OR` chains are flat vectors, so only these nest), is
//! therefore shallow whatever the input: 100,000 nested parentheses are a
//! parse error, not a stack overflow that takes the emulator down.

use std::net::IpAddr;

use regex::Regex;

use crate::ast::{
    CompareOp, Comparison, Expr, FieldPath, Function, Literal, TextLiteral, parse_number,
    severity_rank,
};
use crate::error::{ParseError, describe_at};
use crate::schema::{FieldKind, check};
use crate::time::{parse_duration, parse_timestamp};

/// The longest filter accepted, in characters: Cloud Logging documents the
/// same limit for a query.
pub const MAX_FILTER_CHARS: usize = 20_000;

/// How deeply `(`, `NOT` and `-` (and `(` and `NOT` inside a value list) may
/// nest. Real filters nest a few levels; the bound keeps the recursive descent
/// (and the recursive evaluation of the tree) far from the end of a 2 MiB
/// thread stack.
pub const MAX_NESTING: usize = 64;

/// Parses a whole filter; `None` when it holds only whitespace and comments.
pub(crate) fn parse_filter(source: &str) -> Result<Option<Expr>, ParseError> {
    check_length(source)?;
    let mut parser = Parser {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    if parser.at_end() {
        return Ok(None);
    }
    let expr = parser.parse_and("a restriction")?;
    parser.skip_ws();
    if !parser.at_end() {
        return Err(parser.error(parser.pos, "end of input or a restriction"));
    }
    Ok(Some(expr))
}

/// Rejects a filter over [`MAX_FILTER_CHARS`], pointing at the first
/// character past the limit.
fn check_length(source: &str) -> Result<(), ParseError> {
    // A byte count within the limit is a character count within it too.
    if source.len() <= MAX_FILTER_CHARS {
        return Ok(());
    }
    let Some((past_limit, _)) = source.char_indices().nth(MAX_FILTER_CHARS) else {
        return Ok(());
    };
    Err(ParseError::at(
        source,
        past_limit,
        format!("a filter of at most {MAX_FILTER_CHARS} characters"),
        format!("one of {} characters", source.chars().count()),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    And,
    Or,
    Not,
}

/// Bytes that end an unquoted field-path segment or bare word.
fn ends_word(b: u8) -> bool {
    b.is_ascii_whitespace() || b"()\"=!<>:,.".contains(&b)
}

/// A path as written: its unquoted segments, the byte each starts at, and
/// the text when it was a single quoted segment.
type RawPath = (Vec<String>, Vec<usize>, Option<String>);

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Levels of `(`, `NOT` and `-` the cursor is inside.
    depth: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn error(&self, position: usize, expected: impl Into<String>) -> ParseError {
        ParseError::at(
            self.src,
            position,
            expected,
            describe_at(self.src, position),
        )
    }

    /// Runs `inner` one nesting level deeper, or fails at `at` (the `(`,
    /// `NOT` or `-` that opens the level) when that is past [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        at: usize,
        inner: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth >= MAX_NESTING {
            return Err(self.error(
                at,
                format!("at most {MAX_NESTING} nested levels of '(', NOT and '-'"),
            ));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    /// Skips whitespace and `--` comments (which run to the end of the line).
    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() => self.pos += 1,
                Some(b'-') if self.peek_at(1) == Some(b'-') => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// Length of the unquoted word starting at the cursor.
    fn word_len(&self) -> usize {
        self.bytes[self.pos..]
            .iter()
            .take_while(|b| !ends_word(**b))
            .count()
    }

    /// An uppercase `AND`/`OR`/`NOT` at the cursor (lowercase ones are words).
    fn peek_keyword(&self) -> Option<Keyword> {
        let len = self.word_len();
        if self.peek_at(len) == Some(b'.') {
            return None;
        }
        match &self.src[self.pos..self.pos + len] {
            "AND" => Some(Keyword::And),
            "OR" => Some(Keyword::Or),
            "NOT" => Some(Keyword::Not),
            _ => None,
        }
    }

    fn consume_keyword(&mut self) {
        self.pos += self.word_len();
    }

    fn expect_byte(&mut self, want: u8, expected: &str) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(self.pos, expected))
        }
    }

    fn parse_and(&mut self, context: &str) -> Result<Expr, ParseError> {
        let mut items = vec![self.parse_or(context)?];
        loop {
            self.skip_ws();
            if self.at_end() || self.peek() == Some(b')') {
                break;
            }
            if self.peek_keyword() == Some(Keyword::And) {
                self.consume_keyword();
                items.push(self.parse_or("a restriction after AND")?);
            } else {
                items.push(self.parse_or("a restriction")?);
            }
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn parse_or(&mut self, context: &str) -> Result<Expr, ParseError> {
        let mut items = vec![self.parse_unary(context)?];
        loop {
            self.skip_ws();
            if self.peek_keyword() != Some(Keyword::Or) {
                break;
            }
            self.consume_keyword();
            items.push(self.parse_unary("a restriction after OR")?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn parse_unary(&mut self, context: &str) -> Result<Expr, ParseError> {
        self.skip_ws();
        let at = self.pos;
        if self.peek_keyword() == Some(Keyword::Not) {
            return self.nested(at, |p| {
                p.consume_keyword();
                Ok(Expr::Not(Box::new(
                    p.parse_unary("a restriction after NOT")?,
                )))
            });
        }
        if self.peek() == Some(b'-') {
            return self.nested(at, |p| {
                p.pos += 1;
                Ok(Expr::Not(Box::new(
                    p.parse_unary("a restriction after '-'")?,
                )))
            });
        }
        self.parse_primary(context)
    }

    fn parse_primary(&mut self, context: &str) -> Result<Expr, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => return Err(self.error(start, context)),
            Some(b'(') => {
                return self.nested(start, |p| {
                    p.pos += 1;
                    let inner = p.parse_and("a restriction after '('")?;
                    p.expect_byte(b')', "')'")?;
                    Ok(inner)
                });
            }
            Some(b) if b != b'"' && ends_word(b) => return Err(self.error(start, context)),
            _ => {}
        }
        if matches!(self.peek_keyword(), Some(Keyword::And | Keyword::Or)) {
            return Err(self.error(start, context));
        }
        let len = self.word_len();
        if len > 0 && self.peek_at(len) == Some(b'(') {
            return self.parse_function(len);
        }
        self.parse_restriction(start)
    }

    /// A comparison, `:*`, or a bare word or phrase, starting at `start`.
    /// Kept out of [`Self::parse_primary`], which `(` recurses through, so
    /// that its locals do not weigh on every nesting level's stack frame.
    #[inline(never)]
    fn parse_restriction(&mut self, start: usize) -> Result<Expr, ParseError> {
        let (segments, starts, single_quoted) = self.parse_path()?;
        let after_path = self.pos;
        self.skip_ws();
        match self.parse_operator()? {
            Some(op) => {
                let path = self.field_path(segments, &starts)?;
                self.parse_comparison(path, op)
            }
            None => {
                self.pos = after_path;
                let text = match single_quoted {
                    Some(text) => text,
                    None => self.src[start..after_path].to_string(),
                };
                Ok(Expr::Global(text))
            }
        }
    }

    /// A dotted path's segments and where each starts; also returns the text
    /// when it was one quoted segment (a quoted phrase used as a global
    /// restriction).
    fn parse_path(&mut self) -> Result<RawPath, ParseError> {
        let mut segments = Vec::new();
        let mut starts = Vec::new();
        let mut quoted_once = None;
        loop {
            starts.push(self.pos);
            if self.peek() == Some(b'"') {
                let text = self.parse_quoted()?;
                quoted_once = segments.is_empty().then(|| text.clone());
                segments.push(text);
            } else {
                let len = self.word_len();
                if len == 0 {
                    let what = if segments.is_empty() {
                        "a field name"
                    } else {
                        "a field name after '.'"
                    };
                    return Err(self.error(self.pos, what));
                }
                segments.push(self.src[self.pos..self.pos + len].to_string());
                self.pos += len;
            }
            if self.peek() != Some(b'.') {
                break;
            }
            self.pos += 1;
        }
        let single = if segments.len() == 1 {
            quoted_once
        } else {
            None
        };
        Ok((segments, starts, single))
    }

    /// Checks a path against the fields of `LogEntry`: a path that names no
    /// field is an error at the segment that names nothing.
    fn field_path(
        &self,
        mut segments: Vec<String>,
        starts: &[usize],
    ) -> Result<FieldPath, ParseError> {
        match check(&mut segments) {
            Ok(kind) => Ok(FieldPath { segments, kind }),
            Err(unknown) => {
                let at = starts.get(unknown.segment).copied().unwrap_or(self.pos);
                Err(self.error(at, unknown.expected))
            }
        }
    }

    fn parse_operator(&mut self) -> Result<Option<CompareOp>, ParseError> {
        let (op, len) = match (self.peek(), self.peek_at(1)) {
            (Some(b'='), Some(b'~')) => (CompareOp::Matches, 2),
            (Some(b'='), _) => (CompareOp::Eq, 1),
            (Some(b'!'), Some(b'=')) => (CompareOp::Ne, 2),
            (Some(b'!'), Some(b'~')) => (CompareOp::NotMatches, 2),
            (Some(b'!'), _) => return Err(self.error(self.pos + 1, "'=' or '~' after '!'")),
            (Some(b'<'), Some(b'=')) => (CompareOp::Le, 2),
            (Some(b'<'), _) => (CompareOp::Lt, 1),
            (Some(b'>'), Some(b'=')) => (CompareOp::Ge, 2),
            (Some(b'>'), _) => (CompareOp::Gt, 1),
            (Some(b':'), _) => (CompareOp::Has, 1),
            _ => return Ok(None),
        };
        self.pos += len;
        Ok(Some(op))
    }

    fn parse_comparison(&mut self, path: FieldPath, op: CompareOp) -> Result<Expr, ParseError> {
        self.skip_ws();
        let context = format!("a value after '{}'", op.symbol());
        if op == CompareOp::Has
            && self.peek() == Some(b'*')
            && self
                .peek_at(1)
                .is_none_or(|b| b.is_ascii_whitespace() || b == b')')
        {
            self.pos += 1;
            return Ok(Expr::Exists(path));
        }
        if self.peek() == Some(b'(') {
            return self.nested(self.pos, |p| {
                p.pos += 1;
                let list = p.parse_list_and(&path, op, &context)?;
                p.expect_byte(b')', "')' to close the value list")?;
                Ok(list)
            });
        }
        let value = self.parse_value(&path, op, &context, false)?;
        Ok(Expr::Compare(Comparison { path, op, value }))
    }

    /// Inside `field OP ( ... )`: the same AND/OR/NOT grammar over values,
    /// expanded into one comparison per value.
    fn parse_list_and(
        &mut self,
        path: &FieldPath,
        op: CompareOp,
        context: &str,
    ) -> Result<Expr, ParseError> {
        let mut items = vec![self.parse_list_or(path, op, context)?];
        loop {
            self.skip_ws();
            if self.at_end() || self.peek() == Some(b')') {
                break;
            }
            if self.peek_keyword() == Some(Keyword::And) {
                self.consume_keyword();
            }
            items.push(self.parse_list_or(path, op, "a value after AND")?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn parse_list_or(
        &mut self,
        path: &FieldPath,
        op: CompareOp,
        context: &str,
    ) -> Result<Expr, ParseError> {
        let mut items = vec![self.parse_list_unary(path, op, context)?];
        loop {
            self.skip_ws();
            if self.peek_keyword() != Some(Keyword::Or) {
                break;
            }
            self.consume_keyword();
            items.push(self.parse_list_unary(path, op, "a value after OR")?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn parse_list_unary(
        &mut self,
        path: &FieldPath,
        op: CompareOp,
        context: &str,
    ) -> Result<Expr, ParseError> {
        self.skip_ws();
        let at = self.pos;
        if self.peek_keyword() == Some(Keyword::Not) {
            return self.nested(at, |p| {
                p.consume_keyword();
                Ok(Expr::Not(Box::new(p.parse_list_unary(
                    path,
                    op,
                    "a value after NOT",
                )?)))
            });
        }
        if self.peek() == Some(b'(') {
            return self.nested(at, |p| {
                p.pos += 1;
                let inner = p.parse_list_and(path, op, "a value after '('")?;
                p.expect_byte(b')', "')'")?;
                Ok(inner)
            });
        }
        if self.peek_keyword().is_some() {
            return Err(self.error(self.pos, context));
        }
        let value = self.parse_value(path, op, context, true)?;
        Ok(Expr::Compare(Comparison {
            path: path.clone(),
            op,
            value,
        }))
    }

    /// One value: quoted, or unquoted up to whitespace or a parenthesis.
    fn parse_value(
        &mut self,
        path: &FieldPath,
        op: CompareOp,
        context: &str,
        in_list: bool,
    ) -> Result<Literal, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let (text, quoted) = match self.peek() {
            Some(b'"') => (self.parse_quoted()?, true),
            Some(b'(' | b')') | None => return Err(self.error(start, context)),
            Some(_) => {
                let len = self.bytes[self.pos..]
                    .iter()
                    .take_while(|b| !b.is_ascii_whitespace() && !b"()".contains(b))
                    .count();
                let text = self.src[self.pos..self.pos + len].to_string();
                if !in_list && matches!(text.as_str(), "AND" | "OR" | "NOT") {
                    return Err(self.error(start, context));
                }
                self.pos += len;
                (text, false)
            }
        };
        self.make_literal(path, op, text, quoted, start)
    }

    fn make_literal(
        &self,
        path: &FieldPath,
        op: CompareOp,
        text: String,
        quoted: bool,
        at: usize,
    ) -> Result<Literal, ParseError> {
        if !quoted && text == "NULL_VALUE" {
            return match op {
                CompareOp::Eq | CompareOp::Ne => Ok(Literal::Null),
                _ => Err(self.error(at, "'=' or '!=' before NULL_VALUE")),
            };
        }
        if matches!(op, CompareOp::Matches | CompareOp::NotMatches) {
            return Regex::new(&text)
                .map(Literal::Regex)
                .map_err(|_| self.error(at, "a valid RE2 regular expression"));
        }
        let severity = if path.is(&["severity"]) {
            Some(severity_rank(&text).ok_or_else(|| self.error(at, "a severity name or number"))?)
        } else {
            None
        };
        let instant = if path.is_time_like() {
            parse_timestamp(&text)
        } else {
            None
        };
        if path.is_entry_time() && op != CompareOp::Has && instant.is_none() {
            return Err(self.error(at, "an RFC 3339 timestamp"));
        }
        let duration = if path.kind == FieldKind::Duration {
            let duration = parse_duration(&text);
            if duration.is_none() && op != CompareOp::Has {
                return Err(self.error(at, "a duration such as \"1.5s\" or \"200ms\""));
            }
            duration
        } else {
            None
        };
        let boolean = if text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        };
        let number = parse_number(&text);
        Ok(Literal::Text(TextLiteral {
            text,
            number,
            instant,
            severity,
            duration,
            boolean,
        }))
    }

    /// A `"..."` string with `\" \\ \/ \n \t \r \uXXXX` escapes.
    fn parse_quoted(&mut self) -> Result<String, ParseError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err(self.error(self.pos, "'\"' to close the string"));
            };
            let escape_at = self.pos;
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let escaped = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'u') => {
                            self.pos += 1;
                            out.push(self.parse_unicode_escape(escape_at)?);
                            continue;
                        }
                        _ => {
                            return Err(self.error(
                                escape_at,
                                "a valid escape (\\\" \\\\ \\n \\t \\r \\uXXXX)",
                            ));
                        }
                    };
                    self.pos += 1;
                    out.push(escaped);
                }
                c => out.push(c),
            }
        }
    }

    fn parse_unicode_escape(&mut self, escape_at: usize) -> Result<char, ParseError> {
        let invalid = |p: &Self| p.error(escape_at, "four hex digits after \\u");
        let hex4 = |p: &mut Self| -> Result<u32, ParseError> {
            let digits = p.src.get(p.pos..p.pos + 4).ok_or_else(|| invalid(p))?;
            let value = u32::from_str_radix(digits, 16).map_err(|_| invalid(p))?;
            p.pos += 4;
            Ok(value)
        };
        let high = hex4(self)?;
        if (0xD800..0xDC00).contains(&high) && self.src[self.pos..].starts_with("\\u") {
            self.pos += 2;
            let low = hex4(self)?;
            let combined = 0x10000 + ((high - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
            return char::from_u32(combined).ok_or_else(|| invalid(self));
        }
        char::from_u32(high).ok_or_else(|| invalid(self))
    }

    fn parse_function(&mut self, name_len: usize) -> Result<Expr, ParseError> {
        let name_at = self.pos;
        let name = self.src[self.pos..self.pos + name_len].to_ascii_lowercase();
        self.pos += name_len + 1;
        let function = match name.as_str() {
            "search" => {
                self.skip_ws();
                if self.peek() == Some(b'"') {
                    Function::Search {
                        path: None,
                        text: self.parse_quoted()?,
                    }
                } else {
                    let path = self.parse_arg_path()?;
                    self.expect_byte(b',', "',' and the search text")?;
                    let (text, _) = self.parse_arg_text("the search text")?;
                    Function::Search {
                        path: Some(path),
                        text,
                    }
                }
            }
            "log_id" => Function::LogId(self.parse_arg_text("a log ID")?.0),
            "sample" => {
                let path = self.parse_arg_path()?;
                self.expect_byte(b',', "',' and a fraction")?;
                let (text, at) = self.parse_arg_text("a fraction between 0 and 1")?;
                let fraction = parse_number(&text)
                    .filter(|f| (0.0..=1.0).contains(f))
                    .ok_or_else(|| self.error(at, "a fraction between 0 and 1"))?;
                Function::Sample { path, fraction }
            }
            "ip_in_net" => {
                let path = self.parse_arg_path()?;
                self.expect_byte(b',', "',' and a CIDR range")?;
                let (text, at) = self.parse_arg_text("a CIDR range")?;
                let (network, prefix) = parse_cidr(&text)
                    .ok_or_else(|| self.error(at, "an IPv4 or IPv6 CIDR range"))?;
                Function::IpInNet {
                    path,
                    network,
                    prefix,
                }
            }
            _ => return Err(self.error(name_at, "a function (SEARCH, log_id, sample, ip_in_net)")),
        };
        self.expect_byte(b')', "')' to close the function call")?;
        Ok(Expr::Function(function))
    }

    fn parse_arg_path(&mut self) -> Result<FieldPath, ParseError> {
        self.skip_ws();
        let (segments, starts, _) = self.parse_path()?;
        self.field_path(segments, &starts)
    }

    /// A quoted or unquoted argument, and where it starts.
    fn parse_arg_text(&mut self, expected: &str) -> Result<(String, usize), ParseError> {
        self.skip_ws();
        let at = self.pos;
        if self.peek() == Some(b'"') {
            return Ok((self.parse_quoted()?, at));
        }
        let len = self.bytes[self.pos..]
            .iter()
            .take_while(|b| !b.is_ascii_whitespace() && !b"(),".contains(b))
            .count();
        if len == 0 {
            return Err(self.error(at, expected));
        }
        self.pos += len;
        Ok((self.src[at..self.pos].to_string(), at))
    }
}

/// `10.0.0.0/8` or `2001:db8::/32`; a bare address is a full-length prefix.
pub(crate) fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let network: IpAddr = addr.trim().parse().ok()?;
    let max = if network.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((network, prefix))
}
