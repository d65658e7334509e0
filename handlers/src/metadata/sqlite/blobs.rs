//! Blobs, their links into repositories, and upload sessions.

use super::{BindScope, SqliteMetadataStore};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{UploadKind, UploadRecord, UploadStore};
use crate::scope::RegistryScope;

impl UploadStore for SqliteMetadataStore {
    async fn linked_blob_size(
        &self,
        scope: &RegistryScope,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT b.size FROM repository_blobs l JOIN blobs b ON b.digest = l.digest \
             WHERE l.registry_id = ? AND l.region = ? AND l.repository = ? AND l.digest = ?",
        )
        .bind_scope(scope)
        .bind(repository)
        .bind(digest.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(size.map(|s| s as u64))
    }

    async fn link_blob(
        &self,
        scope: &RegistryScope,
        repository: &str,
        digest: &Digest,
        size: u64,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        sqlx::query("INSERT INTO blobs (digest, size) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(digest.as_str())
            .bind(size as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO repository_blobs (registry_id, region, repository, digest) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind_scope(scope)
        .bind(repository)
        .bind(digest.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_upload(
        &self,
        upload: &UploadRecord,
        created_at: f64,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        sqlx::query(
            "INSERT INTO uploads (id, registry_id, region, repository, created_at, kind) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&upload.id)
        .bind_scope(&upload.scope)
        .bind(&upload.repository)
        .bind(created_at)
        .bind(upload.kind.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn upload(
        &self,
        scope: &RegistryScope,
        repository: &str,
        id: &str,
        kind: UploadKind,
    ) -> Result<Option<UploadRecord>, RegistryError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM uploads WHERE id = ? AND registry_id = ? AND region = ? AND repository = ? AND kind = ?",
        )
        .bind(id)
        .bind_scope(scope)
        .bind(repository)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|_| UploadRecord {
            id: id.to_string(),
            scope: scope.clone(),
            repository: repository.to_string(),
            kind,
        }))
    }

    async fn delete_upload(&self, id: &str) -> Result<bool, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn uploads_created_before(&self, cutoff: f64) -> Result<Vec<String>, RegistryError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM uploads WHERE created_at < ? ORDER BY id")
                .bind(cutoff)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn upload_ids(&self) -> Result<Vec<String>, RegistryError> {
        Ok(sqlx::query_scalar("SELECT id FROM uploads")
            .fetch_all(&self.pool)
            .await?)
    }
}
