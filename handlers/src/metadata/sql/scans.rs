//! Image scans: the latest per image, and the IN_PROGRESS ones as the scan job's queue.

use super::{query, query_scalar};
use super::{BindScope, SqlMetadataStore};
use crate::error::RegistryError;
use crate::metadata::{ImageKey, ScanRecord, ScanStore};
use sqlx::Row;

impl ScanStore for SqlMetadataStore {
    async fn start_scan(
        &self, image: &ImageKey, at: f64, quota_since: Option<f64>,
    ) -> Result<bool, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        if let Some(since) = quota_since {
            let last: Option<f64> = query_scalar(
                "SELECT started_at FROM image_scans WHERE registry_id = ? AND region = ? \
                 AND repository = ? AND digest = ?",
            )
            .bind_scope(&image.scope)
            .bind(&image.repository)
            .bind(image.digest.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if last.is_some_and(|started| started > since) {
                return Ok(false);
            }
        }
        query(
            "INSERT INTO image_scans (registry_id, region, repository, digest, status, description, \
             started_at, completed_at, source_updated_at, findings) \
             VALUES (?, ?, ?, ?, 'IN_PROGRESS', 'The scan is in progress.', ?, NULL, NULL, '[]') \
             ON CONFLICT (registry_id, region, repository, digest) \
             DO UPDATE SET status = 'IN_PROGRESS', description = excluded.description, \
             started_at = excluded.started_at, completed_at = NULL, source_updated_at = NULL, \
             findings = '[]', enhanced_findings = NULL",
        )
        .bind_scope(&image.scope)
        .bind(&image.repository)
        .bind(image.digest.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn pending_scans(&self, limit: u32) -> Result<Vec<ImageKey>, RegistryError> {
        let rows = query(
            "SELECT registry_id, region, repository, digest FROM image_scans \
             WHERE status = 'IN_PROGRESS' ORDER BY started_at LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(image_key).collect()
    }

    async fn scanned_images(&self) -> Result<Vec<ImageKey>, RegistryError> {
        let rows = query("SELECT registry_id, region, repository, digest FROM image_scans")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(image_key).collect()
    }

    async fn finish_scan(
        &self, image: &ImageKey, outcome: &ScanRecord,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        query(
            "UPDATE image_scans SET status = ?, description = ?, completed_at = ?, \
             source_updated_at = ?, findings = ?, enhanced_findings = ? \
             WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ? \
             AND status = 'IN_PROGRESS' AND started_at = ?",
        )
        .bind(&outcome.status)
        .bind(&outcome.description)
        .bind_optional_seconds(outcome.completed_at)
        .bind_optional_seconds(outcome.source_updated_at)
        .bind(&outcome.findings)
        .bind(&outcome.enhanced_findings)
        .bind_scope(&image.scope)
        .bind(&image.repository)
        .bind(image.digest.as_str())
        .bind(outcome.started_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn scan(&self, image: &ImageKey) -> Result<Option<ScanRecord>, RegistryError> {
        let row = query(
            "SELECT status, description, started_at, completed_at, source_updated_at, findings, \
             enhanced_findings \
             FROM image_scans WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ?",
        )
        .bind_scope(&image.scope)
        .bind(&image.repository)
        .bind(image.digest.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ScanRecord {
                status: row.try_get("status")?,
                description: row.try_get("description")?,
                started_at: row.try_get("started_at")?,
                completed_at: row.try_get("completed_at")?,
                source_updated_at: row.try_get("source_updated_at")?,
                findings: row.try_get("findings")?,
                enhanced_findings: row.try_get("enhanced_findings")?,
            })
        })
        .transpose()
    }
}

/// The image a row names (its registry_id, region, repository and digest columns).
pub(super) fn image_key(row: &sqlx::any::AnyRow) -> Result<ImageKey, RegistryError> {
    Ok(ImageKey {
        scope: super::columns::scope(row, "")?,
        repository: row.try_get("repository")?,
        digest: super::columns::digest(row, "digest")?,
    })
}
