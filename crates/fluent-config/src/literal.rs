//! Fluentd's parameter literal types: sizes (`8m`), times (`5s`), booleans,
//! numbers, arrays and hashes. Pure functions, so plugin code and tests can
//! use them without a [`crate::Reader`].

use std::time::Duration;

use crate::json::{self, Json};

/// A value that does not parse as the requested type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{text}`: {expected}")]
pub struct LiteralError {
    /// The type asked for: `size`, `time`, `boolean`...
    pub kind: &'static str,
    /// The offending text.
    pub text: String,
    /// What would have been accepted.
    pub expected: String,
}

impl LiteralError {
    fn new(kind: &'static str, text: &str, expected: impl Into<String>) -> LiteralError {
        LiteralError {
            kind,
            text: text.to_owned(),
            expected: expected.into(),
        }
    }
}

/// Splits `"8.5mb"` into `("8.5", "mb")`.
fn number_and_unit(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    (&text[..end], text[end..].trim_start())
}

/// Bytes from a size literal: `512`, `256k`, `8m`, `1g`, `1t` (powers of
/// 1024, case-insensitive; `kb`/`kib` spellings and fractions like `1.5m`
/// are accepted too).
pub fn parse_size(text: &str) -> Result<u64, LiteralError> {
    let err = || {
        LiteralError::new(
            "size",
            text,
            "expected a number of bytes with an optional k, m, g or t suffix, e.g. `8m`",
        )
    };
    let trimmed = text.trim();
    let (number, unit) = number_and_unit(trimmed);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(err()),
    };
    if let Ok(n) = number.parse::<u64>() {
        return n.checked_mul(1 << shift).ok_or_else(err);
    }
    let n: f64 = number.parse().map_err(|_| err())?;
    let bytes = n * (1u64 << shift) as f64;
    if bytes.is_finite() && bytes < u64::MAX as f64 {
        Ok(bytes as u64)
    } else {
        Err(err())
    }
}

/// The longest time literal accepted: a century. Anything longer is a typo, and a bound
/// keeps every `Instant + duration` made from a user's value from overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A time literal: seconds by default (`0.5`), or with a unit `ms`, `s`,
/// `m`, `h`, `d` or `w` (`100ms`, `5s`, `1m`, `1h`, `1d`, `2w`; any case),
/// at most [`MAX_DURATION`].
///
/// The one duration parser: config parameters and every command-line flag
/// (`run --drain-timeout`, `query --freshness`, `emulator --retention`,
/// `web-api --shutdown-timeout`...) read times with it, so they all accept
/// the same units. Fluentd has no `w`; accepting it costs a Fluentd config
/// nothing.
pub fn parse_duration(text: &str) -> Result<Duration, LiteralError> {
    let err = || {
        LiteralError::new(
            "time",
            text,
            "expected seconds with an optional ms, s, m, h, d or w suffix, e.g. `5s`, at most 100 years",
        )
    };
    let (number, unit) = number_and_unit(text.trim());
    let nanos_per_unit: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        "d" => 86_400 * 1_000_000_000,
        "w" => 7 * 86_400 * 1_000_000_000,
        _ => return Err(err()),
    };
    let max_nanos = MAX_DURATION.as_nanos() as u64;
    // Whole numbers in integer arithmetic (exact, checked); fractions through f64.
    let nanos = if let Ok(n) = number.parse::<u64>() {
        n.checked_mul(nanos_per_unit).filter(|n| *n <= max_nanos)
    } else {
        let n: f64 = number.parse().map_err(|_| err())?;
        let nanos = (n * nanos_per_unit as f64).round();
        (nanos.is_finite() && nanos >= 0.0 && nanos <= max_nanos as f64).then_some(nanos as u64)
    };
    nanos.map(Duration::from_nanos).ok_or_else(err)
}

/// `true`/`yes` or `false`/`no` (case-insensitive); an empty value means
/// `true`, as in Fluentd (`<key>` alone switches a flag on).
pub fn parse_bool(text: &str) -> Result<bool, LiteralError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(LiteralError::new("boolean", text, "expected true or false")),
    }
}

/// A signed integer.
pub fn parse_int(text: &str) -> Result<i64, LiteralError> {
    text.trim()
        .parse()
        .map_err(|_| LiteralError::new("integer", text, "expected a whole number"))
}

/// A non-negative integer.
pub fn parse_uint(text: &str) -> Result<u64, LiteralError> {
    text.trim()
        .parse()
        .map_err(|_| LiteralError::new("integer", text, "expected a non-negative whole number"))
}

/// A finite floating-point number.
pub fn parse_float(text: &str) -> Result<f64, LiteralError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| LiteralError::new("number", text, "expected a number such as `0.5`"))
}

/// An array: `a, b, c` or a JSON array `["a", "b"]`. Empty text is an
/// empty array. Non-string JSON elements are kept as JSON text.
pub fn parse_list(text: &str) -> Result<Vec<String>, LiteralError> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        return match json::parse(trimmed) {
            Ok(Json::Array(items)) => Ok(items.into_iter().map(Json::into_text).collect()),
            Ok(_) => unreachable!("text starting with `[` parses as an array"),
            Err(e) => Err(LiteralError::new(
                "array",
                text,
                format!("not valid JSON: {e}"),
            )),
        };
    }
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    Ok(trimmed.split(',').map(|s| s.trim().to_owned()).collect())
}

/// A hash: `k1:v1,k2:v2` or a JSON object `{"k1":"v1"}`, in written order.
/// Non-string JSON values are kept as JSON text.
pub fn parse_hash(text: &str) -> Result<Vec<(String, String)>, LiteralError> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        return match json::parse(trimmed) {
            Ok(Json::Object(fields)) => Ok(fields
                .into_iter()
                .map(|(k, v)| (k, v.into_text()))
                .collect()),
            Ok(_) => unreachable!("text starting with `{{` parses as an object"),
            Err(e) => Err(LiteralError::new(
                "hash",
                text,
                format!("not valid JSON: {e}"),
            )),
        };
    }
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    trimmed
        .split(',')
        .map(|pair| match pair.split_once(':') {
            Some((k, v)) => Ok((k.trim().to_owned(), v.trim().to_owned())),
            None => Err(LiteralError::new(
                "hash",
                text,
                format!(
                    "`{}` has no `:`; expected key:value pairs separated by commas",
                    pair.trim()
                ),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let table: &[(&str, Option<u64>)] = &[
            ("512", Some(512)),
            ("256k", Some(256 * 1024)),
            ("256K", Some(256 * 1024)),
            ("8m", Some(8 << 20)),
            ("8MB", Some(8 << 20)),
            ("8MiB", Some(8 << 20)),
            ("1g", Some(1 << 30)),
            ("1t", Some(1 << 40)),
            ("1.5k", Some(1536)),
            (" 64b ", Some(64)),
            ("0", Some(0)),
            ("", None),
            ("m", None),
            ("8x", None),
            ("-1", None),
            ("8 m b", None),
            ("99999999999t", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_size(text).ok(), *want, "size {text:?}");
        }
    }

    #[test]
    fn durations() {
        let table: &[(&str, Option<Duration>)] = &[
            ("5s", Some(Duration::from_secs(5))),
            ("5", Some(Duration::from_secs(5))),
            ("0.5", Some(Duration::from_millis(500))),
            ("1m", Some(Duration::from_secs(60))),
            ("1h", Some(Duration::from_secs(3600))),
            ("1d", Some(Duration::from_secs(86400))),
            ("100ms", Some(Duration::from_millis(100))),
            ("2H", Some(Duration::from_secs(7200))),
            ("1w", Some(Duration::from_secs(7 * 86400))),
            ("1.5h", Some(Duration::from_secs(5400))),
            ("0.25ms", Some(Duration::from_micros(250))),
            ("1500ms", Some(Duration::from_millis(1500))),
            (" 30 m ", Some(Duration::from_secs(1800))),
            ("36500d", Some(Duration::from_secs(36500 * 86400))),
            ("36501d", None),
            ("5214w", Some(Duration::from_secs(5214 * 7 * 86400))),
            ("5215w", None),
            ("99999999999999999999s", None),
            ("18446744073709551615ms", None),
            ("307445734561825860m", None),
            ("1e3", None),
            ("1.5.0s", None),
            ("nan", None),
            ("inf", None),
            ("1y", None),
            ("", None),
            ("-1s", None),
            ("s", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_duration(text).ok(), *want, "time {text:?}");
        }
    }

    #[test]
    fn booleans() {
        for (text, want) in [
            ("true", Some(true)),
            ("yes", Some(true)),
            ("", Some(true)),
            ("TRUE", Some(true)),
            ("false", Some(false)),
            ("no", Some(false)),
            ("yse", None),
            ("1", None),
        ] {
            assert_eq!(parse_bool(text).ok(), want, "bool {text:?}");
        }
        assert_eq!(
            parse_bool("yse").unwrap_err().to_string(),
            "invalid boolean `yse`: expected true or false"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_int(" -3 ").unwrap(), -3);
        assert!(parse_uint("-3").is_err());
        assert_eq!(parse_float("0.25").unwrap(), 0.25);
        assert!(parse_float("inf").is_err());
    }

    #[test]
    fn lists_and_hashes() {
        assert_eq!(parse_list("a, b ,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(parse_list(r#"["a", 1, "b,c"]"#).unwrap(), ["a", "1", "b,c"]);
        assert_eq!(parse_list("").unwrap(), Vec::<String>::new());
        assert!(parse_list("[1,").is_err());
        assert_eq!(
            parse_hash("k1:v1, k2 : v2:x").unwrap(),
            [
                ("k1".to_owned(), "v1".to_owned()),
                ("k2".to_owned(), "v2:x".to_owned())
            ]
        );
        assert_eq!(
            parse_hash(r#"{"a": "b", "n": {"x": 1}}"#).unwrap(),
            [
                ("a".to_owned(), "b".to_owned()),
                ("n".to_owned(), r#"{"x":1}"#.to_owned())
            ]
        );
        assert!(parse_hash("novalue").is_err());
    }
}
