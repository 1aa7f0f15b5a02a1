//! Scanning a parameter's value: unquoted text with trailing comments,
//! quoted strings with escapes and `#{ENV[...]}` interpolation, and JSON
//! arrays/hashes that continue over several lines.

use crate::ast::Span;
use crate::cursor::{Cursor, Pos};
use crate::diagnostic::Diagnostic;

/// Looks up an environment variable; injectable so tests need not mutate
/// the process environment.
pub type EnvLookup<'e> = &'e dyn Fn(&str) -> Option<String>;

/// A scanned value: unescaped text, where it starts, and how many
/// characters it covers on its first line.
pub(crate) struct Value {
    pub text: String,
    pub span: Span,
    pub width: u32,
}

/// Scans the value that starts at the cursor (blanks already skipped) and
/// leaves the cursor at the start of the next line.
pub(crate) fn scan_value(
    cur: &mut Cursor<'_>,
    env: EnvLookup<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Value {
    match cur.peek() {
        None | Some('\n') | Some('#') => {
            let span = cur.span();
            cur.skip_line();
            Value {
                text: String::new(),
                span,
                width: 1,
            }
        }
        Some('"') => double_quoted(cur, env, diags),
        Some('\'') => single_quoted(cur, diags),
        Some('[' | '{') => json_like(cur, diags),
        Some(_) => unquoted(cur),
    }
}

/// Plain text to the end of the line; a `#` after whitespace starts a comment.
fn unquoted(cur: &mut Cursor<'_>) -> Value {
    let span = cur.span();
    let mut text = String::new();
    while !cur.at_line_end() {
        if cur.peek() == Some('#') && matches!(cur.prev(), Some(' ' | '\t')) {
            break;
        }
        text.extend(cur.bump());
    }
    cur.skip_line();
    let text = text.trim_end().to_owned();
    let width = text.chars().count().max(1) as u32;
    Value { text, span, width }
}

/// After a closing quote or bracket only blanks and a comment may follow.
fn expect_line_end(cur: &mut Cursor<'_>, what: &str, diags: &mut Vec<Diagnostic>) {
    cur.skip_blanks();
    if !cur.at_line_end() && cur.peek() != Some('#') {
        let width = cur.rest_of_line().len() as u32;
        diags.push(
            Diagnostic::error(format!("unexpected text after {what}"), cur.span())
                .with_width(width)
                .with_hint("quote the whole value, or start a comment with ` #`"),
        );
    }
    cur.skip_line();
}

/// Characters between `from` and the cursor if on one line, else to the end
/// of `from`'s line: what to underline.
fn width_from(cur: &Cursor<'_>, from: Pos, first_line_len: usize) -> u32 {
    if cur.pos.line == from.line {
        (cur.pos.idx - from.idx).max(1) as u32
    } else {
        first_line_len.max(1) as u32
    }
}

fn double_quoted(cur: &mut Cursor<'_>, env: EnvLookup<'_>, diags: &mut Vec<Diagnostic>) -> Value {
    let start = cur.pos;
    let span = cur.span();
    let first_line_len = cur.rest_of_line().len();
    cur.bump();
    let mut text = String::new();
    loop {
        let at = cur.pos;
        match cur.bump() {
            None => {
                diags.push(unterminated(span.clone(), '"'));
                return Value {
                    text,
                    span,
                    width: first_line_len as u32,
                };
            }
            Some('"') => break,
            Some('\\') => match cur.bump() {
                Some('n') => text.push('\n'),
                Some('t') => text.push('\t'),
                Some('r') => text.push('\r'),
                Some('f') => text.push('\x0c'),
                Some('0') => text.push('\0'),
                Some(c @ ('"' | '\\' | '#')) => text.push(c),
                // Unknown escapes keep their backslash: friendlier to regexes.
                Some(c) => {
                    text.push('\\');
                    text.push(c);
                }
                None => {}
            },
            Some('#') if cur.peek() == Some('{') => {
                cur.bump();
                let expr_span = cur.span_at(at);
                match ruby_expr(cur) {
                    Some(expr) => text.push_str(&interpolate(&expr, expr_span, env, diags)),
                    None => {
                        diags.push(
                            Diagnostic::error(
                                "unterminated `#{` in string: missing `}`",
                                expr_span,
                            )
                            .with_width(2),
                        );
                        return Value {
                            text,
                            span,
                            width: first_line_len as u32,
                        };
                    }
                }
            }
            Some(c) => text.push(c),
        }
    }
    let width = width_from(cur, start, first_line_len);
    expect_line_end(cur, "the closing quote", diags);
    Value { text, span, width }
}

fn single_quoted(cur: &mut Cursor<'_>, diags: &mut Vec<Diagnostic>) -> Value {
    let start = cur.pos;
    let span = cur.span();
    let first_line_len = cur.rest_of_line().len();
    cur.bump();
    let mut text = String::new();
    loop {
        match cur.bump() {
            None => {
                diags.push(unterminated(span.clone(), '\''));
                return Value {
                    text,
                    span,
                    width: first_line_len as u32,
                };
            }
            Some('\'') => break,
            Some('\\') if matches!(cur.peek(), Some('\'' | '\\')) => text.extend(cur.bump()),
            Some(c) => text.push(c),
        }
    }
    let width = width_from(cur, start, first_line_len);
    expect_line_end(cur, "the closing quote", diags);
    Value { text, span, width }
}

fn unterminated(span: Span, quote: char) -> Diagnostic {
    Diagnostic::error(
        format!("unterminated string: missing closing `{quote}`"),
        span,
    )
}

/// The body of `#{...}` (cursor just after `{`), honouring quotes and nested
/// braces; `None` at end of file.
fn ruby_expr(cur: &mut Cursor<'_>) -> Option<String> {
    let mut depth = 1;
    let mut expr = String::new();
    loop {
        let c = cur.bump()?;
        match c {
            '\'' | '"' => {
                expr.push(c);
                loop {
                    let d = cur.bump()?;
                    expr.push(d);
                    if d == '\\' {
                        expr.push(cur.bump()?);
                    } else if d == c {
                        break;
                    }
                }
                continue;
            }
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(expr);
                }
            }
            _ => {}
        }
        expr.push(c);
    }
}

/// Evaluates the few Ruby expressions real configs use: `ENV['X']`,
/// `ENV.fetch('X', 'default')` and `Socket.gethostname`.
fn interpolate(expr: &str, span: Span, env: EnvLookup<'_>, diags: &mut Vec<Diagnostic>) -> String {
    let e = expr.trim();
    let width = expr.chars().count() as u32 + 3;
    if let Some(inner) = e.strip_prefix("ENV[").and_then(|r| r.strip_suffix(']')) {
        if let Some(name) = ruby_string(inner.trim()) {
            return env(&name).unwrap_or_else(|| {
                diags.push(
                    Diagnostic::warning(
                        format!("environment variable `{name}` is not set; using an empty string"),
                        span,
                    )
                    .with_width(width),
                );
                String::new()
            });
        }
    } else if let Some(args) = e
        .strip_prefix("ENV.fetch(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let args: Option<Vec<String>> = split_args(args)
            .iter()
            .map(|a| ruby_string(a.trim()))
            .collect();
        match args.as_deref() {
            Some([name]) => {
                return env(name).unwrap_or_else(|| {
                    diags.push(
                        Diagnostic::error(
                            format!("environment variable `{name}` is not set"),
                            span,
                        )
                        .with_width(width)
                        .with_hint("set it, or give a default: ENV.fetch('NAME', 'default')"),
                    );
                    String::new()
                });
            }
            Some([name, default]) => return env(name).unwrap_or_else(|| default.clone()),
            _ => {}
        }
    } else if e == "Socket.gethostname" {
        if let Some(host) = hostname() {
            return host;
        }
        diags.push(Diagnostic::error("cannot determine the hostname", span).with_width(width));
        return String::new();
    }
    diags.push(
        Diagnostic::error("embedded Ruby is not supported: only ENV lookups", span)
            .with_width(width)
            .with_hint(
                "use #{ENV['NAME']}, #{ENV.fetch('NAME', 'default')} or #{Socket.gethostname}",
            ),
    );
    String::new()
}

/// Splits call arguments on commas outside quotes.
fn split_args(args: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quote = None;
    for c in args.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if q == c => quote = None,
            (None, ',') => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        out.last_mut().expect("never empty").push(c);
    }
    out
}

/// A Ruby string literal `'x'` or `"x"` → its content.
fn ruby_string(lit: &str) -> Option<String> {
    let quote = lit.chars().next().filter(|q| matches!(q, '\'' | '"'))?;
    let body = lit.get(1..)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_owned())
        .find(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
}

/// A value starting with `[` or `{`: if its brackets close on the first line
/// it is plain text; otherwise it continues over lines until they balance.
fn json_like(cur: &mut Cursor<'_>, diags: &mut Vec<Diagnostic>) -> Value {
    let line = cur.rest_of_line();
    let naive_depth: i64 = line
        .iter()
        .map(|c| match c {
            '[' | '{' => 1,
            ']' | '}' => -1,
            _ => 0,
        })
        .sum();
    if naive_depth <= 0 {
        return unquoted(cur);
    }
    let start = cur.pos;
    let first_line_len = line.len();
    let mut depth = 0;
    let mut in_string = false;
    let mut balanced = false;
    while let Some(c) = cur.bump() {
        if in_string {
            match c {
                '\\' => {
                    cur.bump();
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    balanced = true;
                    break;
                }
            }
            _ => {}
        }
    }
    if !balanced {
        let open = line[0];
        let close = if open == '[' { ']' } else { '}' };
        diags.push(
            Diagnostic::error(
                format!("unclosed `{open}` in value: no matching `{close}` before end of file"),
                cur.span_at(start),
            )
            .with_hint("multi-line values must be valid JSON; quote the value if it is plain text"),
        );
        cur.pos = start;
        return unquoted(cur);
    }
    let text = cur.text(start, cur.pos);
    let span = cur.span_at(start);
    expect_line_end(cur, "the closing bracket", diags);
    Value {
        text,
        span,
        width: first_line_len.max(1) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    fn scan(text: &str, env: EnvLookup<'_>) -> (String, Vec<Diagnostic>) {
        let chars: Vec<char> = text.chars().collect();
        let mut cur = Cursor::new(&chars, Arc::from(Path::new("t")));
        let mut diags = Vec::new();
        let v = scan_value(&mut cur, env, &mut diags);
        (v.text, diags)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn ruby_literals_and_arguments() {
        assert_eq!(ruby_string("'a\\'b'").as_deref(), Some("a'b"));
        assert_eq!(ruby_string("\"x\"").as_deref(), Some("x"));
        assert_eq!(ruby_string("x"), None);
        assert_eq!(split_args("'a,b', \"c\""), ["'a,b'", " \"c\""]);
    }

    #[test]
    fn env_fetch_without_default_is_an_error() {
        let (text, diags) = scan("\"#{ENV.fetch('NOPE')}\"", &no_env);
        assert_eq!(text, "");
        assert_eq!(diags.len(), 1);
        assert!(diags[0].is_error());
        assert_eq!(diags[0].span.column, 2);
    }

    #[test]
    fn hostname_interpolation() {
        let (text, diags) = scan("\"#{ Socket.gethostname }\"", &no_env);
        assert!(diags.is_empty() || diags[0].message.contains("hostname"));
        assert_eq!(text.is_empty(), !diags.is_empty());
    }

    #[test]
    fn unquoted_value_stops_at_comment_after_whitespace() {
        assert_eq!(scan("a#b c\t# d", &no_env).0, "a#b c");
        assert_eq!(scan("   ", &no_env).0, "");
    }
}
