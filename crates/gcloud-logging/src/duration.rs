//! `google.protobuf.Duration` in its proto3 JSON form: decimal seconds with an `s` suffix
//! (`"0.120s"`, `"-1.5s"`, `"3s"`), as in `HttpRequest.latency`.
//!
//! Output uses the fewest of 0, 3, 6 or 9 fractional digits that are exact, like Google's own
//! serializers; input accepts 0 to 9 digits.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::time::{take_fraction, write_fraction};

/// ±10,000 years, the range `google.protobuf.Duration` allows.
const MAX_SECONDS: i64 = 315_576_000_000;

/// A signed span of time. `seconds` and `nanos` have the same sign (or are zero), as in
/// `google.protobuf.Duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    /// Whole seconds.
    pub seconds: i64,
    /// Nanoseconds, `-999_999_999..=999_999_999`, with the sign of `seconds`.
    pub nanos: i32,
}

/// Why a text is not a proto3 JSON duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: expected decimal seconds with an 's' suffix, such as \"0.120s\""
)]
pub struct DurationParseError {
    /// The text that was given (cut to 64 bytes).
    pub input: String,
}

impl Duration {
    /// The length of a `std::time::Duration` (saturating at the proto range).
    pub fn from_std(d: std::time::Duration) -> Duration {
        Duration {
            seconds: d.as_secs().min(MAX_SECONDS as u64) as i64,
            nanos: d.subsec_nanos() as i32,
        }
    }

    /// The `std::time::Duration`, or `None` when negative.
    pub fn to_std(self) -> Option<std::time::Duration> {
        (self.seconds >= 0 && self.nanos >= 0)
            .then(|| std::time::Duration::new(self.seconds as u64, self.nanos as u32))
    }

    /// Parses `"1.5s"`, `"-0.001s"`, `"3s"`.
    pub fn parse(text: &str) -> Result<Duration, DurationParseError> {
        parse(text.as_bytes()).ok_or_else(|| DurationParseError {
            input: text.chars().take(64).collect(),
        })
    }
}

fn parse(b: &[u8]) -> Option<Duration> {
    let body = b.strip_suffix(b"s")?;
    let (negative, body) = match body.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let int_len = body.iter().take_while(|d| d.is_ascii_digit()).count();
    if int_len == 0 || int_len > 12 {
        return None;
    }
    let mut seconds: i64 = 0;
    for &d in &body[..int_len] {
        seconds = seconds * 10 + i64::from(d - b'0');
    }
    let mut pos = int_len;
    let nanos = take_fraction(body, &mut pos).ok()? as i32;
    // At most nine fractional digits: a tenth would be a precision the type cannot hold.
    if pos != body.len() || pos > int_len + 10 || seconds > MAX_SECONDS {
        return None;
    }
    Some(if negative {
        Duration {
            seconds: -seconds,
            nanos: -nanos,
        }
    } else {
        Duration { seconds, nanos }
    })
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds < 0 || self.nanos < 0 {
            f.write_str("-")?;
        }
        let mut fraction = Vec::with_capacity(10);
        write_fraction(self.nanos.unsigned_abs(), &mut fraction);
        write!(
            f,
            "{}{}s",
            self.seconds.unsigned_abs(),
            String::from_utf8_lossy(&fraction)
        )
    }
}

impl std::str::FromStr for Duration {
    type Err = DurationParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"0.120s\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_google() {
        let cases = [
            (
                Duration {
                    seconds: 0,
                    nanos: 120_000_000,
                },
                "0.120s",
            ),
            (
                Duration {
                    seconds: 3,
                    nanos: 0,
                },
                "3s",
            ),
            (
                Duration {
                    seconds: 1,
                    nanos: 340_012,
                },
                "1.000340012s",
            ),
            (
                Duration {
                    seconds: 1,
                    nanos: 340_000,
                },
                "1.000340s",
            ),
            (
                Duration {
                    seconds: -1,
                    nanos: -500_000_000,
                },
                "-1.500s",
            ),
            (
                Duration {
                    seconds: 0,
                    nanos: -1_000_000,
                },
                "-0.001s",
            ),
        ];
        for (d, want) in cases {
            assert_eq!(d.to_string(), want);
            assert_eq!(Duration::parse(want).unwrap(), d);
        }
    }

    #[test]
    fn parses_any_digit_count_up_to_nine() {
        assert_eq!(
            Duration::parse("0.12s").unwrap(),
            Duration {
                seconds: 0,
                nanos: 120_000_000
            }
        );
        assert_eq!(
            Duration::parse("10.5s").unwrap(),
            Duration {
                seconds: 10,
                nanos: 500_000_000
            }
        );
        assert_eq!(Duration::parse("0.000000001s").unwrap().nanos, 1);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "s",
            "1",
            "1.s",
            ".5s",
            "1.5 s",
            "1.5ms",
            "+1s",
            "0.0000000001s",
            "1e3s",
            "-s",
            "99999999999999s",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn converts_to_and_from_std() {
        let std = std::time::Duration::from_millis(1500);
        let d = Duration::from_std(std);
        assert_eq!(d.to_string(), "1.500s");
        assert_eq!(d.to_std(), Some(std));
        assert_eq!(
            Duration {
                seconds: -1,
                nanos: 0
            }
            .to_std(),
            None
        );
    }

    #[test]
    fn serde_is_the_string_form() {
        let d: Duration = serde_json::from_str("\"0.120s\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"0.120s\"");
        assert!(serde_json::from_str::<Duration>("0.12").is_err());
    }
}
