//! Runs queued scans: reads an image's layers from the blob store (streamed, on a
//! blocking thread), takes its package inventory and matches it against the feed.

use super::enhanced::ScannedImage;
use super::feed::VulnerabilityFeed;
use super::layers::ImageFiles;
use super::packages::{inventory, language_inventories, Inventory};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{parse_manifest, ManifestKind};
use crate::metadata::{ImageKey, ScanRecord, StoredManifest};
use crate::reference::{Reference, RepositoryName};
use crate::registry::Registry;
use berth_generated::ecr::{ScanFrequency, ScanType};
use futures_util::TryStreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::{Mutex, RwLock};
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
    feed: RwLock<Option<Arc<VulnerabilityFeed>>>,
    /// The feed's directory and how it looked when read, to notice a new export.
    source: Option<(PathBuf, Mutex<Fingerprint>)>,
}

/// Modification times of the feed directory and its subdirectories: adding or removing
/// advisory files (unpacking a new export) changes them; reading them is cheap.
type Fingerprint = Vec<(PathBuf, Option<std::time::SystemTime>)>;

fn fingerprint(dir: &Path) -> Fingerprint {
    let mut seen =
        vec![(dir.to_path_buf(), std::fs::metadata(dir).and_then(|m| m.modified()).ok())];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                seen.push((path, modified));
            }
        }
    }
    seen.sort();
    seen
}

impl Scanner {
    /// A scanner of `registry`'s images against the feed read from `dir` (none: scans find
    /// nothing). Reads the feed now; fails when it cannot be read.
    pub fn new(registry: Arc<Registry>, dir: Option<&Path>) -> Result<Self, String> {
        let (feed, source) = match dir {
            Some(dir) => {
                let seen = fingerprint(dir);
                let feed = VulnerabilityFeed::load(dir)?;
                tracing::info!(
                    advisories = feed.advisories,
                    "vulnerability feed read from {}",
                    dir.display()
                );
                (Some(Arc::new(feed)), Some((dir.to_path_buf(), Mutex::new(seen))))
            }
            None => (None, None),
        };
        Ok(Scanner { registry, feed: RwLock::new(feed), source })
    }

    fn feed(&self) -> Option<Arc<VulnerabilityFeed>> {
        self.feed.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// When the feed was last updated (ECR's vulnerabilitySourceUpdatedAt).
    pub fn feed_updated_at(&self) -> Option<f64> {
        self.feed().and_then(|f| f.updated_at)
    }

    /// Reads the feed again when its directory changed, and queues a new scan of every
    /// scanned image under CONTINUOUS_SCAN; returns how many were queued.
    async fn refresh_feed(&self) -> Result<usize, RegistryError> {
        let Some((dir, seen)) = &self.source else {
            return Ok(0);
        };
        let now = fingerprint(dir);
        if *seen.lock().unwrap_or_else(|p| p.into_inner()) == now {
            return Ok(0);
        }
        let read_dir = dir.clone();
        let loaded = tokio::task::spawn_blocking(move || VulnerabilityFeed::load(&read_dir))
            .await
            .map_err(|e| RegistryError::Internal(format!("reading the feed stopped: {e}")))?;
        *seen.lock().unwrap_or_else(|p| p.into_inner()) = now;
        match loaded {
            Ok(feed) => {
                tracing::info!(
                    advisories = feed.advisories,
                    "vulnerability feed read again from {}",
                    dir.display()
                );
                *self.feed.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(feed));
            }
            Err(e) => {
                tracing::warn!(
                    "the vulnerability feed changed but cannot be read; keeping the last one: {e}"
                );
                return Ok(0);
            }
        }
        let mut queued = 0;
        for image in self.registry.scanned_images().await? {
            let Some(name) = RepositoryName::parse(&image.repository) else {
                continue;
            };
            let continuous = match self.registry.repository_scanning(&image.scope, &name).await {
                Ok(scanning) => scanning.frequency == ScanFrequency::ContinuousScan,
                Err(RegistryError::RepositoryNotFound { .. }) => false,
                Err(e) => return Err(e),
            };
            if continuous {
                self.registry.start_scan(&image.scope, &name, &image.digest, false).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Notices a changed feed, then runs the queued scans; reports what it did.
    pub async fn pass(&self) -> Result<String, RegistryError> {
        let rescans = self.refresh_feed().await?;
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
        Ok(format!("{complete} scans complete, {failed} failed, {rescans} queued by a feed change"))
    }

    /// One image's scan; berth's own failures end as FAILED with the reason. The registry's
    /// scan type decides: BASIC reads the OS packages, ENHANCED the language packages too
    /// and answers in Inspector's shape.
    async fn scan(&self, image: &ImageKey) -> ScanRecord {
        let now = self.registry.clock().now();
        let enhanced = match self.registry.scanning_configuration(&image.scope).await {
            Ok(c) => c.scan_type == Some(ScanType::Enhanced),
            Err(e) => return self.ended("FAILED", e.to_string(), None),
        };
        let ended = |status: &str, description: String, findings: Option<String>| {
            let mut record = self.ended(status, description, None);
            match (enhanced, findings) {
                (true, findings) => {
                    record.enhanced_findings = Some(findings.unwrap_or_else(|| "[]".into()))
                }
                (false, Some(findings)) => record.findings = findings,
                (false, None) => {}
            }
            record
        };
        let (files, manifest) = match self.read_files(image).await {
            Ok(read) => read,
            Err(e) => return ended("FAILED", e, None),
        };
        let mut inventories: Vec<Inventory> = inventory(&files).into_iter().collect();
        if enhanced {
            inventories.extend(language_inventories(&files));
        }
        if inventories.is_empty() {
            return ended("FAILED", UNSUPPORTED_DESCRIPTION.into(), None);
        }
        let Some(feed) = self.feed() else {
            return ended(
                "COMPLETE",
                format!(
                    "{COMPLETE_DESCRIPTION} No vulnerability feed is configured (--vulnerability-db), so no findings were looked for."
                ),
                None,
            );
        };
        let json = if enhanced {
            let name = RepositoryName::parse(&image.repository);
            let tags = match &name {
                Some(name) => self
                    .registry
                    .image_tags(&image.scope, name, &image.digest)
                    .await
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let scanned = ScannedImage {
                account: image.scope.registry_id.clone(),
                region: image.scope.region.clone(),
                repository: image.repository.clone(),
                digest: image.digest.to_string(),
                tags,
                pushed_at: manifest.pushed_at,
                scanned_at: now,
            };
            let findings: Vec<_> =
                inventories.iter().flat_map(|i| feed.enhanced_findings(i, &scanned)).collect();
            serde_json::to_string(&findings)
        } else {
            let findings: Vec<_> = inventories.iter().flat_map(|i| feed.findings(i)).collect();
            serde_json::to_string(&findings)
        };
        ended("COMPLETE", COMPLETE_DESCRIPTION.into(), Some(json.unwrap_or_else(|_| "[]".into())))
    }

    /// A scan's end, with no findings yet.
    fn ended(&self, status: &str, description: String, enhanced: Option<String>) -> ScanRecord {
        ScanRecord {
            status: status.to_string(),
            description,
            started_at: 0.0,
            completed_at: Some(self.registry.clock().now()),
            source_updated_at: self.feed_updated_at(),
            findings: "[]".into(),
            enhanced_findings: enhanced,
        }
    }

    /// The image's package files (its layers read lowest first) and its manifest.
    async fn read_files(&self, image: &ImageKey) -> Result<(ImageFiles, StoredManifest), String> {
        let name = RepositoryName::parse(&image.repository)
            .ok_or_else(|| "the repository name is invalid".to_string())?;
        let manifest = self
            .registry
            .find_manifest(&image.scope, &name, &Reference::Digest(image.digest.clone()))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the image is gone".to_string())?;
        let parsed = parse_manifest(&manifest.body, Some(&manifest.media_type))
            .map_err(|e| e.to_string())?;
        if parsed.kind == ManifestKind::Index {
            return Err(
                "UnsupportedImageError: a manifest list is not scanned; scan its images".into()
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
        .map(|files| (files, manifest))
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
