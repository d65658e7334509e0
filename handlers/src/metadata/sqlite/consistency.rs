//! The rows `berth fsck` checks against the blob store.

use super::SqliteMetadataStore;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{ConsistencyStore, StorageTotals};
use crate::scope::RegistryScope;
use sqlx::Row;

fn digest(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<Digest, RegistryError> {
    let text: String = row.try_get(column)?;
    Digest::parse(&text)
        .map_err(|_| RegistryError::Internal(format!("stored digest {text} is invalid")))
}

fn scope(row: &sqlx::sqlite::SqliteRow) -> Result<RegistryScope, RegistryError> {
    Ok(RegistryScope {
        registry_id: row.try_get("registry_id")?,
        region: row.try_get("region")?,
    })
}

impl ConsistencyStore for SqliteMetadataStore {
    async fn storage_totals(&self) -> Result<StorageTotals, RegistryError> {
        let (blobs, bytes): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), SUM(size) FROM blobs")
                .fetch_one(&self.pool)
                .await?;
        let linked: Option<i64> = sqlx::query_scalar(
            "SELECT SUM(b.size) FROM repository_blobs l JOIN blobs b ON b.digest = l.digest",
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
        let rows =
            sqlx::query("SELECT registry_id, region, repository, digest FROM repository_blobs")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    scope(row)?,
                    row.try_get("repository")?,
                    digest(row, "digest")?,
                ))
            })
            .collect()
    }

    async fn blob_references(
        &self,
    ) -> Result<Vec<(RegistryScope, String, Digest, Digest)>, RegistryError> {
        let rows = sqlx::query(
            "SELECT registry_id, region, repository, parent, child FROM manifest_references \
             WHERE kind = 'blob'",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    scope(row)?,
                    row.try_get("repository")?,
                    digest(row, "parent")?,
                    digest(row, "child")?,
                ))
            })
            .collect()
    }
}
