//! What berth records besides blob bytes: repositories, manifests and tags, blob links,
//! upload sessions, registry records.
//!
//! The store sits behind small traits, one per kind of record, which `MetadataStore`
//! gathers; the registry core is generic over it. `SqlMetadataStore` (SQLite in the
//! data dir) is the first implementation; another backend implements the same traits and
//! leaves the core and both faces untouched. Every write is one transaction, committed
//! before the method returns. `CachedMetadataStore` is the in-memory cache as a layer over
//! any of them: berth's default is SQLite behind it; a store shared by several processes
//! goes without it.

mod cache;
mod cached;
mod records;
pub mod sql;

pub use cache::MAX_CACHED_BYTES;
pub use cached::CachedMetadataStore;
pub use records::*;
pub use sql::SqlMetadataStore;

use crate::digest::Digest;
use crate::error::RegistryError;
use crate::reference::Tag;
use crate::scope::RegistryScope;
use berth_generated::ecr::{ImageTagMutability, ImageTagMutabilityExclusionFilter};
use std::future::Future;

/// Every kind of record: what the registry core needs from a metadata store.
pub trait MetadataStore:
    RepositoryStore
    + ImageStore
    + ImageListing
    + UploadStore
    + BlobCollection
    + PullTimeExclusionStore
    + ReplicationStore
    + ScanStore
    + SigningStore
    + ConsistencyStore
    + RegistryRecordStore
    + std::fmt::Debug
{
    /// Closes the store (connections, logs) before the process exits.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// Repositories as records: create, read, list, delete, their settings, policy and resource tags.
pub trait RepositoryStore: Send + Sync {
    /// Creates a repository with its tags and documents (a creation template's policies),
    /// in one transaction; RepositoryAlreadyExists when the name is taken.
    fn create_repository(
        &self, scope: &RegistryScope, repo: &RepositoryRecord, tags: &[RepositoryTag],
        documents: &[(RepositoryDocument, String)],
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// The repository, or RepositoryNotFound.
    fn repository(
        &self, scope: &RegistryScope, name: &str,
    ) -> impl Future<Output = Result<RepositoryRecord, RegistryError>> + Send;

    /// Up to `limit` repositories in name order, starting after `after`.
    fn list_repositories(
        &self, scope: &RegistryScope, after: Option<&str>, limit: u32,
    ) -> impl Future<Output = Result<Vec<RepositoryRecord>, RegistryError>> + Send;

    /// Deletes a repository; without `force` it must hold no images.
    fn delete_repository(
        &self, scope: &RegistryScope, name: &str, force: bool,
    ) -> impl Future<Output = Result<RepositoryRecord, RegistryError>> + Send;

    /// Sets the tag mutability and its exclusion filters.
    fn set_tag_mutability(
        &self, scope: &RegistryScope, name: &str, mutability: ImageTagMutability,
        filters: &[ImageTagMutabilityExclusionFilter],
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Sets scan-on-push.
    fn set_scan_on_push(
        &self, scope: &RegistryScope, name: &str, scan: bool,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// One of the repository's documents, `None` when it has none.
    fn document(
        &self, scope: &RegistryScope, name: &str, kind: RepositoryDocument,
    ) -> impl Future<Output = Result<Option<String>, RegistryError>> + Send;

    /// Replaces (or with `None` removes) a document; returns the previous one.
    fn set_document(
        &self, scope: &RegistryScope, name: &str, kind: RepositoryDocument, text: Option<&str>,
    ) -> impl Future<Output = Result<Option<String>, RegistryError>> + Send;

    /// Every repository, in every registry, that has a lifecycle policy: (registry, name,
    /// policy text), for the lifecycle evaluation.
    fn lifecycle_policies(
        &self,
    ) -> impl Future<Output = Result<Vec<(RegistryScope, String, String)>, RegistryError>> + Send;

    /// When the repository's lifecycle policy was last evaluated (epoch seconds), if ever.
    fn lifecycle_evaluated_at(
        &self, scope: &RegistryScope, name: &str,
    ) -> impl Future<Output = Result<Option<f64>, RegistryError>> + Send;

    /// Records an evaluation of the repository's lifecycle policy at `at`.
    fn set_lifecycle_evaluated_at(
        &self, scope: &RegistryScope, name: &str, at: f64,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// The repository's resource tags, sorted by key.
    fn tags(
        &self, scope: &RegistryScope, name: &str,
    ) -> impl Future<Output = Result<Vec<RepositoryTag>, RegistryError>> + Send;

    /// Adds or overwrites tags; TooManyTags when the result would exceed `limit`.
    fn tag_repository(
        &self, scope: &RegistryScope, name: &str, tags: &[RepositoryTag], limit: usize,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Removes the tags with these keys; unknown keys are ignored.
    fn untag_repository(
        &self, scope: &RegistryScope, name: &str, keys: &[String],
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;
}

/// Manifests and tags of a repository: store (with its checks), read, list, delete.
pub trait ImageStore: Send + Sync {
    /// The manifest with this digest in `repository`.
    fn manifest(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> impl Future<Output = Result<Option<StoredManifest>, RegistryError>> + Send;

    /// The manifest `tag` points at in `repository`.
    fn tagged_manifest(
        &self, scope: &RegistryScope, repository: &str, tag: &Tag,
    ) -> impl Future<Output = Result<Option<StoredManifest>, RegistryError>> + Send;

    /// Stores a manifest (and tags it), in one transaction that first checks that the
    /// repository exists, that every referenced blob and child manifest is there, and that
    /// the tag may move, and that queues `replications` (IN_PROGRESS) with it, so that an
    /// acknowledged push is never left unreplicated. Re-storing the same manifest keeps its
    /// first push time, and restores it to the standard class at once if it was archived
    /// or activating.
    fn put_manifest(
        &self, scope: &RegistryScope, repository: &str, new: &StoredManifest,
        references: &ManifestReferences, tag: Option<&Tag>, replications: &[ReplicationTask],
    ) -> impl Future<Output = Result<PutOutcome, RegistryError>> + Send;

    /// The tags of the manifest, sorted.
    fn tags_of(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> impl Future<Output = Result<Vec<String>, RegistryError>> + Send;

    /// Up to `limit` tags of `repository` in order, after `last`.
    fn list_tags(
        &self, scope: &RegistryScope, repository: &str, last: Option<&str>, limit: u32,
    ) -> impl Future<Output = Result<Vec<String>, RegistryError>> + Send;

    /// Manifests of `repository` whose subject is `subject`, in digest order.
    fn referrers(
        &self, scope: &RegistryScope, repository: &str, subject: &Digest,
    ) -> impl Future<Output = Result<Vec<StoredManifest>, RegistryError>> + Send;

    /// Records a pull of the manifest by `principal` (ECR's lastRecordedPullTime), unless
    /// the principal is on the registry's pull-time exclusion list.
    fn record_pull(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest, principal: &str, at: f64,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Reads the image's storage, lets `change` edit it (or refuse with an error, which
    /// writes nothing) and stores the result, in one transaction; ImageNotFound when the
    /// image is not there. Returns the storage as stored.
    fn update_image_storage(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
        change: impl FnOnce(&mut ImageStorage) -> Result<(), RegistryError> + Send,
    ) -> impl Future<Output = Result<ImageStorage, RegistryError>> + Send;

    /// Deletes a manifest and its tags; refused while an index of the repository lists it.
    /// Returns the tags it had.
    fn delete_manifest(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> impl Future<Output = Result<Vec<String>, RegistryError>> + Send;

    /// Removes a tag; the manifest goes too when this was its last tag and no index lists
    /// it. Returns the digest the tag pointed at.
    fn delete_tag(
        &self, scope: &RegistryScope, repository: &str, tag: &Tag,
    ) -> impl Future<Output = Result<Digest, RegistryError>> + Send;
}

/// A repository's images a page at a time, filtered by tag and image status, tags joined.
pub trait ImageListing: Send + Sync {
    /// Up to `limit` images in digest order after `after`, with their tags.
    fn image_page(
        &self, scope: &RegistryScope, repository: &str, after: &str, filter: ImageFilter,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ImageSummary>, RegistryError>> + Send;

    /// One image with its tags, read from the store itself (never a cache), so that its
    /// pull time is current.
    fn image(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> impl Future<Output = Result<Option<ImageSummary>, RegistryError>> + Send;

    /// Up to `limit` image ids in (digest, tag) order after `after`: one per tag, and one
    /// without a tag (`None`) for each untagged image.
    fn image_id_page(
        &self, scope: &RegistryScope, repository: &str, after: (&str, &str), filter: ImageFilter,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(String, Option<String>)>, RegistryError>> + Send;
}

/// Blob links into repositories, and upload sessions.
pub trait UploadStore: Send + Sync {
    /// The size of a blob linked into `repository`, `None` when it is not visible there.
    fn linked_blob_size(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> impl Future<Output = Result<Option<u64>, RegistryError>> + Send;

    /// Whether a manifest of `repository` references the blob (as config or layer).
    fn blob_referenced(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> impl Future<Output = Result<bool, RegistryError>> + Send;

    /// Records a committed blob and links it into `repository` (both idempotent) at `at`,
    /// which restarts its garbage-collection grace.
    fn link_blob(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest, size: u64, at: f64,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Records a new upload session.
    fn create_upload(
        &self, upload: &UploadRecord, created_at: f64,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// The session `id` if it belongs to `repository` of `scope` and is of `kind`.
    fn upload(
        &self, scope: &RegistryScope, repository: &str, id: &str, kind: UploadKind,
    ) -> impl Future<Output = Result<Option<UploadRecord>, RegistryError>> + Send;

    /// Forgets a session; true when it existed.
    fn delete_upload(&self, id: &str) -> impl Future<Output = Result<bool, RegistryError>> + Send;

    /// Ids of the sessions created before `cutoff` (epoch seconds).
    fn uploads_created_before(
        &self, cutoff: f64,
    ) -> impl Future<Output = Result<Vec<String>, RegistryError>> + Send;

    /// Ids of every recorded session, to clean files of sessions that no longer exist.
    fn upload_ids(&self) -> impl Future<Output = Result<Vec<String>, RegistryError>> + Send;
}

/// What garbage collection asks of the records: which blobs no manifest references any
/// more, and forgetting them. The registry core deletes the bytes after the record.
pub trait BlobCollection: Send + Sync {
    /// Notes at `now` each recorded blob that no manifest of any repository references (a
    /// blob noted before keeps its first note) and clears the note of each referenced one.
    fn note_unreferenced_blobs(
        &self, now: f64,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Blobs noted unreferenced and last linked, both before `cutoff`.
    fn collectable_blobs(
        &self, cutoff: f64,
    ) -> impl Future<Output = Result<Vec<Digest>, RegistryError>> + Send;

    /// Forgets the blob (its record and every link to it) if, checked again in the same
    /// transaction, it is still collectable at `cutoff`; true when it did.
    fn forget_blob(
        &self, digest: &Digest, cutoff: f64,
    ) -> impl Future<Output = Result<bool, RegistryError>> + Send;

    /// Whether the blob is recorded at all (bytes without a record are a crash's leftover).
    fn blob_recorded(
        &self, digest: &Digest,
    ) -> impl Future<Output = Result<bool, RegistryError>> + Send;
}

/// Replications waiting for the replication job, and how each ended.
pub trait ReplicationStore: Send + Sync {
    /// Records (again) the image's replication to each destination as IN_PROGRESS.
    fn queue_replications(
        &self, tasks: &[ReplicationTask], at: f64,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Up to `limit` replications still IN_PROGRESS, oldest first.
    fn pending_replications(
        &self, limit: u32,
    ) -> impl Future<Output = Result<Vec<ReplicationTask>, RegistryError>> + Send;

    /// Records how a replication ended: `COMPLETE`, or `FAILED` with a code.
    fn finish_replication(
        &self, task: &ReplicationTask, failure_code: Option<&str>, at: f64,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Every recorded replication of the image, by destination.
    fn replication_states(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> impl Future<Output = Result<Vec<ReplicationState>, RegistryError>> + Send;
}

/// The latest scan of each image, and the queue of scans to run.
pub trait ScanStore: Send + Sync {
    /// Records a scan of the image as IN_PROGRESS from `at`, replacing the last one; when
    /// `quota_since` is given and the last scan started after it, records nothing and
    /// answers false (ECR's one scan per image per 24 hours).
    fn start_scan(
        &self, image: &ImageKey, at: f64, quota_since: Option<f64>,
    ) -> impl Future<Output = Result<bool, RegistryError>> + Send;

    /// Up to `limit` scans still IN_PROGRESS, oldest first.
    fn pending_scans(
        &self, limit: u32,
    ) -> impl Future<Output = Result<Vec<ImageKey>, RegistryError>> + Send;

    /// Records how a scan ended (a scan started again meanwhile is left alone).
    fn finish_scan(
        &self, image: &ImageKey, outcome: &ScanRecord,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// The image's latest scan, if it was ever scanned.
    fn scan(
        &self, image: &ImageKey,
    ) -> impl Future<Output = Result<Option<ScanRecord>, RegistryError>> + Send;

    /// Every image that was ever scanned (continuous scanning rescans them when the
    /// vulnerability feed changes).
    fn scanned_images(&self) -> impl Future<Output = Result<Vec<ImageKey>, RegistryError>> + Send;
}

/// What `berth fsck` compares with the blob store (every link of a blob into a
/// repository, every blob a manifest references), and the totals `/metrics` shows.
pub trait ConsistencyStore: Send + Sync {
    /// Blobs recorded, their bytes, and the bytes all links would take without sharing.
    fn storage_totals(&self) -> impl Future<Output = Result<StorageTotals, RegistryError>> + Send;

    /// Every (registry, repository, blob) link.
    fn blob_links(
        &self,
    ) -> impl Future<Output = Result<Vec<(RegistryScope, String, Digest)>, RegistryError>> + Send;

    /// Every (registry, repository, manifest, blob) reference of a manifest to a blob.
    fn blob_references(
        &self,
    ) -> impl Future<Output = Result<Vec<(RegistryScope, String, Digest, Digest)>, RegistryError>> + Send;
}

/// Each image's signing by each profile, and the queue of signings to do.
pub trait SigningStore: Send + Sync {
    /// Records (again) the image's signing by each profile as IN_PROGRESS.
    fn queue_signings(
        &self, image: &ImageKey, profiles: &[String], at: f64,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Up to `limit` signings still IN_PROGRESS, oldest first, with their profile.
    fn pending_signings(
        &self, limit: u32,
    ) -> impl Future<Output = Result<Vec<(ImageKey, String)>, RegistryError>> + Send;

    /// Records how a signing ended: COMPLETE, or FAILED with (code, reason).
    fn finish_signing(
        &self, image: &ImageKey, profile: &str, failure: Option<(&str, &str)>, at: f64,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// The image's signing by each profile, in profile order.
    fn signing_states(
        &self, image: &ImageKey,
    ) -> impl Future<Output = Result<Vec<SigningState>, RegistryError>> + Send;

    /// The key kept for the signing profile, if it ever signed.
    fn signing_key(
        &self, profile_arn: &str,
    ) -> impl Future<Output = Result<Option<SigningKeyMaterial>, RegistryError>> + Send;

    /// Keeps `key` for the profile unless one is kept already; returns the one kept, so
    /// that processes making a key at once all sign with the first.
    fn keep_signing_key(
        &self, profile_arn: &str, key: &SigningKeyMaterial,
    ) -> impl Future<Output = Result<SigningKeyMaterial, RegistryError>> + Send;
}

/// Each registry's pull-time update exclusions: principals whose pulls are not recorded.
pub trait PullTimeExclusionStore: Send + Sync {
    /// Adds `principal` at `at`; ExclusionAlreadyExists when it is there, LimitExceeded
    /// when the registry already has `limit`.
    fn add_exclusion(
        &self, scope: &RegistryScope, principal: &str, at: f64, limit: usize,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Removes `principal`; ExclusionNotFound when it is not there.
    fn remove_exclusion(
        &self, scope: &RegistryScope, principal: &str,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Up to `limit` excluded principals in order, after `after`.
    fn exclusions(
        &self, scope: &RegistryScope, after: &str, limit: u32,
    ) -> impl Future<Output = Result<Vec<String>, RegistryError>> + Send;
}

/// The record of each (account, region): its settings and policies.
pub trait RegistryRecordStore: Send + Sync {
    /// Every registry that has a record or a repository (some state was ever written).
    fn registries(&self) -> impl Future<Output = Result<Vec<RegistryScope>, RegistryError>> + Send;

    /// The registry record of `scope` (the defaults when nothing was ever written).
    fn registry_record(
        &self, scope: &RegistryScope,
    ) -> impl Future<Output = Result<RegistryRecord, RegistryError>> + Send;

    /// Reads the record, lets `change` edit it (or refuse with an error, which writes
    /// nothing), and stores the result, all in one transaction. Returns what `change`
    /// returned.
    fn update_registry_record<T: Send>(
        &self, scope: &RegistryScope,
        change: impl FnOnce(&mut RegistryRecord) -> Result<T, RegistryError> + Send,
    ) -> impl Future<Output = Result<T, RegistryError>> + Send;
}
