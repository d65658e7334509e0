//! Who a /v2 request acts for: Basic credentials carrying a GetAuthorizationToken password,
//! and the registry host name.

use super::error::OciError;
use crate::app::AppState;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_generated::oci::OciErrorCode;
use berth_handlers::auth::TokenError;
use berth_handlers::scope::{AccountId, PrincipalArn, Region};
use berth_handlers::RegistryScope;

/// Who a /v2 request acts for, once its credentials are checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OciCaller {
    /// The registry the request addresses.
    pub scope: RegistryScope,
    /// The IAM principal the token was issued to, for pull-time exclusions.
    pub principal: String,
}

/// The registry a request addresses and its principal, after checking its credentials.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<OciCaller, OciError> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).and_then(scope_from_host);
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let Some((user, password)) = credentials else {
        return Err(challenge(state, OciErrorCode::Unauthorized, "Not Authorized"));
    };
    if state.accept_any_credentials {
        let default_account = &state.identities.default_account;
        return Ok(OciCaller {
            scope: host.unwrap_or_else(|| RegistryScope {
                registry_id: default_account.clone(),
                region: state.identities.default_region.clone(),
            }),
            principal: PrincipalArn::root(default_account).as_str().to_string(),
        });
    }
    if user != "AWS" {
        return Err(challenge(
            state,
            OciErrorCode::Unauthorized,
            "Not Authorized: the user name must be AWS",
        ));
    }
    let claims = match state.tokens.verify(&password, state.registry.clock().now_secs()) {
        Ok(claims) => claims,
        Err(TokenError::Forged) => {
            return Err(challenge(
                state,
                OciErrorCode::Unauthorized,
                "Not Authorized: the token is not valid",
            ))
        }
        Err(TokenError::Expired) => {
            return Err(challenge(
                state,
                OciErrorCode::Denied,
                "Your authorization token has expired. Reauthenticate and try again.",
            ))
        }
    };
    let token_scope = RegistryScope { registry_id: claims.account, region: claims.region };
    // As in ECR, a token authenticates its principal on every registry host of its
    // region; another account's registry is then reached only as its policies allow
    // (`access`, checked per request).
    match host {
        Some(host) if host.region != token_scope.region => Err(challenge(
            state,
            OciErrorCode::Denied,
            format!("Your authorization token is for {}, not {}", token_scope.region, host.region),
        )),
        Some(host) => Ok(OciCaller { scope: host, principal: claims.principal }),
        None => Ok(OciCaller { scope: token_scope, principal: claims.principal }),
    }
}

fn challenge(state: &AppState, code: OciErrorCode, message: impl Into<String>) -> OciError {
    OciError::new(code, message).with_status(401).with_header(
        header::WWW_AUTHENTICATE,
        format!("Basic realm=\"{}\",service=\"ecr.amazonaws.com\"", state.proxy_endpoint()),
    )
}

/// `(user, password)` of `Basic base64(user:password)`.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Account and region from a host `<account>.dkr.ecr.<region>.<anything>[:port]`.
fn scope_from_host(host: &str) -> Option<RegistryScope> {
    let host = host.split(':').next()?;
    let mut labels = host.split('.');
    let account = labels.next()?;
    let (dkr, ecr, region) = (labels.next()?, labels.next()?, labels.next()?);
    let account = AccountId::parse(account)?;
    let region = Region::parse(region)?;
    (dkr == "dkr" && ecr == "ecr" && labels.next().is_some())
        .then(|| RegistryScope { registry_id: account.into_string(), region: region.into_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_credentials() {
        assert_eq!(
            scope_from_host("123456789012.dkr.ecr.eu-west-1.localhost:4566"),
            Some(RegistryScope { registry_id: "123456789012".into(), region: "eu-west-1".into() })
        );
        assert_eq!(scope_from_host("localhost:4566"), None);
        assert_eq!(scope_from_host("123.dkr.ecr.eu-west-1.x"), None);
        assert_eq!(basic_credentials("Basic QVdTOnA="), Some(("AWS".into(), "p".into())));
        assert_eq!(basic_credentials("Bearer x"), None);
    }
}
