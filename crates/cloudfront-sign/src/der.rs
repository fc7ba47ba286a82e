//! Just enough PEM and DER to tell which key a document holds and to find the pieces aws-lc-rs
//! cannot hand back to us (the RSA modulus and private exponent for SHA-1 signing).
//!
//! aws-lc-rs re-parses every key in full, so this reader only has to be right about structure,
//! never about validity: anything it accepts that is not a sound key is rejected there.

use base64::Engine as _;

/// The DER tags this module reads.
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;

/// 1.2.840.113549.1.1.1 (rsaEncryption).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7 (prime256v1, the only curve CloudFront accepts).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The algorithm named by an `AlgorithmIdentifier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Rsa,
    EcP256,
    Other,
}

/// Returns the label and DER bytes of the first PEM block in `text`.
pub(crate) fn pem(text: &str) -> Option<(&str, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body_and_end = &rest[label_end + "-----".len()..];
    let end_marker = format!("-----END {label}-----");
    let body = &body_and_end[..body_and_end.find(&end_marker)?];
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    Some((label, der))
}

/// A cursor over a run of DER TLVs.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(der: &'a [u8]) -> Self {
        Self { rest: der }
    }

    /// Reads one TLV with tag `tag` and returns its contents.
    pub(crate) fn read(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&actual, rest) = self.rest.split_first()?;
        if actual != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            // Long form; three length bytes cover any key CloudFront accepts. 0x80 (indefinite
            // length) is not DER and falls out here too.
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 3 || rest.len() < count {
                return None;
            }
            let (len_bytes, after) = rest.split_at(count);
            rest = after;
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if rest.len() < len {
            return None;
        }
        let (value, after) = rest.split_at(len);
        self.rest = after;
        Some(value)
    }

    /// Reads one `INTEGER` and returns its unsigned big-endian magnitude, without the sign byte.
    pub(crate) fn read_unsigned(&mut self) -> Option<&'a [u8]> {
        let value = self.read(INTEGER)?;
        let skip = value.iter().take_while(|&&b| b == 0).count();
        Some(&value[skip..])
    }

    /// Skips one TLV of any tag.
    pub(crate) fn skip(&mut self) -> Option<()> {
        let tag = *self.rest.first()?;
        self.read(tag).map(|_| ())
    }
}

/// Reads an `AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }`.
fn algorithm_identifier(contents: &[u8]) -> Option<Algorithm> {
    let mut r = Reader::new(contents);
    let oid = r.read(OID)?;
    Some(if oid == OID_RSA {
        Algorithm::Rsa
    } else if oid == OID_EC {
        // For EC keys the parameters name the curve.
        if r.read(OID)? == OID_P256 {
            Algorithm::EcP256
        } else {
            Algorithm::Other
        }
    } else {
        Algorithm::Other
    })
}

/// The algorithm of a `SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }`.
pub(crate) fn spki_algorithm(der: &[u8]) -> Option<Algorithm> {
    let mut outer = Reader::new(der);
    let mut spki = Reader::new(outer.read(SEQUENCE)?);
    let algorithm = algorithm_identifier(spki.read(SEQUENCE)?)?;
    spki.read(BIT_STRING)?;
    Some(algorithm)
}

/// The algorithm and inner private key of a PKCS#8 `PrivateKeyInfo ::= SEQUENCE { version,
/// AlgorithmIdentifier, privateKey OCTET STRING, ... }`.
pub(crate) fn pkcs8(der: &[u8]) -> Option<(Algorithm, &[u8])> {
    let mut outer = Reader::new(der);
    let mut info = Reader::new(outer.read(SEQUENCE)?);
    info.read(INTEGER)?;
    let algorithm = algorithm_identifier(info.read(SEQUENCE)?)?;
    Some((algorithm, info.read(OCTET_STRING)?))
}

/// The modulus `n` and private exponent `d` of a PKCS#1 `RSAPrivateKey ::= SEQUENCE { version,
/// n, e, d, p, q, dP, dQ, qInv }`, as unsigned big-endian bytes.
pub(crate) fn rsa_private_n_d(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut outer = Reader::new(der);
    let mut key = Reader::new(outer.read(SEQUENCE)?);
    key.read(INTEGER)?;
    let n = key.read_unsigned()?;
    key.skip()?;
    let d = key.read_unsigned()?;
    Some((n, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_PUB: &str = include_str!("../testdata/rsa2048.pub.pem");
    const RSA_PRIV: &str = include_str!("../testdata/rsa2048.pem");
    const EC_PUB: &str = include_str!("../testdata/ec-p256.pub.pem");
    const EC_PKCS8: &str = include_str!("../testdata/ec-p256.pem");

    #[test]
    fn reads_pem_labels() {
        assert_eq!(pem(RSA_PUB).unwrap().0, "PUBLIC KEY");
        assert_eq!(pem(RSA_PRIV).unwrap().0, "RSA PRIVATE KEY");
        assert_eq!(pem(EC_PKCS8).unwrap().0, "PRIVATE KEY");
        assert!(pem("no pem here").is_none());
        assert!(pem("-----BEGIN X-----\nAAAA\n-----END Y-----\n").is_none());
        assert!(pem("-----BEGIN X-----\n!!!!\n-----END X-----\n").is_none());
    }

    #[test]
    fn tells_rsa_from_ec() {
        assert_eq!(
            spki_algorithm(&pem(RSA_PUB).unwrap().1),
            Some(Algorithm::Rsa)
        );
        assert_eq!(
            spki_algorithm(&pem(EC_PUB).unwrap().1),
            Some(Algorithm::EcP256)
        );
        assert_eq!(
            pkcs8(&pem(EC_PKCS8).unwrap().1).unwrap().0,
            Algorithm::EcP256
        );
    }

    #[test]
    fn finds_rsa_modulus_and_exponent() {
        let der = pem(RSA_PRIV).unwrap().1;
        let (n, d) = rsa_private_n_d(&der).unwrap();
        assert_eq!(n.len(), 256, "2048-bit modulus");
        assert!(
            n[0] & 0x80 != 0 && n[255] & 1 == 1,
            "full-length odd modulus"
        );
        assert!(!d.is_empty() && d.len() <= 256);
    }

    #[test]
    fn rejects_truncated_der() {
        let der = pem(RSA_PUB).unwrap().1;
        assert!(spki_algorithm(&der[..der.len() - 1]).is_none());
        assert!(spki_algorithm(&[]).is_none());
        // An indefinite length (0x80) is BER, not DER.
        assert!(Reader::new(&[0x30, 0x80, 0x00, 0x00])
            .read(SEQUENCE)
            .is_none());
    }
}
