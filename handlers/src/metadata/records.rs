//! What the metadata store keeps, as plain values: the same whatever the backend.

use crate::digest::Digest;
use crate::scope::RegistryScope;
use berth_generated::ecr::{
    EncryptionType, ImageStatus, ImageTagMutability, ImageTagMutabilityExclusionFilter,
    PullThroughCacheRule, RegistryScanningConfiguration, ReplicationConfiguration,
    ReplicationDestination, RepositoryCreationTemplate, SigningConfiguration,
};
use std::collections::BTreeMap;

/// Which face opened an upload session; ECR layer parts have their own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    Oci,
    Ecr,
}

impl UploadKind {
    /// The value as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadKind::Oci => "oci",
            UploadKind::Ecr => "ecr",
        }
    }
}

/// An upload session as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRecord {
    pub id: String,
    pub scope: RegistryScope,
    pub repository: String,
    pub kind: UploadKind,
}

/// An image as DescribeImages shows it: the manifest's columns without its bytes, and its
/// tags (sorted).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSummary {
    pub digest: Digest,
    pub media_type: String,
    pub config_media_type: Option<String>,
    pub subject: Option<Digest>,
    pub image_size: u64,
    pub pushed_at: f64,
    pub last_pulled_at: Option<f64>,
    pub storage: ImageStorage,
    pub tags: Vec<String>,
}

/// An image's storage class and when it last moved (ECR's archive). `Default` is a
/// standard image that never moved.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ImageStorage {
    /// In the archive storage class: listed, never pulled.
    pub archived: bool,
    /// When it last went to the archive (ECR's lastArchivedAt).
    pub last_archived_at: Option<f64>,
    /// When it last came back (or, while ACTIVATING, will come back) to the standard class.
    pub last_activated_at: Option<f64>,
}

impl ImageStorage {
    /// The image's status at `now`: ARCHIVED, ACTIVATING until its restore completes, ACTIVE.
    pub fn status(&self, now: f64) -> ImageStatus {
        if self.archived {
            ImageStatus::Archived
        } else if self.last_activated_at.is_some_and(|at| at > now) {
            ImageStatus::Activating
        } else {
            ImageStatus::Active
        }
    }

    /// When the image moved to its current storage class, if it ever moved.
    pub fn transitioned_at(&self) -> Option<f64> {
        if self.archived {
            self.last_archived_at
        } else {
            self.last_activated_at
        }
    }
}

/// Which images a listing keeps: ECR's `tagStatus`, and `imageStatus` (`None` for ANY)
/// as of `now`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageFilter {
    pub tags: TagFilter,
    pub status: Option<ImageStatus>,
    pub now: f64,
}

impl ImageFilter {
    /// Every image, whatever its tags and status.
    pub fn all() -> Self {
        ImageFilter { tags: TagFilter::Any, status: None, now: 0.0 }
    }
}

/// Which images a listing keeps (ECR's `tagStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagFilter {
    Any,
    Tagged,
    Untagged,
}

/// A manifest as stored, with its exact bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub artifact_type: Option<String>,
    /// The config's media type (ECR's artifactMediaType); `None` for an index.
    pub config_media_type: Option<String>,
    pub subject: Option<Digest>,
    /// JSON object text of the manifest's annotations.
    pub annotations: Option<String>,
    pub body: Vec<u8>,
    pub image_size: u64,
    pub pushed_at: f64,
    pub last_pulled_at: Option<f64>,
    /// Ignored when stored: a new image is standard, a re-pushed one is restored.
    pub storage: ImageStorage,
}

/// What the manifest references, checked before it is stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManifestReferences {
    /// Config and layers: must be linked into the repository.
    pub blobs: Vec<Digest>,
    /// Children of an index: must be manifests of the repository.
    pub manifests: Vec<Digest>,
    /// The blobs come later: a pull-through cache stores an upstream manifest first and
    /// fetches its config and layers when they are first pulled.
    pub blobs_fetched_later: bool,
}

/// What storing a manifest under a tag did.
#[derive(Debug, Clone, PartialEq)]
pub struct PutOutcome {
    /// The digest the tag pointed at before, if any.
    pub previous: Option<Digest>,
}

/// Registry-wide state; `Default` is a fresh ECR registry (nothing configured).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistryRecord {
    /// The registry permissions policy (PutRegistryPolicy), as given.
    pub policy_text: Option<String>,
    /// Account settings by name (PutAccountSetting); absent names have ECR's defaults.
    pub account_settings: BTreeMap<String, String>,
    pub replication: Option<ReplicationConfiguration>,
    pub scanning: Option<RegistryScanningConfiguration>,
    pub signing: Option<SigningConfiguration>,
    /// Repository creation templates, in prefix order.
    pub creation_templates: Vec<RepositoryCreationTemplate>,
    /// Replication backfills, oldest first.
    pub backfills: Vec<BackfillRecord>,
    /// Pull-through cache rules, in prefix order.
    pub pull_through_rules: Vec<PullThroughCacheRule>,
}

/// One replication backfill: copying images pushed before the configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BackfillRecord {
    pub id: String,
    pub destination: ReplicationDestination,
    /// PREPARING, IN_PROGRESS, STOPPING, then COMPLETE, FAILED or STOPPED.
    pub status: String,
    pub started_at: f64,
    pub ended_at: Option<f64>,
    pub failure_code: Option<String>,
    /// (repository, digest) of each image it replicates, known once it leaves PREPARING.
    pub images: Vec<(String, String)>,
}

impl BackfillRecord {
    /// COMPLETE, FAILED and STOPPED are final.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETE" | "FAILED" | "STOPPED")
    }
}

/// A repository as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositoryRecord {
    pub name: String,
    /// Epoch seconds.
    pub created_at: f64,
    pub image_tag_mutability: ImageTagMutability,
    pub exclusion_filters: Vec<ImageTagMutabilityExclusionFilter>,
    pub scan_on_push: bool,
    pub encryption_type: EncryptionType,
    pub kms_key: Option<String>,
}

/// A resource tag (key, value).
pub type RepositoryTag = (String, String);

/// A text document kept per repository, set and removed whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositoryDocument {
    /// The repository policy (SetRepositoryPolicy), as given.
    Policy,
    /// The lifecycle policy (PutLifecyclePolicy), compacted.
    LifecyclePolicy,
    /// The last lifecycle preview started: JSON of the text as sent and its start time.
    LifecyclePreview,
}

/// One image's replication to one destination registry.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationTask {
    /// The registry the image was pushed to.
    pub source: RegistryScope,
    pub repository: String,
    pub digest: Digest,
    pub destination: RegistryScope,
}

/// How a replication stands, as DescribeImageReplicationStatus shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationState {
    pub destination: RegistryScope,
    /// `IN_PROGRESS`, `COMPLETE` or `FAILED`.
    pub status: String,
    pub failure_code: Option<String>,
}

/// One image of one repository of one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageKey {
    pub scope: RegistryScope,
    pub repository: String,
    pub digest: Digest,
}

/// An image's latest scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRecord {
    /// `IN_PROGRESS`, `COMPLETE` or `FAILED`.
    pub status: String,
    pub description: String,
    pub started_at: f64,
    pub completed_at: Option<f64>,
    /// When the vulnerability feed was last updated.
    pub source_updated_at: Option<f64>,
    /// JSON array of findings in ECR's ImageScanFinding shape.
    pub findings: String,
    /// An enhanced scan's JSON array of findings in Inspector's shape; `None` for a basic
    /// scan.
    pub enhanced_findings: Option<String>,
}

/// One profile's signing of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningState {
    pub profile_arn: String,
    /// `IN_PROGRESS`, `COMPLETE` or `FAILED`.
    pub status: String,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
}

/// A signing profile's key pair and certificate, as the metadata store keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKeyMaterial {
    /// PKCS#8 of the ECDSA P-256 key.
    pub pkcs8: Vec<u8>,
    /// The self-signed code-signing certificate, PEM.
    pub certificate_pem: String,
}

/// What the blob store holds, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StorageTotals {
    pub blobs: u64,
    pub bytes: u64,
    /// The bytes of every link counted once per repository: `linked_bytes - bytes` is what
    /// sharing blobs between repositories saves.
    pub linked_bytes: u64,
}
