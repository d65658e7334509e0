//! A repository's images a page at a time, filtered by tag and image status, in digest order: what
//! DescribeImages and ListImages page through.

use super::Registry;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{ImageFilter, ImageSummary, MetadataStore};
use crate::reference::RepositoryName;
use crate::scope::RegistryScope;

impl<M: MetadataStore> Registry<M> {
    /// Up to `limit` images with their tags, digests after `after`.
    pub async fn image_page(
        &self, scope: &RegistryScope, repository: &RepositoryName, after: &str,
        filter: ImageFilter, limit: u32,
    ) -> Result<Vec<ImageSummary>, RegistryError> {
        let name = repository.as_str();
        self.store.image_page(scope, name, after, filter, limit).await
    }

    /// One image with its tags and its current pull time; ImageNotFound when it is gone.
    pub async fn image(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
    ) -> Result<ImageSummary, RegistryError> {
        self.store
            .image(scope, repository.as_str(), digest)
            .await?
            .ok_or(RegistryError::ImageNotFound)
    }

    /// Up to `limit` (digest, tag) ids, one per tag and one per untagged image, after the
    /// id `after` (digest, tag or "").
    pub async fn image_id_page(
        &self, scope: &RegistryScope, repository: &RepositoryName, after: (&str, &str),
        filter: ImageFilter, limit: u32,
    ) -> Result<Vec<(String, Option<String>)>, RegistryError> {
        let name = repository.as_str();
        self.store.image_id_page(scope, name, after, filter, limit).await
    }
}
