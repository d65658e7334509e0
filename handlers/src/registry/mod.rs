//! The registry core both faces share: repositories, blobs, uploads, manifests, tags.
//!
//! The OCI face (`/v2/`) and the ECR API call the same methods, so a layer pushed with
//! PATCH is seen by BatchCheckLayerAvailability and an image put with PutImage is pulled
//! with GET /v2/.../manifests/<tag>.

mod access;
mod account_settings;
mod backfill;
pub mod blob_leases;
mod blobs;
mod creation_templates;
mod exclusions;
mod garbage;
mod images;
mod lifecycle;
mod manifests;
mod pull_through;
mod replication;
mod repositories;
mod scanning;
mod scans;
mod signing;
mod storage_class;
mod uploads;

pub use access::repository_arn;
pub use account_settings::{AccountSetting, ACCOUNT_SETTINGS};
pub use creation_templates::{matching_template, ROOT_PREFIX};
pub use exclusions::MAX_PULL_TIME_EXCLUSIONS;
pub use garbage::GarbageReport;
pub use lifecycle::LifecycleReport;
pub use manifests::{PushedManifest, Referrer};
pub use replication::{destinations, ReplicationReport};
pub use scans::SCAN_QUOTA_SECS;
pub use storage_class::{move_storage, StorageClassTarget};

use crate::blob_store::{BlobStore, FileBlobStore};
use crate::clock::Clock;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{CachedMetadataStore, MetadataStore, RepositoryRecord, SqlMetadataStore};
use crate::reference::RepositoryName;
use crate::scope::RegistryScope;
use blob_leases::{BlobLease, BlobLeases};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Metadata plus blob bytes, and a lock per open upload. Generic over the metadata store;
/// berth's own is SQLite behind the in-memory cache.
#[derive(Debug)]
pub struct Registry<M = CachedMetadataStore<SqlMetadataStore>> {
    store: M,
    blobs: Arc<dyn BlobStore>,
    /// Held around every call on one upload, so that its requests take turns.
    upload_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Striped by digest: held while a blob is committed and linked, mounted, or collected.
    blob_locks: Box<[tokio::sync::Mutex<()>]>,
    /// The same order across processes sharing the stores (none when only this one opens them).
    blob_leases: Option<Arc<dyn BlobLeases>>,
    clock: Clock,
    /// Seconds a restored image stays ACTIVATING before it can be pulled again.
    restore_delay: f64,
}

/// A blob's stripe lock and, across processes, its lease; both let go when dropped.
struct BlobHold<'a> {
    _stripe: tokio::sync::MutexGuard<'a, ()>,
    _lease: Option<BlobLease>,
}

/// Blob locks: digests share a lock when their first hex byte agrees modulo this.
const BLOB_LOCK_STRIPES: usize = 64;

/// How long a restore from the archive takes unless told otherwise. ECR takes up to 20
/// minutes; berth keeps the ACTIVATING state observable without making tests wait.
pub const DEFAULT_RESTORE_DELAY_SECS: u64 = 10;

impl Registry {
    /// Opens SQLite and the blob files in `data_dir` (see [`Registry::with_stores`]). Every
    /// time the registry records or checks comes from `clock`.
    pub async fn open(data_dir: &Path, clock: Clock) -> Result<Self, RegistryError> {
        let blobs = Arc::new(FileBlobStore::open(data_dir)?);
        let store = CachedMetadataStore::new(SqlMetadataStore::open(data_dir).await?);
        Registry::with_stores(store, blobs, clock).await
    }

    /// The same registry with each in-memory cache map holding at most `bytes`.
    pub fn with_cache_budget(self, bytes: usize) -> Self {
        self.store.cache.set_budget(bytes);
        self
    }
}

impl<M: MetadataStore> Registry<M> {
    /// The registry over these stores. Upload bytes that no recorded session owns (a crash
    /// while a session was being closed) are removed.
    pub async fn with_stores(
        store: M, blobs: Arc<dyn BlobStore>, clock: Clock,
    ) -> Result<Self, RegistryError> {
        // Bytes are listed before sessions are read: an upload's session is recorded before
        // its bytes, so every upload listed here that is still open is among the sessions.
        let uploads = blobs.uploads().await?;
        let sessions = store.upload_ids().await?;
        for upload in uploads {
            if !sessions.contains(&upload) {
                blobs.remove_upload(&upload).await?;
            }
        }
        Ok(Registry {
            store,
            blobs,
            upload_locks: Mutex::new(HashMap::new()),
            blob_locks: (0..BLOB_LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            blob_leases: None,
            clock,
            restore_delay: DEFAULT_RESTORE_DELAY_SECS as f64,
        })
    }

    /// The same registry with restores from the archive taking `seconds`.
    pub fn with_restore_delay(mut self, seconds: u64) -> Self {
        self.restore_delay = seconds as f64;
        self
    }

    /// The same registry sharing the stores with other processes, ordered by `leases`.
    pub fn with_blob_leases(mut self, leases: Option<Arc<dyn BlobLeases>>) -> Self {
        self.blob_leases = leases;
        self
    }

    /// The lock of `digest`'s stripe; see `blob_locks`.
    async fn blob_stripe(&self, digest: &Digest) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = u8::from_str_radix(&digest.hex()[..2], 16).unwrap_or(0) as usize;
        self.blob_locks[stripe % BLOB_LOCK_STRIPES].lock().await
    }

    /// Held while `digest` is committed and linked, or mounted: its stripe, and its shared
    /// lease when other processes share the stores.
    async fn hold_blob(&self, digest: &Digest) -> Result<BlobHold<'_>, RegistryError> {
        let stripe = self.blob_stripe(digest).await;
        let lease = match &self.blob_leases {
            Some(leases) => Some(leases.share(digest).await?),
            None => None,
        };
        Ok(BlobHold { _stripe: stripe, _lease: lease })
    }

    /// Held while `digest` is collected: its stripe, and its lease alone. `None` when
    /// another process is committing or mounting it (the next collection sees it again).
    async fn hold_blob_to_collect(
        &self, digest: &Digest,
    ) -> Result<Option<BlobHold<'_>>, RegistryError> {
        let stripe = self.blob_stripe(digest).await;
        let lease = match &self.blob_leases {
            Some(leases) => match leases.try_take(digest).await? {
                Some(lease) => Some(lease),
                None => return Ok(None),
            },
            None => None,
        };
        Ok(Some(BlobHold { _stripe: stripe, _lease: lease }))
    }

    /// The clock everything the registry records or checks reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Closes the metadata store (its connections and write-ahead log) before exit.
    pub async fn close(&self) {
        self.store.close().await
    }

    /// The repository, or RepositoryNotFound (NAME_UNKNOWN on /v2).
    pub async fn repository(
        &self, scope: &RegistryScope, name: &RepositoryName,
    ) -> Result<RepositoryRecord, RegistryError> {
        self.store.repository(scope, name.as_str()).await
    }

    /// Up to `limit` repository names after `last`, and whether more follow.
    pub async fn catalog(
        &self, scope: &RegistryScope, last: Option<&str>, limit: u32,
    ) -> Result<(Vec<String>, bool), RegistryError> {
        let mut names: Vec<String> = self
            .store
            .list_repositories(scope, last, limit.saturating_add(1))
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let more = names.len() > limit as usize;
        names.truncate(limit as usize);
        Ok((names, more))
    }
}
