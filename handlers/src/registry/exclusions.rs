//! Pull-time update exclusions: principals (CI roles, scanners) whose pulls should not
//! count as use, so that lifecycle `sinceImagePulled` rules still expire what only they
//! pull.

use super::Registry;
use crate::error::RegistryError;
use crate::metadata::MetadataStore;
use crate::scope::RegistryScope;

/// ECR's quota of exclusions per registry.
pub const MAX_PULL_TIME_EXCLUSIONS: usize = 100;

impl<M: MetadataStore> Registry<M> {
    /// Excludes `principal` from pull-time updates from now on; returns when it was added.
    pub async fn add_pull_time_exclusion(
        &self, scope: &RegistryScope, principal: &str,
    ) -> Result<f64, RegistryError> {
        let now = self.clock.now();
        self.store.add_exclusion(scope, principal, now, MAX_PULL_TIME_EXCLUSIONS).await?;
        Ok(now)
    }

    /// Counts `principal`'s pulls again.
    pub async fn remove_pull_time_exclusion(
        &self, scope: &RegistryScope, principal: &str,
    ) -> Result<(), RegistryError> {
        self.store.remove_exclusion(scope, principal).await
    }

    /// Up to `limit` excluded principals after `after`, and whether more follow.
    pub async fn pull_time_exclusions(
        &self, scope: &RegistryScope, after: &str, limit: u32,
    ) -> Result<(Vec<String>, bool), RegistryError> {
        let mut page = self.store.exclusions(scope, after, limit.saturating_add(1)).await?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        Ok((page, more))
    }
}
