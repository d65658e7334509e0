//! Content digests: `sha256:<64 lowercase hex>`, the only algorithm ECR stores.

use sha2::{Digest as _, Sha256};
use std::fmt;

/// A parsed sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

/// Why a digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestError {
    /// Not of the OCI digest grammar at all.
    Malformed,
    /// Well-formed, but an algorithm berth (like ECR) does not store.
    UnsupportedAlgorithm(String),
}

impl Digest {
    /// Parses `sha256:<64 hex>`.
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let (algorithm, encoded) = text.split_once(':').ok_or(DigestError::Malformed)?;
        let algorithm_ok = !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
        let encoded_ok = !encoded.is_empty()
            && encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
        if !algorithm_ok || !encoded_ok {
            return Err(DigestError::Malformed);
        }
        if algorithm != "sha256" {
            return Err(DigestError::UnsupportedAlgorithm(algorithm.to_string()));
        }
        if encoded.len() != 64
            || !encoded
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Malformed);
        }
        Ok(Digest(text.to_string()))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// The digest a finished incremental hash gives.
    pub fn from_hasher(hasher: Sha256) -> Self {
        Digest(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_compute() {
        let d = Digest::of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(d.as_str()), Ok(d.clone()));
        assert_eq!(d.hex().len(), 64);
        assert_eq!(
            Digest::parse("sha512:abc"),
            Err(DigestError::UnsupportedAlgorithm("sha512".into()))
        );
        for bad in [
            "",
            "sha256",
            "sha256:",
            "sha256:xyz",
            "SHA256:00",
            &format!("sha256:{}", "A".repeat(64)),
        ] {
            assert_eq!(Digest::parse(bad), Err(DigestError::Malformed), "{bad}");
        }
    }
}
