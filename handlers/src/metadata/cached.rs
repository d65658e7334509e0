//! The read-through cache as a layer over any `MetadataStore`: the repository and the
//! manifest by tag or digest (what every manifest request looks up), the registry record
//! (what every push and cache-covered pull reads), and the last recorded pull of each
//! manifest. One process's cache is only right while this process
//! makes every write; a backend shared by several replicas goes without it.
//!
//! Writes go to the inner store first and invalidate after they commit; see `cache.rs`
//! for why a reader's late fill can never bring back an answer older than a write.

use super::cache::{Cache, Lookup};
use super::{
    BlobCollection, ConsistencyStore, ImageFilter, ImageKey, ImageListing, ImageStorage,
    ImageStore, ImageSummary, ManifestReferences, MetadataStore, PullTimeExclusionStore,
    PutOutcome, RegistryRecord, RegistryRecordStore, ReplicationState, ReplicationStore,
    ReplicationTask, RepositoryDocument, RepositoryRecord, RepositoryStore, RepositoryTag,
    ScanRecord, ScanStore, SigningKeyMaterial, SigningState, SigningStore, StorageTotals,
    StoredManifest, UploadKind, UploadRecord, UploadStore,
};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::reference::Tag;
use crate::scope::RegistryScope;
use berth_generated::ecr::{ImageTagMutability, ImageTagMutabilityExclusionFilter};

/// `inner` with the cache in front of it.
#[derive(Debug)]
pub struct CachedMetadataStore<M> {
    inner: M,
    pub(crate) cache: Cache,
}

impl<M: MetadataStore> CachedMetadataStore<M> {
    /// `inner` behind an empty cache.
    pub fn new(inner: M) -> Self {
        CachedMetadataStore { inner, cache: Cache::default() }
    }

    /// A manifest through the cache; `item` is `t:<tag>` or `d:<digest>`.
    async fn lookup<Q>(
        &self, scope: &RegistryScope, repository: &str, item: &str, query: impl FnOnce() -> Q,
    ) -> Result<Option<StoredManifest>, RegistryError>
    where
        Q: std::future::Future<Output = Result<Option<StoredManifest>, RegistryError>>,
    {
        let ticket = match self.cache.manifest(scope, repository, item) {
            Lookup::Hit(found) => return Ok(Some(found)),
            Lookup::Miss(ticket) => ticket,
        };
        let found = query().await?;
        #[cfg(test)]
        self.cache.fill_gate.pass().await;
        if let Some(m) = &found {
            self.cache.fill_manifest(ticket, scope, repository, item, m);
        }
        Ok(found)
    }
}

/// Methods that go straight to the inner store; a write names the cache it invalidates
/// (`then invalidate_…`), called after the inner store has committed or failed.
macro_rules! forward {
    ($( fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty $(, then $invalidate:ident)?; )*) => {
        $(
            async fn $name(&self $(, $arg: $ty)*) -> $ret {
                let result = self.inner.$name($($arg),*).await;
                $( self.cache.$invalidate(); )?
                result
            }
        )*
    };
}

impl<M: MetadataStore> RepositoryStore for CachedMetadataStore<M> {
    async fn repository(
        &self, scope: &RegistryScope, name: &str,
    ) -> Result<RepositoryRecord, RegistryError> {
        let ticket = match self.cache.repository(scope, name) {
            Lookup::Hit(found) => return Ok(found),
            Lookup::Miss(ticket) => ticket,
        };
        let found = self.inner.repository(scope, name).await?;
        #[cfg(test)]
        self.cache.fill_gate.pass().await;
        self.cache.fill_repository(ticket, scope, &found);
        Ok(found)
    }

    forward! {
        fn delete_repository(&self, scope: &RegistryScope, name: &str, force: bool) -> Result<RepositoryRecord, RegistryError>, then invalidate_repositories;
        fn set_tag_mutability(&self, scope: &RegistryScope, name: &str, mutability: ImageTagMutability, filters: &[ImageTagMutabilityExclusionFilter]) -> Result<(), RegistryError>, then invalidate_repositories;
        fn set_scan_on_push(&self, scope: &RegistryScope, name: &str, scan: bool) -> Result<(), RegistryError>, then invalidate_repositories;
        fn create_repository(&self, scope: &RegistryScope, repo: &RepositoryRecord, tags: &[RepositoryTag], documents: &[(RepositoryDocument, String)]) -> Result<(), RegistryError>;
        fn list_repositories(&self, scope: &RegistryScope, after: Option<&str>, limit: u32) -> Result<Vec<RepositoryRecord>, RegistryError>;
        fn document(&self, scope: &RegistryScope, name: &str, kind: RepositoryDocument) -> Result<Option<String>, RegistryError>;
        fn set_document(&self, scope: &RegistryScope, name: &str, kind: RepositoryDocument, text: Option<&str>) -> Result<Option<String>, RegistryError>;
        fn lifecycle_policies(&self) -> Result<Vec<(RegistryScope, String, String)>, RegistryError>;
        fn lifecycle_evaluated_at(&self, scope: &RegistryScope, name: &str) -> Result<Option<f64>, RegistryError>;
        fn set_lifecycle_evaluated_at(&self, scope: &RegistryScope, name: &str, at: f64) -> Result<(), RegistryError>;
        fn tags(&self, scope: &RegistryScope, name: &str) -> Result<Vec<RepositoryTag>, RegistryError>;
        fn tag_repository(&self, scope: &RegistryScope, name: &str, tags: &[RepositoryTag], limit: usize) -> Result<(), RegistryError>;
        fn untag_repository(&self, scope: &RegistryScope, name: &str, keys: &[String]) -> Result<(), RegistryError>;
    }
}

impl<M: MetadataStore> ImageStore for CachedMetadataStore<M> {
    async fn manifest(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> Result<Option<StoredManifest>, RegistryError> {
        let query = || self.inner.manifest(scope, repository, digest);
        self.lookup(scope, repository, &format!("d:{digest}"), query).await
    }

    async fn tagged_manifest(
        &self, scope: &RegistryScope, repository: &str, tag: &Tag,
    ) -> Result<Option<StoredManifest>, RegistryError> {
        let query = || self.inner.tagged_manifest(scope, repository, tag);
        self.lookup(scope, repository, &format!("t:{tag}"), query).await
    }

    /// Written at most once per interval per manifest and principal (ECR refreshes
    /// lastRecordedPullTime about daily, not on every pull; an excluded principal's pull
    /// must not hold back the next one that counts).
    async fn record_pull(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest, principal: &str, at: f64,
    ) -> Result<(), RegistryError> {
        if !self.cache.pull_is_due(scope, repository, &format!("{digest} {principal}"), at) {
            return Ok(());
        }
        self.inner.record_pull(scope, repository, digest, principal, at).await
    }

    forward! {
        fn put_manifest(&self, scope: &RegistryScope, repository: &str, new: &StoredManifest, references: &ManifestReferences, tag: Option<&Tag>, replications: &[ReplicationTask]) -> Result<PutOutcome, RegistryError>, then invalidate_manifests;
        fn delete_manifest(&self, scope: &RegistryScope, repository: &str, digest: &Digest) -> Result<Vec<String>, RegistryError>, then invalidate_manifests;
        fn update_image_storage(&self, scope: &RegistryScope, repository: &str, digest: &Digest, change: impl FnOnce(&mut ImageStorage) -> Result<(), RegistryError> + Send) -> Result<ImageStorage, RegistryError>, then invalidate_manifests;
        fn delete_tag(&self, scope: &RegistryScope, repository: &str, tag: &Tag) -> Result<Digest, RegistryError>, then invalidate_manifests;
        fn tags_of(&self, scope: &RegistryScope, repository: &str, digest: &Digest) -> Result<Vec<String>, RegistryError>;
        fn list_tags(&self, scope: &RegistryScope, repository: &str, last: Option<&str>, limit: u32) -> Result<Vec<String>, RegistryError>;
        fn referrers(&self, scope: &RegistryScope, repository: &str, subject: &Digest) -> Result<Vec<StoredManifest>, RegistryError>;
    }
}

impl<M: MetadataStore> ImageListing for CachedMetadataStore<M> {
    forward! {
        fn image_page(&self, scope: &RegistryScope, repository: &str, after: &str, filter: ImageFilter, limit: u32) -> Result<Vec<ImageSummary>, RegistryError>;
        fn image(&self, scope: &RegistryScope, repository: &str, digest: &Digest) -> Result<Option<ImageSummary>, RegistryError>;
        fn image_id_page(&self, scope: &RegistryScope, repository: &str, after: (&str, &str), filter: ImageFilter, limit: u32) -> Result<Vec<(String, Option<String>)>, RegistryError>;
    }
}

impl<M: MetadataStore> UploadStore for CachedMetadataStore<M> {
    forward! {
        fn linked_blob_size(&self, scope: &RegistryScope, repository: &str, digest: &Digest) -> Result<Option<u64>, RegistryError>;
        fn blob_referenced(&self, scope: &RegistryScope, repository: &str, digest: &Digest) -> Result<bool, RegistryError>;
        fn link_blob(&self, scope: &RegistryScope, repository: &str, digest: &Digest, size: u64, at: f64) -> Result<(), RegistryError>;
        fn create_upload(&self, upload: &UploadRecord, created_at: f64) -> Result<(), RegistryError>;
        fn upload(&self, scope: &RegistryScope, repository: &str, id: &str, kind: UploadKind) -> Result<Option<UploadRecord>, RegistryError>;
        fn delete_upload(&self, id: &str) -> Result<bool, RegistryError>;
        fn uploads_created_before(&self, cutoff: f64) -> Result<Vec<String>, RegistryError>;
        fn upload_ids(&self) -> Result<Vec<String>, RegistryError>;
    }
}

impl<M: MetadataStore> BlobCollection for CachedMetadataStore<M> {
    forward! {
        fn note_unreferenced_blobs(&self, now: f64) -> Result<(), RegistryError>;
        fn collectable_blobs(&self, cutoff: f64) -> Result<Vec<Digest>, RegistryError>;
        fn forget_blob(&self, digest: &Digest, cutoff: f64) -> Result<bool, RegistryError>;
        fn blob_recorded(&self, digest: &Digest) -> Result<bool, RegistryError>;
    }
}

impl<M: MetadataStore> PullTimeExclusionStore for CachedMetadataStore<M> {
    forward! {
        fn add_exclusion(&self, scope: &RegistryScope, principal: &str, at: f64, limit: usize) -> Result<(), RegistryError>;
        fn remove_exclusion(&self, scope: &RegistryScope, principal: &str) -> Result<(), RegistryError>;
        fn exclusions(&self, scope: &RegistryScope, after: &str, limit: u32) -> Result<Vec<String>, RegistryError>;
    }
}

impl<M: MetadataStore> ReplicationStore for CachedMetadataStore<M> {
    forward! {
        fn queue_replications(&self, tasks: &[ReplicationTask], at: f64) -> Result<(), RegistryError>;
        fn pending_replications(&self, limit: u32) -> Result<Vec<ReplicationTask>, RegistryError>;
        fn finish_replication(&self, task: &ReplicationTask, failure_code: Option<&str>, at: f64) -> Result<(), RegistryError>;
        fn replication_states(&self, scope: &RegistryScope, repository: &str, digest: &Digest) -> Result<Vec<ReplicationState>, RegistryError>;
    }
}

impl<M: MetadataStore> ScanStore for CachedMetadataStore<M> {
    forward! {
        fn start_scan(&self, image: &ImageKey, at: f64, quota_since: Option<f64>) -> Result<bool, RegistryError>;
        fn pending_scans(&self, limit: u32) -> Result<Vec<ImageKey>, RegistryError>;
        fn finish_scan(&self, image: &ImageKey, outcome: &ScanRecord) -> Result<(), RegistryError>;
        fn scan(&self, image: &ImageKey) -> Result<Option<ScanRecord>, RegistryError>;
        fn scanned_images(&self) -> Result<Vec<ImageKey>, RegistryError>;
    }
}

impl<M: MetadataStore> ConsistencyStore for CachedMetadataStore<M> {
    forward! {
        fn storage_totals(&self) -> Result<StorageTotals, RegistryError>;
        fn blob_links(&self) -> Result<Vec<(RegistryScope, String, Digest)>, RegistryError>;
        fn blob_references(&self) -> Result<Vec<(RegistryScope, String, Digest, Digest)>, RegistryError>;
    }
}

impl<M: MetadataStore> SigningStore for CachedMetadataStore<M> {
    forward! {
        fn queue_signings(&self, image: &ImageKey, profiles: &[String], at: f64) -> Result<(), RegistryError>;
        fn pending_signings(&self, limit: u32) -> Result<Vec<(ImageKey, String)>, RegistryError>;
        fn finish_signing(&self, image: &ImageKey, profile: &str, failure: Option<(&str, &str)>, at: f64) -> Result<(), RegistryError>;
        fn signing_states(&self, image: &ImageKey) -> Result<Vec<SigningState>, RegistryError>;
        fn signing_key(&self, profile_arn: &str) -> Result<Option<SigningKeyMaterial>, RegistryError>;
        fn keep_signing_key(&self, profile_arn: &str, key: &SigningKeyMaterial) -> Result<SigningKeyMaterial, RegistryError>;
    }
}

impl<M: MetadataStore> RegistryRecordStore for CachedMetadataStore<M> {
    async fn update_registry_record<T: Send>(
        &self, scope: &RegistryScope,
        change: impl FnOnce(&mut RegistryRecord) -> Result<T, RegistryError> + Send,
    ) -> Result<T, RegistryError> {
        let changed = self.inner.update_registry_record(scope, change).await;
        self.cache.invalidate_registries();
        changed
    }

    async fn registry_record(
        &self, scope: &RegistryScope,
    ) -> Result<RegistryRecord, RegistryError> {
        let ticket = match self.cache.registry(scope) {
            Lookup::Hit(found) => return Ok(found),
            Lookup::Miss(ticket) => ticket,
        };
        let record = self.inner.registry_record(scope).await?;
        self.cache.fill_registry(ticket, scope, &record);
        Ok(record)
    }

    forward! {
        fn registries(&self) -> Result<Vec<RegistryScope>, RegistryError>;
    }
}

impl<M: MetadataStore> MetadataStore for CachedMetadataStore<M> {
    async fn close(&self) {
        self.inner.close().await
    }
}
