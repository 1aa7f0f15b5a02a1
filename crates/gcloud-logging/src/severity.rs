//! `LogSeverity`: the nine Cloud Logging levels, their wire form, and the lenient parsing that
//! Google's logging agents apply to whatever an application wrote in its `severity` field.
//!
//! On the wire (proto3 JSON) a severity is the name (`"ERROR"`); Cloud Logging also accepts the
//! number, so deserializing takes either, strictly. Lenient parsing (`WARN`, `fatal`, `450`) is for
//! user data only and lives in [`Severity::parse_lenient`].

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A Cloud Logging severity. Ordered by rank, so `Severity::Error > Severity::Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// No severity assigned (0).
    #[default]
    Default,
    /// Debug or trace information (100).
    Debug,
    /// Routine information (200).
    Info,
    /// Normal but significant events (300).
    Notice,
    /// Might cause problems (400).
    Warning,
    /// Likely to cause problems (500).
    Error,
    /// Severe problems or brief outages (600).
    Critical,
    /// A person must take action immediately (700).
    Alert,
    /// One or more systems are unusable (800).
    Emergency,
}

impl Severity {
    /// Every severity, lowest rank first.
    pub const ALL: [Severity; 9] = [
        Severity::Default,
        Severity::Debug,
        Severity::Info,
        Severity::Notice,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
        Severity::Alert,
        Severity::Emergency,
    ];

    /// The proto enum name, as sent on the wire (`"WARNING"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Default => "DEFAULT",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Notice => "NOTICE",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
            Severity::Alert => "ALERT",
            Severity::Emergency => "EMERGENCY",
        }
    }

    /// The proto enum number (`Warning` → 400); queries compare severities by it.
    pub fn rank(self) -> i32 {
        match self {
            Severity::Default => 0,
            Severity::Debug => 100,
            Severity::Info => 200,
            Severity::Notice => 300,
            Severity::Warning => 400,
            Severity::Error => 500,
            Severity::Critical => 600,
            Severity::Alert => 700,
            Severity::Emergency => 800,
        }
    }

    /// The severity whose rank is the greatest not above `n`: 450 → Warning, 50 → Default,
    /// 9999 → Emergency, negative → Default.
    pub fn from_number(n: i64) -> Severity {
        let index = (n.clamp(0, 800) / 100) as usize;
        Severity::ALL[index]
    }

    /// The severity with exactly this proto name (`"ERROR"`), as the API itself accepts.
    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The severity with exactly this rank, as the API itself accepts.
    pub fn from_rank(rank: i64) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|s| i64::from(s.rank()) == rank)
    }

    /// Reads a severity the way logging agents read an application's `severity` field: names in
    /// any case, common aliases (`WARN`, `FATAL`, `ERR`, `SEVERE`, `TRACE`, `CRIT`, `EMERG`,
    /// `FINE`/`FINER`/`FINEST`), single letters (`D I N W E C A`, and `F` for fatal), and numbers
    /// floored to the enum (`"450"` → Warning). Surrounding whitespace is ignored.
    pub fn parse_lenient(text: &str) -> Option<Severity> {
        let text = text.trim();
        if text.is_empty() || text.len() > 16 {
            return None;
        }
        if let Some(n) = parse_number(text) {
            return Some(Severity::from_number(n));
        }
        let mut upper = [0u8; 16];
        let upper = &mut upper[..text.len()];
        upper.copy_from_slice(text.as_bytes());
        upper.make_ascii_uppercase();
        let severity = match &*upper {
            b"DEFAULT" => Severity::Default,
            b"DEBUG" | b"D" | b"TRACE" | b"FINE" | b"FINER" | b"FINEST" => Severity::Debug,
            b"INFO" | b"I" | b"INFORMATION" | b"INFORMATIONAL" => Severity::Info,
            b"NOTICE" | b"N" => Severity::Notice,
            b"WARNING" | b"W" | b"WARN" => Severity::Warning,
            b"ERROR" | b"E" | b"ERR" | b"SEVERE" => Severity::Error,
            b"CRITICAL" | b"C" | b"CRIT" | b"FATAL" | b"F" => Severity::Critical,
            b"ALERT" | b"A" => Severity::Alert,
            b"EMERGENCY" | b"EMERG" => Severity::Emergency,
            _ => return None,
        };
        Some(severity)
    }

    /// Reads a JSON value leniently: a string as [`Severity::parse_lenient`], a number floored to
    /// the enum. Anything else (object, bool, null) is not a severity.
    pub fn from_json_lenient(value: &serde_json::Value) -> Option<Severity> {
        match value {
            serde_json::Value::String(s) => Severity::parse_lenient(s),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Some(Severity::from_number(i))
                } else if n.as_u64().is_some() {
                    Some(Severity::Emergency)
                } else {
                    n.as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| Severity::from_number(f.floor() as i64))
                }
            }
            _ => None,
        }
    }
}

/// An integer or a decimal written as text (`"450"`, `"450.7"`, `"-3"`), floored.
fn parse_number(text: &str) -> Option<i64> {
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+') {
        return None;
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let f: f64 = text.parse().ok()?;
    // `as` saturates, which is what flooring to the enum needs for huge values.
    f.is_finite().then(|| f.floor() as i64)
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeverityVisitor;

        impl Visitor<'_> for SeverityVisitor {
            type Value = Severity;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a LogSeverity name such as \"ERROR\" or its number such as 500")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Severity, E> {
                Severity::from_name(v)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Severity, E> {
                Severity::from_rank(v)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Severity, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(Severity::from_rank)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
        }

        deserializer.deserialize_any(SeverityVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip_through_as_str_and_rank() {
        for s in Severity::ALL {
            assert_eq!(Severity::from_name(s.as_str()), Some(s));
            assert_eq!(Severity::from_rank(i64::from(s.rank())), Some(s));
            assert_eq!(Severity::from_number(i64::from(s.rank())), s);
        }
        assert!(Severity::Error > Severity::Warning);
        assert_eq!(Severity::Notice.rank(), 300);
    }

    #[test]
    fn numbers_floor_to_the_enum() {
        assert_eq!(Severity::from_number(450), Severity::Warning);
        assert_eq!(Severity::from_number(50), Severity::Default);
        assert_eq!(Severity::from_number(9999), Severity::Emergency);
        assert_eq!(Severity::from_number(-5), Severity::Default);
        assert_eq!(Severity::from_number(i64::MAX), Severity::Emergency);
        assert_eq!(Severity::parse_lenient("450"), Some(Severity::Warning));
        assert_eq!(Severity::parse_lenient("599.9"), Some(Severity::Error));
        assert_eq!(Severity::parse_lenient(" 200 "), Some(Severity::Info));
        assert_eq!(Severity::parse_lenient("1e9"), Some(Severity::Emergency));
    }

    #[test]
    fn names_in_any_case_and_aliases() {
        let cases = [
            ("error", Severity::Error),
            ("Error", Severity::Error),
            ("WARN", Severity::Warning),
            ("warning", Severity::Warning),
            ("FATAL", Severity::Critical),
            ("err", Severity::Error),
            ("severe", Severity::Error),
            ("trace", Severity::Debug),
            ("crit", Severity::Critical),
            ("emerg", Severity::Emergency),
            ("fine", Severity::Debug),
            ("FINER", Severity::Debug),
            ("finest", Severity::Debug),
            ("default", Severity::Default),
            ("notice", Severity::Notice),
            ("alert", Severity::Alert),
            ("emergency", Severity::Emergency),
            ("info", Severity::Info),
            ("debug", Severity::Debug),
        ];
        for (text, want) in cases {
            assert_eq!(Severity::parse_lenient(text), Some(want), "{text}");
        }
    }

    #[test]
    fn single_letters() {
        let cases = [
            ("D", Severity::Debug),
            ("i", Severity::Info),
            ("N", Severity::Notice),
            ("w", Severity::Warning),
            ("E", Severity::Error),
            ("C", Severity::Critical),
            ("A", Severity::Alert),
            ("F", Severity::Critical),
        ];
        for (text, want) in cases {
            assert_eq!(Severity::parse_lenient(text), Some(want), "{text}");
        }
    }

    #[test]
    fn garbage_is_not_a_severity() {
        for text in [
            "",
            "  ",
            "X",
            "loud",
            "ERRORS",
            "a very long string indeed",
            "-",
            "NaN",
            "inf",
        ] {
            assert_eq!(Severity::parse_lenient(text), None, "{text:?}");
        }
    }

    #[test]
    fn json_values_leniently() {
        assert_eq!(
            Severity::from_json_lenient(&json!("warn")),
            Some(Severity::Warning)
        );
        assert_eq!(
            Severity::from_json_lenient(&json!(550)),
            Some(Severity::Error)
        );
        assert_eq!(
            Severity::from_json_lenient(&json!(299.5)),
            Some(Severity::Info)
        );
        assert_eq!(
            Severity::from_json_lenient(&json!(u64::MAX)),
            Some(Severity::Emergency)
        );
        assert_eq!(Severity::from_json_lenient(&json!({"level": "x"})), None);
        assert_eq!(Severity::from_json_lenient(&json!(true)), None);
        assert_eq!(Severity::from_json_lenient(&json!(null)), None);
    }

    #[test]
    fn wire_form_is_the_name_and_accepts_name_or_number() {
        assert_eq!(
            serde_json::to_string(&Severity::Error).unwrap(),
            "\"ERROR\""
        );
        let s: Severity = serde_json::from_str("\"CRITICAL\"").unwrap();
        assert_eq!(s, Severity::Critical);
        let s: Severity = serde_json::from_str("400").unwrap();
        assert_eq!(s, Severity::Warning);
        assert!(serde_json::from_str::<Severity>("\"warn\"").is_err());
        assert!(serde_json::from_str::<Severity>("450").is_err());
        assert!(serde_json::from_str::<Severity>("{}").is_err());
    }
}
