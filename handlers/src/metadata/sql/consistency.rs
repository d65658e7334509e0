//! The rows `berth fsck` checks against the blob store.

use super::columns::{digest, scope};
use super::SqlMetadataStore;
use super::{query, query_as, query_scalar};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{ConsistencyStore, StorageTotals};
use crate::scope::RegistryScope;
use sqlx::any::AnyRow;
use sqlx::Row;

impl ConsistencyStore for SqlMetadataStore {
    async fn storage_totals(&self) -> Result<StorageTotals, RegistryError> {
        let (blobs, bytes): (i64, Option<i64>) =
            query_as("SELECT COUNT(*), CAST(SUM(size) AS BIGINT) FROM blobs")
                .fetch_one(&self.pool)
                .await?;
        let linked: Option<i64> = query_scalar(
            "SELECT CAST(SUM(b.size) AS BIGINT) FROM repository_blobs l JOIN blobs b ON b.digest = l.digest",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StorageTotals {
            blobs: blobs as u64,
            bytes: bytes.unwrap_or(0) as u64,
            linked_bytes: linked.unwrap_or(0) as u64,
        })
    }

    async fn blob_links(&self) -> Result<Vec<(RegistryScope, String, Digest)>, RegistryError> {
        let sql = "SELECT registry_id, region, repository, digest FROM repository_blobs";
        self.rows(sql, |row| {
            Ok((scope(row, "")?, row.try_get("repository")?, digest(row, "digest")?))
        })
        .await
    }

    async fn blob_references(
        &self,
    ) -> Result<Vec<(RegistryScope, String, Digest, Digest)>, RegistryError> {
        let sql = "SELECT registry_id, region, repository, parent, child FROM manifest_references \
                   WHERE kind = 'blob'";
        self.rows(sql, |row| {
            let repository = row.try_get("repository")?;
            Ok((scope(row, "")?, repository, digest(row, "parent")?, digest(row, "child")?))
        })
        .await
    }
}

impl SqlMetadataStore {
    /// Every row of `sql`, each read by `read`.
    async fn rows<T>(
        &self, sql: &str, read: impl Fn(&AnyRow) -> Result<T, RegistryError>,
    ) -> Result<Vec<T>, RegistryError> {
        let rows = query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(read).collect()
    }
}
