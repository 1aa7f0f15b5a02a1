//! Just enough JSON to read array and hash parameters written as
//! `["a","b"]` or `{"k":"v"}`, without pulling in serde.

use std::fmt::Write;

/// A parsed JSON value; numbers keep their source text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The text a parameter consumer wants: strings unquoted, anything else
    /// as compact JSON.
    pub fn into_text(self) -> String {
        match self {
            Json::String(s) => s,
            other => {
                let mut out = String::new();
                other.write(&mut out);
                out
            }
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => write_string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses a complete JSON document; the error says what was expected.
pub(crate) fn parse(text: &str) -> Result<Json, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut p = JsonParser {
        chars: &chars,
        i: 0,
    };
    let value = p.value()?;
    p.ws();
    if p.i != chars.len() {
        return Err(format!("unexpected `{}` after the JSON value", chars[p.i]));
    }
    Ok(value)
}

struct JsonParser<'c> {
    chars: &'c [char],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.chars.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(match self.peek() {
                Some(found) => format!("expected `{c}`, found `{found}`"),
                None => format!("expected `{c}`, found end of value"),
            })
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.peek() {
            Some('[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(']') {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    if self.peek() == Some(',') {
                        self.i += 1;
                    } else {
                        self.expect(']')?;
                        return Ok(Json::Array(items));
                    }
                }
            }
            Some('{') => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.peek() == Some('}') {
                    self.i += 1;
                    return Ok(Json::Object(fields));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.expect(':')?;
                    fields.push((key, self.value()?));
                    self.ws();
                    if self.peek() == Some(',') {
                        self.i += 1;
                    } else {
                        self.expect('}')?;
                        return Ok(Json::Object(fields));
                    }
                }
            }
            Some('"') => Ok(Json::String(self.string()?)),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                {
                    self.i += 1;
                }
                let n: String = self.chars[start..self.i].iter().collect();
                n.parse::<f64>()
                    .map(|_| Json::Number(n.clone()))
                    .map_err(|_| format!("invalid number `{n}`"))
            }
            Some(_) => {
                for (word, value) in [
                    ("true", Json::Bool(true)),
                    ("false", Json::Bool(false)),
                    ("null", Json::Null),
                ] {
                    let end = self.i + word.len();
                    if self
                        .chars
                        .get(self.i..end)
                        .is_some_and(|w| w.iter().copied().eq(word.chars()))
                    {
                        self.i = end;
                        return Ok(value);
                    }
                }
                Err(format!("unexpected `{}`", self.chars[self.i]))
            }
            None => Err("unexpected end of value".into()),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.peek() != Some('"') {
            return Err("expected a string in double quotes".into());
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or("unterminated string")?;
            self.i += 1;
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let e = self.peek().ok_or("unterminated string")?;
                    self.i += 1;
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'b' => '\x08',
                        'f' => '\x0c',
                        'u' => {
                            let hex: String = self
                                .chars
                                .get(self.i..self.i + 4)
                                .ok_or("bad \\u escape")?
                                .iter()
                                .collect();
                            self.i += 4;
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .unwrap_or('\u{fffd}')
                        }
                        other => other,
                    });
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nested_values() {
        let v = parse(r#" {"a": [1, "x\"y", true, null], "b": {"c": -2.5e3}} "#).unwrap();
        assert_eq!(
            v.into_text(),
            r#"{"a":[1,"x\"y",true,null],"b":{"c":-2.5e3}}"#
        );
    }

    #[test]
    fn reports_what_was_expected() {
        assert_eq!(
            parse("[1, 2").unwrap_err(),
            "expected `]`, found end of value"
        );
        assert!(parse("[1] x").is_err());
        assert!(parse("{a:1}").is_err());
    }
}
