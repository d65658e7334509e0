//! RegisterPullTimeUpdateExclusion, DeregisterPullTimeUpdateExclusion,
//! ListPullTimeUpdateExclusions: the caller's registry's list of principals whose pulls do
//! not update lastRecordedPullTime.

use super::page_token::PageToken;
use super::EcrHandlers;
use crate::error::RegistryError;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use berth_generated::runtime::Timestamp;

/// ECR's page size when `maxResults` is not given.
const DEFAULT_PAGE_SIZE: i32 = 100;

impl RegisterPullTimeUpdateExclusion for EcrHandlers {
    async fn register_pull_time_update_exclusion(
        &self, caller: &Caller, input: RegisterPullTimeUpdateExclusionRequest,
    ) -> Result<RegisterPullTimeUpdateExclusionResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let created_at =
            self.registry.add_pull_time_exclusion(&scope, &input.principal_arn).await?;
        Ok(RegisterPullTimeUpdateExclusionResponse {
            principal_arn: Some(input.principal_arn),
            created_at: Some(Timestamp(created_at)),
        })
    }
}

impl DeregisterPullTimeUpdateExclusion for EcrHandlers {
    async fn deregister_pull_time_update_exclusion(
        &self, caller: &Caller, input: DeregisterPullTimeUpdateExclusionRequest,
    ) -> Result<DeregisterPullTimeUpdateExclusionResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        self.registry.remove_pull_time_exclusion(&scope, &input.principal_arn).await?;
        Ok(DeregisterPullTimeUpdateExclusionResponse { principal_arn: Some(input.principal_arn) })
    }
}

impl ListPullTimeUpdateExclusions for EcrHandlers {
    async fn list_pull_time_update_exclusions(
        &self, caller: &Caller, input: ListPullTimeUpdateExclusionsRequest,
    ) -> Result<ListPullTimeUpdateExclusionsResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let after = input.next_token.as_deref().map(PageToken::decode).transpose()?;
        let size = input.max_results.unwrap_or(DEFAULT_PAGE_SIZE).max(1) as u32;
        let (page, more) = self
            .registry
            .pull_time_exclusions(&scope, after.as_ref().map_or("", |a| a.after()), size)
            .await?;
        let next_token =
            more.then(|| page.last().map(|last| PageToken::new(last).encode())).flatten();
        Ok(ListPullTimeUpdateExclusionsResponse {
            pull_time_update_exclusions: Some(page),
            next_token,
        })
    }
}
