//! RSASSA-PKCS1-v1_5 signing with SHA-1, the hash CloudFront uses when none is named.
//!
//! aws-lc-rs verifies such signatures but will not make them (its signing encodings start at
//! SHA-256 and the trait is sealed), yet tests, benchmarks and tooling need CloudFront's default
//! URLs. So this module computes `EM^d mod n` itself: Montgomery multiplication over 64-bit limbs,
//! a square-and-always-multiply ladder over every bit of `d` with masked selection, and a masked
//! final subtraction, so the sequence of operations does not depend on the key. It is small and
//! unaudited; the caller verifies every signature with aws-lc-rs before releasing it, which turns
//! any arithmetic slip (or fault) into an error rather than a bad or key-leaking signature.

use aws_lc_rs::digest;
use zeroize::Zeroizing;

/// `DigestInfo` for SHA-1 (RFC 8017 §9.2, note 1), which precedes the 20-byte hash.
const SHA1_DIGEST_INFO: &[u8] = &[
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

/// An RSA private key reduced to what `s = m^d mod n` needs, with Montgomery constants.
pub(crate) struct RsaSha1Signer {
    /// The modulus, little-endian 64-bit limbs.
    n: Vec<u64>,
    /// The private exponent, same width as `n`; wiped on drop.
    d: Zeroizing<Vec<u64>>,
    /// `-n^-1 mod 2^64`.
    n0_inv: u64,
    /// `R^2 mod n` with `R = 2^(64 * limbs)`, to move values into Montgomery form.
    r_squared: Vec<u64>,
    /// The modulus length in bytes, which is also the signature length.
    k: usize,
}

impl RsaSha1Signer {
    /// Builds a signer from the unsigned big-endian modulus and private exponent. Returns `None`
    /// for an even or too-short modulus, or an exponent wider than the modulus.
    pub(crate) fn new(n: &[u8], d: &[u8]) -> Option<Self> {
        let k = n.len();
        // The encoded message needs 11 bytes of padding around the 35-byte DigestInfo and hash.
        if k < SHA1_DIGEST_INFO.len() + digest::SHA1_OUTPUT_LEN + 11
            || n.last()? & 1 == 0
            || d.len() > k
        {
            return None;
        }
        let limbs = k.div_ceil(8);
        let n = from_be(n, limbs);
        let d = Zeroizing::new(from_be(d, limbs));
        let n0_inv = neg_inverse(n[0]);
        let r_squared = r_squared(&n);
        Some(Self {
            n,
            d,
            n0_inv,
            r_squared,
            k,
        })
    }

    /// Signs `message`: `EM = 00 01 FF..FF 00 || DigestInfo || SHA1(message)`, then `EM^d mod n`.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, message);
        let mut em = vec![0xff; self.k];
        em[0] = 0x00;
        em[1] = 0x01;
        let t_len = SHA1_DIGEST_INFO.len() + hash.as_ref().len();
        let t_start = self.k - t_len;
        em[t_start - 1] = 0x00;
        em[t_start..t_start + SHA1_DIGEST_INFO.len()].copy_from_slice(SHA1_DIGEST_INFO);
        em[t_start + SHA1_DIGEST_INFO.len()..].copy_from_slice(hash.as_ref());
        // EM starts with a zero byte, so it is below 256^(k-1) <= n, as exponentiation needs.
        let m = from_be(&em, self.n.len());
        to_be(&self.pow_d(&m), self.k)
    }

    /// `base^d mod n`, with `base < n`.
    fn pow_d(&self, base: &[u64]) -> Vec<u64> {
        let mut one = vec![0u64; self.n.len()];
        one[0] = 1;
        let base = self.mont_mul(base, &self.r_squared);
        let mut acc = Zeroizing::new(self.mont_mul(&one, &self.r_squared));
        for bit_index in (0..self.n.len() * 64).rev() {
            let squared = Zeroizing::new(self.mont_mul(&acc, &acc));
            let product = Zeroizing::new(self.mont_mul(&squared, &base));
            let bit = (self.d[bit_index / 64] >> (bit_index % 64)) & 1;
            let take_product = bit.wrapping_neg();
            for ((a, s), p) in acc.iter_mut().zip(squared.iter()).zip(product.iter()) {
                *a = (p & take_product) | (s & !take_product);
            }
        }
        self.mont_mul(&acc, &one)
    }

    /// Montgomery product `a * b / R mod n` (coarsely integrated operand scanning), for `a, b < n`.
    fn mont_mul(&self, a: &[u64], b: &[u64]) -> Vec<u64> {
        let n = &self.n;
        let s = n.len();
        let mut t = vec![0u64; s + 2];
        for &b_i in b {
            let mut carry = 0u64;
            for (t_j, &a_j) in t.iter_mut().zip(a) {
                let v = u128::from(*t_j) + u128::from(a_j) * u128::from(b_i) + u128::from(carry);
                *t_j = v as u64;
                carry = (v >> 64) as u64;
            }
            let v = u128::from(t[s]) + u128::from(carry);
            t[s] = v as u64;
            t[s + 1] = (v >> 64) as u64;

            let m = t[0].wrapping_mul(self.n0_inv);
            let v = u128::from(t[0]) + u128::from(m) * u128::from(n[0]);
            let mut carry = (v >> 64) as u64;
            for j in 1..s {
                let v = u128::from(t[j]) + u128::from(m) * u128::from(n[j]) + u128::from(carry);
                t[j - 1] = v as u64;
                carry = (v >> 64) as u64;
            }
            let v = u128::from(t[s]) + u128::from(carry);
            t[s - 1] = v as u64;
            t[s] = t[s + 1] + (v >> 64) as u64;
            t[s + 1] = 0;
        }
        // Here t < 2n. Subtract n unless t < n, choosing by mask rather than by branch.
        let mut diff = vec![0u64; s];
        let mut borrow = 0u64;
        for ((d, &t_j), &n_j) in diff.iter_mut().zip(&t).zip(n) {
            let (x, b1) = t_j.overflowing_sub(n_j);
            let (y, b2) = x.overflowing_sub(borrow);
            *d = y;
            borrow = u64::from(b1 | b2);
        }
        // t < n exactly when there is no limb above s and the subtraction borrowed.
        let (_, below_n) = t[s].overflowing_sub(borrow);
        let keep_t = u64::from(below_n).wrapping_neg();
        let out = t[..s]
            .iter()
            .zip(&diff)
            .map(|(&t_j, &d_j)| (t_j & keep_t) | (d_j & !keep_t))
            .collect();
        zeroize::Zeroize::zeroize(&mut t);
        zeroize::Zeroize::zeroize(&mut diff);
        out
    }
}

/// `-x^-1 mod 2^64` for odd `x`, by Newton's iteration (each step doubles the correct bits).
fn neg_inverse(x: u64) -> u64 {
    let mut inv = 1u64;
    for _ in 0..6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(x.wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}

/// `R^2 mod n` for `R = 2^(64 * limbs)`, by doubling 1 modulo `n` `2 * 64 * limbs` times. Only
/// the public modulus is involved, so plain branches are fine.
fn r_squared(n: &[u64]) -> Vec<u64> {
    let mut r = vec![0u64; n.len()];
    r[0] = 1;
    for _ in 0..2 * 64 * n.len() {
        let mut carry = 0u64;
        for limb in &mut r {
            let next = *limb >> 63;
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        let mut diff = vec![0u64; n.len()];
        let mut borrow = false;
        for ((d, &r_j), &n_j) in diff.iter_mut().zip(&r).zip(n) {
            let (x, b1) = r_j.overflowing_sub(n_j);
            let (y, b2) = x.overflowing_sub(u64::from(borrow));
            *d = y;
            borrow = b1 | b2;
        }
        if carry == 1 || !borrow {
            r = diff;
        }
    }
    r
}

/// Unsigned big-endian bytes to `limbs` little-endian 64-bit limbs (the value must fit).
fn from_be(bytes: &[u8], limbs: usize) -> Vec<u64> {
    let mut out = vec![0u64; limbs];
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks(8)) {
        *limb = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    }
    out
}

/// Little-endian limbs to exactly `len` big-endian bytes (the value must fit).
fn to_be(limbs: &[u64], len: usize) -> Vec<u8> {
    let bytes: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
    bytes[bytes.len() - len..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY};

    fn signer_and_public_key() -> (RsaSha1Signer, Vec<u8>) {
        let (_, der) = crate::der::pem(include_str!("../testdata/rsa2048.pem")).unwrap();
        let (n, d) = crate::der::rsa_private_n_d(&der).unwrap();
        let signer = RsaSha1Signer::new(n, d).unwrap();
        let (_, spki) = crate::der::pem(include_str!("../testdata/rsa2048.pub.pem")).unwrap();
        (signer, spki)
    }

    #[test]
    fn small_arithmetic_helpers() {
        for x in [1u64, 3, 0xffff_ffff_ffff_ffff, 0x1234_5678_9abc_def1] {
            assert_eq!(x.wrapping_mul(neg_inverse(x)), u64::MAX, "x * -x^-1 = -1");
        }
        let bytes = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
        let limbs = from_be(&bytes, 2);
        assert_eq!(limbs, vec![0x0203_0405_0607_0809, 0x01]);
        assert_eq!(to_be(&limbs, 9), bytes);
    }

    #[test]
    fn montgomery_matches_schoolbook_on_a_small_modulus() {
        // One limb: n = 2^61 - 1 (odd), where u128 arithmetic gives the reference answer.
        let n = (1u64 << 61) - 1;
        let signer = RsaSha1Signer {
            n: vec![n],
            d: Zeroizing::new(vec![0x0123_4567_89ab_cdef]),
            n0_inv: neg_inverse(n),
            r_squared: r_squared(&[n]),
            k: 8,
        };
        let r = (1u128 << 64) % u128::from(n);
        assert_eq!(u128::from(signer.r_squared[0]), r * r % u128::from(n));
        let base = 0x0ddc_0ffe_e0dd_f00du64 % n;
        let mut expected = 1u128;
        for i in (0..64).rev() {
            expected = expected * expected % u128::from(n);
            if (signer.d[0] >> i) & 1 == 1 {
                expected = expected * u128::from(base) % u128::from(n);
            }
        }
        assert_eq!(u128::from(signer.pow_d(&[base])[0]), expected);
    }

    #[test]
    fn signatures_verify_with_aws_lc() {
        let (signer, spki) = signer_and_public_key();
        let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, &spki);
        for message in [&b""[..], b"hello", &[0xa5; 1000]] {
            let sig = signer.sign(message);
            assert_eq!(sig.len(), 256);
            key.verify(message, &sig).unwrap();
            assert!(key.verify(b"something else", &sig).is_err());
        }
    }

    #[test]
    fn rejects_unusable_keys() {
        assert!(RsaSha1Signer::new(&[0xff; 256], &[1]).is_some());
        assert!(
            RsaSha1Signer::new(&[0xfe; 256], &[1]).is_none(),
            "even modulus"
        );
        assert!(RsaSha1Signer::new(&[0xff; 40], &[1]).is_none(), "too short");
        assert!(
            RsaSha1Signer::new(&[0xff; 256], &[1; 257]).is_none(),
            "d wider than n"
        );
    }
}
