//! The built-in filter functions: `SEARCH`, `log_id`, `sample`, `ip_in_net`.
//! Kept apart from the operator logic because each has its own small rules
//! (tokenising, URL decoding, hashing, address masking).

use std::net::IpAddr;

use serde_json::Value;

use crate::ast::Function;
use crate::eval::{any_leaf, field_values, scalar_text};

/// Whether `entry` satisfies the function call.
pub(crate) fn eval(function: &Function, entry: &Value) -> bool {
    match function {
        Function::Search { path, text } => {
            let scopes = match path {
                Some(path) => field_values(entry, path),
                None => vec![entry],
            };
            scopes.into_iter().any(|scope| search(scope, text))
        }
        Function::LogId(id) => log_id_of(entry).is_some_and(|got| got == percent_decode(id)),
        Function::Sample { path, fraction } => field_values(entry, path)
            .first()
            .and_then(|v| scalar_text(v))
            .is_some_and(|text| sample_point(&text) < *fraction),
        Function::IpInNet {
            path,
            network,
            prefix,
        } => field_values(entry, path).into_iter().any(|v| {
            v.as_str()
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| in_network(ip, *network, *prefix))
        }),
    }
}

/// `SEARCH` semantics: text in backquotes is a case-insensitive phrase;
/// otherwise every token of the text must be a whole token of some leaf.
fn search(scope: &Value, text: &str) -> bool {
    let trimmed = text.trim();
    if let Some(phrase) = trimmed.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        let phrase = phrase.to_lowercase();
        return any_leaf(scope, &mut |leaf| leaf.to_lowercase().contains(&phrase));
    }
    let wanted = tokens(text);
    if wanted.is_empty() {
        return false;
    }
    let mut found = vec![false; wanted.len()];
    any_leaf(scope, &mut |leaf| {
        for token in tokens(leaf) {
            for (i, want) in wanted.iter().enumerate() {
                found[i] |= *want == token;
            }
        }
        found.iter().all(|f| *f)
    })
}

/// Lowercased runs of letters and digits.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The URL-decoded log ID of an entry's `logName` (`.../logs/LOG_ID`).
pub(crate) fn log_id_of(entry: &Value) -> Option<String> {
    let name = entry.get("logName")?.as_str()?;
    let (_, id) = name.rsplit_once("/logs/")?;
    Some(percent_decode(id))
}

/// Decodes `%XX` escapes; anything malformed is kept as written.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Maps a value to a stable point in `[0, 1)` (FNV-1a, 64 bits, mixed), so the
/// same entry is always in or out of a given sample.
fn sample_point(text: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // FNV alone leaves the high bits of short, similar ids (e01, e02...)
    // nearly equal; the murmur3 finaliser spreads them.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    // Top 53 bits give an exactly representable fraction.
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => masked_eq(
            u128::from(u32::from(ip)),
            u128::from(u32::from(net)),
            prefix,
            32,
        ),
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            masked_eq(u128::from(ip), u128::from(net), prefix, 128)
        }
        (IpAddr::V6(ip), IpAddr::V4(net)) => ip.to_ipv4_mapped().is_some_and(|ip| {
            masked_eq(
                u128::from(u32::from(ip)),
                u128::from(u32::from(net)),
                prefix,
                32,
            )
        }),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

fn masked_eq(a: u128, b: u128, prefix: u8, bits: u32) -> bool {
    let shift = bits - u32::from(prefix);
    if shift >= bits {
        return true;
    }
    (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("cloudaudit.googleapis.com%2Factivity"),
            "cloudaudit.googleapis.com/activity"
        );
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn masks_prefixes() {
        let net: IpAddr = "10.0.0.0".parse().unwrap();
        assert!(in_network("10.200.1.1".parse().unwrap(), net, 8));
        assert!(!in_network("11.0.0.1".parse().unwrap(), net, 8));
        assert!(in_network("192.168.1.1".parse().unwrap(), net, 0));
        assert!(in_network("::ffff:10.1.2.3".parse().unwrap(), net, 8));
    }

    #[test]
    fn sample_points_are_stable_fractions() {
        let p = sample_point("abc");
        assert_eq!(p, sample_point("abc"));
        assert!((0.0..1.0).contains(&p));
    }
}
