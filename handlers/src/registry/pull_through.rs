//! The registry's pull-through cache rules, kept in the registry record, and what the
//! cache stores: repositories created on first pull, upstream manifests whose blobs come
//! later, and blobs streamed from upstream.

use super::{matching_template, PushedManifest, Registry};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::ParsedManifest;
use crate::metadata::MetadataStore;
use crate::reference::{RepositoryName, Tag};
use crate::scope::RegistryScope;
use berth_generated::ecr::{PullThroughCacheRule, RCTAppliedFor, RepositoryCreationTemplate};

impl<M: MetadataStore> Registry<M> {
    /// The registry's rules, in prefix order.
    pub async fn pull_through_rules(
        &self, scope: &RegistryScope,
    ) -> Result<Vec<PullThroughCacheRule>, RegistryError> {
        Ok(self.store.registry_record(scope).await?.pull_through_rules)
    }

    /// Reads the rules, lets `change` edit them (or refuse, which writes nothing) and
    /// stores them sorted by prefix, in one transaction.
    pub async fn update_pull_through_rules<T: Send>(
        &self, scope: &RegistryScope,
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

impl<M: MetadataStore> Registry<M> {
    /// The repository a pull-through cache stores into, created on the first pull from the
    /// best PULL_THROUGH_CACHE template (ECR's defaults without one: MUTABLE, AES256).
    async fn repository_for_cache(
        &self, scope: &RegistryScope, name: &RepositoryName,
    ) -> Result<(), RegistryError> {
        match self.repository(scope, name).await {
            Err(RegistryError::RepositoryNotFound { .. }) => {
                let templates = self.creation_templates(scope).await?;
                let default = RepositoryCreationTemplate::default();
                let template =
                    matching_template(&templates, name.as_str(), RCTAppliedFor::PullThroughCache)
                        .unwrap_or(&default);
                match self.create_from_template(scope, name, template).await {
                    Ok(_) | Err(RegistryError::RepositoryAlreadyExists { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            found => found.map(|_| ()),
        }
    }

    /// Stores a manifest fetched from upstream (its digest already checked), creating the
    /// repository if needed. Its blobs are fetched when first pulled, so they need not be
    /// here yet; an index's children must be.
    pub async fn cache_manifest(
        &self, scope: &RegistryScope, name: &RepositoryName, tag: Option<&Tag>,
        parsed: ParsedManifest, body: Vec<u8>,
    ) -> Result<PushedManifest, RegistryError> {
        self.repository_for_cache(scope, name).await?;
        let mut parsed = parsed;
        parsed.references.blobs_fetched_later = true;
        self.store_manifest(scope, name, tag, None, parsed, body).await
    }

    /// True when a manifest of the repository references the blob (a cached image's layer
    /// that may be fetched from upstream).
    pub async fn blob_referenced(
        &self, scope: &RegistryScope, name: &RepositoryName, digest: &Digest,
    ) -> Result<bool, RegistryError> {
        self.store.blob_referenced(scope, name.as_str(), digest).await
    }

    /// Links a blob the store already has (fetched for another repository) into this one;
    /// `None` when the store lacks it.
    pub async fn link_stored_blob(
        &self, scope: &RegistryScope, name: &RepositoryName, digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let _blob = self.hold_blob(digest).await?;
        let Some(size) = self.blobs.stat(digest).await? else {
            return Ok(None);
        };
        self.store.link_blob(scope, name.as_str(), digest, size, self.clock.now()).await?;
        Ok(Some(size))
    }
}
