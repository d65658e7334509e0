//! Repositories as records: create, list, delete, their settings, policy and resource
//! tags; and the registry record of each (account, region). The ECR face reaches them
//! only through these methods, so what stores them can change underneath.

use super::Registry;
use crate::error::RegistryError;
use crate::metadata::{
    MetadataStore, RegistryRecord, RepositoryDocument, RepositoryRecord, RepositoryTag,
};
use crate::scope::RegistryScope;
use berth_generated::ecr::{ImageTagMutability, ImageTagMutabilityExclusionFilter};

impl<M: MetadataStore> Registry<M> {
    /// Creates a repository with its resource tags; RepositoryAlreadyExists when taken.
    pub async fn create_repository(
        &self, scope: &RegistryScope, record: &RepositoryRecord, tags: &[RepositoryTag],
    ) -> Result<(), RegistryError> {
        self.store.create_repository(scope, record, tags, &[]).await
    }

    /// The repository named as the ECR API names it (not yet parsed); RepositoryNotFound.
    pub async fn repository_record(
        &self, scope: &RegistryScope, name: &str,
    ) -> Result<RepositoryRecord, RegistryError> {
        self.store.repository(scope, name).await
    }

    /// Up to `limit` repositories in name order after `after`.
    pub async fn repositories(
        &self, scope: &RegistryScope, after: Option<&str>, limit: u32,
    ) -> Result<Vec<RepositoryRecord>, RegistryError> {
        self.store.list_repositories(scope, after, limit).await
    }

    /// Deletes a repository (with its images when `force`); returns what it was.
    pub async fn delete_repository(
        &self, scope: &RegistryScope, name: &str, force: bool,
    ) -> Result<RepositoryRecord, RegistryError> {
        self.store.delete_repository(scope, name, force).await
    }

    /// Sets whether tags may move, and the tags excepted.
    pub async fn set_tag_mutability(
        &self, scope: &RegistryScope, name: &str, mutability: ImageTagMutability,
        filters: &[ImageTagMutabilityExclusionFilter],
    ) -> Result<(), RegistryError> {
        self.store.set_tag_mutability(scope, name, mutability, filters).await
    }

    /// Sets the repository's scan-on-push flag.
    pub async fn set_scan_on_push(
        &self, scope: &RegistryScope, name: &str, scan: bool,
    ) -> Result<(), RegistryError> {
        self.store.set_scan_on_push(scope, name, scan).await
    }

    /// One of the repository's documents (policy, lifecycle policy), if set.
    pub async fn repository_document(
        &self, scope: &RegistryScope, name: &str, kind: RepositoryDocument,
    ) -> Result<Option<String>, RegistryError> {
        self.store.document(scope, name, kind).await
    }

    /// Sets (or with `None` removes) a repository document; returns the previous one.
    pub async fn set_repository_document(
        &self, scope: &RegistryScope, name: &str, kind: RepositoryDocument, text: Option<&str>,
    ) -> Result<Option<String>, RegistryError> {
        self.store.set_document(scope, name, kind, text).await
    }

    /// The repository's resource tags, by key.
    pub async fn resource_tags(
        &self, scope: &RegistryScope, name: &str,
    ) -> Result<Vec<RepositoryTag>, RegistryError> {
        self.store.tags(scope, name).await
    }

    /// Adds or replaces resource tags, refusing to go over `limit` in all.
    pub async fn tag_repository(
        &self, scope: &RegistryScope, name: &str, tags: &[RepositoryTag], limit: usize,
    ) -> Result<(), RegistryError> {
        self.store.tag_repository(scope, name, tags, limit).await
    }

    /// Removes the resource tags with these keys (missing ones are fine).
    pub async fn untag_repository(
        &self, scope: &RegistryScope, name: &str, keys: &[String],
    ) -> Result<(), RegistryError> {
        self.store.untag_repository(scope, name, keys).await
    }

    /// The registry record of the scope's (account, region); empty when never written.
    pub async fn registry_record(
        &self, scope: &RegistryScope,
    ) -> Result<RegistryRecord, RegistryError> {
        self.store.registry_record(scope).await
    }

    /// Every (account, region) that holds a repository or a setting, in order.
    pub async fn registries(&self) -> Result<Vec<RegistryScope>, RegistryError> {
        self.store.registries().await
    }
}
