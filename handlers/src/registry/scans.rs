//! Image scans as the registry keeps them: queued on push or on request, run by the scan
//! job, read by DescribeImageScanFindings.

use super::Registry;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{ImageKey, MetadataStore, ScanRecord};
use crate::reference::RepositoryName;
use crate::scope::RegistryScope;

/// ECR's quota: one scan per image per 24 hours.
pub const SCAN_QUOTA_SECS: f64 = 24.0 * 3600.0;

impl<M: MetadataStore> Registry<M> {
    /// Queues a scan of the image. With `quota`, LimitExceeded (ECR's text) when the image
    /// was scanned less than 24 hours ago.
    pub async fn start_scan(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest, quota: bool,
    ) -> Result<(), RegistryError> {
        let now = self.clock.now();
        let key = ImageKey {
            scope: scope.clone(),
            repository: repository.to_string(),
            digest: digest.clone(),
        };
        let since = quota.then_some(now - SCAN_QUOTA_SECS);
        if self.store.start_scan(&key, now, since).await? {
            Ok(())
        } else {
            Err(RegistryError::LimitExceeded(
                "The scan quota per image has been exceeded. Wait and try again.".into(),
            ))
        }
    }

    /// Scans waiting for the scan job, oldest first.
    pub async fn pending_scans(&self, limit: u32) -> Result<Vec<ImageKey>, RegistryError> {
        self.store.pending_scans(limit).await
    }

    /// Records how a scan ended.
    pub async fn finish_scan(
        &self, image: &ImageKey, outcome: &ScanRecord,
    ) -> Result<(), RegistryError> {
        self.store.finish_scan(image, outcome).await
    }

    /// Every image that was ever scanned.
    pub async fn scanned_images(&self) -> Result<Vec<ImageKey>, RegistryError> {
        self.store.scanned_images().await
    }

    /// The image's latest scan, if any.
    pub async fn image_scan(&self, image: &ImageKey) -> Result<Option<ScanRecord>, RegistryError> {
        self.store.scan(image).await
    }

    /// Queues a scan of a pushed image when its repository scans on push.
    pub(super) async fn scan_on_push(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
    ) -> Result<(), RegistryError> {
        if self.repository_scanning(scope, repository).await?.scan_on_push {
            self.start_scan(scope, repository, digest, false).await?;
        }
        Ok(())
    }
}
