//! The replication queue and its outcomes: one row per image and destination.

use super::columns;
use super::query;
use super::{BindScope, SqlMetadataStore};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{ReplicationState, ReplicationStore, ReplicationTask};
use crate::scope::RegistryScope;
use sqlx::Row;

/// Records the tasks as IN_PROGRESS inside `tx` (a push's, or a queueing of its own).
pub(super) async fn queue_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>, tasks: &[ReplicationTask], at: f64,
) -> Result<(), RegistryError> {
    for task in tasks {
        query(
            "INSERT INTO replications (registry_id, region, repository, digest, dest_registry_id, \
             dest_region, status, failure_code, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'IN_PROGRESS', NULL, ?) \
             ON CONFLICT (registry_id, region, repository, digest, dest_registry_id, dest_region) \
             DO UPDATE SET status = 'IN_PROGRESS', failure_code = NULL, \
             updated_at = excluded.updated_at",
        )
        .bind_scope(&task.source)
        .bind(&task.repository)
        .bind(task.digest.as_str())
        .bind_scope(&task.destination)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl ReplicationStore for SqlMetadataStore {
    async fn queue_replications(
        &self, tasks: &[ReplicationTask], at: f64,
    ) -> Result<(), RegistryError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        queue_in(&mut tx, tasks, at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pending_replications(
        &self, limit: u32,
    ) -> Result<Vec<ReplicationTask>, RegistryError> {
        let rows = query(
            "SELECT registry_id, region, repository, digest, dest_registry_id, dest_region \
             FROM replications WHERE status = 'IN_PROGRESS' ORDER BY updated_at LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ReplicationTask {
                    source: columns::scope(row, "")?,
                    repository: row.try_get("repository")?,
                    digest: columns::digest(row, "digest")?,
                    destination: columns::scope(row, "dest_")?,
                })
            })
            .collect()
    }

    async fn finish_replication(
        &self, task: &ReplicationTask, failure_code: Option<&str>, at: f64,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let status = if failure_code.is_some() { "FAILED" } else { "COMPLETE" };
        query(
            "UPDATE replications SET status = ?, failure_code = ?, updated_at = ? \
             WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ? \
             AND dest_registry_id = ? AND dest_region = ?",
        )
        .bind(status)
        .bind(failure_code)
        .bind(at)
        .bind_scope(&task.source)
        .bind(&task.repository)
        .bind(task.digest.as_str())
        .bind_scope(&task.destination)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn replication_states(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> Result<Vec<ReplicationState>, RegistryError> {
        let rows = query(
            "SELECT dest_registry_id, dest_region, status, failure_code FROM replications \
             WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ? \
             ORDER BY dest_region, dest_registry_id",
        )
        .bind_image(scope, repository, digest)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ReplicationState {
                    destination: columns::scope(row, "dest_")?,
                    status: row.try_get("status")?,
                    failure_code: row.try_get("failure_code")?,
                })
            })
            .collect()
    }
}
