//! The metadata store in SQL, on one of two databases through sqlx's `Any` driver: SQLite
//! (WAL) in the data dir, berth's default, or PostgreSQL (`--metadata postgres://...`),
//! which several berth processes can share. The SQL is one text for both: `?` placeholders,
//! numbered `$1`, `$2`... once per distinct text (both databases take that form), standard
//! `ON CONFLICT` upserts; each database has its own migrations.
//!
//! Every write is one transaction, committed before the handler answers, so whatever was
//! acknowledged survives `kill -9`. Write transactions are serialized: on SQLite, which has
//! one writer at a time, by `BEGIN IMMEDIATE` (and a lock in the process, so that they never
//! fail on a busy upgrade); on PostgreSQL by a transaction-level advisory lock, which holds
//! across every process sharing the database. Reads never wait for writers.

mod blob_leases;
mod blobs;
mod columns;
mod consistency;
mod exclusions;
mod image_listing;
mod job_lock;
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
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, AnyPool, ConnectOptions, Executor};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{LazyLock, RwLock};
use std::time::Duration;
use tokio::sync::Mutex;

/// The file name of the database inside the data dir.
pub const DATABASE_FILE: &str = "metadata.sqlite";

/// The advisory lock every PostgreSQL write transaction takes (an arbitrary constant:
/// "berth" in ASCII).
const WRITE_LOCK_KEY: i64 = 0x62_65_72_74_68;

/// Which database the store is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Repositories, images, tags, uploads, blobs and registry records, in SQL.
#[derive(Debug)]
pub struct SqlMetadataStore {
    pool: AnyPool,
    backend: Backend,
    /// How to reach the database again (PostgreSQL: for the job leases' own connection).
    options: AnyConnectOptions,
    /// Writers of this process queue here instead of each holding a pooled connection
    /// while they wait for the database's write lock. Not what makes writes safe: that is
    /// the database's own lock (`write_transaction`), which spans processes.
    write_lock: Mutex<()>,
}

impl SqlMetadataStore {
    /// Opens (or creates) the SQLite database in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, RegistryError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            RegistryError::Internal(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let path = path.to_str().ok_or_else(|| {
            RegistryError::Internal(format!("{} is not a UTF-8 path", path.display()))
        })?;
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{path}?mode=rwc");
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    // WAL, and NORMAL sync in WAL mode: nothing is lost on a process crash
                    // (kill -9); only a power cut can drop the last commits.
                    connection
                        .execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(SqlMetadataStore { pool, backend: Backend::Sqlite, options, write_lock: Mutex::new(()) })
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://user:password@host/db`)
    /// and applies pending migrations; several berth processes may share it.
    pub async fn connect_postgres(url: &str) -> Result<Self, RegistryError> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        // Each connection keeps buffers as large as the largest messages it carried (a
        // 4 MiB manifest costs a connection about 12 MiB for good), so the pool is as small
        // as SQLite's: with 8 connections, 200 manifests of 4 MiB took berth to 170 MiB,
        // with 4 to 125 MiB (server/tests/e2e_memory.rs).
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations_postgres").run(&pool).await?;
        Ok(SqlMetadataStore {
            pool,
            backend: Backend::Postgres,
            options,
            write_lock: Mutex::new(()),
        })
    }

    /// What keeps each background job to one process at a time: on PostgreSQL, leases
    /// (several processes may share it); on SQLite nothing (one process owns the data dir).
    pub fn job_lock(&self) -> Option<std::sync::Arc<dyn crate::jobs::JobLock>> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                Some(std::sync::Arc::new(job_lock::PostgresJobLock::new(self.options.clone())))
            }
        }
    }

    /// What orders commits against garbage collection of one digest across processes: on
    /// PostgreSQL, advisory leases; on SQLite nothing (one process owns the data dir, and
    /// the registry's own blob locks suffice).
    pub fn blob_leases(
        &self,
    ) -> Option<std::sync::Arc<dyn crate::registry::blob_leases::BlobLeases>> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(std::sync::Arc::new(blob_leases::PostgresBlobLeases::new(
                self.options.clone(),
            ))),
        }
    }

    /// Writes a consistent copy of the whole database to `to` (SQLite's `VACUUM INTO`),
    /// while other connections go on reading and writing: what `berth export` backs up.
    /// PostgreSQL has its own tools (`pg_dump`) for that.
    pub async fn snapshot_into(&self, to: &Path) -> Result<(), RegistryError> {
        if self.backend != Backend::Sqlite {
            return Err(RegistryError::Internal(
                "berth export copies a SQLite data dir; back PostgreSQL up with pg_dump".into(),
            ));
        }
        let to = to.to_str().ok_or_else(|| {
            RegistryError::Internal(format!("{} is not a UTF-8 path", to.display()))
        })?;
        query("VACUUM INTO ?").bind(to).execute(&self.pool).await?;
        Ok(())
    }

    /// Begins a write transaction that holds the database's write lock from the start.
    /// SQLite: `BEGIN IMMEDIATE` (a deferred transaction that reads and then writes cannot
    /// wait for the lock: when another connection still holds it, SQLite answers "database
    /// is locked" at once instead of applying the busy timeout). PostgreSQL: an advisory
    /// lock held until the transaction ends, in every process. Callers hold `write_lock`.
    async fn write_transaction(&self) -> Result<sqlx::Transaction<'static, Any>, RegistryError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                query("SELECT pg_advisory_xact_lock(?)")
                    .bind(WRITE_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }
}

impl MetadataStore for SqlMetadataStore {
    /// Closes the pool (on SQLite, checkpointing the WAL).
    async fn close(&self) {
        self.pool.close().await;
    }
}

/// `sql` as both databases take it: each `?` outside quotes numbered `$1`, `$2`... in
/// order. Each distinct text is converted once and kept for the life of the process (the
/// texts are the fixed set this module writes).
fn numbered(sql: &str) -> &'static str {
    static SEEN: LazyLock<RwLock<HashMap<String, &'static str>>> = LazyLock::new(Default::default);
    if let Some(found) = SEEN.read().unwrap_or_else(|p| p.into_inner()).get(sql) {
        return found;
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let (mut n, mut quoted) = (0, false);
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push_str(&format!("${n}"));
            }
            _ => out.push(c),
        }
    }
    let mut seen = SEEN.write().unwrap_or_else(|p| p.into_inner());
    seen.entry(sql.to_string()).or_insert_with(|| Box::leak(out.into_boxed_str()))
}

/// `sqlx::query` over [`numbered`] SQL.
fn query<'q>(sql: &str) -> Query<'q, Any, AnyArguments<'q>> {
    sqlx::query(numbered(sql))
}

/// `sqlx::query_as` over [`numbered`] SQL.
fn query_as<'q, O>(sql: &str) -> QueryAs<'q, Any, O, AnyArguments<'q>>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_as(numbered(sql))
}

/// `sqlx::query_scalar` over [`numbered`] SQL.
fn query_scalar<'q, O>(sql: &str) -> QueryScalar<'q, Any, O, AnyArguments<'q>>
where
    (O,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_scalar(numbered(sql))
}

/// Binds the key columns tables start with: (registry_id, region), then for images the
/// repository and digest, in that order.
trait BindScope<'q>: Sized {
    /// Binds one text value.
    fn bind_text(self, text: &'q str) -> Self;

    /// Binds epoch seconds that may be absent, and keeps the statement out of the
    /// connection's statement cache. sqlx's `Any` driver sends an absent `f64` to
    /// PostgreSQL as a `real` (float4) NULL; a cached statement first run with one is
    /// prepared with a float4 parameter and then refuses a present value
    /// ("incorrect binary data format"). Prepared afresh each time, it takes both.
    fn bind_optional_seconds(self, seconds: Option<f64>) -> Self;

    /// Binds (registry_id, region).
    fn bind_scope(self, scope: &'q RegistryScope) -> Self {
        self.bind_text(&scope.registry_id).bind_text(&scope.region)
    }

    /// Binds (registry_id, region, repository, digest): an image's key.
    fn bind_image(self, scope: &'q RegistryScope, repository: &'q str, digest: &'q Digest) -> Self {
        self.bind_scope(scope).bind_text(repository).bind_text(digest.as_str())
    }
}

impl<'q> BindScope<'q> for Query<'q, Any, AnyArguments<'q>> {
    fn bind_text(self, text: &'q str) -> Self {
        self.bind(text)
    }

    fn bind_optional_seconds(self, seconds: Option<f64>) -> Self {
        self.bind(seconds).persistent(false)
    }
}

impl<'q, O> BindScope<'q> for QueryAs<'q, Any, O, AnyArguments<'q>> {
    fn bind_text(self, text: &'q str) -> Self {
        self.bind(text)
    }

    fn bind_optional_seconds(self, seconds: Option<f64>) -> Self {
        self.bind(seconds).persistent(false)
    }
}

impl<'q, O> BindScope<'q> for QueryScalar<'q, Any, O, AnyArguments<'q>> {
    fn bind_text(self, text: &'q str) -> Self {
        self.bind(text)
    }

    fn bind_optional_seconds(self, seconds: Option<f64>) -> Self {
        self.bind(seconds).persistent(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{ImageFilter, ImageListing};
    use crate::test_fixtures::scope;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

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

        let store = SqlMetadataStore::open(dir.path()).await.unwrap();
        let page = store.image_page(&scope(), "app", "", ImageFilter::all(), 10).await.unwrap();
        let by_digest = |body: &[u8]| {
            let digest = crate::digest::Digest::of(body);
            page.iter().find(|i| i.digest == digest).map(|i| i.config_media_type.clone())
        };
        assert_eq!(by_digest(image), Some(Some("application/vnd.example+json".to_string())));
        assert_eq!(by_digest(index), Some(None), "an index has no config");
    }
}
