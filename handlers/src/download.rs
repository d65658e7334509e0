//! GetDownloadUrlForLayer URLs: a signed, time-limited grant to read one blob, served by
//! berth itself where ECR would hand out a pre-signed S3 URL.

use crate::auth::TokenSigner;
use crate::digest::Digest;
use crate::scope::RegistryScope;
use crate::signed_claims::ClaimsForm;

/// The URL path download grants are served under; the grant follows it.
pub const DOWNLOAD_PATH: &str = "/_berth/layers/";

/// Permission to read `digest` from `repository` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadGrant {
    pub scope: RegistryScope,
    pub repository: String,
    pub digest: Digest,
    /// Epoch seconds.
    pub expires_at: u64,
}

/// `<registry\nregion\nrepository\ndigest\nexpiry>.<mac>`.
const GRANT_FORM: ClaimsForm = ClaimsForm { prefix: None, separator: '\n', fields: 5 };

impl DownloadGrant {
    /// The URL-safe signed form.
    pub fn sign(&self, signer: &TokenSigner) -> String {
        let scope = &self.scope;
        let (digest, expires_at) = (self.digest.to_string(), self.expires_at.to_string());
        let fields = [
            scope.registry_id.as_str(),
            scope.region.as_str(),
            self.repository.as_str(),
            digest.as_str(),
            expires_at.as_str(),
        ];
        GRANT_FORM.seal(signer, &fields)
    }

    /// Reads a signed grant; `None` when forged, malformed or expired at `now`.
    pub fn verify(text: &str, signer: &TokenSigner, now: u64) -> Option<Self> {
        let fields = GRANT_FORM.open(signer, text)?;
        let [registry_id, region, repository, digest, expires_at] = fields.as_slice() else {
            return None;
        };
        let grant = DownloadGrant {
            scope: RegistryScope { registry_id: registry_id.clone(), region: region.clone() },
            repository: repository.clone(),
            digest: Digest::parse(digest).ok()?,
            expires_at: expires_at.parse().ok()?,
        };
        (grant.expires_at > now).then_some(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_verify_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let signer = TokenSigner::open(dir.path()).unwrap();
        let grant = DownloadGrant {
            scope: RegistryScope { registry_id: "000000000000".into(), region: "us-east-1".into() },
            repository: "team/app".into(),
            digest: Digest::of(b"x"),
            expires_at: 100,
        };
        let text = grant.sign(&signer);
        assert_eq!(DownloadGrant::verify(&text, &signer, 99), Some(grant));
        assert_eq!(DownloadGrant::verify(&text, &signer, 100), None);
        assert_eq!(DownloadGrant::verify(&text.replace('.', ".x"), &signer, 0), None);
    }
}
