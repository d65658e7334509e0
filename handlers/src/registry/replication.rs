//! Replication: each push is copied, by the `replication` job, to every destination
//! registry whose rule covers the repository, inside this berth. A copy is new links and
//! the same manifest bytes: blobs are content-addressed and shared, so no bytes move.
//!
//! As in ECR: only pushes after the configuration are queued; replicated writes do not
//! queue again (no chains); the destination repository is created from its registry's
//! REPLICATION template, else with ECR's defaults; a tag the destination keeps immutable
//! is left off; index children and referrers go with their image. Another account's
//! registry must allow the source account `ecr:ReplicateImage` (and
//! `ecr:CreateRepository` to create the repository) in its registry policy.

use super::{matching_template, Registry};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::parse_manifest;
use crate::metadata::{
    MetadataStore, ReplicationState, ReplicationTask, RepositoryRecord, StoredManifest,
};
use crate::reference::{RepositoryName, Tag};
use crate::scope::{PrincipalArn, RegistryScope};
use berth_generated::ecr::{
    EncryptionType, ImageTagMutability, RCTAppliedFor, ReplicationConfiguration,
};
use std::collections::BTreeSet;

/// Replications taken per pass.
const BATCH: u32 = 100;

/// How deep index children and referrers are followed.
const MAX_DEPTH: usize = 4;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicationReport {
    pub complete: usize,
    pub failed: Vec<String>,
    /// Backfills that changed status.
    pub backfills_moved: usize,
}

impl std::fmt::Display for ReplicationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} replications complete, {} failed [{}], {} backfills moved on",
            self.complete,
            self.failed.len(),
            self.failed.join("; "),
            self.backfills_moved
        )
    }
}

/// What a delete in the source removed, to be removed at destinations too.
#[derive(Debug, Clone, Copy)]
pub enum Deletion<'a> {
    Tag(&'a Tag),
    Image(&'a Digest),
}

/// The destinations the configuration sends a push of `repository` in `source` to.
pub fn destinations(
    configuration: &ReplicationConfiguration, source: &RegistryScope, repository: &str,
) -> Vec<RegistryScope> {
    rule_destinations(configuration, source, repository, false)
}

/// The destinations of the rules that cover `repository`; with `deletes`, only of the
/// rules whose `deleteReplication` is enabled.
fn rule_destinations(
    configuration: &ReplicationConfiguration, source: &RegistryScope, repository: &str,
    deletes: bool,
) -> Vec<RegistryScope> {
    let mut all = BTreeSet::new();
    for rule in &configuration.rules {
        if deletes && !rule.delete_replication.as_ref().is_some_and(|d| d.enabled) {
            continue;
        }
        let covered = rule
            .repository_filters
            .as_ref()
            .is_none_or(|filters| filters.iter().any(|f| repository.starts_with(&f.filter)));
        if !covered {
            continue;
        }
        for d in &rule.destinations {
            let destination =
                RegistryScope { registry_id: d.registry_id.clone(), region: d.region.clone() };
            if destination != *source {
                all.insert((destination.registry_id.clone(), destination.region.clone()));
            }
        }
    }
    all.into_iter().map(|(registry_id, region)| RegistryScope { registry_id, region }).collect()
}

impl<M: MetadataStore> Registry<M> {
    /// The replications a push of `digest` to `repository` queues: one per destination
    /// the registry's rules name (stored with the push, in its transaction).
    pub(super) async fn replication_tasks(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
    ) -> Result<Vec<ReplicationTask>, RegistryError> {
        let Some(configuration) = self.store.registry_record(scope).await?.replication else {
            return Ok(Vec::new());
        };
        Ok(destinations(&configuration, scope, repository.as_str())
            .into_iter()
            .map(|destination| ReplicationTask {
                source: scope.clone(),
                repository: repository.to_string(),
                digest: digest.clone(),
                destination,
            })
            .collect())
    }

    /// Removes at every destination whose rule replicates deletes what a delete in the
    /// source removed (ECR's `deleteReplication`), at once. What a destination no longer
    /// has, or still lists in an index, is left as it is.
    pub(super) async fn replicate_delete(
        &self, scope: &RegistryScope, repository: &RepositoryName, deletion: Deletion<'_>,
    ) -> Result<(), RegistryError> {
        let Some(configuration) = self.store.registry_record(scope).await?.replication else {
            return Ok(());
        };
        let name = repository.as_str();
        for destination in rule_destinations(&configuration, scope, name, true) {
            let done = match deletion {
                Deletion::Tag(tag) => {
                    self.store.delete_tag(&destination, name, tag).await.map(drop)
                }
                Deletion::Image(digest) => {
                    self.store.delete_manifest(&destination, name, digest).await.map(drop)
                }
            };
            match done {
                Ok(())
                | Err(RegistryError::ImageNotFound)
                | Err(RegistryError::ImageReferencedByManifestList { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Replaces the registry's replication configuration (later pushes follow it).
    pub async fn set_replication_configuration(
        &self, scope: &RegistryScope, configuration: ReplicationConfiguration,
    ) -> Result<(), RegistryError> {
        self.store
            .update_registry_record(scope, |record| {
                record.replication = Some(configuration);
                Ok(())
            })
            .await
    }

    /// How the image's replications stand, by destination.
    pub async fn replication_states(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
    ) -> Result<Vec<ReplicationState>, RegistryError> {
        self.store.replication_states(scope, repository.as_str(), digest).await
    }

    /// Prepares backfills, performs the queued replications, then settles backfills.
    pub async fn replication_pass(&self) -> Result<ReplicationReport, RegistryError> {
        let mut report = ReplicationReport {
            backfills_moved: self.backfill_pass().await?,
            ..Default::default()
        };
        for task in self.store.pending_replications(BATCH).await? {
            let failure = self.replicate(&task).await?;
            self.store.finish_replication(&task, failure.as_deref(), self.clock.now()).await?;
            match failure {
                None => report.complete += 1,
                Some(code) => report.failed.push(format!(
                    "{}@{} to {} in {}: {code}",
                    task.repository,
                    task.digest,
                    task.destination.registry_id,
                    task.destination.region
                )),
            }
        }
        report.backfills_moved += self.backfill_pass().await?;
        Ok(report)
    }

    /// Copies one image to one destination; `Some(failure code)` when it cannot.
    async fn replicate(&self, task: &ReplicationTask) -> Result<Option<String>, RegistryError> {
        let Some(name) = RepositoryName::parse(&task.repository) else {
            return Ok(Some("InvalidRepositoryName".into()));
        };
        let destination = &task.destination;
        let source_account = PrincipalArn::root(&task.source.registry_id);
        let allowed = |action: &'static str| {
            self.authorize(&source_account, action, destination, Some(name.as_str()))
        };
        match allowed("ecr:ReplicateImage").await {
            Ok(()) => {}
            Err(RegistryError::AccessDenied(_)) => {
                return Ok(Some("ReplicationAccessDenied".into()))
            }
            Err(e) => return Err(e),
        }
        match self.store.repository(destination, name.as_str()).await {
            Ok(_) => {}
            Err(RegistryError::RepositoryNotFound { .. }) => {
                match allowed("ecr:CreateRepository").await {
                    Ok(()) => {}
                    Err(RegistryError::AccessDenied(_)) => {
                        return Ok(Some("DestinationRepositoryNotFound".into()))
                    }
                    Err(e) => return Err(e),
                }
                match self.create_for_replication(destination, &name).await {
                    Ok(()) | Err(RegistryError::RepositoryAlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        match self.copy_image(&task.source, destination, &name, &task.digest, 0).await {
            Ok(()) => Ok(None),
            Err(RegistryError::ImageNotFound) => Ok(Some("ImageNotFound".into())),
            Err(e) => Err(e),
        }
    }

    /// The destination repository, from the REPLICATION template or ECR's defaults.
    async fn create_for_replication(
        &self, destination: &RegistryScope, name: &RepositoryName,
    ) -> Result<(), RegistryError> {
        let templates = self.creation_templates(destination).await?;
        if let Some(template) =
            matching_template(&templates, name.as_str(), RCTAppliedFor::Replication)
        {
            return self.create_from_template(destination, name, template).await.map(drop);
        }
        let record = RepositoryRecord {
            name: name.to_string(),
            created_at: self.clock.now(),
            image_tag_mutability: ImageTagMutability::Mutable,
            exclusion_filters: Vec::new(),
            scan_on_push: false,
            encryption_type: EncryptionType::Aes256,
            kms_key: None,
        };
        self.store.create_repository(destination, &record, &[], &[]).await
    }

    /// Copies the manifest `digest` of `name` with its blobs' links, its index children,
    /// its tags (but those the destination keeps immutable) and its referrers.
    fn copy_image<'a>(
        &'a self, source: &'a RegistryScope, destination: &'a RegistryScope,
        name: &'a RepositoryName, digest: &'a Digest, depth: usize,
    ) -> futures_util::future::BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async move {
            let repository = name.as_str();
            let manifest = self
                .store
                .manifest(source, repository, digest)
                .await?
                .ok_or(RegistryError::ImageNotFound)?;
            let parsed = parse_manifest(&manifest.body, Some(&manifest.media_type))?;
            for child in &parsed.references.manifests {
                if depth < MAX_DEPTH {
                    self.copy_image(source, destination, name, child, depth + 1).await?;
                }
            }
            let now = self.clock.now();
            for blob in &parsed.references.blobs {
                let size = self
                    .store
                    .linked_blob_size(source, repository, blob)
                    .await?
                    .ok_or(RegistryError::ImageNotFound)?;
                self.store.link_blob(destination, repository, blob, size, now).await?;
            }
            let copy = StoredManifest {
                pushed_at: now,
                last_pulled_at: None,
                storage: Default::default(),
                ..manifest
            };
            // Replicated writes queue nothing: replication never chains.
            self.store
                .put_manifest(destination, repository, &copy, &parsed.references, None, &[])
                .await?;
            for tag in self.store.tags_of(source, repository, digest).await? {
                let Some(tag) = Tag::parse(&tag) else {
                    continue;
                };
                match self
                    .store
                    .put_manifest(
                        destination,
                        repository,
                        &copy,
                        &parsed.references,
                        Some(&tag),
                        &[],
                    )
                    .await
                {
                    Ok(_) | Err(RegistryError::ImageTagImmutable { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            if depth < MAX_DEPTH {
                for referrer in self.store.referrers(source, repository, digest).await? {
                    self.copy_image(source, destination, name, &referrer.digest, depth + 1).await?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_generated::ecr::{
        ReplicationDestination, ReplicationRule, RepositoryFilter, RepositoryFilterType,
    };

    fn scope(account: &str, region: &str) -> RegistryScope {
        RegistryScope { registry_id: account.into(), region: region.into() }
    }

    #[test]
    fn rules_send_covered_repositories_to_each_destination_once_never_to_the_source() {
        let destination = |account: &str, region: &str| ReplicationDestination {
            registry_id: account.into(),
            region: region.into(),
        };
        let configuration = ReplicationConfiguration {
            rules: vec![
                ReplicationRule {
                    destinations: vec![
                        destination("1", "us-west-2"),
                        destination("1", "us-east-1"),
                    ],
                    ..Default::default()
                },
                ReplicationRule {
                    destinations: vec![
                        destination("2", "us-east-1"),
                        destination("1", "us-west-2"),
                    ],
                    repository_filters: Some(vec![RepositoryFilter {
                        filter: "prod".into(),
                        filter_type: RepositoryFilterType::PrefixMatch,
                    }]),
                    ..Default::default()
                },
            ],
        };
        let source = scope("1", "us-east-1");
        assert_eq!(
            destinations(&configuration, &source, "prod/app"),
            vec![scope("1", "us-west-2"), scope("2", "us-east-1")]
        );
        assert_eq!(destinations(&configuration, &source, "dev/app"), vec![scope("1", "us-west-2")]);
    }
}
