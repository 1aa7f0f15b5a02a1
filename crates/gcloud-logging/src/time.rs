//! `google.protobuf.Timestamp` in its proto3 JSON form: RFC 3339 in UTC with nanoseconds.
//!
//! The civil-date math (days ↔ year/month/day, Howard Hinnant's algorithms) is written here so the
//! crate needs no date library. Output follows Google's own serializers: 0, 3, 6 or 9 fractional
//! digits, the fewest that keep every nanosecond (`…:00Z`, `…:00.120Z`, `…:00.123456789Z`); the
//! value, not the text, is what Cloud Logging's dedup compares. [`TimestampFormatter`] caches the
//! `YYYY-MM-DDTHH:MM:SS` prefix of the last second it wrote, for the encoder's hot path.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

const NANOS_PER_SECOND: u32 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// 0001-01-01T00:00:00Z, the earliest timestamp the API accepts.
const MIN_SECONDS: i64 = -62_135_596_800;
/// 9999-12-31T23:59:59Z, the latest whole second the API accepts.
const MAX_SECONDS: i64 = 253_402_300_799;

/// A point in time: seconds since the Unix epoch plus nanoseconds (always `< 1_000_000_000`), as
/// in `google.protobuf.Timestamp`. Ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z; negative before it.
    pub seconds: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

/// Why a text is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {input:?}: {reason}")]
pub struct TimestampParseError {
    /// The text that was given (cut to 64 bytes).
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Timestamp {
    /// A timestamp from seconds and nanoseconds since the epoch; `None` if `nanos` is not below
    /// one second.
    pub fn new(seconds: i64, nanos: u32) -> Option<Timestamp> {
        (nanos < NANOS_PER_SECOND).then_some(Timestamp { seconds, nanos })
    }

    /// Whether Cloud Logging can represent it: years 0001 to 9999 and `nanos` below one second.
    pub fn is_valid(self) -> bool {
        (MIN_SECONDS..=MAX_SECONDS).contains(&self.seconds) && self.nanos < NANOS_PER_SECOND
    }

    /// The wall-clock time now. (Wall time, not a monotonic clock: this is what a log line is
    /// stamped with.)
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// Converts a `SystemTime`, including times before the epoch.
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        match time.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp {
                seconds: d.as_secs() as i64,
                nanos: d.subsec_nanos(),
            },
            Err(e) => {
                let d = e.duration();
                let (mut seconds, mut nanos) = (-(d.as_secs() as i64), d.subsec_nanos());
                if nanos > 0 {
                    seconds -= 1;
                    nanos = NANOS_PER_SECOND - nanos;
                }
                Timestamp { seconds, nanos }
            }
        }
    }

    /// Parses RFC 3339: `2026-11-25T10:00:00Z`, `…T10:00:00.5+09:00`, `t`/space as the separator,
    /// `z` for UTC, up to nine fractional digits (further digits are truncated), and second `60`
    /// (a leap second, which lands on the next second).
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimestampParseError> {
        parse_rfc3339(text.as_bytes()).map_err(|reason| TimestampParseError {
            input: text.chars().take(64).collect(),
            reason,
        })
    }

    /// Appends the RFC 3339 form (no quotes) to `out`.
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&civil_prefix(self.seconds));
        write_fraction(self.nanos, out);
        out.push(b'Z');
    }

    /// The RFC 3339 form, e.g. `2026-11-25T10:00:00.123Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(32);
        self.write_rfc3339(&mut buf);
        f.write_str(&String::from_utf8_lossy(&buf))
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse_rfc3339(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = Vec::with_capacity(32);
        self.write_rfc3339(&mut buf);
        serializer.serialize_str(&String::from_utf8_lossy(&buf))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;

        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp such as \"2026-11-25T10:00:00.123Z\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(TimestampVisitor)
    }
}

/// Writes timestamps as RFC 3339, reusing the date-and-time prefix while consecutive timestamps
/// fall in the same second (which, for log lines, is nearly always).
#[derive(Debug, Clone, Default)]
pub struct TimestampFormatter {
    cached: Option<(i64, [u8; 19])>,
}

impl TimestampFormatter {
    /// A formatter with an empty cache.
    pub fn new() -> TimestampFormatter {
        TimestampFormatter::default()
    }

    /// Appends `ts` in RFC 3339 form (no quotes) to `out`; same bytes as
    /// [`Timestamp::write_rfc3339`].
    pub fn write(&mut self, ts: Timestamp, out: &mut Vec<u8>) {
        let prefix = match self.cached {
            Some((second, prefix)) if second == ts.seconds => prefix,
            _ => {
                let prefix = civil_prefix(ts.seconds);
                self.cached = Some((ts.seconds, prefix));
                prefix
            }
        };
        out.extend_from_slice(&prefix);
        write_fraction(ts.nanos, out);
        out.push(b'Z');
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DDTHH:MM:SS` for a second since the epoch. Years outside 0..=9999 (which the API
/// rejects anyway) are written modulo 10000 rather than breaking the fixed width.
fn civil_prefix(seconds: i64) -> [u8; 19] {
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY) as u32;
    let (year, month, day) = civil_from_days(days);
    let year = year.rem_euclid(10_000) as u32;
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let mut out = *b"0000-00-00T00:00:00";
    put_digits(&mut out[0..4], year);
    put_digits(&mut out[5..7], month);
    put_digits(&mut out[8..10], day);
    put_digits(&mut out[11..13], hour);
    put_digits(&mut out[14..16], minute);
    put_digits(&mut out[17..19], second);
    out
}

/// Writes `value` as decimal digits filling `slot`, zero-padded on the left.
fn put_digits(slot: &mut [u8], mut value: u32) {
    for b in slot.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// `.123`, `.123456` or `.123456789` (the fewest of 0/3/6/9 digits that are exact), or nothing.
pub(crate) fn write_fraction(nanos: u32, out: &mut Vec<u8>) {
    if nanos == 0 {
        return;
    }
    let mut digits = [0u8; 9];
    put_digits(&mut digits, nanos);
    let len = if nanos % 1_000_000 == 0 {
        3
    } else if nanos % 1_000 == 0 {
        6
    } else {
        9
    };
    out.push(b'.');
    out.extend_from_slice(&digits[..len]);
}

/// Reads exactly `n` ASCII digits at `*pos`.
pub(crate) fn take_digits(bytes: &[u8], pos: &mut usize, n: usize) -> Option<u32> {
    let digits = bytes.get(*pos..*pos + n)?;
    let mut value = 0u32;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(d - b'0');
    }
    *pos += n;
    Some(value)
}

fn expect_byte(bytes: &[u8], pos: &mut usize, want: u8) -> Option<()> {
    (bytes.get(*pos) == Some(&want)).then(|| *pos += 1)
}

/// Reads `.ddd…` at `*pos` as nanoseconds; digits past the ninth are dropped.
pub(crate) fn take_fraction(bytes: &[u8], pos: &mut usize) -> Result<u32, &'static str> {
    if bytes.get(*pos) != Some(&b'.') {
        return Ok(0);
    }
    *pos += 1;
    let start = *pos;
    let mut nanos = 0u32;
    while let Some(d) = bytes.get(*pos).filter(|d| d.is_ascii_digit()) {
        if *pos - start < 9 {
            nanos = nanos * 10 + u32::from(d - b'0');
        }
        *pos += 1;
    }
    let count = *pos - start;
    if count == 0 {
        return Err("a '.' must be followed by digits");
    }
    for _ in count..9 {
        nanos *= 10;
    }
    Ok(nanos)
}

fn parse_rfc3339(b: &[u8]) -> Result<Timestamp, &'static str> {
    let mut pos = 0;
    let date = (|| {
        let year = take_digits(b, &mut pos, 4)?;
        expect_byte(b, &mut pos, b'-')?;
        let month = take_digits(b, &mut pos, 2)?;
        expect_byte(b, &mut pos, b'-')?;
        let day = take_digits(b, &mut pos, 2)?;
        Some((i64::from(year), month, day))
    })()
    .ok_or("expected a date YYYY-MM-DD")?;
    let (year, month, day) = date;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err("no such date");
    }
    match b.get(pos) {
        Some(b'T' | b't' | b' ') => pos += 1,
        _ => return Err("expected 'T' between date and time"),
    }
    let time = (|| {
        let hour = take_digits(b, &mut pos, 2)?;
        expect_byte(b, &mut pos, b':')?;
        let minute = take_digits(b, &mut pos, 2)?;
        expect_byte(b, &mut pos, b':')?;
        let second = take_digits(b, &mut pos, 2)?;
        Some((hour, minute, second))
    })()
    .ok_or("expected a time HH:MM:SS")?;
    let (hour, minute, second) = time;
    if hour > 23 || minute > 59 || second > 60 {
        return Err("no such time of day");
    }
    let nanos = take_fraction(b, &mut pos)?;
    let offset_seconds = match b.get(pos) {
        Some(b'Z' | b'z') => {
            pos += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            pos += 1;
            let (h, m) = (|| {
                let h = take_digits(b, &mut pos, 2)?;
                expect_byte(b, &mut pos, b':')?;
                Some((h, take_digits(b, &mut pos, 2)?))
            })()
            .ok_or("expected a UTC offset ±HH:MM")?;
            if h > 23 || m > 59 {
                return Err("no such UTC offset");
            }
            let offset = i64::from(h * 3600 + m * 60);
            if sign == b'-' { -offset } else { offset }
        }
        _ => return Err("expected 'Z' or a UTC offset"),
    };
    if pos != b.len() {
        return Err("unexpected text after the timestamp");
    }
    let seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset_seconds;
    Ok(Timestamp { seconds, nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn civil_math_matches_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(1, 1, 1) * SECONDS_PER_DAY, MIN_SECONDS);
        assert_eq!(
            days_from_civil(9999, 12, 31) * SECONDS_PER_DAY + 86_399,
            MAX_SECONDS
        );
        for days in (-800_000..3_000_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!(d >= 1 && d <= days_in_month(y, m));
        }
    }

    #[test]
    fn formats_with_the_fewest_of_0_3_6_9_digits() {
        let base = ts("2026-11-25T10:00:00Z").seconds;
        let cases = [
            (0, "2026-11-25T10:00:00Z"),
            (120_000_000, "2026-11-25T10:00:00.120Z"),
            (123_456_000, "2026-11-25T10:00:00.123456Z"),
            (123_456_789, "2026-11-25T10:00:00.123456789Z"),
            (1, "2026-11-25T10:00:00.000000001Z"),
        ];
        for (nanos, want) in cases {
            assert_eq!(Timestamp::new(base, nanos).unwrap().to_string(), want);
        }
        assert_eq!(Timestamp::default().to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp {
                seconds: -1,
                nanos: 500_000_000
            }
            .to_string(),
            "1969-12-31T23:59:59.500Z"
        );
    }

    #[test]
    fn parses_zones_fractions_and_separators() {
        let utc = ts("2026-11-25T10:00:00.123456789Z");
        assert_eq!(utc.nanos, 123_456_789);
        assert_eq!(ts("2026-11-25T19:00:00.123456789+09:00"), utc);
        assert_eq!(ts("2026-11-25T05:30:00.123456789-04:30"), utc);
        assert_eq!(ts("2026-11-25t10:00:00.123456789z"), utc);
        assert_eq!(ts("2026-11-25 10:00:00.123456789Z"), utc);
        assert_eq!(ts("2026-11-25T10:00:00.1234567891234Z"), utc);
        assert_eq!(ts("2026-11-25T10:00:00.5Z").nanos, 500_000_000);
        assert_eq!(ts("2026-11-25T10:00:00Z").nanos, 0);
        assert_eq!(ts("2016-12-31T23:59:60Z"), ts("2017-01-01T00:00:00Z"));
        assert_eq!(
            ts("2024-02-29T00:00:00Z").to_string(),
            "2024-02-29T00:00:00Z"
        );
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in [
            "",
            "2026-11-25",
            "2026-11-25T10:00:00",
            "2026-11-25T10:00Z",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T10:00:00.Z",
            "2026-11-25T10:00:00+0900",
            "2026-11-25T10:00:00Z trailing",
            "26-11-25T10:00:00Z",
            "１９７０-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad:?}");
        }
        let err = Timestamp::parse_rfc3339("2026-11-25T10:00:00").unwrap_err();
        assert!(err.to_string().contains("2026-11-25T10:00:00"), "{err}");
    }

    #[test]
    fn round_trips_across_the_valid_range() {
        for seconds in (MIN_SECONDS..=MAX_SECONDS).step_by(7_777_777_777) {
            for nanos in [0, 7_000_000, 7_000, 7, 999_999_999] {
                let t = Timestamp { seconds, nanos };
                assert!(t.is_valid());
                assert_eq!(ts(&t.to_string()), t);
            }
        }
        assert!(
            !Timestamp {
                seconds: MAX_SECONDS + 1,
                nanos: 0
            }
            .is_valid()
        );
        assert!(
            !Timestamp {
                seconds: 0,
                nanos: NANOS_PER_SECOND
            }
            .is_valid()
        );
    }

    #[test]
    fn cached_formatter_writes_the_same_bytes() {
        let mut formatter = TimestampFormatter::new();
        let mut seconds = 1_795_000_000;
        for i in 0..2000u32 {
            if i % 7 == 0 {
                seconds += i64::from(i % 3);
            }
            let t = Timestamp {
                seconds,
                nanos: i * 499_979 % NANOS_PER_SECOND,
            };
            let mut fast = Vec::new();
            formatter.write(t, &mut fast);
            assert_eq!(String::from_utf8(fast).unwrap(), t.to_string());
        }
    }

    #[test]
    fn system_time_before_and_after_the_epoch() {
        use std::time::Duration;
        let after = UNIX_EPOCH + Duration::new(5, 250);
        assert_eq!(
            Timestamp::from_system_time(after),
            Timestamp {
                seconds: 5,
                nanos: 250
            }
        );
        let before = UNIX_EPOCH - Duration::new(1, 250_000_000);
        assert_eq!(
            Timestamp::from_system_time(before),
            Timestamp {
                seconds: -2,
                nanos: 750_000_000
            }
        );
        assert!(Timestamp::now().is_valid());
    }

    #[test]
    fn serde_is_the_rfc3339_string() {
        let t = ts("2026-11-25T10:00:00.120Z");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-25T10:00:00.120Z\""
        );
        let back: Timestamp = serde_json::from_str("\"2026-11-25T19:00:00.12+09:00\"").unwrap();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<Timestamp>("1700000000").is_err());
    }
}
