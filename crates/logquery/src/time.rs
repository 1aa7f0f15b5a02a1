//! A small RFC 3339 parser, so that timestamps compare as instants rather than
//! as strings (`+09:00` offsets and fractional seconds of any length break
//! lexicographic order). Written by hand to keep the crate free of a date
//! library; it only needs to turn text into nanoseconds since the Unix epoch.

/// Nanoseconds since 1970-01-01T00:00:00Z.
pub type Instant = i128;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Parses the timestamp forms Cloud Logging accepts in filters:
/// `2026-11-25T10:00:00Z`, `...T10:00:00.123456789+09:00`, `+0900`, `+09`,
/// no zone (UTC), seconds omitted, and a bare date (midnight UTC).
pub fn parse_timestamp(text: &str) -> Option<Instant> {
    let mut cur = Cursor {
        bytes: text.trim().as_bytes(),
        pos: 0,
    };
    let year = cur.digits(4)?;
    cur.expect(b'-')?;
    let month = cur.digits(2)?;
    cur.expect(b'-')?;
    let day = cur.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if cur.at_end() {
        return Some(i128::from(days) * 86_400 * NANOS_PER_SECOND);
    }
    if !matches!(cur.next()?, b'T' | b't' | b' ') {
        return None;
    }
    let hour = cur.digits(2)?;
    cur.expect(b':')?;
    let minute = cur.digits(2)?;
    let mut second = 0;
    let mut nanos: i128 = 0;
    if cur.peek() == Some(b':') {
        cur.pos += 1;
        second = cur.digits(2)?;
        if matches!(cur.peek(), Some(b'.' | b',')) {
            cur.pos += 1;
            nanos = cur.fraction()?;
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset_seconds = match cur.next() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = cur.digits(2)?;
            if cur.peek() == Some(b':') {
                cur.pos += 1;
            }
            let minutes = if cur.at_end() { 0 } else { cur.digits(2)? };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 3600 + minutes * 60;
            if sign == b'+' { total } else { -total }
        }
        Some(_) => return None,
    };
    if !cur.at_end() {
        return None;
    }
    let seconds = i128::from(days) * 86_400 + i128::from(hour * 3600 + minute * 60 + second)
        - i128::from(offset_seconds);
    Some(seconds * NANOS_PER_SECOND + nanos)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }
    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }
    fn digits(&mut self, count: usize) -> Option<i64> {
        let mut value = 0i64;
        for _ in 0..count {
            let b = self.next()?;
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(b - b'0');
        }
        Some(value)
    }
    /// Fractional seconds of any length; digits past nanoseconds are dropped.
    fn fraction(&mut self) -> Option<i128> {
        let start = self.pos;
        let mut nanos: i128 = 0;
        let mut scale: i128 = NANOS_PER_SECOND;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            self.pos += 1;
            if scale > 1 {
                scale /= 10;
                nanos += i128::from(b - b'0') * scale;
            }
        }
        (self.pos > start).then_some(nanos)
    }
}

/// Parses a duration as the query language compares `httpRequest.latency`:
/// a decimal number of `s` (the proto3 JSON form, `"0.200s"`), or of `ns`,
/// `us`/`µs`, `ms`, `m` or `h`; a bare number is seconds. Returns
/// nanoseconds, so `"1s"`, `"1000ms"` and `"1.000s"` are the same length.
pub fn parse_duration(text: &str) -> Option<i128> {
    let text = text.trim();
    let (number, unit_nanos) = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("ms", 1_000_000),
        ("s", NANOS_PER_SECOND),
        ("m", 60 * NANOS_PER_SECOND),
        ("h", 3_600 * NANOS_PER_SECOND),
    ]
    .iter()
    .find_map(|(unit, nanos)| text.strip_suffix(unit).map(|n| (n, *nanos)))
    .unwrap_or((text, NANOS_PER_SECOND));
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !all_digits(whole)
        || !all_digits(fraction)
        || whole.len() > 20
    {
        return None;
    }
    let mut nanos = whole.parse::<i128>().unwrap_or(0) * unit_nanos;
    // Each fractional digit is worth a tenth of the one before it; digits
    // past a nanosecond are dropped.
    let mut place = unit_nanos;
    for digit in fraction.bytes() {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos += i128::from(digit - b'0') * place;
    }
    Some(if negative { -nanos } else { nanos })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_compare_by_length_whatever_the_unit() {
        assert_eq!(parse_duration("1s"), parse_duration("1000ms"));
        assert_eq!(parse_duration("0.200s"), Some(200_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("2m"), Some(120_000_000_000));
        assert_eq!(parse_duration("250us"), Some(250_000));
        assert_eq!(parse_duration("0.5"), Some(500_000_000));
        assert_eq!(parse_duration("-1s"), Some(-1_000_000_000));
        for bad in ["", "s", "fast", "1.2.3s", "1 s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    const S: i128 = NANOS_PER_SECOND;

    #[test]
    fn epoch_and_known_instants() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400 * S));
        // 2026-11-25T10:00:00Z, checked against `date -u -d ... +%s`.
        assert_eq!(
            parse_timestamp("2026-11-25T10:00:00Z"),
            Some(1_795_600_800 * S)
        );
    }

    #[test]
    fn offsets_and_fractions_agree() {
        let utc = parse_timestamp("2026-11-25T01:00:00.5Z");
        assert_eq!(
            parse_timestamp("2026-11-25T10:00:00.500000000000+09:00"),
            utc
        );
        assert_eq!(parse_timestamp("2026-11-25T10:00:00.5+0900"), utc);
        assert_eq!(parse_timestamp("2026-11-24T23:00:00.5-02:00"), utc);
        assert_eq!(parse_timestamp("2026-11-25T01:00:00.5"), utc);
        assert_eq!(
            parse_timestamp("2026-11-25T01:00:00.123456789Z").map(|t| t % S),
            Some(123_456_789)
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-30",
            "2026-11-25T25:00:00Z",
            "2026-11-25T10:00:00Q",
            "yesterday",
            "2026-11-25T10:00:00.",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
