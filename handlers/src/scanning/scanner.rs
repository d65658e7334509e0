//! Runs queued scans: reads an image's layers from the blob store (streamed, on a
//! blocking thread), takes its package inventory and matches it against the feed.

use super::feed::VulnerabilityFeed;
use super::layers::ImageFiles;
use super::packages::inventory;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{parse_manifest, ManifestKind};
use crate::metadata::{ImageKey, ScanRecord};
use crate::reference::{Reference, RepositoryName};
use crate::registry::Registry;
use futures_util::TryStreamExt;
use std::sync::Arc;
use tokio_util::io::{StreamReader, SyncIoBridge};

/// Scans per pass of the job.
const BATCH: u32 = 16;

/// ECR's description of a completed scan.
pub const COMPLETE_DESCRIPTION: &str = "The scan was completed successfully.";

/// ECR's description of an image without a package database it knows.
pub const UNSUPPORTED_DESCRIPTION: &str =
    "UnsupportedImageError: The operating system and/or package manager are not supported.";

/// Scans images of a registry against a feed (none: scans find nothing, and say why).
#[derive(Debug)]
pub struct Scanner {
    registry: Arc<Registry>,
    feed: Option<Arc<VulnerabilityFeed>>,
}

impl Scanner {
    /// A scanner of `registry`'s images against `feed`.
    pub fn new(registry: Arc<Registry>, feed: Option<Arc<VulnerabilityFeed>>) -> Self {
        Scanner { registry, feed }
    }

    /// When the feed was last updated (ECR's vulnerabilitySourceUpdatedAt).
    pub fn feed_updated_at(&self) -> Option<f64> {
        self.feed.as_ref().and_then(|f| f.updated_at)
    }

    /// Runs the queued scans; reports how many ended how.
    pub async fn pass(&self) -> Result<String, RegistryError> {
        let (mut complete, mut failed) = (0, 0);
        for image in self.registry.pending_scans(BATCH).await? {
            let Some(started) = self.registry.image_scan(&image).await? else {
                continue;
            };
            let mut outcome = self.scan(&image).await;
            outcome.started_at = started.started_at;
            if outcome.status == "COMPLETE" {
                complete += 1;
            } else {
                failed += 1;
            }
            self.registry.finish_scan(&image, &outcome).await?;
        }
        Ok(format!("{complete} scans complete, {failed} failed"))
    }

    /// One image's scan; berth's own failures end as FAILED with the reason.
    async fn scan(&self, image: &ImageKey) -> ScanRecord {
        let now = self.registry.clock().now();
        let ended = |status: &str, description: String, findings: String| ScanRecord {
            status: status.to_string(),
            description,
            started_at: 0.0,
            completed_at: Some(now),
            source_updated_at: self.feed_updated_at(),
            findings,
        };
        let files = match self.read_files(image).await {
            Ok(files) => files,
            Err(e) => return ended("FAILED", e, "[]".into()),
        };
        let Some(inventory) = inventory(&files) else {
            return ended("FAILED", UNSUPPORTED_DESCRIPTION.into(), "[]".into());
        };
        let Some(feed) = &self.feed else {
            return ended(
                "COMPLETE",
                format!(
                    "{COMPLETE_DESCRIPTION} No vulnerability feed is configured (--vulnerability-db), so no findings were looked for."
                ),
                "[]".into(),
            );
        };
        let findings = feed.findings(&inventory);
        let json = serde_json::to_string(&findings).unwrap_or_else(|_| "[]".into());
        ended("COMPLETE", COMPLETE_DESCRIPTION.into(), json)
    }

    /// The image's package files, its layers read lowest first.
    async fn read_files(&self, image: &ImageKey) -> Result<ImageFiles, String> {
        let name = RepositoryName::parse(&image.repository)
            .ok_or_else(|| "the repository name is invalid".to_string())?;
        let manifest = self
            .registry
            .find_manifest(
                &image.scope,
                &name,
                &Reference::Digest(image.digest.clone()),
            )
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the image is gone".to_string())?;
        let parsed = parse_manifest(&manifest.body, Some(&manifest.media_type))
            .map_err(|e| e.to_string())?;
        if parsed.kind == ManifestKind::Index {
            return Err(
                "UnsupportedImageError: a manifest list is not scanned; scan its images".into(),
            );
        }
        // The layers: every blob but the config, in order.
        let layers: Vec<Digest> = layer_digests(&manifest.body);
        let mut sized = Vec::new();
        for layer in layers {
            let size = self
                .registry
                .linked_blob_size(&image.scope, &name, &layer)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the layer {layer} is not in the repository"))?;
            sized.push((layer, size));
        }
        let registry = self.registry.clone();
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut files = ImageFiles::default();
            for (index, (digest, size)) in sized.into_iter().enumerate() {
                if size == 0 {
                    continue;
                }
                let stream = handle
                    .block_on(registry.read_blob(&digest, 0, size))
                    .map_err(|e| e.to_string())?;
                let reader = SyncIoBridge::new_with_handle(
                    StreamReader::new(stream.map_err(std::io::Error::other)),
                    handle.clone(),
                );
                files
                    .apply_layer(index, reader)
                    .map_err(|e| format!("cannot read the image's layers: {e}"))?;
            }
            Ok(files)
        })
        .await
        .map_err(|e| format!("the scan stopped: {e}"))?
    }
}

/// The `layers[].digest` of an image manifest, in order.
fn layer_digests(body: &[u8]) -> Vec<Digest> {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    value["layers"]
        .as_array()
        .map(|layers| {
            layers
                .iter()
                .filter_map(|l| l["digest"].as_str())
                .filter_map(|d| Digest::parse(d).ok())
                .collect()
        })
        .unwrap_or_default()
}
