//! SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), written out
//! here so the ids derived from it (see [`crate::ids`]) are a fixed function of their bytes: the
//! standard library's hashers may change between Rust releases, and an id that changes makes
//! Cloud Logging keep a resent entry twice.

/// A streaming SipHash-2-4 with a 128-bit key given as two little-endian words.
#[derive(Debug, Clone)]
pub(crate) struct SipHasher24 {
    v: [u64; 4],
    /// Bytes of the current, incomplete 8-byte word (the low `tail_len` bytes of `tail`).
    tail: u64,
    tail_len: usize,
    /// Total bytes written, of which the low 8 bits go into the last block.
    len: u64,
}

impl SipHasher24 {
    pub(crate) fn new(k0: u64, k1: u64) -> SipHasher24 {
        SipHasher24 {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            tail_len: 0,
            len: 0,
        }
    }

    fn round(&mut self) {
        let [v0, v1, v2, v3] = &mut self.v;
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v2 = v2.rotate_left(32);
    }

    /// Two compression rounds over one message word.
    fn block(&mut self, m: u64) {
        self.v[3] ^= m;
        self.round();
        self.round();
        self.v[0] ^= m;
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u64);
        let mut rest = bytes;
        while self.tail_len > 0 && !rest.is_empty() {
            self.tail |= u64::from(rest[0]) << (8 * self.tail_len);
            self.tail_len += 1;
            rest = &rest[1..];
            if self.tail_len == 8 {
                let m = self.tail;
                self.block(m);
                self.tail = 0;
                self.tail_len = 0;
            }
        }
        let mut words = rest.chunks_exact(8);
        for word in &mut words {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            self.block(u64::from_le_bytes(le));
        }
        for (i, &b) in words.remainder().iter().enumerate() {
            self.tail |= u64::from(b) << (8 * i);
        }
        self.tail_len = words.remainder().len().max(self.tail_len);
    }

    /// The hash of everything written (the hasher can go on being written to).
    pub(crate) fn finish(&self) -> u64 {
        let mut h = self.clone();
        let last = (self.len << 56) | self.tail;
        h.block(last);
        h.v[2] ^= 0xff;
        for _ in 0..4 {
            h.round();
        }
        h.v[0] ^ h.v[1] ^ h.v[2] ^ h.v[3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(k0: u64, k1: u64, bytes: &[u8]) -> u64 {
        let mut h = SipHasher24::new(k0, k1);
        h.write(bytes);
        h.finish()
    }

    /// The paper's test vectors: key 00 01 … 0f, messages 00, 00 01, …, hashes as the
    /// little-endian bytes the reference implementation prints (its `vectors.h`).
    #[test]
    fn reference_vectors() {
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let message: Vec<u8> = (0u8..64).collect();
        let expected: [(usize, u64); 4] = [
            (0, 0x726f_db47_dd0e_0e31),
            (1, 0x74f8_39c5_93dc_67fd),
            (8, 0x93f5_f579_9a93_2462),
            (15, 0xa129_ca61_49be_45e5),
        ];
        for (len, want) in expected {
            assert_eq!(
                hash(k0, k1, &message[..len]),
                want,
                "message of {len} bytes"
            );
        }
    }

    /// Writing in pieces hashes the same as writing at once.
    #[test]
    fn streaming_matches_one_write() {
        let message: Vec<u8> = (0u8..=255).cycle().take(300).collect();
        let whole = hash(7, 9, &message);
        for cuts in [[1, 2], [7, 8], [8, 16], [3, 250], [0, 299]] {
            let mut h = SipHasher24::new(7, 9);
            h.write(&message[..cuts[0]]);
            h.write(&message[cuts[0]..cuts[1]]);
            h.write(&message[cuts[1]..]);
            assert_eq!(h.finish(), whole, "{cuts:?}");
        }
    }
}
