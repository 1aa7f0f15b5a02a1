//! Names derived from where a line came from: the `insertId` that lets Cloud Logging drop a resent
//! entry (DESIGN invariant 2), and the `logName` of a tag.
//!
//! An insertId is `<file identity, 16 hex><byte offset, 16 hex>`, plus `-<split index, 8 hex>` for
//! the parts of a split entry: 32 (or 41) lowercase ASCII characters. Fixed-width lowercase hex
//! keeps it short, readable by eye (the offset is right there), and sorted: within one file, byte
//! order of the ids is offset order, and the parts of a split follow their unsplit id.
//!
//! An event with no file position (the forward input) has, in place of the file identity, a
//! hash of what it holds ([`InsertId::from_content`]): insertId function version
//! [`CONTENT_INSERT_ID_VERSION`], a fixed function of its bytes written out in this crate, so an
//! id never changes with the Rust release that built logferry.
//!
//! A log id may hold only `A-Z a-z 0-9 / _ - .` and has fewer than 512 characters
//! (`LogEntry.logName` in the Logging API reference); [`log_id`] makes one of any tag.

use std::borrow::Cow;
use std::fmt;

use crate::siphash::SipHasher24;
use crate::time::Timestamp;

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

    /// The id of an event that has no file position, version [`CONTENT_INSERT_ID_VERSION`]:
    /// SipHash-2-4 with an all-zero key over
    ///
    /// ```text
    /// tag (UTF-8) ‖ 0xFF ‖ seconds (i64, little-endian) ‖ nanos (u32, little-endian) ‖ record
    /// ```
    ///
    /// where `record` is `length (u64, little-endian) ‖ bytes` for a record kept as the bytes it
    /// arrived as ([`ContentRecord::Bytes`]) and `compact JSON ‖ 0xFF` for one held as a map
    /// ([`ContentRecord::Json`]), in the place of the file identity; `position` (the event's
    /// index in the chunk it is sent in, so equal events in one chunk differ) in the place of the
    /// offset. The same event in the same place always gets the same id.
    pub fn from_content(
        tag: &str,
        time: Timestamp,
        record: ContentRecord<'_>,
        position: u64,
    ) -> InsertId {
        let mut h = SipHasher24::new(0, 0);
        h.write(tag.as_bytes());
        h.write(&[0xff]);
        h.write(&time.seconds.to_le_bytes());
        h.write(&time.nanos.to_le_bytes());
        match record {
            ContentRecord::Bytes(bytes) => {
                h.write(&(bytes.len() as u64).to_le_bytes());
                h.write(bytes);
            }
            ContentRecord::Json(json) => {
                h.write(json);
                h.write(&[0xff]);
            }
        }
        InsertId::new(h.finish(), position, None)
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

/// The version of [`InsertId::from_content`]. A change to the function gets a new version, and the
/// README says which version a release uses: ids of a version never change.
pub const CONTENT_INSERT_ID_VERSION: u32 = 1;

/// What an event without a file position holds, as [`InsertId::from_content`] covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRecord<'a> {
    /// A record kept as the bytes it arrived as: a text line, or a JSON line as written.
    Bytes(&'a [u8]),
    /// A record held as a map: its compact JSON, keys in byte order (as `serde_json` writes a
    /// map, and as the disk buffer stores it).
    Json(&'a [u8]),
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

/// The most characters a log id gets, counted URL-encoded (so either reading of the API's "fewer
/// than 512 characters" holds).
pub const MAX_LOG_ID_CHARS: usize = 511;

/// The log id a tag is written under. A tag that is already a valid log id is used as it is;
/// otherwise:
///
/// - every character outside `A-Z a-z 0-9 / _ - .` becomes `_` (`ns:app@v1` → `ns_app_v1`,
///   `ログ` → `__`), where fluent-plugin-google-cloud would URL-encode it into a name Cloud
///   Logging refuses;
/// - an empty tag becomes `_`, as in the plugin;
/// - a log id that would pass [`MAX_LOG_ID_CHARS`] URL-encoded keeps its beginning and ends in
///   `-` and 16 hex digits of SipHash-2-4 (all-zero key) of the whole tag, so two long tags
///   that share a beginning still get two logs.
pub fn log_id(tag: &str) -> Cow<'_, str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.');
    let encoded_len = |id: &str| id.len() + 2 * id.bytes().filter(|&b| b == b'/').count();
    let mut id: Cow<'_, str> = if tag.is_empty() {
        Cow::Borrowed("_")
    } else if tag.chars().all(allowed) {
        Cow::Borrowed(tag)
    } else {
        Cow::Owned(
            tag.chars()
                .map(|c| if allowed(c) { c } else { '_' })
                .collect(),
        )
    };
    if encoded_len(&id) > MAX_LOG_ID_CHARS {
        let room = MAX_LOG_ID_CHARS - 17;
        let mut used = 0;
        // Only ASCII is left, so every byte is a character.
        let keep = id
            .bytes()
            .take_while(|&b| {
                used += if b == b'/' { 3 } else { 1 };
                used <= room
            })
            .count();
        let mut h = SipHasher24::new(0, 0);
        h.write(tag.as_bytes());
        let mut hash = [0u8; 16];
        put_hex(&mut hash, h.finish());
        let mut short = String::with_capacity(keep + 17);
        short.push_str(&id[..keep]);
        short.push('-');
        short.extend(hash.iter().map(|&b| char::from(b)));
        id = Cow::Owned(short);
    }
    id
}

/// `projects/<project>/logs/<log id>`: the tag's [`log_id`], URL-encoded (only `/` needs it, as
/// `%2F`), so `app/web log` becomes `projects/p/logs/app%2Fweb_log`.
pub fn log_name(project: &str, tag: &str) -> String {
    let id = log_id(tag);
    let mut out = String::with_capacity(16 + project.len() + id.len() + 8);
    out.push_str("projects/");
    out.push_str(project);
    out.push_str("/logs/");
    for c in id.chars() {
        if c == '/' {
            out.push_str("%2F");
        } else {
            out.push(c);
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

    /// The LogEntry reference: "[LOG_ID] must be URL-encoded within logName", "must be less
    /// than 512 characters long and can only include the following characters: upper and lower
    /// case alphanumeric characters, forward-slash, underscore, hyphen, and period".
    #[test]
    fn log_name_encodes_only_the_slash_of_a_valid_log_id() {
        assert_eq!(log_name("p", "app.log"), "projects/p/logs/app.log");
        assert_eq!(log_name("p", "Az09-_."), "projects/p/logs/Az09-_.");
        assert_eq!(log_name("p", "a/b"), "projects/p/logs/a%2Fb");
        assert_eq!(log_name("p", "a/b c~d"), "projects/p/logs/a%2Fb_c_d");
    }

    /// fluent-plugin-google-cloud's own tag cases (test/plugin/constants.rb, VALID_TAGS and
    /// INVALID_TAGS): where the plugin URL-encodes (`abc%40%26%5E%24%2A`, which Cloud Logging
    /// refuses: "Log name contains illegal character"), logferry writes a valid log id.
    #[test]
    fn tags_are_sanitized_into_valid_log_ids() {
        for (tag, id) in [
            ("test", "test"),
            ("germanß", "german_"),
            ("chinese中", "chinese_"),
            ("specialCharacter/_-.", "specialCharacter/_-."),
            ("abc@&^$*", "abc_____"),
            ("@&^$*", "_____"),
            ("", "_"),
            ("ns:app@v1", "ns_app_v1"),
            ("ログ", "__"),
            ("tab\there", "tab_here"),
            ("%2F", "_2F"),
        ] {
            assert_eq!(log_id(tag), id, "{tag:?}");
            assert!(valid_log_id(&log_id(tag)), "{tag:?}");
        }
        assert!(matches!(log_id("app.log"), Cow::Borrowed("app.log")));
    }

    fn valid_log_id(id: &str) -> bool {
        let encoded = log_name("p", id)["projects/p/logs/".len()..].to_owned();
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.'))
            && encoded.chars().count() < 512
    }

    #[test]
    fn long_tags_keep_their_beginning_and_a_hash_of_the_whole() {
        let deep = format!("var.log.{}.app.log", "deep.directory".repeat(40));
        let id = log_id(&deep);
        assert_eq!(id.len(), MAX_LOG_ID_CHARS);
        assert!(deep.starts_with(&id[..MAX_LOG_ID_CHARS - 17]));
        assert_eq!(&id[MAX_LOG_ID_CHARS - 17..MAX_LOG_ID_CHARS - 16], "-");
        assert!(valid_log_id(&id));
        // Two tags that differ only past the cut get two logs.
        let other = format!("{deep}x");
        assert_ne!(log_id(&other), id);
        assert_eq!(log_id(&deep), id, "the same tag, the same id");
        // Slashes count three characters each once encoded.
        let slashes = "a/".repeat(300);
        let id = log_id(&slashes);
        assert!(valid_log_id(&id), "{}", id.len());
        assert_eq!(
            log_name("p", &slashes).len() - "projects/p/logs/".len(),
            511 - 1
        );
        // Exactly at the limit is kept whole; one more is cut.
        let at_limit = "x".repeat(MAX_LOG_ID_CHARS);
        assert_eq!(log_id(&at_limit), at_limit);
        assert_eq!(log_id(&format!("{at_limit}y")).len(), MAX_LOG_ID_CHARS);
        // The golden value of the hash, so it never moves.
        assert_eq!(
            &log_id(&"z".repeat(600))[MAX_LOG_ID_CHARS - 16..],
            "2589426cd2497be2"
        );
    }

    /// Golden vectors of insertId function version 1 (see [`InsertId::from_content`]): if one
    /// of these changes, resent entries stop being deduplicated. Change the function only with a
    /// new version. (Version 1 gives the ids logferry derived before with std's `SipHasher` on
    /// 64-bit little-endian machines, checked when it was written, so no id moved.)
    #[test]
    fn content_insert_ids_are_pinned() {
        assert_eq!(CONTENT_INSERT_ID_VERSION, 1);
        let t = Timestamp::new(1_795_000_000, 123_456_789).unwrap();
        let cases = [
            (
                InsertId::from_content("app.log", t, ContentRecord::Bytes(b"hello"), 0),
                "2d824f3087eaa2c20000000000000000",
            ),
            (
                InsertId::from_content("app.log", t, ContentRecord::Bytes(b"hello"), 7),
                "2d824f3087eaa2c20000000000000007",
            ),
            (
                InsertId::from_content("app.log", t, ContentRecord::Json(br#"{"a":1}"#), 0),
                "6c0cf5c08dd094350000000000000000",
            ),
            (
                InsertId::from_content(
                    "",
                    Timestamp::new(0, 0).unwrap(),
                    ContentRecord::Bytes(b""),
                    0,
                ),
                "58b454ca46ff490f0000000000000000",
            ),
            (
                InsertId::from_content(
                    "forward.ログ",
                    Timestamp::new(-1, 999_999_999).unwrap(),
                    ContentRecord::Json("{\"msg\":\"é\"}".as_bytes()),
                    u64::MAX,
                ),
                "870fc16c17e50d94ffffffffffffffff",
            ),
        ];
        for (id, want) in cases {
            assert_eq!(id.as_str(), want);
        }
        // The kinds of record are told apart even when their bytes are equal.
        assert_ne!(
            InsertId::from_content("t", t, ContentRecord::Bytes(b"{}"), 0),
            InsertId::from_content("t", t, ContentRecord::Json(b"{}"), 0)
        );
    }

    #[test]
    fn parse_log_name_inverts_log_name() {
        for tag in ["app.log", "a/b", "a/b/c.d-e_f", "x%2Fy"] {
            let parsed = parse_log_name(&log_name("my-project", tag)).unwrap();
            assert_eq!(parsed.log_id, log_id(tag));
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
