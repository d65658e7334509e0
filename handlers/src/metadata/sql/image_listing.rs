//! DescribeImages and ListImages pages, read in SQL: one query per page, tags joined,
//! no manifest bodies.

use super::manifests::image_storage;
use super::query;
use super::{BindScope, SqlMetadataStore};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{ImageFilter, ImageListing, ImageSummary, TagFilter};
use crate::scope::RegistryScope;
use berth_generated::ecr::ImageStatus;
use sqlx::Row;

/// `m` has at least one tag.
const HAS_TAGS: &str = "EXISTS (SELECT 1 FROM image_tags t WHERE t.registry_id = m.registry_id \
     AND t.region = m.region AND t.repository = m.repository AND t.digest = m.digest)";

/// The SQL condition on `m` that keeps what `filter` keeps, with the number of `now`
/// parameters it binds.
fn condition(filter: &ImageFilter) -> (String, usize) {
    let tags = match filter.tags {
        TagFilter::Any => String::new(),
        TagFilter::Tagged => format!(" AND {HAS_TAGS}"),
        TagFilter::Untagged => format!(" AND NOT {HAS_TAGS}"),
    };
    let (status, nows) = match filter.status {
        None => ("", 0),
        Some(ImageStatus::Archived) => (" AND m.archived = 1", 0),
        Some(ImageStatus::Activating) => (" AND m.archived = 0 AND m.last_activated_at > ?", 1),
        Some(ImageStatus::Active) => {
            (" AND m.archived = 0 AND (m.last_activated_at IS NULL OR m.last_activated_at <= ?)", 1)
        }
    };
    (format!("{tags}{status}"), nows)
}

impl SqlMetadataStore {
    /// Up to `limit` images whose digest is after `key` (or, with `exact`, is `key`), kept
    /// by `filter`, with their tags, in digest order.
    async fn summaries(
        &self, scope: &RegistryScope, repository: &str, key: &str, exact: bool,
        filter: ImageFilter, limit: u32,
    ) -> Result<Vec<ImageSummary>, RegistryError> {
        let (keep, nows) = condition(&filter);
        let by_key = if exact { "=" } else { ">" };
        let sql = format!(
            "SELECT p.digest, p.media_type, p.config_media_type, p.subject_digest, p.image_size, \
             p.pushed_at, p.last_pulled_at, p.archived, p.last_archived_at, p.last_activated_at, \
             t.tag FROM \
             (SELECT m.registry_id, m.region, m.repository, m.digest, m.media_type, \
              m.config_media_type, m.subject_digest, m.image_size, m.pushed_at, m.last_pulled_at, \
              m.archived, m.last_archived_at, m.last_activated_at \
              FROM manifests m WHERE m.registry_id = ? AND m.region = ? AND m.repository = ? \
              AND m.digest {by_key} ?{keep} ORDER BY m.digest LIMIT ?) p \
             LEFT JOIN image_tags t ON t.registry_id = p.registry_id AND t.region = p.region \
             AND t.repository = p.repository AND t.digest = p.digest \
             ORDER BY p.digest, t.tag"
        );
        let mut query = query(&sql).bind_scope(scope).bind(repository).bind(key);
        for _ in 0..nows {
            query = query.bind(filter.now);
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        let mut images: Vec<ImageSummary> = Vec::new();
        for row in rows {
            let digest: String = row.try_get("digest")?;
            let tag: Option<String> = row.try_get("tag")?;
            if images.last().is_none_or(|i| i.digest.as_str() != digest) {
                let size: i64 = row.try_get("image_size")?;
                images.push(ImageSummary {
                    digest: super::columns::digest(&row, "digest")?,
                    media_type: row.try_get("media_type")?,
                    config_media_type: row.try_get("config_media_type")?,
                    subject: super::columns::optional_digest(&row, "subject_digest")?,
                    image_size: size as u64,
                    pushed_at: row.try_get("pushed_at")?,
                    last_pulled_at: row.try_get("last_pulled_at")?,
                    storage: image_storage(&row)?,
                    tags: Vec::new(),
                });
            }
            if let (Some(tag), Some(image)) = (tag, images.last_mut()) {
                image.tags.push(tag);
            }
        }
        Ok(images)
    }
}

impl ImageListing for SqlMetadataStore {
    async fn image_page(
        &self, scope: &RegistryScope, repository: &str, after: &str, filter: ImageFilter,
        limit: u32,
    ) -> Result<Vec<ImageSummary>, RegistryError> {
        self.summaries(scope, repository, after, false, filter, limit).await
    }

    async fn image(
        &self, scope: &RegistryScope, repository: &str, digest: &Digest,
    ) -> Result<Option<ImageSummary>, RegistryError> {
        let found =
            self.summaries(scope, repository, digest.as_str(), true, ImageFilter::all(), 1).await?;
        Ok(found.into_iter().next())
    }

    async fn image_id_page(
        &self, scope: &RegistryScope, repository: &str, after: (&str, &str), filter: ImageFilter,
        limit: u32,
    ) -> Result<Vec<(String, Option<String>)>, RegistryError> {
        let (status, nows) = condition(&ImageFilter { tags: TagFilter::Any, ..filter });
        let tagged = format!(
            "SELECT t.digest AS digest, t.tag AS tag FROM image_tags t JOIN manifests m \
             ON m.registry_id = t.registry_id AND m.region = t.region \
             AND m.repository = t.repository AND m.digest = t.digest \
             WHERE t.registry_id = ? AND t.region = ? AND t.repository = ?{status}"
        );
        let untagged = format!(
            "SELECT m.digest AS digest, '' AS tag FROM manifests m \
             WHERE m.registry_id = ? AND m.region = ? AND m.repository = ? AND NOT {HAS_TAGS}{status}"
        );
        let (ids, scopes) = match filter.tags {
            TagFilter::Any => (format!("{tagged} UNION ALL {untagged}"), 2),
            TagFilter::Tagged => (tagged, 1),
            TagFilter::Untagged => (untagged, 1),
        };
        let sql = format!(
            "SELECT digest, tag FROM ({ids}) ids WHERE digest > ? OR (digest = ? AND tag > ?) \
             ORDER BY digest, tag LIMIT ?"
        );
        let mut query = query(&sql);
        for _ in 0..scopes {
            query = query.bind_scope(scope).bind(repository);
            for _ in 0..nows {
                query = query.bind(filter.now);
            }
        }
        let rows = query
            .bind(after.0)
            .bind(after.0)
            .bind(after.1)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let digest: String = row.try_get("digest")?;
                let tag: String = row.try_get("tag")?;
                Ok((digest, (!tag.is_empty()).then_some(tag)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::*;
    use crate::metadata::{ManifestReferences, StoredManifest};
    use crate::reference::Tag;
    use crate::test_fixtures::{repository, scope};

    fn image(n: u32) -> StoredManifest {
        let body = format!(r#"{{"schemaVersion":2,"n":{n}}}"#);
        StoredManifest {
            digest: Digest::of(body.as_bytes()),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            artifact_type: None,
            config_media_type: n
                .is_multiple_of(2)
                .then(|| "application/vnd.oci.image.config.v1+json".into()),
            subject: None,
            annotations: None,
            body: body.into_bytes(),
            image_size: u64::from(n),
            pushed_at: f64::from(n),
            last_pulled_at: None,
            storage: Default::default(),
        }
    }

    /// Seven images: image n carries n % 3 tags (`t<n>a`, `t<n>b`).
    async fn store(
        dir: &std::path::Path,
    ) -> (SqlMetadataStore, Vec<(StoredManifest, Vec<String>)>) {
        let store = SqlMetadataStore::open(dir).await.unwrap();
        store.create_repository(&scope(), &repository("app", 1.0), &[], &[]).await.unwrap();
        let refs = ManifestReferences::default();
        let mut all = Vec::new();
        for n in 0..7 {
            let m = image(n);
            let tags: Vec<String> =
                ["a", "b"].iter().take((n % 3) as usize).map(|s| format!("t{n}{s}")).collect();
            store.put_manifest(&scope(), "app", &m, &refs, None, &[]).await.unwrap();
            for tag in &tags {
                let tag = Tag::parse(tag).unwrap();
                store.put_manifest(&scope(), "app", &m, &refs, Some(&tag), &[]).await.unwrap();
            }
            all.push((m, tags));
        }
        all.sort_by(|a, b| a.0.digest.cmp(&b.0.digest));
        (store, all)
    }

    /// Images of every status with these tags.
    fn any_status(tags: TagFilter) -> ImageFilter {
        ImageFilter { tags, ..ImageFilter::all() }
    }

    fn keeps(filter: TagFilter, tags: &[String]) -> bool {
        match filter {
            TagFilter::Any => true,
            TagFilter::Tagged => !tags.is_empty(),
            TagFilter::Untagged => tags.is_empty(),
        }
    }

    #[tokio::test]
    async fn image_pages_in_twos_are_the_filtered_images_in_digest_order() {
        let dir = tempfile::tempdir().unwrap();
        let (store, all) = store(dir.path()).await;
        for filter in [TagFilter::Any, TagFilter::Tagged, TagFilter::Untagged] {
            let expected: Vec<(String, Vec<String>, Option<String>)> = all
                .iter()
                .filter(|(_, tags)| keeps(filter, tags))
                .map(|(m, tags)| (m.digest.to_string(), tags.clone(), m.config_media_type.clone()))
                .collect();
            let mut got = Vec::new();
            let mut after = String::new();
            loop {
                let page =
                    store.image_page(&scope(), "app", &after, any_status(filter), 2).await.unwrap();
                assert!(page.len() <= 2);
                let Some(last) = page.last() else { break };
                after = last.digest.to_string();
                got.extend(
                    page.into_iter().map(|i| (i.digest.to_string(), i.tags, i.config_media_type)),
                );
            }
            assert_eq!(got, expected, "{filter:?}");
        }
    }

    #[tokio::test]
    async fn image_id_pages_in_twos_list_each_tag_and_each_untagged_image() {
        let dir = tempfile::tempdir().unwrap();
        let (store, all) = store(dir.path()).await;
        for filter in [TagFilter::Any, TagFilter::Tagged, TagFilter::Untagged] {
            let mut expected: Vec<(String, Option<String>)> = Vec::new();
            for (m, tags) in all.iter().filter(|(_, tags)| keeps(filter, tags)) {
                if tags.is_empty() {
                    expected.push((m.digest.to_string(), None));
                }
                expected.extend(tags.iter().map(|t| (m.digest.to_string(), Some(t.clone()))));
            }
            let mut got: Vec<(String, Option<String>)> = Vec::new();
            loop {
                let after = got
                    .last()
                    .map(|(d, t)| (d.clone(), t.clone().unwrap_or_default()))
                    .unwrap_or_default();
                let page = store
                    .image_id_page(&scope(), "app", (&after.0, &after.1), any_status(filter), 2)
                    .await
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                got.extend(page);
            }
            assert_eq!(got, expected, "{filter:?}");
        }
    }

    #[tokio::test]
    async fn the_image_status_filter_keeps_archived_activating_and_active_images_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (store, all) = store(dir.path()).await;
        let digest = |i: usize| all[i].0.digest.clone();
        // Image 0 archived at 10; image 1 archived, then restoring until 100.
        for (i, activated) in [(0, None), (1, Some(100.0))] {
            store
                .update_image_storage(&scope(), "app", &digest(i), |s| {
                    s.archived = activated.is_none();
                    s.last_archived_at = Some(10.0);
                    s.last_activated_at = activated;
                    Ok(())
                })
                .await
                .unwrap();
        }
        let listed = |status: Option<ImageStatus>, now: f64| {
            let store = &store;
            async move {
                let filter = ImageFilter { tags: TagFilter::Any, status, now };
                let images = store.image_page(&scope(), "app", "", filter, 100).await.unwrap();
                let ids =
                    store.image_id_page(&scope(), "app", ("", ""), filter, 100).await.unwrap();
                let mut from_ids: Vec<String> = ids.into_iter().map(|(d, _)| d).collect();
                from_ids.dedup();
                let digests: Vec<String> = images.iter().map(|i| i.digest.to_string()).collect();
                assert_eq!(digests, from_ids, "{status:?} at {now}");
                digests
            }
        };
        let rest: Vec<String> = (2..all.len()).map(|i| digest(i).to_string()).collect();
        let one = |i: usize| vec![digest(i).to_string()];
        assert_eq!(listed(Some(ImageStatus::Archived), 50.0).await, one(0));
        assert_eq!(listed(Some(ImageStatus::Activating), 50.0).await, one(1));
        assert_eq!(listed(Some(ImageStatus::Active), 50.0).await, rest);
        assert!(listed(Some(ImageStatus::Activating), 100.0).await.is_empty());
        let mut active = one(1);
        active.extend(rest.clone());
        assert_eq!(listed(Some(ImageStatus::Active), 100.0).await, active);
        assert_eq!(listed(None, 50.0).await.len(), all.len());
        let archived = store.image_page(&scope(), "app", "", ImageFilter::all(), 1).await.unwrap();
        assert!(archived[0].storage.archived);
        assert_eq!(archived[0].storage.last_archived_at, Some(10.0));
    }
}
