//! Wall-clock timestamps for log lines, formatted without a date-time crate.
//!
//! Cloud Logging wants RFC 3339 UTC (`2026-11-25T10:00:00.123456Z`); the text format copies
//! Python logging's `asctime` (`2026-11-25 10:00:00,123`). Both come from one civil-date split.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC instant split into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

impl UtcTime {
    /// Splits a system time; times before 1970 clamp to the epoch (clocks are not that wrong).
    pub fn from_system(t: SystemTime) -> Self {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self::from_unix(since.as_secs() as i64, since.subsec_micros())
    }

    /// Splits seconds since the Unix epoch plus microseconds (Hinnant's `civil_from_days`).
    pub fn from_unix(secs: i64, micros: u32) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        UtcTime {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            micros,
        }
    }

    /// `2026-11-25T10:00:00.123456Z`
    pub fn write_rfc3339(&self, out: &mut Vec<u8>) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        );
    }

    /// `2026-11-25 10:00:00,123` — Python logging's default `asctime`.
    pub fn write_python(&self, out: &mut Vec<u8>) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.micros / 1000
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc(secs: i64, micros: u32) -> String {
        let mut v = Vec::new();
        UtcTime::from_unix(secs, micros).write_rfc3339(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc(0, 0), "1970-01-01T00:00:00.000000Z");
        // 2026-11-25T10:00:00Z
        assert_eq!(rfc(1_795_600_800, 123_456), "2026-11-25T10:00:00.123456Z");
        // leap day
        assert_eq!(rfc(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
        assert_eq!(rfc(1_709_251_199, 0), "2024-02-29T23:59:59.000000Z");
    }

    #[test]
    fn python_asctime_has_comma_millis() {
        let mut v = Vec::new();
        UtcTime::from_unix(1_795_600_800, 123_456).write_python(&mut v);
        assert_eq!(String::from_utf8(v).unwrap(), "2026-11-25 10:00:00,123");
    }
}
