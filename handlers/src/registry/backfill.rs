//! Replication backfill: copying to a configured destination the images pushed before the
//! configuration. A backfill is PREPARING until the replication job lists its images and
//! queues them (IN_PROGRESS), then COMPLETE when every one has replicated, or FAILED when
//! half or more failed; a stop makes it STOPPING, then STOPPED at the next pass.

use super::{destinations, Registry};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{
    BackfillRecord, ImageFilter, MetadataStore, ReplicationState, ReplicationTask,
};
use crate::scope::RegistryScope;
use berth_generated::ecr::ReplicationDestination;

/// Backfills a registry may have that are not final (ECR's quota).
pub const MAX_ACTIVE_BACKFILLS: usize = 10;

/// Repositories and images read per page while preparing.
const PAGE: u32 = 1000;

fn scope_of(destination: &ReplicationDestination) -> RegistryScope {
    RegistryScope {
        registry_id: destination.registry_id.clone(),
        region: destination.region.clone(),
    }
}

impl<M: MetadataStore> Registry<M> {
    /// The registry's backfills, oldest first.
    pub async fn backfills(
        &self, scope: &RegistryScope,
    ) -> Result<Vec<BackfillRecord>, RegistryError> {
        Ok(self.store.registry_record(scope).await?.backfills)
    }

    /// Starts a backfill to `destination`, which the configuration must name.
    pub async fn start_backfill(
        &self, scope: &RegistryScope, destination: ReplicationDestination,
    ) -> Result<BackfillRecord, RegistryError> {
        let now = self.clock.now();
        self.store
            .update_registry_record(scope, |record| {
                let configured = record.replication.as_ref().is_some_and(|c| {
                    c.rules.iter().any(|r| r.destinations.contains(&destination))
                });
                if !configured {
                    return Err(RegistryError::invalid_parameter(
                        "destination",
                        "The destination is not in the registry's replication configuration",
                    ));
                }
                let active = record.backfills.iter().filter(|b| !b.is_terminal());
                if active.clone().any(|b| b.destination.region == destination.region) {
                    return Err(RegistryError::ReplicationBackfillInProgress(format!(
                        "A replication backfill to region '{}' is already in progress in the registry with id '{}'",
                        destination.region, scope.registry_id
                    )));
                }
                if active.count() >= MAX_ACTIVE_BACKFILLS {
                    return Err(RegistryError::LimitExceeded(format!(
                        "The maximum number of replication backfills in progress ({MAX_ACTIVE_BACKFILLS}) has been reached for the registry with id '{}'",
                        scope.registry_id
                    )));
                }
                let backfill = BackfillRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    destination,
                    status: "PREPARING".into(),
                    started_at: now,
                    ended_at: None,
                    failure_code: None,
                    images: Vec::new(),
                };
                record.backfills.push(backfill.clone());
                Ok(backfill)
            })
            .await
    }

    /// Asks a running backfill to stop.
    pub async fn stop_backfill(
        &self, scope: &RegistryScope, id: &str,
    ) -> Result<BackfillRecord, RegistryError> {
        self.store
            .update_registry_record(scope, |record| {
                let backfill = record
                    .backfills
                    .iter_mut()
                    .find(|b| b.id == id)
                    .ok_or_else(|| backfill_not_found(scope, id))?;
                if backfill.is_terminal() {
                    return Err(RegistryError::ReplicationBackfillInvalidStatus(format!(
                        "The replication backfill with id '{id}' is {} and cannot be stopped",
                        backfill.status
                    )));
                }
                backfill.status = "STOPPING".into();
                Ok(backfill.clone())
            })
            .await
    }

    /// One backfill and the replication state of each of its images at its destination.
    pub async fn backfill(
        &self, scope: &RegistryScope, id: &str,
    ) -> Result<(BackfillRecord, Vec<(String, String, Option<ReplicationState>)>), RegistryError>
    {
        let backfill = self
            .backfills(scope)
            .await?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| backfill_not_found(scope, id))?;
        let destination = scope_of(&backfill.destination);
        let mut results = Vec::new();
        for (repository, digest) in &backfill.images {
            let state = match Digest::parse(digest) {
                Ok(d) => self
                    .store
                    .replication_states(scope, repository, &d)
                    .await?
                    .into_iter()
                    .find(|s| s.destination == destination),
                Err(_) => None,
            };
            results.push((repository.clone(), digest.clone(), state));
        }
        Ok((backfill, results))
    }

    /// Moves every registry's backfills along: prepares, finishes, stops.
    pub(super) async fn backfill_pass(&self) -> Result<usize, RegistryError> {
        let mut moved = 0;
        for scope in self.store.registries().await? {
            let record = self.store.registry_record(&scope).await?;
            for backfill in record.backfills.iter().filter(|b| !b.is_terminal()) {
                let next = match backfill.status.as_str() {
                    "PREPARING" => Some(self.prepare_backfill(&scope, backfill).await?),
                    "STOPPING" => Some(("STOPPED".to_string(), None, None)),
                    _ => self.finished_backfill(&scope, backfill).await?,
                };
                let Some((status, failure_code, images)) = next else {
                    continue;
                };
                let (id, now) = (backfill.id.clone(), self.clock.now());
                self.store
                    .update_registry_record(&scope, |record| {
                        if let Some(b) = record.backfills.iter_mut().find(|b| b.id == id) {
                            // A stop that came in meanwhile wins over preparing.
                            if b.status == "STOPPING" && status == "IN_PROGRESS" {
                                return Ok(());
                            }
                            if let Some(images) = images {
                                b.images = images;
                            }
                            b.failure_code = failure_code;
                            if matches!(status.as_str(), "COMPLETE" | "FAILED" | "STOPPED") {
                                b.ended_at = Some(now);
                            }
                            b.status = status;
                        }
                        Ok(())
                    })
                    .await?;
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Lists the images the rules send to the destination and queues them.
    async fn prepare_backfill(
        &self, scope: &RegistryScope, backfill: &BackfillRecord,
    ) -> Result<(String, Option<String>, Option<Vec<(String, String)>>), RegistryError> {
        let destination = scope_of(&backfill.destination);
        let configuration =
            self.store.registry_record(scope).await?.replication.unwrap_or_default();
        let mut images = Vec::new();
        let mut tasks = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let repositories = self.store.list_repositories(scope, after.as_deref(), PAGE).await?;
            let Some(last) = repositories.last() else {
                break;
            };
            after = Some(last.name.clone());
            for repository in &repositories {
                if !destinations(&configuration, scope, &repository.name).contains(&destination) {
                    continue;
                }
                let mut from = String::new();
                loop {
                    let page = self
                        .store
                        .image_page(scope, &repository.name, &from, ImageFilter::all(), PAGE)
                        .await?;
                    let Some(last) = page.last() else { break };
                    from = last.digest.to_string();
                    for image in page {
                        images.push((repository.name.clone(), image.digest.to_string()));
                        tasks.push(ReplicationTask {
                            source: scope.clone(),
                            repository: repository.name.clone(),
                            digest: image.digest,
                            destination: destination.clone(),
                        });
                    }
                }
            }
        }
        self.store.queue_replications(&tasks, self.clock.now()).await?;
        Ok(("IN_PROGRESS".into(), None, Some(images)))
    }

    /// COMPLETE or FAILED once every image has replicated or failed; `None` while some
    /// are still in progress.
    async fn finished_backfill(
        &self, scope: &RegistryScope, backfill: &BackfillRecord,
    ) -> Result<Option<(String, Option<String>, Option<Vec<(String, String)>>)>, RegistryError>
    {
        let (_, results) = self.backfill(scope, &backfill.id).await?;
        let status = |r: &(String, String, Option<ReplicationState>)| {
            r.2.as_ref().map(|s| s.status.clone()).unwrap_or_default()
        };
        if results.iter().any(|r| status(r) == "IN_PROGRESS") {
            return Ok(None);
        }
        let failed = results.iter().filter(|r| status(r) == "FAILED").count();
        if !results.is_empty() && failed * 2 >= results.len() {
            return Ok(Some((
                "FAILED".into(),
                Some("ReplicationFailureThresholdExceeded".into()),
                None,
            )));
        }
        Ok(Some(("COMPLETE".into(), None, None)))
    }
}

fn backfill_not_found(scope: &RegistryScope, id: &str) -> RegistryError {
    RegistryError::ReplicationBackfillNotFound(format!(
        "The replication backfill with id '{id}' does not exist in the registry with id '{}'",
        scope.registry_id
    ))
}
