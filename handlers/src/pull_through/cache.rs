//! The pull-through cache: a pull under a rule's prefix that the store cannot answer is
//! answered from upstream and kept. Manifests (an index with all its children) are
//! fetched, digest-checked and stored in a repository created on the first pull; blobs are
//! fetched when first pulled, streamed to the client while stored (see `blob_fetch`).
//! A cached tag is compared with upstream at most once per refresh interval; a digest
//! never is. When upstream fails, a cached copy is served.

use super::blob_fetch::{self, BlobFetches, Destination, Turn};
use super::upstream::{Upstream, UpstreamClient, UpstreamError};
use super::{ecr_host_registry, upstream_repository};
use crate::blob_store::ByteStream;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{parse_manifest, MAX_MANIFEST_BYTES};
use crate::metadata::StoredManifest;
use crate::reference::{Reference, RepositoryName, Tag};
use crate::registry::Registry;
use crate::scope::{PrincipalArn, RegistryScope};
use crate::secrets::SecretStore;
use berth_generated::oci::media_types::*;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::Method;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a cached tag is served before upstream is asked again (ECR: 24 hours).
pub const DEFAULT_TAG_REFRESH_SECS: u64 = 24 * 3600;

/// Index depth fetched below a pulled manifest (an index's children; no deeper nesting).
const MAX_DEPTH: usize = 2;

/// The manifest types asked of upstream: ECR's four.
const ACCEPT: [&str; 4] =
    [OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST, DOCKER_MANIFEST_LIST_V2, DOCKER_MANIFEST_V2];

/// Pulls through to upstream registries; shared by both faces.
#[derive(Debug)]
pub struct PullThroughCache {
    registry: Arc<Registry>,
    upstream: UpstreamClient,
    secrets: SecretStore,
    /// Seconds a cached tag is served before upstream is asked again.
    tag_refresh: f64,
    /// When each cached tag was last compared with upstream (berth's clock). A tag not here
    /// counts from its image's push time, so that a restart does not re-check every tag.
    checked: Mutex<HashMap<TagKey, f64>>,
    fetches: Arc<BlobFetches>,
}

/// Registry, region, repository, tag.
type TagKey = (String, String, String, String);

/// A blob the cache answers for.
pub enum CachedBlob {
    /// In the store and linked into the repository: served as any blob.
    Stored,
    /// Arriving from upstream while it is stored; `size` when upstream said it.
    Streaming { size: Option<u64>, body: ByteStream },
}

/// Where a cached repository's images come from.
enum Source {
    Http(Upstream),
    /// An `ecr` upstream inside this berth, read as `principal`.
    Local {
        scope: RegistryScope,
        principal: PrincipalArn,
    },
}

/// The upstream repository a cached repository stands for.
struct Target {
    source: Source,
    repository: String,
}

/// A manifest as upstream sent it.
struct Fetched {
    body: Vec<u8>,
    media_type: Option<String>,
    /// The digest upstream says it has.
    digest: Option<Digest>,
}

impl PullThroughCache {
    /// A cache over `registry`, reaching upstreams through `upstream` with the credentials
    /// of `secrets`.
    pub fn new(registry: Arc<Registry>, upstream: UpstreamClient, secrets: SecretStore) -> Self {
        PullThroughCache {
            registry,
            upstream,
            secrets,
            tag_refresh: DEFAULT_TAG_REFRESH_SECS as f64,
            checked: Mutex::default(),
            fetches: Arc::default(),
        }
    }

    /// The same cache asking upstream about a cached tag every `seconds` at most.
    pub fn with_tag_refresh(mut self, seconds: u64) -> Self {
        self.tag_refresh = seconds as f64;
        self
    }

    /// How upstreams are reached (ValidatePullThroughCacheRule logs in with it).
    pub fn upstream_client(&self) -> &UpstreamClient {
        &self.upstream
    }

    /// The secrets rules name.
    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// The manifest to pull: the cached one, or for a repository under a rule, upstream's
    /// (stored on the way). Errors as [`Registry::manifest`], plus UpstreamAccessDenied.
    pub async fn manifest(
        &self, scope: &RegistryScope, name: &RepositoryName, reference: &Reference,
    ) -> Result<StoredManifest, RegistryError> {
        let cached = self.registry.manifest(scope, name, reference).await;
        match (&cached, reference) {
            (Ok(_), Reference::Digest(_)) => return cached,
            (Ok(m), Reference::Tag(tag)) if self.fresh(scope, name, tag, m.pushed_at) => {
                return cached
            }
            (Ok(_), _)
            | (Err(RegistryError::ImageNotFound | RegistryError::RepositoryNotFound { .. }), _) => {
            }
            (Err(_), _) => return cached,
        }
        let Some(target) = self.target(scope, name).await? else {
            return cached;
        };
        if cached.is_err() && self.registry.find_manifest(scope, name, reference).await?.is_some() {
            // Archived or being restored: upstream does not bring it back.
            return cached;
        }
        let refreshed = self.refresh(scope, name, reference, &target, cached.as_ref().ok()).await;
        match (refreshed, cached) {
            (Ok(manifest), _) => Ok(manifest),
            (Err(e), Ok(manifest)) => {
                tracing::warn!(repository = %name, %reference, "pull-through cache: serving the cached image, upstream failed: {e}");
                Ok(manifest)
            }
            (Err(e), Err(_)) => Err(e),
        }
    }

    /// A blob a cached manifest of the repository references but the store does not have
    /// linked there: fetched from upstream once, however many pull it at once. `None` when
    /// the cache has nothing to do with it (the caller answers BlobUnknown). With
    /// `streaming`, a first fetch answers with the bytes as they arrive; else it answers
    /// once the blob is stored.
    pub async fn blob(
        &self, scope: &RegistryScope, name: &RepositoryName, digest: &Digest, streaming: bool,
    ) -> Result<Option<CachedBlob>, RegistryError> {
        let Some(target) = self.blob_target(scope, name, digest).await? else {
            return Ok(None);
        };
        let unknown = || RegistryError::BlobUnknown {
            digest: digest.to_string(),
            repository: name.to_string(),
            registry: scope.registry_id.clone(),
        };
        let lead = match self.fetches.join(digest) {
            Turn::Follow(receiver) => {
                blob_fetch::wait(receiver).await;
                return match self.registry.link_stored_blob(scope, name, digest).await? {
                    Some(_) => Ok(Some(CachedBlob::Stored)),
                    None => Err(unknown()),
                };
            }
            Turn::Lead(lead) => lead,
        };
        // Already stored (for another repository, or by a fetch that just ended).
        if self.registry.link_stored_blob(scope, name, digest).await?.is_some() {
            lead.finish(true);
            return Ok(Some(CachedBlob::Stored));
        }
        let (size, upstream) = self.open_blob(&target, digest).await.map_err(|e| match e {
            RegistryError::ImageNotFound => unknown(),
            e => e,
        })?;
        let ended = lead.subscribe();
        let (client, body) = blob_fetch::client_channel();
        let to = Destination {
            registry: self.registry.clone(),
            scope: scope.clone(),
            repository: name.clone(),
            digest: digest.clone(),
        };
        tokio::spawn(blob_fetch::fill(to, upstream, client, lead));
        if streaming {
            return Ok(Some(CachedBlob::Streaming { size, body }));
        }
        drop(body);
        if let Some(ended) = ended {
            blob_fetch::wait(ended).await;
        }
        match self.registry.link_stored_blob(scope, name, digest).await? {
            Some(_) => Ok(Some(CachedBlob::Stored)),
            None => Err(unknown()),
        }
    }

    /// True when the blob is not in the repository yet but the cache would fetch it on its
    /// first pull (GetDownloadUrlForLayer then hands out a URL that pulls through).
    pub async fn fetchable(
        &self, scope: &RegistryScope, name: &RepositoryName, digest: &Digest,
    ) -> Result<bool, RegistryError> {
        Ok(self.blob_target(scope, name, digest).await?.is_some())
    }

    /// The upstream of a blob a cached manifest of the repository references.
    async fn blob_target(
        &self, scope: &RegistryScope, name: &RepositoryName, digest: &Digest,
    ) -> Result<Option<Target>, RegistryError> {
        if !self.registry.blob_referenced(scope, name, digest).await? {
            return Ok(None);
        }
        self.target(scope, name).await
    }

    /// True while a cached tag need not be compared with upstream.
    fn fresh(&self, scope: &RegistryScope, name: &RepositoryName, tag: &Tag, pushed: f64) -> bool {
        let checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        let at = checked.get(&tag_key(scope, name, tag)).copied().unwrap_or(pushed);
        self.registry.clock().now() - at < self.tag_refresh
    }

    fn mark_checked(&self, scope: &RegistryScope, name: &RepositoryName, tag: &Tag) {
        let now = self.registry.clock().now();
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        checked.insert(tag_key(scope, name, tag), now);
    }

    /// The rule's upstream for a repository, if a rule covers it.
    async fn target(
        &self, scope: &RegistryScope, name: &RepositoryName,
    ) -> Result<Option<Target>, RegistryError> {
        let rules = self.registry.pull_through_rules(scope).await?;
        let Some((rule, repository)) = upstream_repository(&rules, name.as_str()) else {
            return Ok(None);
        };
        let url = rule.upstream_registry_url.clone().unwrap_or_default();
        let source = match ecr_host_registry(&url) {
            Some((account, region)) if !self.upstream.has_endpoint(&url) => {
                let principal = rule
                    .custom_role_arn
                    .as_deref()
                    .and_then(PrincipalArn::parse)
                    .unwrap_or_else(|| PrincipalArn::root(&scope.registry_id));
                Source::Local {
                    scope: RegistryScope {
                        registry_id: account.into_string(),
                        region: region.into_string(),
                    },
                    principal,
                }
            }
            _ => {
                let credentials = match rule.credential_arn.as_deref() {
                    Some(arn) => Some(self.secrets.get(arn).cloned().ok_or_else(|| {
                        RegistryError::UpstreamAccessDenied(format!(
                            "The authentication to the upstream registry {url} failed. The secret {arn} could not be found"
                        ))
                    })?),
                    None => None,
                };
                Source::Http(self.upstream.upstream(&url, credentials))
            }
        };
        Ok(Some(Target { source, repository }))
    }

    /// Asks upstream for the manifest and stores it; a cached tag whose upstream digest
    /// has not moved is only marked as checked.
    async fn refresh(
        &self, scope: &RegistryScope, name: &RepositoryName, reference: &Reference,
        target: &Target, cached: Option<&StoredManifest>,
    ) -> Result<StoredManifest, RegistryError> {
        if let (Some(cached), Reference::Tag(tag)) = (cached, reference) {
            if self.upstream_digest(target, tag).await? == Some(cached.digest.clone()) {
                self.mark_checked(scope, name, tag);
                return Ok(cached.clone());
            }
        }
        self.store_from_upstream(scope, name, reference, target, 0).await?;
        if let Reference::Tag(tag) = reference {
            self.mark_checked(scope, name, tag);
        }
        self.registry.manifest(scope, name, reference).await
    }

    /// Fetches a manifest, checks its digest, stores an index's missing children first and
    /// then the manifest (under the tag, if the reference is one).
    async fn store_from_upstream(
        &self, scope: &RegistryScope, name: &RepositoryName, reference: &Reference,
        target: &Target, depth: usize,
    ) -> Result<(), RegistryError> {
        let fetched = self.fetch_manifest(target, reference).await?;
        let digest = Digest::of(&fetched.body);
        let expected = match reference {
            Reference::Digest(d) => Some(d.clone()),
            Reference::Tag(_) => fetched.digest.clone(),
        };
        if let Some(expected) = expected.filter(|e| *e != digest) {
            tracing::error!(repository = %name, %reference, "pull-through cache: upstream sent a manifest of digest {digest}, not {expected}; refused");
            return Err(RegistryError::ImageNotFound);
        }
        let parsed =
            parse_manifest(&fetched.body, fetched.media_type.as_deref()).map_err(|e| {
                tracing::error!(repository = %name, %reference, "pull-through cache: upstream sent a manifest berth cannot store: {e}");
                RegistryError::ImageNotFound
            })?;
        if depth < MAX_DEPTH {
            for child in &parsed.references.manifests {
                let child = Reference::Digest(child.clone());
                if self.registry.find_manifest(scope, name, &child).await?.is_none() {
                    Box::pin(self.store_from_upstream(scope, name, &child, target, depth + 1))
                        .await?;
                }
            }
        }
        let tag = match reference {
            Reference::Tag(tag) => Some(tag),
            Reference::Digest(_) => None,
        };
        self.registry.cache_manifest(scope, name, tag, parsed, fetched.body).await?;
        Ok(())
    }

    async fn fetch_manifest(
        &self, target: &Target, reference: &Reference,
    ) -> Result<Fetched, RegistryError> {
        match &target.source {
            Source::Http(upstream) => {
                let (response, digest) =
                    self.ask_manifest(upstream, target, Method::GET, reference).await?;
                let media_type = header(&response, "content-type")
                    .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
                if response.content_length().is_some_and(|n| n > MAX_MANIFEST_BYTES as u64) {
                    return Err(too_large());
                }
                let mut body = Vec::new();
                let mut chunks = response.bytes_stream();
                while let Some(chunk) = chunks.next().await {
                    let chunk = chunk.map_err(|e| {
                        from_upstream(UpstreamError::Unavailable(format!(
                            "the upstream manifest broke off: {e}"
                        )))
                    })?;
                    if body.len() + chunk.len() > MAX_MANIFEST_BYTES {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(Fetched { body, media_type, digest })
            }
            Source::Local { scope, principal } => {
                let repository = self.local_repository(target, scope, principal).await?;
                let manifest = self
                    .registry
                    .manifest(scope, &repository, reference)
                    .await
                    .map_err(|e| match e {
                        RegistryError::RepositoryNotFound { .. } => RegistryError::ImageNotFound,
                        e => e,
                    })?;
                Ok(Fetched {
                    digest: Some(manifest.digest),
                    media_type: Some(manifest.media_type),
                    body: manifest.body,
                })
            }
        }
    }

    /// The digest a tag has upstream, when upstream says it without sending the manifest.
    async fn upstream_digest(
        &self, target: &Target, tag: &Tag,
    ) -> Result<Option<Digest>, RegistryError> {
        match &target.source {
            Source::Http(upstream) => {
                let (_, digest) = self.ask_manifest(upstream, target, Method::HEAD, tag).await?;
                Ok(digest)
            }
            Source::Local { .. } => {
                Ok(self.fetch_manifest(target, &Reference::Tag(tag.clone())).await?.digest)
            }
        }
    }

    /// Upstream's bytes of a blob, and their size when upstream says it.
    async fn open_blob(
        &self, target: &Target, digest: &Digest,
    ) -> Result<(Option<u64>, ByteStream), RegistryError> {
        match &target.source {
            Source::Http(upstream) => {
                let response = self
                    .ask(upstream, target, Method::GET, &format!("blobs/{digest}"), &[])
                    .await?;
                let size = response.content_length();
                let body = response.bytes_stream().map_err(std::io::Error::other).boxed();
                Ok((size, body))
            }
            Source::Local { scope, principal } => {
                let repository = self.local_repository(target, scope, principal).await?;
                let size = self
                    .registry
                    .blob_size(scope, &repository, digest)
                    .await
                    .map_err(|_| RegistryError::ImageNotFound)?;
                let body = self.registry.read_blob(digest, 0, size).await?;
                Ok((Some(size), body))
            }
        }
    }

    /// `method` on the target's upstream repository, as the cache's error.
    async fn ask(
        &self, upstream: &Upstream, target: &Target, method: Method, path: &str, accept: &[&str],
    ) -> Result<reqwest::Response, RegistryError> {
        self.upstream
            .request(upstream, method, &target.repository, path, accept)
            .await
            .map_err(from_upstream)
    }

    /// A manifest request upstream, with the digest upstream gives for it.
    async fn ask_manifest(
        &self, upstream: &Upstream, target: &Target, method: Method,
        reference: &(dyn std::fmt::Display + Sync),
    ) -> Result<(reqwest::Response, Option<Digest>), RegistryError> {
        let path = format!("manifests/{reference}");
        let response = self.ask(upstream, target, method, &path, &ACCEPT).await?;
        let digest =
            header(&response, "docker-content-digest").and_then(|v| Digest::parse(&v).ok());
        Ok((response, digest))
    }

    /// The upstream repository inside this berth, once the rule's principal may pull it.
    async fn local_repository(
        &self, target: &Target, scope: &RegistryScope, principal: &PrincipalArn,
    ) -> Result<RepositoryName, RegistryError> {
        let repository =
            RepositoryName::parse(&target.repository).ok_or(RegistryError::ImageNotFound)?;
        self.registry
            .authorize(principal, "ecr:BatchGetImage", scope, Some(repository.as_str()))
            .await
            .map_err(|e| match e {
                RegistryError::AccessDenied(text) => RegistryError::UpstreamAccessDenied(text),
                e => e,
            })?;
        Ok(repository)
    }
}

fn tag_key(scope: &RegistryScope, name: &RepositoryName, tag: &Tag) -> TagKey {
    (scope.registry_id.clone(), scope.region.clone(), name.to_string(), tag.to_string())
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn too_large() -> RegistryError {
    tracing::error!("pull-through cache: upstream sent a manifest over ECR's 4 MiB limit; refused");
    RegistryError::ImageNotFound
}

/// Upstream's answer as the cache's: a refused login is ECR's access-denied text, anything
/// else that leaves no image is "Requested image not found" (logged when not a 404).
fn from_upstream(e: UpstreamError) -> RegistryError {
    match e {
        UpstreamError::Denied(text) => RegistryError::UpstreamAccessDenied(text),
        UpstreamError::NotFound => RegistryError::ImageNotFound,
        UpstreamError::Unavailable(text) => {
            tracing::warn!("pull-through cache: {text}");
            RegistryError::ImageNotFound
        }
    }
}
