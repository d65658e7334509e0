//! Manifests, the tags that point at them, and the edges to their blobs and children.

use super::{columns, BindScope, SqlMetadataStore};
use super::{query, query_scalar};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::immutability::tag_is_immutable;
use crate::metadata::{
    ImageStorage, ImageStore, ManifestReferences, PutOutcome, ReplicationTask, StoredManifest,
};
use crate::reference::Tag;
use crate::scope::RegistryScope;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

const COLUMNS: &str =
    "digest, media_type, artifact_type, config_media_type, subject_digest, annotations, body, \
     image_size, pushed_at, last_pulled_at, archived, last_archived_at, last_activated_at";

const BY_DIGEST: &str =
    "SELECT digest, media_type, artifact_type, config_media_type, subject_digest, annotations, \
     body, image_size, pushed_at, last_pulled_at, archived, last_archived_at, last_activated_at \
     FROM manifests WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ?";

const BY_TAG: &str = "SELECT m.digest, m.media_type, m.artifact_type, m.config_media_type, m.subject_digest, m.annotations, m.body, \
                      m.image_size, m.pushed_at, m.last_pulled_at, m.archived, m.last_archived_at, m.last_activated_at \
                      FROM image_tags t JOIN manifests m \
                      ON m.registry_id = t.registry_id AND m.region = t.region AND m.repository = t.repository \
                      AND m.digest = t.digest WHERE t.registry_id = ? AND t.region = ? AND t.repository = ? AND t.tag = ?";

/// The storage columns of a row that selected them.
pub(super) fn image_storage(row: &AnyRow) -> Result<ImageStorage, RegistryError> {
    let archived: i64 = row.try_get("archived")?;
    Ok(ImageStorage {
        archived: archived != 0,
        last_archived_at: row.try_get("last_archived_at")?,
        last_activated_at: row.try_get("last_activated_at")?,
    })
}

fn manifest(row: &AnyRow) -> Result<StoredManifest, RegistryError> {
    let size: i64 = row.try_get("image_size")?;
    Ok(StoredManifest {
        digest: columns::digest(row, "digest")?,
        media_type: row.try_get("media_type")?,
        artifact_type: row.try_get("artifact_type")?,
        config_media_type: row.try_get("config_media_type")?,
        subject: columns::optional_digest(row, "subject_digest")?,
        annotations: row.try_get("annotations")?,
        body: row.try_get("body")?,
        image_size: size as u64,
        pushed_at: row.try_get("pushed_at")?,
        last_pulled_at: row.try_get("last_pulled_at")?,
        storage: image_storage(row)?,
    })
}

fn repository_missing(scope: &RegistryScope, repository: &str) -> RegistryError {
    RegistryError::RepositoryNotFound {
        name: repository.to_string(),
        registry: scope.registry_id.clone(),
    }
}

impl SqlMetadataStore {
    /// A manifest: `sql` selects it by (registry, region, repository, `key`).
    async fn lookup(
        &self, scope: &RegistryScope, repository: &str, sql: &str, key: &str,
    ) -> Result<Option<StoredManifest>, RegistryError> {
        let row = query(sql)
            .bind_scope(scope)
            .bind(repository)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(manifest).transpose()
    }
}

impl ImageStore for SqlMetadataStore {
    async fn manifest(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> Result<Option<StoredManifest>, RegistryError> {
        self.lookup(scope, repository, BY_DIGEST, digest.as_str()).await
    }

    async fn tagged_manifest(
        &self, scope: &RegistryScope, repository: &str, tag: &Tag,
    ) -> Result<Option<StoredManifest>, RegistryError> {
        self.lookup(scope, repository, BY_TAG, tag.as_str()).await
    }

    async fn put_manifest(
        &self, scope: &RegistryScope, repository: &str, new: &StoredManifest,
        references: &ManifestReferences, tag: Option<&Tag>, replications: &[ReplicationTask],
    ) -> Result<PutOutcome, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let settings = query(
            "SELECT image_tag_mutability, mutability_exclusion_filters FROM repositories \
             WHERE registry_id = ? AND region = ? AND name = ?",
        )
        .bind_scope(scope)
        .bind(repository)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| repository_missing(scope, repository))?;
        check_references(&mut tx, scope, repository, references).await?;

        let previous = match tag {
            Some(tag) => {
                let previous: Option<String> = query_scalar(
                    "SELECT digest FROM image_tags WHERE registry_id = ? AND region = ? AND repository = ? AND tag = ?",
                )
                .bind_scope(scope)
                .bind(repository)
                .bind(tag.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if previous.is_some() {
                    let mutability: String = settings.try_get("image_tag_mutability")?;
                    let filters: String = settings.try_get("mutability_exclusion_filters")?;
                    if tag_is_immutable(&mutability, &filters, tag.as_str()) {
                        return Err(RegistryError::ImageTagImmutable {
                            tag: tag.to_string(),
                            repository: repository.to_string(),
                            same_digest: previous.as_deref() == Some(new.digest.as_str()),
                        });
                    }
                }
                previous.and_then(|p| Digest::parse(&p).ok())
            }
            None => None,
        };

        query(
            "INSERT INTO manifests (registry_id, region, repository, digest, media_type, artifact_type, \
             config_media_type, subject_digest, annotations, body, image_size, pushed_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (registry_id, region, repository, digest) DO UPDATE SET archived = 0, \
             last_activated_at = excluded.pushed_at \
             WHERE manifests.archived = 1 OR manifests.last_activated_at > excluded.pushed_at",
        )
        .bind_scope(scope)
        .bind(repository)
        .bind(new.digest.as_str())
        .bind(&new.media_type)
        .bind(&new.artifact_type)
        .bind(&new.config_media_type)
        .bind(new.subject.as_ref().map(Digest::as_str))
        .bind(&new.annotations)
        .bind(&new.body)
        .bind(new.image_size as i64)
        .bind(new.pushed_at)
        .execute(&mut *tx)
        .await?;
        // Referenced again: a blob noted unreferenced starts its grace afresh next time.
        for blob in &references.blobs {
            query(
                "UPDATE blobs SET unreferenced_since = NULL \
                 WHERE digest = ? AND unreferenced_since IS NOT NULL",
            )
            .bind(blob.as_str())
            .execute(&mut *tx)
            .await?;
        }
        for (children, kind) in [(&references.blobs, "blob"), (&references.manifests, "manifest")] {
            for child in children {
                query(
                    "INSERT INTO manifest_references (registry_id, region, repository, parent, child, kind) \
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                )
                .bind_scope(scope)
                .bind(repository)
                .bind(new.digest.as_str())
                .bind(child.as_str())
                .bind(kind)
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(tag) = tag {
            query(
                "INSERT INTO image_tags (registry_id, region, repository, tag, digest) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (registry_id, region, repository, tag) DO UPDATE SET digest = excluded.digest",
            )
            .bind_scope(scope)
            .bind(repository)
            .bind(tag.as_str())
            .bind(new.digest.as_str())
            .execute(&mut *tx)
            .await?;
        }
        super::replications::queue_in(&mut tx, replications, new.pushed_at).await?;
        tx.commit().await?;
        Ok(PutOutcome { previous })
    }

    async fn tags_of(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> Result<Vec<String>, RegistryError> {
        Ok(query_scalar(
            "SELECT tag FROM image_tags WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ? \
             ORDER BY tag",
        )
        .bind_image(scope, repository, digest)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn list_tags(
        &self, scope: &RegistryScope, repository: &str, last: Option<&str>, limit: u32,
    ) -> Result<Vec<String>, RegistryError> {
        Ok(query_scalar(
            "SELECT tag FROM image_tags WHERE registry_id = ? AND region = ? AND repository = ? AND tag > ? \
             ORDER BY tag LIMIT ?",
        )
        .bind_scope(scope)
        .bind(repository)
        .bind(last.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn referrers(
        &self, scope: &RegistryScope, repository: &str, subject: &Digest,
    ) -> Result<Vec<StoredManifest>, RegistryError> {
        let rows = query(&format!(
            "SELECT {COLUMNS} FROM manifests WHERE registry_id = ? AND region = ? AND repository = ? \
             AND subject_digest = ? ORDER BY digest"
        ))
        .bind_scope(scope)
        .bind(repository)
        .bind(subject.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(manifest).collect()
    }

    async fn record_pull(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest, principal: &str, at: f64,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        query(
            "UPDATE manifests SET last_pulled_at = ? WHERE registry_id = ? AND region = ? \
             AND repository = ? AND digest = ? AND NOT EXISTS (SELECT 1 FROM pull_time_exclusions e \
             WHERE e.registry_id = manifests.registry_id AND e.region = manifests.region \
             AND e.principal_arn = ?)",
        )
        .bind(at)
        .bind_image(scope, repository, digest)
        .bind(principal)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn update_image_storage(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
        change: impl FnOnce(&mut ImageStorage) -> Result<(), RegistryError> + Send,
    ) -> Result<ImageStorage, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let row = query(
            "SELECT archived, last_archived_at, last_activated_at FROM manifests \
             WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ?",
        )
        .bind_image(scope, repository, digest)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(RegistryError::ImageNotFound)?;
        let mut storage = image_storage(&row)?;
        change(&mut storage)?;
        query(
            "UPDATE manifests SET archived = ?, last_archived_at = ?, last_activated_at = ? \
             WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ?",
        )
        .bind(i64::from(storage.archived))
        .bind_optional_seconds(storage.last_archived_at)
        .bind_optional_seconds(storage.last_activated_at)
        .bind_image(scope, repository, digest)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(storage)
    }

    async fn delete_manifest(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> Result<Vec<String>, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let parents: Vec<String> = query_scalar(
            "SELECT parent FROM manifest_references WHERE registry_id = ? AND region = ? AND repository = ? \
             AND child = ? AND kind = 'manifest' ORDER BY parent",
        )
        .bind_image(scope, repository, digest)
        .fetch_all(&mut *tx)
        .await?;
        if !parents.is_empty() {
            return Err(RegistryError::ImageReferencedByManifestList { parents });
        }
        let tags: Vec<String> = query_scalar(
            "SELECT tag FROM image_tags WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ? \
             ORDER BY tag",
        )
        .bind_image(scope, repository, digest)
        .fetch_all(&mut *tx)
        .await?;
        let done = query(
            "DELETE FROM manifests WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ?",
        )
        .bind_image(scope, repository, digest)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::ImageNotFound);
        }
        tx.commit().await?;
        Ok(tags)
    }

    async fn delete_tag(
        &self, scope: &RegistryScope, repository: &str, tag: &Tag,
    ) -> Result<Digest, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let digest: Option<String> = query_scalar(
            "DELETE FROM image_tags WHERE registry_id = ? AND region = ? AND repository = ? AND tag = ? \
             RETURNING digest",
        )
        .bind_scope(scope)
        .bind(repository)
        .bind(tag.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let digest = digest.ok_or(RegistryError::ImageNotFound)?;
        query(
            "DELETE FROM manifests WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ? \
             AND NOT EXISTS (SELECT 1 FROM image_tags t WHERE t.registry_id = manifests.registry_id \
               AND t.region = manifests.region AND t.repository = manifests.repository AND t.digest = manifests.digest) \
             AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.registry_id = manifests.registry_id \
               AND r.region = manifests.region AND r.repository = manifests.repository \
               AND r.child = manifests.digest AND r.kind = 'manifest')",
        )
        .bind_scope(scope)
        .bind(repository)
        .bind(&digest)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Digest::parse(&digest)
            .map_err(|_| RegistryError::Internal("stored tag has an invalid digest".into()))
    }
}

/// Every referenced blob linked, every child manifest present; else the ECR message.
async fn check_references(
    tx: &mut Transaction<'_, Any>, scope: &RegistryScope, repository: &str,
    references: &ManifestReferences,
) -> Result<(), RegistryError> {
    let blobs = if references.blobs_fetched_later {
        Vec::new()
    } else {
        missing(tx, "repository_blobs", scope, repository, &references.blobs).await?
    };
    if !blobs.is_empty() {
        return Err(RegistryError::LayersNotFound {
            digests: blobs,
            repository: repository.to_string(),
            registry: scope.registry_id.clone(),
        });
    }
    let manifests = missing(tx, "manifests", scope, repository, &references.manifests).await?;
    if !manifests.is_empty() {
        return Err(RegistryError::ReferencedImagesNotFound {
            digests: manifests,
            repository: repository.to_string(),
            registry: scope.registry_id.clone(),
        });
    }
    Ok(())
}

/// The digests (each once, in order) that `table` lacks for the repository.
async fn missing(
    tx: &mut Transaction<'_, Any>, table: &str, scope: &RegistryScope, repository: &str,
    digests: &[Digest],
) -> Result<Vec<String>, RegistryError> {
    let query = format!(
        "SELECT 1 FROM {table} WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ?"
    );
    let mut absent: Vec<String> = Vec::new();
    for digest in digests {
        let found: Option<i64> = query_scalar(&query)
            .bind_image(scope, repository, digest)
            .fetch_optional(&mut **tx)
            .await?;
        if found.is_none() && !absent.iter().any(|a| a == digest.as_str()) {
            absent.push(digest.to_string());
        }
    }
    Ok(absent)
}
