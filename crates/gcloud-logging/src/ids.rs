//! Names derived from where a line came from: the `insertId` that lets Cloud Logging drop a resent
//! entry (DESIGN invariant 2), and the `logName` of a tag.
//!
//! An insertId is `<file identity, 16 hex><byte offset, 16 hex>`, plus `-<split index, 8 hex>` for
//! the parts of a split entry: 32 (or 41) lowercase ASCII characters. Fixed-width lowercase hex
//! keeps it short, readable by eye (the offset is right there), and sorted: within one file, byte
//! order of the ids is offset order, and the parts of a split follow their unsplit id.

use std::fmt;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// An insertId built on the stack, so the hot path needs no allocation; see the module docs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InsertId {
    bytes: [u8; 41],
    len: u8,
}

impl InsertId {
    /// The id of the line at `offset` in the file with `file_identity`; `split_index` for the
    /// parts of an entry that had to be split.
    pub fn new(file_identity: u64, offset: u64, split_index: Option<u32>) -> InsertId {
        let mut bytes = [0u8; 41];
        put_hex(&mut bytes[0..16], file_identity);
        put_hex(&mut bytes[16..32], offset);
        let len = match split_index {
            Some(index) => {
                bytes[32] = b'-';
                put_hex(&mut bytes[33..41], u64::from(index));
                41
            }
            None => 32,
        };
        InsertId { bytes, len }
    }

    /// Reads an id back into `(file_identity, offset, split_index)`.
    pub fn parse(text: &str) -> Option<(u64, u64, Option<u32>)> {
        let b = text.as_bytes();
        let split = match b.len() {
            32 => None,
            41 if b[32] == b'-' => Some(u32::try_from(read_hex(&b[33..41])?).ok()?),
            _ => return None,
        };
        Some((read_hex(&b[0..16])?, read_hex(&b[16..32])?, split))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and '-' are ever written, so this cannot fail.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The id as ASCII bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Display for InsertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for InsertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InsertId({})", self.as_str())
    }
}

/// The insertId of a line as a `String`; see the module docs for the format.
pub fn insert_id(file_identity: u64, offset: u64, split_index: Option<u32>) -> String {
    InsertId::new(file_identity, offset, split_index)
        .as_str()
        .to_owned()
}

/// Writes `value` as `slot.len()` (8 or 16) lowercase hex digits, eight at a time: an id is
/// made for every line, so this is on the hot path.
fn put_hex(slot: &mut [u8], value: u64) {
    match slot.len() {
        16 => {
            slot[..8].copy_from_slice(&hex8((value >> 32) as u32));
            slot[8..].copy_from_slice(&hex8(value as u32));
        }
        8 => slot.copy_from_slice(&hex8(value as u32)),
        _ => {
            let mut value = value;
            for b in slot.iter_mut().rev() {
                *b = HEX[(value & 0xf) as usize];
                value >>= 4;
            }
        }
    }
}

/// The eight hex digits of `x`: spread its nibbles into bytes, then add `'0'`, plus the gap to
/// `'a'` for nibbles of ten and more.
fn hex8(x: u32) -> [u8; 8] {
    let x = u64::from(x);
    let mut v = ((x & 0xffff_0000) << 16) | (x & 0xffff);
    v = ((v & 0x0000_ff00_0000_ff00) << 8) | (v & 0x0000_00ff_0000_00ff);
    v = ((v & 0x00f0_00f0_00f0_00f0) << 4) | (v & 0x000f_000f_000f_000f);
    let letters = ((v + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    let ascii = v + 0x3030_3030_3030_3030 + letters * u64::from(b'a' - b'0' - 10);
    ascii.to_be_bytes()
}

fn read_hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u64::from(v))
    })
}

/// `projects/<project>/logs/<tag, percent-encoded>`: every byte but `A-Za-z0-9-_.` is encoded,
/// so `app/web log` becomes `app%2Fweb%20log`.
pub fn log_name(project: &str, tag: &str) -> String {
    let mut out = String::with_capacity(16 + project.len() + tag.len() * 3);
    out.push_str("projects/");
    out.push_str(project);
    out.push_str("/logs/");
    for &b in tag.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)].to_ascii_uppercase()));
            out.push(char::from(HEX[usize::from(b & 0xf)].to_ascii_uppercase()));
        }
    }
    out
}

/// A log name taken apart: `projects/p/logs/app%2Flog` → parent `projects/p`, log id `app/log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogName {
    /// `projects/P`, `organizations/O`, `folders/F` or `billingAccounts/B`.
    pub parent: String,
    /// The decoded log id (the fluentd tag, for logs logferry writes).
    pub log_id: String,
}

impl LogName {
    /// The project id, when the parent is a project.
    pub fn project_id(&self) -> Option<&str> {
        self.parent.strip_prefix("projects/")
    }
}

/// The inverse of [`log_name`]: `None` unless `name` is `<kind>/<id>/logs/<log id>` with a known
/// parent kind and a log id that percent-decodes to UTF-8.
pub fn parse_log_name(name: &str) -> Option<LogName> {
    let mut parts = name.splitn(4, '/');
    let (kind, id, logs, encoded) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let known_kind = matches!(
        kind,
        "projects" | "organizations" | "folders" | "billingAccounts"
    );
    if !known_kind || id.is_empty() || logs != "logs" || encoded.is_empty() {
        return None;
    }
    Some(LogName {
        parent: format!("{kind}/{id}"),
        log_id: percent_decode(encoded)?,
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let lower = [hex[0].to_ascii_lowercase(), hex[1].to_ascii_lowercase()];
            out.push(read_hex(&lower)? as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_match_format() {
        let mut values = vec![
            0,
            1,
            9,
            10,
            15,
            16,
            u64::MAX,
            0x0123_4567_89ab_cdef,
            0xa5a5_5a5a_f0f0_0f0f,
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            values.push(x);
        }
        for v in values {
            let mut slot = [0u8; 16];
            put_hex(&mut slot, v);
            assert_eq!(std::str::from_utf8(&slot).unwrap(), format!("{v:016x}"));
            let mut short = [0u8; 8];
            put_hex(&mut short, v);
            assert_eq!(
                std::str::from_utf8(&short).unwrap(),
                format!("{:08x}", v as u32)
            );
        }
    }

    #[test]
    fn insert_id_is_fixed_width_hex() {
        assert_eq!(
            insert_id(0xabc, 0x10, None),
            "0000000000000abc0000000000000010"
        );
        assert_eq!(
            insert_id(u64::MAX, 0, Some(2)),
            "ffffffffffffffff0000000000000000-00000002"
        );
        assert_eq!(InsertId::new(1, 2, None).as_str().len(), 32);
        assert_eq!(InsertId::new(1, 2, Some(u32::MAX)).as_str().len(), 41);
        assert_eq!(InsertId::new(7, 9, None).to_string(), insert_id(7, 9, None));
    }

    #[test]
    fn insert_id_is_deterministic_and_parses_back() {
        for (identity, offset, split) in [
            (0, 0, None),
            (u64::MAX, u64::MAX, Some(u32::MAX)),
            (42, 1 << 40, Some(0)),
        ] {
            let id = insert_id(identity, offset, split);
            assert_eq!(id, insert_id(identity, offset, split));
            assert_eq!(InsertId::parse(&id), Some((identity, offset, split)));
        }
        for bad in [
            "",
            "xyz",
            "0000000000000abc000000000000001",
            "0000000000000ABC0000000000000010",
        ] {
            assert_eq!(InsertId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn insert_ids_sort_in_offset_order_within_a_file() {
        let offsets = [0u64, 9, 10, 15, 16, 255, 256, 4096, 1 << 33, u64::MAX];
        let mut ids: Vec<String> = Vec::new();
        for &o in &offsets {
            ids.push(insert_id(77, o, None));
            ids.push(insert_id(77, o, Some(0)));
            ids.push(insert_id(77, o, Some(1)));
            ids.push(insert_id(77, o, Some(16)));
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn log_name_encodes_all_but_unreserved() {
        assert_eq!(log_name("p", "app.log"), "projects/p/logs/app.log");
        assert_eq!(log_name("p", "a/b c~d"), "projects/p/logs/a%2Fb%20c%7Ed");
        assert_eq!(log_name("p", "Az09-_."), "projects/p/logs/Az09-_.");
        assert_eq!(log_name("p", "ログ"), "projects/p/logs/%E3%83%AD%E3%82%B0");
    }

    #[test]
    fn parse_log_name_inverts_log_name() {
        for tag in ["app.log", "a/b c", "ログ", "100%", "x%2Fy"] {
            let parsed = parse_log_name(&log_name("my-project", tag)).unwrap();
            assert_eq!(parsed.log_id, tag);
            assert_eq!(parsed.project_id(), Some("my-project"));
        }
        let org =
            parse_log_name("organizations/1/logs/cloudresourcemanager.googleapis.com%2factivity")
                .unwrap();
        assert_eq!(org.log_id, "cloudresourcemanager.googleapis.com/activity");
        assert_eq!(org.project_id(), None);
        for bad in [
            "",
            "projects/p",
            "projects/p/logs/",
            "projects//logs/x",
            "users/p/logs/x",
            "projects/p/logs/%zz",
            "projects/p/logs/%FF",
            "projects/p/logs/%4",
        ] {
            assert_eq!(parse_log_name(bad), None, "{bad}");
        }
    }
}
