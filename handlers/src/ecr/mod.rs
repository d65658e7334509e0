//! The ECR API: `EcrHandlers` implements the generated `EcrService` trait.
//!
//! Each implemented operation lives in the module of its concept; this file wires them,
//! and lists the operations whose issues have not landed yet (they answer 501 naming
//! the operation).

mod account_settings;
mod authorization;
mod backfill;
mod creation_templates;
mod exclusions;
mod images;
mod layers;
mod lifecycle;
mod page_token;
mod policies;
mod pull_through_cache;
mod registry;
mod replication;
mod repositories;
mod scanning;
mod signing;
mod storage_class;
mod tagging;

use crate::auth::TokenSigner;
use crate::endpoint::RegistryEndpoint;
use crate::error::RegistryError;
use crate::metadata::RepositoryTag;
use crate::pull_through::upstream::UpstreamClient;
use crate::pull_through::PullThroughCache;
use crate::reference::RepositoryName;
use crate::registry::Registry;
use crate::scope::{Caller, RegistryScope};
use crate::secrets::SecretStore;
use berth_generated::ecr::*;
use std::collections::BTreeSet;
use std::sync::Arc;

/// ECR's limit of resource tags per repository.
pub const MAX_RESOURCE_TAGS: usize = 50;

/// The ECR operations over the registry core.
#[derive(Debug)]
pub struct EcrHandlers {
    registry: Arc<Registry>,
    tokens: TokenSigner,
    /// Where clients reach the registry: repository URIs start with its host, so that
    /// docker can push to them.
    endpoint: RegistryEndpoint,
    /// Pulls through to upstream registries; knows the secrets rules name and how
    /// upstreams are reached.
    cache: Arc<PullThroughCache>,
}

impl EcrHandlers {
    /// Handlers over `registry`, naming repositories `<endpoint host>/<name>`.
    pub fn new(registry: Arc<Registry>, tokens: TokenSigner, endpoint: RegistryEndpoint) -> Self {
        EcrHandlers {
            registry: registry.clone(),
            tokens,
            endpoint,
            cache: Arc::new(PullThroughCache::new(
                registry,
                UpstreamClient::default(),
                SecretStore::default(),
            )),
        }
    }

    /// The same handlers pulling through `cache` (its secrets and upstream endpoints).
    pub fn with_cache(mut self, cache: Arc<PullThroughCache>) -> Self {
        self.cache = cache;
        self
    }
}

/// The repository name of a request, as a parsed name.
pub(crate) fn repository_name(name: &str) -> Result<RepositoryName, RegistryError> {
    RepositoryName::parse(name).ok_or_else(|| {
        RegistryError::invalid_parameter(
            "repositoryName",
            "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'",
        )
    })
}

impl EcrHandlers {
    /// The registry a request names (the caller's own by default) and the repository in
    /// it, which must exist (else RepositoryNotFound).
    pub(crate) async fn existing_repository(
        &self, caller: &Caller, registry_id: Option<&str>, name: &str,
    ) -> Result<(RegistryScope, RepositoryName), RegistryError> {
        let scope = RegistryScope::for_request(caller, registry_id);
        let repository = repository_name(name)?;
        self.registry.repository(&scope, &repository).await?;
        Ok((scope, repository))
    }
}

/// Refuses `maxResults` and `nextToken` next to an explicit list (`list` names it), as ECR
/// does: such a request is not paged.
pub(crate) fn refuse_paging_with(
    max_results: bool, next_token: bool, list: &str,
) -> Result<(), RegistryError> {
    for (member, given) in [("maxResults", max_results), ("nextToken", next_token)] {
        if given {
            return Err(RegistryError::invalid_parameter(
                member,
                &format!("cannot be specified together with {list}"),
            ));
        }
    }
    Ok(())
}

/// Checks resource tags as AWS tagging does: key 1-128 characters, value up to 256, no
/// `aws:` prefix, no key twice, at most 50.
pub(crate) fn resource_tags(tags: Vec<Tag>) -> Result<Vec<RepositoryTag>, RegistryError> {
    if tags.len() > MAX_RESOURCE_TAGS {
        return Err(RegistryError::TooManyTags(format!(
            "Tag limit exceeded: {} tags were given, and at most {MAX_RESOURCE_TAGS} are allowed",
            tags.len()
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(tags.len());
    for tag in tags {
        let key = tag.key;
        let value = tag.value;
        let invalid =
            |why: &str| RegistryError::InvalidTagParameter(format!("Invalid tag '{key}': {why}"));
        if key.is_empty() || key.chars().count() > 128 {
            return Err(invalid("a tag key must have 1 to 128 characters"));
        }
        if value.chars().count() > 256 {
            return Err(invalid("a tag value must have at most 256 characters"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("the 'aws:' prefix is reserved for AWS use"));
        }
        if !seen.insert(key.clone()) {
            return Err(invalid("the key is given more than once"));
        }
        out.push((key, value));
    }
    Ok(out)
}

impl EcrContext for EcrHandlers {
    type Context = Caller;
    type Error = RegistryError;

    fn not_implemented(_operation: Operation) -> RegistryError {
        RegistryError::NotImplemented
    }
}
