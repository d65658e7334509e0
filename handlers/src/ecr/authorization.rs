//! GetAuthorizationToken: the password `docker login` uses against /v2.

use super::EcrHandlers;
use crate::auth::{authorization_token, TOKEN_LIFETIME_SECS};
use crate::error::RegistryError;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use berth_generated::runtime::Timestamp;

impl GetAuthorizationToken for EcrHandlers {
    /// One token per requested registry (the deprecated `registryIds`), else for the
    /// caller's own; each valid 12 hours for its account in the caller's region.
    async fn get_authorization_token(
        &self, caller: &Caller, input: GetAuthorizationTokenRequest,
    ) -> Result<GetAuthorizationTokenResponse, RegistryError> {
        let expires_at = self.registry.clock().now_secs().saturating_add(TOKEN_LIFETIME_SECS);
        let accounts = input.registry_ids.unwrap_or_else(|| vec![caller.account_id.clone()]);
        let authorization_data = accounts
            .iter()
            .map(|account| AuthorizationData {
                authorization_token: Some(authorization_token(&self.tokens.issue(
                    account,
                    &caller.region,
                    expires_at,
                    &caller.principal,
                ))),
                expires_at: Some(Timestamp(expires_at as f64)),
                proxy_endpoint: Some(self.endpoint.url(&RegistryScope {
                    registry_id: account.clone(),
                    region: caller.region.clone(),
                })),
            })
            .collect();
        Ok(GetAuthorizationTokenResponse { authorization_data: Some(authorization_data) })
    }
}
