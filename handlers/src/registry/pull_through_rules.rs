//! The registry's pull-through cache rules, kept in the registry record.

use super::Registry;
use crate::error::RegistryError;
use crate::metadata::MetadataStore;
use crate::scope::RegistryScope;
use berth_generated::ecr::PullThroughCacheRule;

impl<M: MetadataStore> Registry<M> {
    /// The registry's rules, in prefix order.
    pub async fn pull_through_rules(
        &self,
        scope: &RegistryScope,
    ) -> Result<Vec<PullThroughCacheRule>, RegistryError> {
        Ok(self.store.registry_record(scope).await?.pull_through_rules)
    }

    /// Reads the rules, lets `change` edit them (or refuse, which writes nothing) and
    /// stores them sorted by prefix, in one transaction.
    pub async fn update_pull_through_rules<T: Send>(
        &self,
        scope: &RegistryScope,
        change: impl FnOnce(&mut Vec<PullThroughCacheRule>) -> Result<T, RegistryError> + Send,
    ) -> Result<T, RegistryError> {
        self.store
            .update_registry_record(scope, |record| {
                let answer = change(&mut record.pull_through_rules)?;
                record
                    .pull_through_rules
                    .sort_by(|a, b| a.ecr_repository_prefix.cmp(&b.ecr_repository_prefix));
                Ok(answer)
            })
            .await
    }
}
