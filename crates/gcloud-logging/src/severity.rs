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

    /// Reads an application's severity text the way fluent-plugin-google-cloud's
    /// `parse_severity` does: surrounding ASCII whitespace ignored, names in any ASCII case, the
    /// plugin's aliases (`WARN`, `FATAL`, `TRACE`, `TRACE_INT`, `FINE`, `FINER`, `FINEST`,
    /// `SEVERE`, `CONFIG`, `CRIT`, `EMERG`, `INFORMATION`, `ERR`), single letters (`D I N W E C
    /// A`, and `F` for fatal), and a string of ASCII digits floored to the enum (`"450"` →
    /// Warning, anything from 800 on → Emergency). `None` for anything else (`"loud"`, `"-3"`,
    /// `"450.5"`), which [`Severity::from_agent_text`] reads as `DEFAULT`, as the plugin does.
    pub fn parse_lenient(text: &str) -> Option<Severity> {
        let text =
            text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{b}' || c == '\0');
        if text.is_empty() {
            return None;
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            // Beyond i64 the number is still at least 800.
            return Some(
                text.parse()
                    .map_or(Severity::Emergency, Severity::from_number),
            );
        }
        if text.len() > 16 {
            return None;
        }
        let mut upper = [0u8; 16];
        let upper = &mut upper[..text.len()];
        upper.copy_from_slice(text.as_bytes());
        upper.make_ascii_uppercase();
        let severity = match &*upper {
            b"DEFAULT" => Severity::Default,
            b"DEBUG" | b"D" | b"TRACE" | b"TRACE_INT" | b"FINE" | b"FINER" | b"FINEST"
            | b"CONFIG" => Severity::Debug,
            b"INFO" | b"I" | b"INFORMATION" => Severity::Info,
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

    /// An application's severity text as the entry's severity: [`Severity::parse_lenient`],
    /// and `DEFAULT` for text it does not recognize (fluent-plugin-google-cloud's fallback).
    pub fn from_agent_text(text: &str) -> Severity {
        Severity::parse_lenient(text).unwrap_or_default()
    }

    /// A JSON number as the entry's severity, as fluent-plugin-google-cloud reads one (it turns
    /// the number into text first): a non-negative integer is floored to the enum (from 800 on,
    /// Emergency); a negative one, a fraction or an exponent (`450.5`, `4e2`) is `DEFAULT`. An
    /// integer beyond 64 bits reads as a float, so it is `DEFAULT` too.
    pub fn from_json_number(n: &serde_json::Number) -> Severity {
        match (n.as_i64(), n.as_u64()) {
            (Some(i), _) if i >= 0 => Severity::from_number(i),
            (None, Some(_)) => Severity::Emergency,
            _ => Severity::Default,
        }
    }

    /// Reads a JSON `severity` value as Google's logging agent does: a string by
    /// [`Severity::from_agent_text`], a number by [`Severity::from_json_number`]. Anything else
    /// (object, array, bool, null) is not a severity: `None`, and it stays in the payload.
    pub fn from_json_lenient(value: &serde_json::Value) -> Option<Severity> {
        match value {
            serde_json::Value::String(s) => Some(Severity::from_agent_text(s)),
            serde_json::Value::Number(n) => Some(Severity::from_json_number(n)),
            _ => None,
        }
    }
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
    }

    /// fluent-plugin-google-cloud's `parse_severity` (lib/fluent/plugin/out_google_cloud.rb):
    /// `/\A\d+\z/` strings are floored to a multiple of 100 and capped at 800; any other number
    /// text falls through to its translation table and then to `DEFAULT`.
    #[test]
    fn digit_strings_floor_like_the_plugin_and_other_numbers_do_not() {
        let cases = [
            ("450", Some(Severity::Warning)),
            (" 200 ", Some(Severity::Info)),
            ("0450", Some(Severity::Warning)),
            ("99", Some(Severity::Default)),
            ("800", Some(Severity::Emergency)),
            ("100000", Some(Severity::Emergency)),
            ("123456789012345678901234567890", Some(Severity::Emergency)),
            ("599.9", None),
            ("-3", None),
            ("+300", None),
            ("1e9", None),
            ("4_00", None),
        ];
        for (text, want) in cases {
            assert_eq!(Severity::parse_lenient(text), want, "{text:?}");
            assert_eq!(
                Severity::from_agent_text(text),
                want.unwrap_or_default(),
                "{text:?}"
            );
        }
    }

    /// The plugin's VALID_SEVERITIES and SEVERITY_TRANSLATIONS, after `upcase.strip`.
    #[test]
    fn names_in_any_case_and_the_plugins_aliases() {
        let cases = [
            ("error", Severity::Error),
            ("Error", Severity::Error),
            ("WARN", Severity::Warning),
            ("warning", Severity::Warning),
            ("FATAL", Severity::Critical),
            ("err", Severity::Error),
            ("severe", Severity::Error),
            ("trace", Severity::Debug),
            ("trace_int", Severity::Debug),
            ("CONFIG", Severity::Debug),
            ("config", Severity::Debug),
            ("crit", Severity::Critical),
            ("emerg", Severity::Emergency),
            ("fine", Severity::Debug),
            ("FINER", Severity::Debug),
            ("finest", Severity::Debug),
            ("information", Severity::Info),
            ("default", Severity::Default),
            ("notice", Severity::Notice),
            ("alert", Severity::Alert),
            ("emergency", Severity::Emergency),
            ("info", Severity::Info),
            ("debug", Severity::Debug),
            ("\tERROR\n", Severity::Error),
            ("\u{b}error\0", Severity::Error),
        ];
        for (text, want) in cases {
            assert_eq!(Severity::parse_lenient(text), Some(want), "{text:?}");
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
            assert_eq!(Severity::parse_lenient(text), Some(want), "{text:?}");
        }
    }

    /// Text the plugin does not know becomes `DEFAULT` there ("If all else fails, use
    /// 'DEFAULT'"), and so here.
    #[test]
    fn unknown_text_is_default() {
        for text in [
            "",
            "  ",
            "X",
            "loud",
            "ERRORS",
            "informational",
            "a very long string indeed",
            "-",
            "NaN",
            "inf",
            "\u{a0}INFO",
        ] {
            assert_eq!(Severity::parse_lenient(text), None, "{text:?}");
            assert_eq!(
                Severity::from_agent_text(text),
                Severity::Default,
                "{text:?}"
            );
        }
    }

    #[test]
    fn json_values_as_the_plugin_reads_them() {
        let cases = [
            (json!("warn"), Some(Severity::Warning)),
            (json!("loud"), Some(Severity::Default)),
            (json!(550), Some(Severity::Error)),
            (json!(0), Some(Severity::Default)),
            (json!(-100), Some(Severity::Default)),
            (json!(299.5), Some(Severity::Default)),
            (json!(400.0), Some(Severity::Default)),
            (json!(u64::MAX), Some(Severity::Emergency)),
            (json!({"level": "x"}), None),
            (json!(["ERROR"]), None),
            (json!(true), None),
            (json!(null), None),
        ];
        for (value, want) in cases {
            assert_eq!(Severity::from_json_lenient(&value), want, "{value}");
        }
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
