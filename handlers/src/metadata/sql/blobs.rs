//! Blobs, their links into repositories, upload sessions, and what garbage collection
//! reads and forgets.

use super::{query, query_scalar};
use super::{BindScope, SqlMetadataStore};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{BlobCollection, UploadKind, UploadRecord, UploadStore};
use crate::scope::RegistryScope;

impl UploadStore for SqlMetadataStore {
    async fn linked_blob_size(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let size: Option<i64> = query_scalar(
            "SELECT b.size FROM repository_blobs l JOIN blobs b ON b.digest = l.digest \
             WHERE l.registry_id = ? AND l.region = ? AND l.repository = ? AND l.digest = ?",
        )
        .bind_image(scope, repository, digest)
        .fetch_optional(&self.pool)
        .await?;
        Ok(size.map(|s| s as u64))
    }

    async fn blob_referenced(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let found: Option<i64> = query_scalar(
            "SELECT 1 FROM manifest_references WHERE registry_id = ? AND region = ? \
             AND repository = ? AND child = ? AND kind = 'blob' LIMIT 1",
        )
        .bind_image(scope, repository, digest)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    async fn link_blob(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest, size: u64, at: f64,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        query(
            "INSERT INTO blobs (digest, size, linked_at) VALUES (?, ?, ?) \
             ON CONFLICT (digest) DO UPDATE SET linked_at = excluded.linked_at, unreferenced_since = NULL",
        )
        .bind(digest.as_str())
        .bind(size as i64)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        query(
            "INSERT INTO repository_blobs (registry_id, region, repository, digest) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind_image(scope, repository, digest)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_upload(
        &self, upload: &UploadRecord, created_at: f64,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        query(
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
        &self, scope: &RegistryScope, repository: &str, id: &str, kind: UploadKind,
    ) -> Result<Option<UploadRecord>, RegistryError> {
        let found: Option<i64> = query_scalar(
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
        let done = query("DELETE FROM uploads WHERE id = ?").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn uploads_created_before(&self, cutoff: f64) -> Result<Vec<String>, RegistryError> {
        Ok(query_scalar("SELECT id FROM uploads WHERE created_at < ? ORDER BY id")
            .bind(cutoff)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn upload_ids(&self) -> Result<Vec<String>, RegistryError> {
        Ok(query_scalar("SELECT id FROM uploads").fetch_all(&self.pool).await?)
    }
}

/// `blobs` row is referenced by a manifest of some repository.
const REFERENCED: &str = "EXISTS (SELECT 1 FROM manifest_references r \
     WHERE r.child = blobs.digest AND r.kind = 'blob')";

/// `blobs` row may be collected: noted unreferenced and last linked before the bound cutoff
/// (bound twice).
const COLLECTABLE: &str = "unreferenced_since <= ? AND (linked_at IS NULL OR linked_at <= ?)";

impl BlobCollection for SqlMetadataStore {
    async fn note_unreferenced_blobs(&self, now: f64) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        query(&format!(
            "UPDATE blobs SET unreferenced_since = NULL \
             WHERE unreferenced_since IS NOT NULL AND {REFERENCED}"
        ))
        .execute(&mut *tx)
        .await?;
        query(&format!(
            "UPDATE blobs SET unreferenced_since = ? \
             WHERE unreferenced_since IS NULL AND NOT {REFERENCED}"
        ))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn collectable_blobs(&self, cutoff: f64) -> Result<Vec<Digest>, RegistryError> {
        let digests: Vec<String> =
            query_scalar(&format!("SELECT digest FROM blobs WHERE {COLLECTABLE} ORDER BY digest"))
                .bind(cutoff)
                .bind(cutoff)
                .fetch_all(&self.pool)
                .await?;
        digests
            .iter()
            .map(|d| {
                Digest::parse(d).map_err(|_| {
                    RegistryError::Internal(format!("stored blob digest {d} is invalid"))
                })
            })
            .collect()
    }

    async fn forget_blob(&self, digest: &Digest, cutoff: f64) -> Result<bool, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let still: Option<i64> = query_scalar(&format!(
            "SELECT 1 FROM blobs WHERE digest = ? AND {COLLECTABLE} AND NOT {REFERENCED}"
        ))
        .bind(digest.as_str())
        .bind(cutoff)
        .bind(cutoff)
        .fetch_optional(&mut *tx)
        .await?;
        if still.is_none() {
            return Ok(false);
        }
        for table in ["repository_blobs", "blobs"] {
            query(&format!("DELETE FROM {table} WHERE digest = ?"))
                .bind(digest.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn blob_recorded(&self, digest: &Digest) -> Result<bool, RegistryError> {
        let found: Option<i64> = query_scalar("SELECT 1 FROM blobs WHERE digest = ?")
            .bind(digest.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}
