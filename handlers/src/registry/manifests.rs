//! Pushing, reading and deleting manifests; tags; referrers.

use super::replication::Deletion;
use super::Registry;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{parse_manifest, ManifestKind, ParsedManifest};
use crate::metadata::{ImageStorage, MetadataStore, StoredManifest};
use crate::reference::{Reference, RepositoryName, Tag};
use crate::scope::RegistryScope;
use berth_generated::oci::media_types::{DOCKER_CONTAINER_CONFIG, OCI_IMAGE_CONFIG};

/// What a push stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedManifest {
    pub digest: Digest,
    pub media_type: String,
    pub subject: Option<Digest>,
    /// Where the tag pointed before, if it existed.
    pub previous: Option<Digest>,
}

/// One entry of the referrers API.
#[derive(Debug, Clone, PartialEq)]
pub struct Referrer {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub artifact_type: Option<String>,
    /// JSON object text.
    pub annotations: Option<String>,
}

impl<M: MetadataStore> Registry<M> {
    /// Stores manifest bytes, optionally under a tag. `expected` is the digest the client
    /// named (PUT by digest, PutImage imageDigest); it must be the digest of the bytes.
    pub async fn push_manifest(
        &self, scope: &RegistryScope, repository: &RepositoryName, tag: Option<&Tag>,
        expected: Option<&Digest>, content_type: Option<&str>, body: Vec<u8>,
    ) -> Result<PushedManifest, RegistryError> {
        self.repository_for_push(scope, repository).await?;
        let parsed = parse_manifest(&body, content_type)?;
        // Container images are scanned and signed; artifacts (signatures, SBOMs) and
        // indexes are not.
        let image = parsed.kind == ManifestKind::Image
            && matches!(
                parsed.config_media_type.as_deref(),
                Some(OCI_IMAGE_CONFIG | DOCKER_CONTAINER_CONFIG)
            );
        let pushed = self.store_manifest(scope, repository, tag, expected, parsed, body).await?;
        if image {
            self.scan_on_push(scope, repository, &pushed.digest).await?;
            self.sign_on_push(scope, repository, &pushed.digest).await?;
        }
        Ok(pushed)
    }

    /// Stores a parsed manifest in an existing repository (see [`Registry::push_manifest`]).
    pub(super) async fn store_manifest(
        &self, scope: &RegistryScope, repository: &RepositoryName, tag: Option<&Tag>,
        expected: Option<&Digest>, parsed: ParsedManifest, body: Vec<u8>,
    ) -> Result<PushedManifest, RegistryError> {
        // By the digest the client named (sha256 or sha512), else sha256.
        let digest = match expected {
            Some(expected) => Digest::of_with(expected.algorithm(), &body),
            None => Digest::of(&body),
        };
        if let Some(expected) = expected.filter(|e| **e != digest) {
            return Err(RegistryError::DigestInvalid(format!(
                "The manifest digest is {digest}, not the {expected} given"
            )));
        }
        let image_size = match parsed.kind {
            ManifestKind::Image => parsed.size,
            ManifestKind::Index => {
                let mut largest = 0;
                for child in &parsed.references.manifests {
                    if let Some(m) = self.store.manifest(scope, repository.as_str(), child).await? {
                        largest = largest.max(m.image_size);
                    }
                }
                largest
            }
        };
        let stored = StoredManifest {
            digest: digest.clone(),
            media_type: parsed.media_type.clone(),
            artifact_type: parsed.artifact_type.clone(),
            config_media_type: parsed.config_media_type.clone(),
            subject: parsed.subject.clone(),
            annotations: parsed.annotations.clone(),
            body,
            image_size,
            pushed_at: self.clock.now(),
            last_pulled_at: None,
            storage: ImageStorage::default(),
        };
        let replications = self.replication_tasks(scope, repository, &digest).await?;
        let outcome = self
            .store
            .put_manifest(
                scope,
                repository.as_str(),
                &stored,
                &parsed.references,
                tag,
                &replications,
            )
            .await?;
        Ok(PushedManifest {
            digest,
            media_type: parsed.media_type,
            subject: parsed.subject,
            previous: outcome.previous,
        })
    }

    /// The manifest a tag or digest names, to be pulled; ImageNotFound when there is none
    /// or it is archived or still being restored (ECR answers a pull of those with 404).
    pub async fn manifest(
        &self, scope: &RegistryScope, repository: &RepositoryName, reference: &Reference,
    ) -> Result<StoredManifest, RegistryError> {
        self.repository(scope, repository).await?;
        self.find_manifest(scope, repository, reference)
            .await?
            .filter(|m| self.is_pullable(&m.storage))
            .ok_or(RegistryError::ImageNotFound)
    }

    /// The manifest a tag or digest names, if any; the caller has checked the repository.
    pub async fn find_manifest(
        &self, scope: &RegistryScope, repository: &RepositoryName, reference: &Reference,
    ) -> Result<Option<StoredManifest>, RegistryError> {
        let name = repository.as_str();
        match reference {
            Reference::Tag(tag) => self.store.tagged_manifest(scope, name, tag).await,
            Reference::Digest(digest) => self.store.manifest(scope, name, digest).await,
        }
    }

    /// The tags of one image, sorted.
    pub async fn image_tags(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
    ) -> Result<Vec<String>, RegistryError> {
        self.store.tags_of(scope, repository.as_str(), digest).await
    }

    /// Records a pull of the manifest now by `principal` (an IAM ARN); a principal on the
    /// registry's pull-time exclusion list leaves the pull time as it was. Bookkeeping
    /// only: when it cannot be written (a full disk) the pull still succeeds, with a warning.
    pub async fn record_pull(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest, principal: &str,
    ) {
        let now = self.clock.now();
        let recorded =
            self.store.record_pull(scope, repository.as_str(), digest, principal, now).await;
        if let Err(e) = recorded {
            tracing::warn!(%digest, %repository, "cannot record the pull time: {e}");
        }
    }

    /// Deletes by digest (the image and all its tags) or by tag (the tag, and the image
    /// when it was its last tag). Returns the digest concerned.
    pub async fn delete_manifest(
        &self, scope: &RegistryScope, repository: &RepositoryName, reference: &Reference,
    ) -> Result<Digest, RegistryError> {
        self.repository(scope, repository).await?;
        match reference {
            Reference::Tag(tag) => self.delete_tag(scope, repository, tag).await,
            Reference::Digest(digest) => {
                self.delete_image(scope, repository, digest).await?;
                Ok(digest.clone())
            }
        }
    }

    /// Removes a tag (and its image when it was the last tag); returns the image's digest.
    pub async fn delete_tag(
        &self, scope: &RegistryScope, repository: &RepositoryName, tag: &Tag,
    ) -> Result<Digest, RegistryError> {
        let digest = self.store.delete_tag(scope, repository.as_str(), tag).await?;
        self.replicate_delete(scope, repository, Deletion::Tag(tag)).await?;
        Ok(digest)
    }

    /// Removes an image with all its tags; returns the tags it had.
    pub async fn delete_image(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
    ) -> Result<Vec<String>, RegistryError> {
        let tags = self.store.delete_manifest(scope, repository.as_str(), digest).await?;
        self.replicate_delete(scope, repository, Deletion::Image(digest)).await?;
        Ok(tags)
    }

    /// Up to `limit` tags after `last`, and whether more follow.
    pub async fn tags(
        &self, scope: &RegistryScope, repository: &RepositoryName, last: Option<&str>, limit: u32,
    ) -> Result<(Vec<String>, bool), RegistryError> {
        self.repository(scope, repository).await?;
        let mut tags =
            self.store.list_tags(scope, repository.as_str(), last, limit.saturating_add(1)).await?;
        let more = tags.len() > limit as usize;
        tags.truncate(limit as usize);
        Ok((tags, more))
    }

    /// Manifests whose subject is `subject`, optionally only of one artifact type.
    pub async fn referrers(
        &self, scope: &RegistryScope, repository: &RepositoryName, subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, RegistryError> {
        self.repository(scope, repository).await?;
        let manifests = self.store.referrers(scope, repository.as_str(), subject).await?;
        // The OCI spec: a referrer without `artifactType` is of its config's media type
        // (a plain image's too), both in the list and for the filter.
        Ok(manifests
            .into_iter()
            .map(|m| Referrer {
                media_type: m.media_type,
                size: m.body.len() as u64,
                digest: m.digest,
                artifact_type: m.artifact_type.or(m.config_media_type),
                annotations: m.annotations,
            })
            .filter(|r| artifact_type.is_none() || r.artifact_type.as_deref() == artifact_type)
            .collect())
    }
}
