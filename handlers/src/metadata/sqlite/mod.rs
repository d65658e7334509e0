//! The embedded metadata store: SQLite (WAL) in the data dir, through sqlx; the first
//! implementation of the `MetadataStore` traits.
//!
//! Every write is one transaction, committed before the handler answers, so whatever was
//! acknowledged survives `kill -9`. SQLite has one writer at a time; a write lock here
//! serializes write transactions so they never fail on a busy upgrade.

mod blobs;
mod columns;
mod consistency;
mod exclusions;
mod image_listing;
mod manifests;
mod registries;
mod replications;
mod repositories;
mod scans;
mod signings;

use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::MetadataStore;
use crate::scope::RegistryScope;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::sqlite::SqliteArguments;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Sqlite;
use std::path::Path;
use std::time::Duration;
use tokio::sync::Mutex;

/// The file name of the database inside the data dir.
pub const DATABASE_FILE: &str = "metadata.sqlite";

/// Repositories, tags, policies and (later) images and upload sessions.
#[derive(Debug)]
pub struct SqliteMetadataStore {
    pool: SqlitePool,
    write_lock: Mutex<()>,
}

impl SqliteMetadataStore {
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
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(SqliteMetadataStore { pool, write_lock: Mutex::new(()) })
    }

    /// Writes a consistent copy of the whole database to `to` (SQLite's `VACUUM INTO`),
    /// while other connections go on reading and writing: what `berth export` backs up.
    pub async fn snapshot_into(&self, to: &Path) -> Result<(), RegistryError> {
        let to = to.to_str().ok_or_else(|| {
            RegistryError::Internal(format!("{} is not a UTF-8 path", to.display()))
        })?;
        sqlx::query("VACUUM INTO ?").bind(to).execute(&self.pool).await?;
        Ok(())
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
}

impl MetadataStore for SqliteMetadataStore {
    /// Closes the pool, checkpointing the WAL.
    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Binds the key columns tables start with: (registry_id, region), then for images the
/// repository and digest, in that order.
trait BindScope<'q>: Sized {
    /// Binds one text value.
    fn bind_text(self, text: &'q str) -> Self;

    /// Binds (registry_id, region).
    fn bind_scope(self, scope: &'q RegistryScope) -> Self {
        self.bind_text(&scope.registry_id).bind_text(&scope.region)
    }

    /// Binds (registry_id, region, repository, digest): an image's key.
    fn bind_image(self, scope: &'q RegistryScope, repository: &'q str, digest: &'q Digest) -> Self {
        self.bind_scope(scope).bind_text(repository).bind_text(digest.as_str())
    }
}

impl<'q> BindScope<'q> for Query<'q, Sqlite, SqliteArguments<'q>> {
    fn bind_text(self, text: &'q str) -> Self {
        self.bind(text)
    }
}

impl<'q, O> BindScope<'q> for QueryAs<'q, Sqlite, O, SqliteArguments<'q>> {
    fn bind_text(self, text: &'q str) -> Self {
        self.bind(text)
    }
}

impl<'q, O> BindScope<'q> for QueryScalar<'q, Sqlite, O, SqliteArguments<'q>> {
    fn bind_text(self, text: &'q str) -> Self {
        self.bind(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{ImageFilter, ImageListing};
    use crate::test_fixtures::scope;

    /// A database written before migration 0003 gets each image's config media type from
    /// its stored bytes when the current code opens it.
    #[tokio::test]
    async fn an_older_database_gets_config_media_types_backfilled() {
        let dir = tempfile::tempdir().unwrap();
        let older = tempfile::tempdir().unwrap();
        let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for name in ["0001_repositories.sql", "0002_registry.sql"] {
            std::fs::copy(migrations.join(name), older.path().join(name)).unwrap();
        }
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new().connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(older.path()).await.unwrap().run(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO repositories (registry_id, region, name, created_at, image_tag_mutability, \
             mutability_exclusion_filters, scan_on_push, encryption_type) \
             VALUES ('000000000000', 'us-east-1', 'app', 1, 'MUTABLE', '[]', 0, 'AES256')",
        )
        .execute(&pool)
        .await
        .unwrap();
        let image = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.example+json","digest":"sha256:00","size":2},"layers":[]}"#;
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        for body in [&image[..], &index[..]] {
            sqlx::query(
                "INSERT INTO manifests (registry_id, region, repository, digest, media_type, body, \
                 image_size, pushed_at) VALUES ('000000000000', 'us-east-1', 'app', ?, 'm', ?, 0, 1)",
            )
            .bind(crate::digest::Digest::of(body).as_str())
            .bind(body)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let store = SqliteMetadataStore::open(dir.path()).await.unwrap();
        let page = store.image_page(&scope(), "app", "", ImageFilter::all(), 10).await.unwrap();
        let by_digest = |body: &[u8]| {
            let digest = crate::digest::Digest::of(body);
            page.iter().find(|i| i.digest == digest).map(|i| i.config_media_type.clone())
        };
        assert_eq!(by_digest(image), Some(Some("application/vnd.example+json".to_string())));
        assert_eq!(by_digest(index), Some(None), "an index has no config");
    }
}
