//! Blob leases on PostgreSQL: a session advisory lock per digest, shared
//! (`pg_advisory_lock_shared`) by commits and mounts, taken alone (`pg_try_advisory_lock`)
//! by garbage collection. Each kind has a connection of its own, outside the pool (the
//! guarded work uses the pool), so that a collection's give-back never queues behind a
//! push waiting for that collection. Shared locks count: a process that shares a digest's
//! lease twice holds it until both give it back. A process that dies loses its
//! connections, and PostgreSQL frees its leases with them.

use super::query_scalar;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::registry::blob_leases::{BlobLease, BlobLeases};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sha2::{Digest as _, Sha256};
use sqlx::any::AnyConnectOptions;
use sqlx::AnyConnection;
use sqlx::ConnectOptions;
use std::sync::Arc;

/// One connection, opened on first use and dropped (with its leases) when it fails.
#[derive(Debug)]
struct LeaseConnection {
    options: AnyConnectOptions,
    connection: tokio::sync::Mutex<Option<AnyConnection>>,
}

impl LeaseConnection {
    /// Runs `sql` (one `?`, the lease key) and reads its one value (`pg_advisory_lock_shared`
    /// answers nothing, so it is wrapped to answer `true`).
    async fn ask(&self, sql: &str, key: i64) -> Result<bool, RegistryError> {
        let mut connection = self.connection.lock().await;
        if connection.is_none() {
            *connection = Some(self.options.connect().await?);
        }
        let Some(open) = connection.as_mut() else {
            return Err(RegistryError::Internal("no blob lease connection".into()));
        };
        let answer = query_scalar::<bool>(sql).bind(key).fetch_one(&mut *open).await;
        if answer.is_err() {
            tracing::warn!("the blob lease connection failed: its leases are gone");
            *connection = None;
        }
        Ok(answer?)
    }
}

/// The leases of one process.
#[derive(Debug)]
pub struct PostgresBlobLeases {
    shared: Arc<LeaseConnection>,
    alone: Arc<LeaseConnection>,
}

impl PostgresBlobLeases {
    pub(super) fn new(options: AnyConnectOptions) -> Self {
        let connection = |options| {
            Arc::new(LeaseConnection { options, connection: tokio::sync::Mutex::new(None) })
        };
        PostgresBlobLeases { shared: connection(options.clone()), alone: connection(options) }
    }

    /// The advisory lock key of `digest`: stable across processes and versions.
    fn key(digest: &Digest) -> i64 {
        let hash = Sha256::digest(format!("berth blob {digest}").as_bytes());
        i64::from_be_bytes(hash[..8].try_into().unwrap_or_default())
    }

    /// A lease that runs `unlock` on `connection` when dropped (on the runtime: drop is
    /// not async; the lock is held at least until the guarded work is done).
    fn lease(connection: &Arc<LeaseConnection>, unlock: &'static str, key: i64) -> BlobLease {
        let connection = connection.clone();
        BlobLease::new(move || {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = connection.ask(unlock, key).await {
                        tracing::warn!("cannot give back a blob lease: {e}");
                    }
                });
            }
        })
    }
}

impl BlobLeases for PostgresBlobLeases {
    fn share<'a>(&'a self, digest: &'a Digest) -> BoxFuture<'a, Result<BlobLease, RegistryError>> {
        async move {
            let key = Self::key(digest);
            self.shared
                .ask("SELECT true FROM (SELECT pg_advisory_lock_shared(?)) AS locked", key)
                .await?;
            Ok(Self::lease(&self.shared, "SELECT pg_advisory_unlock_shared(?)", key))
        }
        .boxed()
    }

    fn try_take<'a>(
        &'a self, digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<BlobLease>, RegistryError>> {
        async move {
            let key = Self::key(digest);
            if !self.alone.ask("SELECT pg_try_advisory_lock(?)", key).await? {
                return Ok(None);
            }
            Ok(Some(Self::lease(&self.alone, "SELECT pg_advisory_unlock(?)", key)))
        }
        .boxed()
    }
}
