//! The forward protocol's shared-key handshake (HELO, PING, PONG), both sides. Digests are
//! SHA-512 in lowercase hex, as in fluentd's `in_forward`/`out_forward`.

use ring::digest::{SHA512, digest};
use ring::rand::{SecureRandom, SystemRandom};

use crate::msgpack::{self, Value};

pub fn random_bytes() -> [u8; 16] {
    let mut out = [0u8; 16];
    // The system generator does not fail on Linux; zeros would only weaken one handshake.
    let _ = SystemRandom::new().fill(&mut out);
    out
}

/// `hex(sha512(salt + hostname + nonce + shared_key))`.
pub fn shared_key_digest(salt: &[u8], hostname: &str, nonce: &[u8], shared_key: &str) -> String {
    let mut input =
        Vec::with_capacity(salt.len() + hostname.len() + nonce.len() + shared_key.len());
    input.extend_from_slice(salt);
    input.extend_from_slice(hostname.as_bytes());
    input.extend_from_slice(nonce);
    input.extend_from_slice(shared_key.as_bytes());
    hex(digest(&SHA512, &input).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `["HELO", {"nonce": nonce, "auth": "", "keepalive": keepalive}]`
pub fn helo(nonce: &[u8], keepalive: bool) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::write_array_len(&mut out, 2);
    msgpack::write_str(&mut out, b"HELO");
    msgpack::write_map_len(&mut out, 3);
    msgpack::write_str(&mut out, b"nonce");
    msgpack::write_bin(&mut out, nonce);
    msgpack::write_str(&mut out, b"auth");
    msgpack::write_bin(&mut out, b"");
    msgpack::write_str(&mut out, b"keepalive");
    msgpack::write_bool(&mut out, keepalive);
    out
}

/// `["PING", hostname, salt, digest, "", ""]`
pub fn ping(hostname: &str, salt: &[u8], digest: &str) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::write_array_len(&mut out, 6);
    msgpack::write_str(&mut out, b"PING");
    msgpack::write_str(&mut out, hostname.as_bytes());
    msgpack::write_bin(&mut out, salt);
    msgpack::write_str(&mut out, digest.as_bytes());
    msgpack::write_str(&mut out, b"");
    msgpack::write_str(&mut out, b"");
    out
}

/// `["PONG", ok, reason, hostname, digest]`
pub fn pong(ok: bool, reason: &str, hostname: &str, digest: &str) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::write_array_len(&mut out, 5);
    msgpack::write_str(&mut out, b"PONG");
    msgpack::write_bool(&mut out, ok);
    msgpack::write_str(&mut out, reason.as_bytes());
    msgpack::write_str(&mut out, hostname.as_bytes());
    msgpack::write_str(&mut out, digest.as_bytes());
    out
}

/// The elements of `[NAME, ...]`, if `value` is one.
pub fn message<'v>(value: &'v Value, name: &str) -> Option<&'v [Value]> {
    match value {
        Value::Array(items) if items.first()?.as_bytes() == Some(name.as_bytes()) => {
            Some(&items[1..])
        }
        _ => None,
    }
}

/// A PING: `(hostname, salt, digest)`.
pub fn parse_ping(value: &Value) -> Result<(String, Vec<u8>, String), String> {
    let items = message(value, "PING").ok_or("expected PING")?;
    if items.len() < 3 {
        return Err("PING has too few fields".into());
    }
    let hostname = items[0]
        .as_str_lossy()
        .ok_or("PING hostname is not a string")?;
    let salt = items[1]
        .as_bytes()
        .ok_or("PING salt is not a string")?
        .to_vec();
    let digest = items[2]
        .as_str_lossy()
        .ok_or("PING digest is not a string")?;
    Ok((hostname, salt, digest))
}

/// Constant-time comparison of two digests.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_fluentd() {
        // Ruby: Digest::SHA512.new.update("salt").update("host").update("nonce").update("key").hexdigest
        let d = shared_key_digest(b"salt", "host", b"nonce", "key");
        assert_eq!(d.len(), 128);
        assert_eq!(d, hex(digest(&SHA512, b"salthostnoncekey").as_ref()));
        let (v, _) = msgpack::decode(&ping("h", b"s", &d)).unwrap();
        assert_eq!(parse_ping(&v).unwrap(), ("h".into(), b"s".to_vec(), d));
    }
}
