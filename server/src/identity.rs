//! Who is calling: principal and account from the SigV4 access key, region from its
//! credential scope.

use crate::config::ServeOptions;
use crate::signature::{Secret, SignatureVerifier};
use berth_handlers::scope::{PrincipalArn, Region};
use berth_handlers::Caller;
use std::collections::BTreeMap;

/// Resolves callers from `Authorization` headers.
#[derive(Debug, Clone)]
pub struct Identities {
    /// Access key id -> the principal it speaks for (and so its account).
    pub principals: BTreeMap<String, PrincipalArn>,
    pub default_account: String,
    pub default_region: String,
}

impl Identities {
    /// The identities of `--access-key` and `--credentials-file`, and, with
    /// `--verify-signatures`, the verifier of their secrets (at least one is needed).
    pub fn from_options(
        options: &ServeOptions,
    ) -> Result<(Identities, Option<SignatureVerifier>), String> {
        let mut principals = options.principal_map();
        let mut verifier = SignatureVerifier::default();
        for key in &options.access_keys {
            if let Some(secret) = &key.secret {
                let secret = Secret { secret_access_key: secret.clone(), session_token: None };
                verifier.secrets.insert(key.id.clone(), secret);
            }
        }
        if let Some(path) = &options.credentials_file {
            for credential in crate::credentials_file::read(path)? {
                if let Some(principal) = credential.principal {
                    principals.insert(credential.access_key_id.clone(), principal);
                }
                let secret = Secret {
                    secret_access_key: credential.secret,
                    session_token: credential.session_token,
                };
                verifier.secrets.insert(credential.access_key_id, secret);
            }
        }
        if options.verify_signatures && verifier.secrets.is_empty() {
            return Err("--verify-signatures needs at least one secret: --access-key \
                        AKID=ACCOUNT:SECRET or --credentials-file"
                .into());
        }
        let identities = Identities {
            principals,
            default_account: options.default_account.clone(),
            default_region: options.default_region.clone(),
        };
        Ok((identities, options.verify_signatures.then_some(verifier)))
    }

    /// The caller of a request with this `Authorization` header. The access key selects the
    /// principal and its account (unknown keys get the default account's root), the
    /// credential scope the region (one that is not shaped like an AWS region name gets
    /// the default region). Signatures are not checked: berth is for development and CI.
    pub fn caller(&self, authorization: Option<&str>) -> Caller {
        let scope = authorization.and_then(credential_scope);
        let principal = scope
            .and_then(|(key, _)| self.principals.get(key))
            .cloned()
            .unwrap_or_else(|| PrincipalArn::root(&self.default_account));
        let region = scope.map(|(_, region)| region).unwrap_or(&self.default_region).to_string();
        Caller {
            account_id: principal.account().to_string(),
            region,
            principal: principal.as_str().to_string(),
        }
    }
}

/// `(access key id, region)` from
/// `AWS4-HMAC-SHA256 Credential=<AKID>/<date>/<region>/ecr/aws4_request, SignedHeaders=..., Signature=...`.
fn credential_scope(header: &str) -> Option<(&str, &str)> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256")?;
    let credential = rest.split(',').find_map(|part| part.trim().strip_prefix("Credential="))?;
    let mut fields = credential.split('/');
    let key = fields.next().filter(|k| !k.is_empty())?;
    let _date = fields.next()?;
    let region = fields.next().filter(|r| Region::parse(r).is_some())?;
    Some((key, region))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identities() -> Identities {
        Identities {
            principals: [(
                "AKIDMAPPED".to_string(),
                PrincipalArn::parse("arn:aws:iam::123456789012:role/ci").unwrap(),
            )]
            .into(),
            default_account: "000000000000".into(),
            default_region: "us-east-1".into(),
        }
    }

    #[test]
    fn account_and_region_from_the_credential_scope() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDMAPPED/20260101/eu-west-1/ecr/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=abc";
        let caller = identities().caller(Some(header));
        assert_eq!(
            caller,
            Caller {
                account_id: "123456789012".into(),
                region: "eu-west-1".into(),
                principal: "arn:aws:iam::123456789012:role/ci".into(),
            }
        );
        let other = identities().caller(Some(&header.replace("AKIDMAPPED", "AKIDOTHER")));
        assert_eq!(other.account_id, "000000000000");
        assert_eq!(other.region, "eu-west-1");
    }

    #[test]
    fn defaults_without_or_with_a_malformed_header() {
        for header in [None, Some("Basic abc"), Some("AWS4-HMAC-SHA256 Credential=")] {
            let caller = identities().caller(header);
            assert_eq!(
                caller,
                Caller {
                    account_id: "000000000000".into(),
                    region: "us-east-1".into(),
                    principal: "arn:aws:iam::000000000000:root".into(),
                }
            );
        }
    }
}
