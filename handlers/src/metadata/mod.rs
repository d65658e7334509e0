//! The embedded metadata store: SQLite (WAL) in the data dir, through sqlx.
//!
//! Every write is one transaction, committed before the handler answers, so whatever was
//! acknowledged survives `kill -9`. SQLite has one writer at a time; a write lock here
//! serializes write transactions so they never fail on a busy upgrade.

mod blobs;
mod cache;
mod image_listing;
mod manifests;
mod registries;
mod repositories;

pub use blobs::{UploadKind, UploadRecord};
pub use image_listing::{ImageSummary, TagFilter};
pub use manifests::{ManifestReferences, PutOutcome, StoredManifest};
pub use registries::RegistryRecord;
pub use repositories::{RepositoryRecord, RepositoryTag};

use crate::error::RegistryError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;
use tokio::sync::Mutex;

/// The file name of the database inside the data dir.
pub const DATABASE_FILE: &str = "metadata.sqlite";

/// Repositories, tags, policies and (later) images and upload sessions.
#[derive(Debug)]
pub struct MetadataStore {
    pool: SqlitePool,
    write_lock: Mutex<()>,
    cache: cache::Cache,
}

impl MetadataStore {
    /// Opens (or creates) the database in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, RegistryError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            RegistryError::Internal(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode loses nothing on a process crash (kill -9); only a power
            // cut can drop the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(MetadataStore {
            pool,
            write_lock: Mutex::new(()),
            cache: cache::Cache::default(),
        })
    }

    /// Begins a write transaction, holding SQLite's write lock from the start (`BEGIN
    /// IMMEDIATE`). A deferred transaction that reads and then writes cannot wait for the
    /// lock: when another connection still holds it (a failed writer whose rollback is
    /// still queued), SQLite answers "database is locked" at once instead of applying the
    /// busy timeout. Callers hold `write_lock`.
    async fn write_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, RegistryError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
