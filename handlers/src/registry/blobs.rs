//! Reading blobs and mounting them across repositories.

use super::{AccountSetting, Registry};
use crate::blob_store::ByteStream;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::MetadataStore;
use crate::pull_through::upstream_repository;
use crate::reference::RepositoryName;
use crate::scope::RegistryScope;

impl<M: MetadataStore> Registry<M> {
    /// The size of a blob visible in the repository; BlobUnknown when it is not.
    pub async fn blob_size(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
    ) -> Result<u64, RegistryError> {
        self.repository(scope, repository).await?;
        self.linked_blob_size(scope, repository, digest).await?.ok_or_else(|| {
            RegistryError::BlobUnknown {
                digest: digest.to_string(),
                repository: repository.to_string(),
                registry: scope.registry_id.clone(),
            }
        })
    }

    /// The size of a blob if the repository has it; the caller has checked the repository.
    pub async fn linked_blob_size(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        self.store.linked_blob_size(scope, repository.as_str(), digest).await
    }

    /// Where a client may GET the committed blob from the blob store itself for
    /// `valid_for`; `None` when the store has no such URL.
    pub async fn blob_download_url(
        &self, digest: &Digest, valid_for: std::time::Duration,
    ) -> Result<Option<String>, RegistryError> {
        self.blobs.download_url(digest, valid_for).await
    }

    /// `length` bytes from `start` of a blob; the caller checked with
    /// [`Registry::blob_size`] that the repository has it, and keeps both within that size.
    pub async fn read_blob(
        &self, digest: &Digest, start: u64, length: u64,
    ) -> Result<ByteStream, RegistryError> {
        self.blobs.read(digest, start, length).await
    }

    /// Links a blob of `from` into `repository` of the same registry, as ECR mounts: only
    /// when the registry's BLOB_MOUNTING setting is ENABLED, a manifest of `from`
    /// references the blob, and `from` is not a pull-through cache's repository (ECR
    /// excludes those). `None` otherwise (the caller then opens an upload session, as the
    /// spec says).
    pub async fn mount_blob(
        &self, scope: &RegistryScope, repository: &RepositoryName, from: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        self.repository_for_push(scope, repository).await?;
        if self.account_setting(scope, AccountSetting::BlobMounting).await? != "ENABLED" {
            return Ok(None);
        }
        let rules = self.pull_through_rules(scope).await?;
        if upstream_repository(&rules, from.as_str()).is_some() {
            return Ok(None);
        }
        let _blob = self.hold_blob(digest).await?;
        if !self.store.blob_referenced(scope, from.as_str(), digest).await? {
            return Ok(None);
        }
        let Some(size) = self.store.linked_blob_size(scope, from.as_str(), digest).await? else {
            return Ok(None);
        };
        self.store.link_blob(scope, repository.as_str(), digest, size, self.clock.now()).await?;
        Ok(Some(size))
    }
}
