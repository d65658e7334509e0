//! Registry tokens: what GetAuthorizationToken hands out and /v2 checks.
//!
//! A token is `berth2.<claims>.<mac>`: base64url of `account:region:expiry:principal` and
//! an HMAC-SHA256 of it under a key kept in the data dir, so tokens survive restarts and
//! cannot be forged. Tokens of the earlier `berth1` form (no principal: the account's
//! root) are still accepted. The same key signs GetDownloadUrlForLayer URLs.

use crate::error::RegistryError;
use crate::signed_claims::ClaimsForm;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

/// The key file inside the data dir.
pub const KEY_FILE: &str = "auth.key";

/// How long a token is valid, as in ECR.
pub const TOKEN_LIFETIME_SECS: u64 = 12 * 60 * 60;

/// `berth2.<account:region:expiry:principal>.<mac>`; the principal ARN keeps its colons.
const TOKEN_FORM: ClaimsForm = ClaimsForm { prefix: Some("berth2"), separator: ':', fields: 4 };

/// `berth1.<account:region:expiry>.<mac>`, issued before tokens named a principal.
const TOKEN_FORM_V1: ClaimsForm = ClaimsForm { prefix: Some("berth1"), separator: ':', fields: 3 };

/// Signs and checks tokens with the data dir's key.
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner { .. }")
    }
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub account: String,
    pub region: String,
    /// Epoch seconds.
    pub expires_at: u64,
    /// The IAM principal ARN of whoever asked for the token.
    pub principal: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of this server (wrong format or signature).
    Forged,
    /// Valid but past its expiry.
    Expired,
}

impl TokenSigner {
    /// Loads the key from `data_dir`, creating it on first start.
    pub fn open(data_dir: &Path) -> Result<Self, RegistryError> {
        let path = data_dir.join(KEY_FILE);
        let internal = |what: &str, e: &dyn std::fmt::Display| {
            RegistryError::Internal(format!("{what} {}: {e}", path.display()))
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] =
                    bytes.try_into().map_err(|_| internal("invalid key in", &"not 32 bytes"))?;
                return Ok(TokenSigner { key });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(internal("cannot read", &e)),
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| internal("no randomness for", &e))?;
        let temporary = data_dir.join(format!("{KEY_FILE}.new"));
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temporary).map_err(|e| internal("cannot create", &e))?;
            file.write_all(&key).map_err(|e| internal("cannot write", &e))?;
            file.sync_all().map_err(|e| internal("cannot fsync", &e))?;
        }
        std::fs::rename(&temporary, &path).map_err(|e| internal("cannot create", &e))?;
        Ok(TokenSigner { key })
    }

    /// The key given as base64 of 32 bytes (`--token-key`), so that several replicas
    /// accept each other's tokens; the data dir's key file is then not used.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| format!("the token key is not base64: {e}"))?;
        let key: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!(
                "the token key is {} bytes; it must be 32 (openssl rand -base64 32)",
                bytes.len()
            )
        })?;
        Ok(TokenSigner { key })
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(data);
        mac
    }

    /// A MAC of `data`, base64url.
    pub fn sign(&self, data: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(data.as_bytes()).finalize().into_bytes())
    }

    /// True when `signature` is [`TokenSigner::sign`] of `data` (constant time).
    pub fn check(&self, data: &str, signature: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(signature) {
            Ok(bytes) => self.mac(data.as_bytes()).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    /// The registry password for `account` in `region`, valid until `expires_at`, issued
    /// to `principal`.
    pub fn issue(&self, account: &str, region: &str, expires_at: u64, principal: &str) -> String {
        TOKEN_FORM.seal(self, &[account, region, &expires_at.to_string(), principal])
    }

    /// Checks a registry password at time `now` (epoch seconds).
    pub fn verify(&self, password: &str, now: u64) -> Result<TokenClaims, TokenError> {
        let fields = TOKEN_FORM
            .open(self, password)
            .or_else(|| TOKEN_FORM_V1.open(self, password))
            .ok_or(TokenError::Forged)?;
        let (account, region, expiry, principal) = match fields.as_slice() {
            [account, region, expiry, principal] => (account, region, expiry, principal.clone()),
            [account, region, expiry] => {
                (account, region, expiry, format!("arn:aws:iam::{account}:root"))
            }
            _ => return Err(TokenError::Forged),
        };
        let expires_at: u64 = expiry.parse().map_err(|_| TokenError::Forged)?;
        if expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(TokenClaims { account: account.clone(), region: region.clone(), expires_at, principal })
    }
}

/// ECR's `authorizationToken`: base64 of `AWS:<password>`.
pub fn authorization_token(password: &str) -> String {
    STANDARD.encode(format!("AWS:{password}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_survive_reopen_and_cannot_be_forged() {
        let dir = tempfile::tempdir().unwrap();
        let signer = TokenSigner::open(dir.path()).unwrap();
        let role = "arn:aws:iam::111122223333:role/ci";
        let token = signer.issue("123456789012", "eu-west-1", 1_000, role);
        let claims = TokenClaims {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            expires_at: 1_000,
            principal: role.into(),
        };
        assert_eq!(signer.verify(&token, 999), Ok(claims.clone()));
        assert_eq!(TokenSigner::open(dir.path()).unwrap().verify(&token, 999), Ok(claims));
        assert_eq!(signer.verify(&token, 1_000), Err(TokenError::Expired));
        let other = TokenSigner::open(tempfile::tempdir().unwrap().path()).unwrap();
        // A key given as config signs the same tokens in every process that has it.
        let shared = STANDARD.encode([7u8; 32]);
        let (one, two) = (
            TokenSigner::from_base64(&shared).unwrap(),
            TokenSigner::from_base64(&shared).unwrap(),
        );
        assert!(two.verify(&one.issue("111122223333", "us-east-1", 1000, "p"), 999).is_ok());
        assert!(TokenSigner::from_base64(&STANDARD.encode([7u8; 16])).is_err());
        assert!(TokenSigner::from_base64("not base64!").is_err());
        assert_eq!(other.verify(&token, 0), Err(TokenError::Forged));
        let tampered = token.replacen("berth2.", "berth2.x", 1);
        assert_eq!(signer.verify(&tampered, 0), Err(TokenError::Forged));
        // A token of the first form speaks for the account's root.
        let v1 = TOKEN_FORM_V1.seal(&signer, &["123456789012", "eu-west-1", "1000"]);
        assert_eq!(
            signer.verify(&v1, 999).map(|c| c.principal),
            Ok("arn:aws:iam::123456789012:root".to_string())
        );
        assert_eq!(signer.verify("garbage", 0), Err(TokenError::Forged));
        assert_eq!(authorization_token("p"), "QVdTOnA=");
    }
}
