//! Repositories, their resource tags and their policies.

use super::{query, query_as, query_scalar};
use super::{BindScope, SqlMetadataStore};
use crate::error::RegistryError;
use crate::metadata::{RepositoryDocument, RepositoryRecord, RepositoryStore, RepositoryTag};
use crate::scope::RegistryScope;
use berth_generated::ecr::{EncryptionType, ImageTagMutability, ImageTagMutabilityExclusionFilter};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::Any;
use sqlx::Row;

const COLUMNS: &str = "name, created_at, image_tag_mutability, mutability_exclusion_filters, \
                       scan_on_push, encryption_type, kms_key";

fn record(row: &AnyRow) -> Result<RepositoryRecord, RegistryError> {
    let corrupt =
        |what: &str| RegistryError::Internal(format!("stored repository has an invalid {what}"));
    let mutability: String = row.try_get("image_tag_mutability")?;
    let encryption: String = row.try_get("encryption_type")?;
    let filters: String = row.try_get("mutability_exclusion_filters")?;
    Ok(RepositoryRecord {
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        image_tag_mutability: ImageTagMutability::from_wire(&mutability)
            .ok_or_else(|| corrupt("imageTagMutability"))?,
        exclusion_filters: serde_json::from_str(&filters)
            .map_err(|_| corrupt("exclusion filter list"))?,
        // A 0/1 integer on both databases.
        scan_on_push: row.try_get::<i64, _>("scan_on_push")? != 0,
        encryption_type: EncryptionType::from_wire(&encryption)
            .ok_or_else(|| corrupt("encryptionType"))?,
        kms_key: row.try_get("kms_key")?,
    })
}

fn not_found(scope: &RegistryScope, name: &str) -> RegistryError {
    RegistryError::RepositoryNotFound {
        name: name.to_string(),
        registry: scope.registry_id.clone(),
    }
}

/// RepositoryNotFound unless the repository exists (inside a write transaction).
async fn require_repository(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>, scope: &RegistryScope, name: &str,
) -> Result<(), RegistryError> {
    let exists: Option<i64> = query_scalar(
        "SELECT 1 FROM repositories WHERE registry_id = ? AND region = ? AND name = ?",
    )
    .bind_scope(scope)
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    match exists {
        Some(_) => Ok(()),
        None => Err(not_found(scope, name)),
    }
}

/// The column that holds a repository document.
fn document_column(kind: RepositoryDocument) -> &'static str {
    match kind {
        RepositoryDocument::Policy => "policy_text",
        RepositoryDocument::LifecyclePolicy => "lifecycle_policy",
        RepositoryDocument::LifecyclePreview => "lifecycle_preview",
    }
}

fn encode_filters(filters: &[ImageTagMutabilityExclusionFilter]) -> Result<String, RegistryError> {
    serde_json::to_string(filters)
        .map_err(|e| RegistryError::Internal(format!("encode filters: {e}")))
}

impl SqlMetadataStore {
    /// Runs an UPDATE of one repository's row; RepositoryNotFound when it matched none.
    async fn update_repository<'q>(
        &self, scope: &RegistryScope, name: &str, update: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        if update.execute(&self.pool).await?.rows_affected() == 0 {
            return Err(not_found(scope, name));
        }
        Ok(())
    }
}

impl RepositoryStore for SqlMetadataStore {
    async fn create_repository(
        &self, scope: &RegistryScope, repo: &RepositoryRecord, tags: &[RepositoryTag],
        documents: &[(RepositoryDocument, String)],
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let inserted = query(
            "INSERT INTO repositories (registry_id, region, name, created_at, image_tag_mutability, \
             mutability_exclusion_filters, scan_on_push, encryption_type, kms_key) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind_scope(scope)
        .bind(&repo.name)
        .bind(repo.created_at)
        .bind(repo.image_tag_mutability.as_str())
        .bind(encode_filters(&repo.exclusion_filters)?)
        .bind(i64::from(repo.scan_on_push))
        .bind(repo.encryption_type.as_str())
        .bind(&repo.kms_key)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(RegistryError::RepositoryAlreadyExists {
                name: repo.name.clone(),
                registry: scope.registry_id.clone(),
            });
        }
        for (key, value) in tags {
            query(
                "INSERT INTO repository_tags (registry_id, region, name, tag_key, tag_value) VALUES (?, ?, ?, ?, ?)",
            )
            .bind_scope(scope)
            .bind(&repo.name)
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        for (kind, text) in documents {
            let column = document_column(*kind);
            query(&format!(
                "UPDATE repositories SET {column} = ? WHERE registry_id = ? AND region = ? AND name = ?"
            ))
            .bind(text)
            .bind_scope(scope)
            .bind(&repo.name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn repository(
        &self, scope: &RegistryScope, name: &str,
    ) -> Result<RepositoryRecord, RegistryError> {
        let row = query(&format!(
            "SELECT {COLUMNS} FROM repositories WHERE registry_id = ? AND region = ? AND name = ?"
        ))
        .bind_scope(scope)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => record(&row),
            None => Err(not_found(scope, name)),
        }
    }

    async fn list_repositories(
        &self, scope: &RegistryScope, after: Option<&str>, limit: u32,
    ) -> Result<Vec<RepositoryRecord>, RegistryError> {
        let rows = query(&format!(
            "SELECT {COLUMNS} FROM repositories WHERE registry_id = ? AND region = ? AND name > ? \
             ORDER BY name LIMIT ?"
        ))
        .bind_scope(scope)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record).collect()
    }

    async fn delete_repository(
        &self, scope: &RegistryScope, name: &str, force: bool,
    ) -> Result<RepositoryRecord, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let row = query(&format!(
            "SELECT {COLUMNS} FROM repositories WHERE registry_id = ? AND region = ? AND name = ?"
        ))
        .bind_scope(scope)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let repo = match row {
            Some(row) => record(&row)?,
            None => return Err(not_found(scope, name)),
        };
        let images: i64 = query_scalar(
            "SELECT COUNT(*) FROM manifests WHERE registry_id = ? AND region = ? AND repository = ?",
        )
        .bind_scope(scope)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        if images > 0 && !force {
            return Err(RegistryError::RepositoryNotEmpty {
                name: name.to_string(),
                registry: scope.registry_id.clone(),
            });
        }
        query("DELETE FROM repositories WHERE registry_id = ? AND region = ? AND name = ?")
            .bind_scope(scope)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(repo)
    }

    async fn set_tag_mutability(
        &self, scope: &RegistryScope, name: &str, mutability: ImageTagMutability,
        filters: &[ImageTagMutabilityExclusionFilter],
    ) -> Result<(), RegistryError> {
        let update = query(
            "UPDATE repositories SET image_tag_mutability = ?, mutability_exclusion_filters = ? \
             WHERE registry_id = ? AND region = ? AND name = ?",
        )
        .bind(mutability.as_str())
        .bind(encode_filters(filters)?)
        .bind_scope(scope)
        .bind(name);
        self.update_repository(scope, name, update).await
    }

    async fn set_scan_on_push(
        &self, scope: &RegistryScope, name: &str, scan: bool,
    ) -> Result<(), RegistryError> {
        let update = query(
            "UPDATE repositories SET scan_on_push = ? WHERE registry_id = ? AND region = ? AND name = ?",
        )
        .bind(i64::from(scan))
        .bind_scope(scope)
        .bind(name);
        self.update_repository(scope, name, update).await
    }

    async fn document(
        &self, scope: &RegistryScope, name: &str, kind: RepositoryDocument,
    ) -> Result<Option<String>, RegistryError> {
        let column = document_column(kind);
        let row: Option<(Option<String>,)> = query_as(&format!(
            "SELECT {column} FROM repositories WHERE registry_id = ? AND region = ? AND name = ?"
        ))
        .bind_scope(scope)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(text,)| text).ok_or_else(|| not_found(scope, name))
    }

    async fn set_document(
        &self, scope: &RegistryScope, name: &str, kind: RepositoryDocument, text: Option<&str>,
    ) -> Result<Option<String>, RegistryError> {
        let column = document_column(kind);
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let row: Option<(Option<String>,)> = query_as(&format!(
            "SELECT {column} FROM repositories WHERE registry_id = ? AND region = ? AND name = ?"
        ))
        .bind_scope(scope)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((previous,)) = row else {
            return Err(not_found(scope, name));
        };
        query(&format!(
            "UPDATE repositories SET {column} = ? WHERE registry_id = ? AND region = ? AND name = ?"
        ))
        .bind(text)
        .bind_scope(scope)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(previous)
    }

    async fn lifecycle_policies(
        &self,
    ) -> Result<Vec<(RegistryScope, String, String)>, RegistryError> {
        let rows: Vec<(String, String, String, String)> = query_as(
            "SELECT registry_id, region, name, lifecycle_policy FROM repositories \
             WHERE lifecycle_policy IS NOT NULL ORDER BY registry_id, region, name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(registry_id, region, name, policy)| {
                (RegistryScope { registry_id, region }, name, policy)
            })
            .collect())
    }

    async fn lifecycle_evaluated_at(
        &self, scope: &RegistryScope, name: &str,
    ) -> Result<Option<f64>, RegistryError> {
        let row: Option<(Option<f64>,)> = query_as(
            "SELECT lifecycle_evaluated_at FROM repositories WHERE registry_id = ? AND region = ? AND name = ?",
        )
        .bind_scope(scope)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(at,)| at).ok_or_else(|| not_found(scope, name))
    }

    async fn set_lifecycle_evaluated_at(
        &self, scope: &RegistryScope, name: &str, at: f64,
    ) -> Result<(), RegistryError> {
        let update = query(
            "UPDATE repositories SET lifecycle_evaluated_at = ? WHERE registry_id = ? AND region = ? AND name = ?",
        )
        .bind(at)
        .bind_scope(scope)
        .bind(name);
        self.update_repository(scope, name, update).await
    }

    async fn tags(
        &self, scope: &RegistryScope, name: &str,
    ) -> Result<Vec<RepositoryTag>, RegistryError> {
        self.repository(scope, name).await?;
        let rows = query_as(
            "SELECT tag_key, tag_value FROM repository_tags WHERE registry_id = ? AND region = ? AND name = ? \
             ORDER BY tag_key",
        )
        .bind_scope(scope)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn tag_repository(
        &self, scope: &RegistryScope, name: &str, tags: &[RepositoryTag], limit: usize,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        require_repository(&mut tx, scope, name).await?;
        for (key, value) in tags {
            query(
                "INSERT INTO repository_tags (registry_id, region, name, tag_key, tag_value) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (registry_id, region, name, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            )
            .bind_scope(scope)
            .bind(name)
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        let count: i64 = query_scalar(
            "SELECT COUNT(*) FROM repository_tags WHERE registry_id = ? AND region = ? AND name = ?",
        )
        .bind_scope(scope)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        if count > limit as i64 {
            // Dropping the transaction rolls the inserts back.
            return Err(RegistryError::TooManyTags(format!(
                "Tag limit exceeded: the resource would have {count} tags, and at most {limit} are allowed"
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn untag_repository(
        &self, scope: &RegistryScope, name: &str, keys: &[String],
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        require_repository(&mut tx, scope, name).await?;
        for key in keys {
            query(
                "DELETE FROM repository_tags WHERE registry_id = ? AND region = ? AND name = ? AND tag_key = ?",
            )
            .bind_scope(scope)
            .bind(name)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::*;

    use crate::test_fixtures::scope;

    fn repo(name: &str) -> RepositoryRecord {
        crate::test_fixtures::repository(name, 1.5)
    }

    #[tokio::test]
    async fn repository_life_cycle_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlMetadataStore::open(dir.path()).await.unwrap();
        let s = scope();
        store.create_repository(&s, &repo("a"), &[("k".into(), "v".into())], &[]).await.unwrap();
        assert!(matches!(
            store.create_repository(&s, &repo("a"), &[], &[]).await,
            Err(RegistryError::RepositoryAlreadyExists { .. })
        ));
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        let image = crate::metadata::StoredManifest {
            digest: crate::digest::Digest::of(body),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            artifact_type: None,
            config_media_type: None,
            subject: None,
            annotations: None,
            body: body.to_vec(),
            image_size: 0,
            pushed_at: 1.0,
            last_pulled_at: None,
            storage: Default::default(),
        };
        let refs = crate::metadata::ManifestReferences::default();
        store.put_manifest(&s, "a", &image, &refs, None, &[]).await.unwrap();
        assert!(matches!(
            store.delete_repository(&s, "a", false).await,
            Err(RegistryError::RepositoryNotEmpty { .. })
        ));
        store.close().await;

        let store = SqlMetadataStore::open(dir.path()).await.unwrap();
        assert_eq!(store.repository(&s, "a").await.unwrap(), repo("a"));
        assert_eq!(store.tags(&s, "a").await.unwrap(), vec![("k".to_string(), "v".to_string())]);
        store.delete_repository(&s, "a", true).await.unwrap();
        assert!(matches!(
            store.repository(&s, "a").await,
            Err(RegistryError::RepositoryNotFound { .. })
        ));
    }

    #[tokio::test]
    async fn too_many_tags_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlMetadataStore::open(dir.path()).await.unwrap();
        let s = scope();
        store.create_repository(&s, &repo("a"), &[], &[]).await.unwrap();
        let tags: Vec<RepositoryTag> = (0..3).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(matches!(
            store.tag_repository(&s, "a", &tags, 2).await,
            Err(RegistryError::TooManyTags(_))
        ));
        assert!(store.tags(&s, "a").await.unwrap().is_empty());
    }
}
