//! fluentd's `time_format` (Ruby `strptime` directives) for the parsers' `time_key`, plus the
//! formats tried when no `time_format` is given.

use gcloud_logging::Timestamp;
use gcloud_logging::time::days_from_civil;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Parses `text` with a strptime-style `format`: `%Y %y %m %d %e %H %M %S %L %N %z %Z %b %B %s
/// %T %F %p %I %j %%`, anything else literal. Times without an offset are UTC.
pub fn strptime(text: &str, format: &str) -> Option<Timestamp> {
    let mut s = text.as_bytes();
    let f = format.as_bytes();
    let (mut year, mut month, mut day) = (1970i64, 1u32, 1u32);
    let (mut hour, mut minute, mut second, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut offset = 0i64;
    let mut epoch: Option<i64> = None;
    let mut pm: Option<bool> = None;
    let mut i = 0;
    while i < f.len() {
        if f[i] != b'%' || i + 1 == f.len() {
            if f[i] == b' ' {
                s = trim_spaces(s);
            } else {
                s = s.strip_prefix(&[f[i]])?;
            }
            i += 1;
            continue;
        }
        let directive = f[i + 1];
        i += 2;
        match directive {
            b'Y' => year = take_signed(&mut s, 4)?,
            b'y' => year = 2000 + take_num(&mut s, 2)? as i64,
            b'm' => month = take_num(&mut s, 2)?,
            b'd' => day = take_num(&mut s, 2)?,
            b'e' => {
                s = trim_spaces(s);
                day = take_num(&mut s, 2)?
            }
            b'H' | b'k' => {
                s = trim_spaces(s);
                hour = take_num(&mut s, 2)?
            }
            b'I' | b'l' => hour = take_num(&mut s, 2)?,
            b'M' => minute = take_num(&mut s, 2)?,
            b'S' => second = take_num(&mut s, 2)?,
            b'L' | b'N' => {
                let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
                if digits == 0 {
                    return None;
                }
                let mut value = 0u64;
                for (k, c) in s[..digits].iter().enumerate() {
                    if k < 9 {
                        value = value * 10 + (c - b'0') as u64;
                    }
                }
                for _ in digits.min(9)..9 {
                    value *= 10;
                }
                nanos = value as u32;
                s = &s[digits..];
            }
            b'z' | b'Z' => offset = take_offset(&mut s)?,
            b'b' | b'h' | b'B' => {
                let word: Vec<u8> = s
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                let name = std::str::from_utf8(&word).ok()?;
                month = MONTHS.iter().position(|m| name.starts_with(m))? as u32 + 1;
                s = &s[word.len()..];
            }
            b'a' | b'A' => {
                let n = s.iter().take_while(|c| c.is_ascii_alphabetic()).count();
                s = &s[n..];
            }
            b'p' => {
                let word = s.get(..2)?.to_ascii_lowercase();
                pm = Some(word == b"pm");
                s = &s[2..];
            }
            b's' => epoch = Some(take_signed(&mut s, 19)?),
            b'j' => {
                let yday = take_num(&mut s, 3)?;
                month = 1;
                day = yday;
            }
            b'T' => {
                hour = take_num(&mut s, 2)?;
                s = s.strip_prefix(b":")?;
                minute = take_num(&mut s, 2)?;
                s = s.strip_prefix(b":")?;
                second = take_num(&mut s, 2)?;
            }
            b'F' => {
                year = take_signed(&mut s, 4)?;
                s = s.strip_prefix(b"-")?;
                month = take_num(&mut s, 2)?;
                s = s.strip_prefix(b"-")?;
                day = take_num(&mut s, 2)?;
            }
            b'%' => s = s.strip_prefix(b"%")?,
            _ => return None,
        }
    }
    if let Some(seconds) = epoch {
        return Timestamp::new(seconds, nanos);
    }
    if let Some(pm) = pm {
        hour = (hour % 12) + if pm { 12 } else { 0 };
    }
    if !(1..=12).contains(&month) || day == 0 || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, 1) + day as i64 - 1;
    let seconds = days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64 - offset;
    Timestamp::new(seconds, nanos)
}

/// Without a `time_format`: RFC 3339, then the common log shapes.
pub fn parse_any(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = Timestamp::parse_rfc3339(text) {
        return Some(ts);
    }
    const FALLBACKS: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S,%L",
        "%Y-%m-%d %H:%M:%S.%N %z",
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%d %H:%M:%S.%N",
        "%Y-%m-%d %H:%M:%S",
        "%d/%b/%Y:%H:%M:%S %z",
    ];
    if let Some(ts) = FALLBACKS.iter().find_map(|f| strptime(text, f)) {
        return Some(ts);
    }
    // Epoch seconds, possibly fractional.
    let value: f64 = text.parse().ok()?;
    let seconds = value.floor();
    Timestamp::new(seconds as i64, ((value - seconds) * 1e9) as u32)
}

fn trim_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| **c == b' ').count();
    &s[n..]
}

fn take_num(s: &mut &[u8], max: usize) -> Option<u32> {
    let n = s
        .iter()
        .take(max)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n == 0 {
        return None;
    }
    let value = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
    *s = &s[n..];
    Some(value)
}

fn take_signed(s: &mut &[u8], max: usize) -> Option<i64> {
    let negative = s.first() == Some(&b'-');
    if negative {
        *s = &s[1..];
    }
    let n = s
        .iter()
        .take(max)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n == 0 {
        return None;
    }
    let value: i64 = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
    *s = &s[n..];
    Some(if negative { -value } else { value })
}

fn take_offset(s: &mut &[u8]) -> Option<i64> {
    if let Some(rest) = s.strip_prefix(b"Z").or_else(|| s.strip_prefix(b"UTC")) {
        *s = rest;
        return Some(0);
    }
    let sign = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    *s = &s[1..];
    let hours = take_num(s, 2)? as i64;
    if let Some(rest) = s.strip_prefix(b":") {
        *s = rest;
    }
    let minutes = take_num(s, 2).unwrap_or(0) as i64;
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc(ts: Option<Timestamp>) -> String {
        ts.map(|t| t.to_rfc3339()).unwrap_or_default()
    }

    #[test]
    fn formats() {
        assert_eq!(
            rfc(strptime(
                "25/Nov/2026:10:00:00 +0900",
                "%d/%b/%Y:%H:%M:%S %z"
            )),
            "2026-11-25T01:00:00Z"
        );
        assert_eq!(
            rfc(strptime("2026-11-25 10:00:00,123", "%Y-%m-%d %H:%M:%S,%L")),
            "2026-11-25T10:00:00.123Z"
        );
        assert_eq!(rfc(strptime("1764064800", "%s")), "2025-11-25T10:00:00Z");
        assert_eq!(
            rfc(parse_any("2026-11-25T10:00:00.5+01:00")),
            "2026-11-25T09:00:00.500Z"
        );
        assert_eq!(
            rfc(parse_any("2026-11-25 10:00:00,123")),
            "2026-11-25T10:00:00.123Z"
        );
        assert!(strptime("junk", "%Y").is_none());
        assert!(strptime("2026-13-01", "%Y-%m-%d").is_none());
    }
}
