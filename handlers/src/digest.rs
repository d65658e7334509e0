//! Content digests: `sha256:<64 lowercase hex>`, the only algorithm ECR stores, and on the
//! OCI face also `sha512:<128 lowercase hex>`, which the OCI specification lets a registry
//! accept. The ECR face keeps ECR's rule with [`Digest::parse_sha256`].

use sha2::{Digest as _, Sha256, Sha512};
use std::fmt;

/// A parsed sha256 or sha512 digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

/// The hash algorithms berth stores blobs and manifests under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl DigestAlgorithm {
    /// The algorithm as digests name it.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// The algorithm a name (`digest-algorithm=...`) stands for.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(DigestAlgorithm::Sha256),
            "sha512" => Some(DigestAlgorithm::Sha512),
            _ => None,
        }
    }

    fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

/// Why a digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestError {
    /// Not of the OCI digest grammar at all.
    Malformed,
    /// Well-formed, but an algorithm berth (like ECR) does not store.
    UnsupportedAlgorithm(String),
}

impl Digest {
    /// Parses `sha256:<64 hex>` or `sha512:<128 hex>`.
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let (algorithm, encoded) = text.split_once(':').ok_or(DigestError::Malformed)?;
        let algorithm_ok = !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
        let encoded_ok = !encoded.is_empty()
            && encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
        if !algorithm_ok || !encoded_ok {
            return Err(DigestError::Malformed);
        }
        let algorithm = DigestAlgorithm::parse(algorithm)
            .ok_or_else(|| DigestError::UnsupportedAlgorithm(algorithm.to_string()))?;
        if encoded.len() != algorithm.hex_len()
            || !encoded.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Malformed);
        }
        Ok(Digest(text.to_string()))
    }

    /// Parses a digest as ECR does: sha256 only.
    pub fn parse_sha256(text: &str) -> Result<Self, DigestError> {
        let digest = Self::parse(text)?;
        match digest.algorithm() {
            DigestAlgorithm::Sha256 => Ok(digest),
            other => Err(DigestError::UnsupportedAlgorithm(other.as_str().into())),
        }
    }

    /// The sha256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// The digest of `bytes` under `algorithm`.
    pub fn of_with(algorithm: DigestAlgorithm, bytes: &[u8]) -> Self {
        match algorithm {
            DigestAlgorithm::Sha256 => Self::of(bytes),
            DigestAlgorithm::Sha512 => Self::from_sha512(Sha512::new_with_prefix(bytes)),
        }
    }

    /// The digest a finished incremental sha256 gives.
    pub fn from_hasher(hasher: Sha256) -> Self {
        Digest(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    /// The digest a finished incremental sha512 gives.
    pub fn from_sha512(hasher: Sha512) -> Self {
        Digest(format!("sha512:{}", hex::encode(hasher.finalize())))
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        if self.0.starts_with("sha512:") {
            DigestAlgorithm::Sha512
        } else {
            DigestAlgorithm::Sha256
        }
    }

    /// The hex characters after the algorithm.
    pub fn hex(&self) -> &str {
        &self.0[self.algorithm().as_str().len() + 1..]
    }

    /// `<algorithm>:<hex>`.
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
        assert_eq!(Digest::parse("sha512:abc"), Err(DigestError::Malformed));
        let long = Digest::of_with(DigestAlgorithm::Sha512, b"");
        assert_eq!(long.hex().len(), 128);
        assert_eq!(Digest::parse(long.as_str()), Ok(long.clone()));
        assert_eq!(long.algorithm(), DigestAlgorithm::Sha512);
        assert_eq!(
            Digest::parse_sha256(long.as_str()),
            Err(DigestError::UnsupportedAlgorithm("sha512".into()))
        );
        assert_eq!(
            Digest::parse(&format!("sha384:{}", "0".repeat(96))),
            Err(DigestError::UnsupportedAlgorithm("sha384".into()))
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
