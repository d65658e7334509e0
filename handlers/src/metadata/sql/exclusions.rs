//! Pull-time update exclusions: one row per excluded principal of a registry.

use super::{query, query_scalar};
use super::{BindScope, SqlMetadataStore};
use crate::error::RegistryError;
use crate::metadata::PullTimeExclusionStore;
use crate::scope::RegistryScope;

impl PullTimeExclusionStore for SqlMetadataStore {
    async fn add_exclusion(
        &self, scope: &RegistryScope, principal: &str, at: f64, limit: usize,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let count: i64 = query_scalar(
            "SELECT COUNT(*) FROM pull_time_exclusions WHERE registry_id = ? AND region = ?",
        )
        .bind_scope(scope)
        .fetch_one(&mut *tx)
        .await?;
        let added = query(
            "INSERT INTO pull_time_exclusions (registry_id, region, principal_arn, created_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind_scope(scope)
        .bind(principal)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 0 {
            return Err(RegistryError::ExclusionAlreadyExists {
                principal: principal.to_string(),
                registry: scope.registry_id.clone(),
            });
        }
        if count as usize >= limit {
            return Err(RegistryError::LimitExceeded(format!(
                "The maximum number of pull time update exclusions ({limit}) has been reached for the registry with id '{}'",
                scope.registry_id
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove_exclusion(
        &self, scope: &RegistryScope, principal: &str,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let removed = query(
            "DELETE FROM pull_time_exclusions WHERE registry_id = ? AND region = ? AND principal_arn = ?",
        )
        .bind_scope(scope)
        .bind(principal)
        .execute(&self.pool)
        .await?;
        if removed.rows_affected() == 0 {
            return Err(RegistryError::ExclusionNotFound {
                principal: principal.to_string(),
                registry: scope.registry_id.clone(),
            });
        }
        Ok(())
    }

    async fn exclusions(
        &self, scope: &RegistryScope, after: &str, limit: u32,
    ) -> Result<Vec<String>, RegistryError> {
        Ok(query_scalar(
            "SELECT principal_arn FROM pull_time_exclusions WHERE registry_id = ? AND region = ? \
             AND principal_arn > ? ORDER BY principal_arn LIMIT ?",
        )
        .bind_scope(scope)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }
}
