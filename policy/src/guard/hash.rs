//! A small keyed hash for the guard's tables and sketches.
//!
//! Keys (source addresses, usernames, Call-IDs) are chosen by attackers. With a public,
//! unkeyed hash they could pick addresses that all land in one probe chain, or usernames that
//! collide in the enumeration bitmap and so never raise the count. The runtime passes a random
//! key; the library stays deterministic because the key is an argument.

/// A keyed 64-bit hash built on the 128-bit multiply-fold ("mum") mixer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyedHasher {
    k0: u64,
    k1: u64,
}

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;

fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl KeyedHasher {
    pub(crate) fn new(key: [u64; 2]) -> Self {
        Self {
            k0: key[0] ^ P0,
            k1: key[1] ^ P1,
        }
    }

    pub(crate) fn hash_u128(&self, x: u128) -> u64 {
        let lo = x as u64;
        let hi = (x >> 64) as u64;
        mum(mum(lo ^ self.k0, hi ^ self.k1), self.k0 ^ P1)
    }

    pub(crate) fn hash_bytes(&self, bytes: &[u8]) -> u64 {
        let mut h = self.k0 ^ (bytes.len() as u64).wrapping_mul(P1);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            h = mum(h ^ u64::from_le_bytes(word), self.k1);
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        mum(h ^ u64::from_le_bytes(word), self.k1 ^ P0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_keys_give_different_hashes() {
        let a = KeyedHasher::new([1, 2]);
        let b = KeyedHasher::new([3, 4]);
        assert_ne!(a.hash_bytes(b"1001"), b.hash_bytes(b"1001"));
        assert_ne!(a.hash_u128(7), b.hash_u128(7));
        assert_ne!(a.hash_bytes(b"1001"), a.hash_bytes(b"1002"));
        assert_ne!(a.hash_bytes(b""), a.hash_bytes(b"\0"));
    }
}
