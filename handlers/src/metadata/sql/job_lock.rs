//! Job leases on PostgreSQL, so that lifecycle, replication, scans and garbage collection
//! run in one replica at a time: a session advisory lock per job, taken with
//! `pg_try_advisory_lock` on a connection of its own (outside the pool, which the jobs
//! themselves use). A replica that dies loses its connection, and PostgreSQL frees its
//! leases with it.

use super::query_scalar;
use crate::error::RegistryError;
use crate::jobs::JobLock;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sha2::{Digest as _, Sha256};
use sqlx::any::AnyConnectOptions;
use sqlx::AnyConnection;
use sqlx::ConnectOptions;

/// The leases of one process, on one connection.
#[derive(Debug)]
pub struct PostgresJobLock {
    options: AnyConnectOptions,
    connection: tokio::sync::Mutex<Option<AnyConnection>>,
}

impl PostgresJobLock {
    pub(super) fn new(options: AnyConnectOptions) -> Self {
        PostgresJobLock { options, connection: tokio::sync::Mutex::new(None) }
    }

    /// The advisory lock key of job `name`: stable across processes and versions.
    fn key(name: &str) -> i64 {
        let hash = Sha256::digest(format!("berth job {name}").as_bytes());
        i64::from_be_bytes(hash[..8].try_into().unwrap_or_default())
    }

    /// Runs `sql` (one `?`, the job's key) on the lease connection, opening it if needed;
    /// a failed connection is dropped (and with it every lease it held).
    async fn ask(&self, sql: &str, name: &str) -> Result<bool, RegistryError> {
        let mut connection = self.connection.lock().await;
        if connection.is_none() {
            *connection = Some(self.options.connect().await?);
        }
        let Some(open) = connection.as_mut() else {
            return Err(RegistryError::Internal("no job lease connection".into()));
        };
        let answer = query_scalar::<bool>(sql).bind(Self::key(name)).fetch_one(&mut *open).await;
        if answer.is_err() {
            *connection = None;
        }
        Ok(answer?)
    }
}

impl JobLock for PostgresJobLock {
    fn try_take<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, RegistryError>> {
        self.ask("SELECT pg_try_advisory_lock(?)", name).boxed()
    }

    fn give_back<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()> {
        async move {
            if let Err(e) = self.ask("SELECT pg_advisory_unlock(?)", name).await {
                tracing::warn!(job = name, "cannot give back the job's lease: {e}");
            }
        }
        .boxed()
    }
}
