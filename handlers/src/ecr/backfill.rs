//! StartReplicationBackfill, StopReplicationBackfill, ListReplicationBackfills,
//! DescribeReplicationBackfillResults (the `replication` job runs the backfills).

use super::page_token::page_by_position;
use super::EcrHandlers;
use crate::error::RegistryError;
use crate::metadata::{BackfillRecord, ReplicationState};
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use berth_generated::runtime::Timestamp;

/// ECR's page size of ListReplicationBackfills when `maxResults` is not given.
const DEFAULT_BACKFILL_PAGE: i32 = 25;

/// ECR's page size of DescribeReplicationBackfillResults when `maxResults` is not given.
const DEFAULT_RESULT_PAGE: i32 = 100;

fn status(backfill: &BackfillRecord) -> Option<ReplicationBackfillStatus> {
    ReplicationBackfillStatus::from_wire(&backfill.status)
}

/// Counts over the backfill's images; none while it is PREPARING.
fn progress(
    backfill: &BackfillRecord, results: &[(String, String, Option<ReplicationState>)],
) -> Option<ReplicationBackfillProgress> {
    if backfill.status == "PREPARING" {
        return None;
    }
    let count = |wanted: &str| {
        results.iter().filter(|r| r.2.as_ref().is_some_and(|s| s.status == wanted)).count() as i32
    };
    let mut codes: Vec<String> =
        results.iter().filter_map(|r| r.2.as_ref().and_then(|s| s.failure_code.clone())).collect();
    codes.sort();
    codes.dedup();
    Some(ReplicationBackfillProgress {
        total_replication_count: Some(results.len() as i32),
        completed_replication_count: Some(count("COMPLETE")),
        failed_replication_count: Some(count("FAILED")),
        failure_codes: Some(codes),
    })
}

impl StartReplicationBackfill for EcrHandlers {
    async fn start_replication_backfill(
        &self, caller: &Caller, input: StartReplicationBackfillRequest,
    ) -> Result<StartReplicationBackfillResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let backfill = self.registry.start_backfill(&scope, input.destination).await?;
        Ok(StartReplicationBackfillResponse {
            registry_id: Some(scope.registry_id),
            replication_backfill_id: Some(backfill.id.clone()),
            status: status(&backfill),
            started_at: Some(Timestamp(backfill.started_at)),
            destination: Some(backfill.destination),
        })
    }
}

impl StopReplicationBackfill for EcrHandlers {
    async fn stop_replication_backfill(
        &self, caller: &Caller, input: StopReplicationBackfillRequest,
    ) -> Result<StopReplicationBackfillResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let backfill = self.registry.stop_backfill(&scope, &input.replication_backfill_id).await?;
        Ok(StopReplicationBackfillResponse {
            registry_id: Some(scope.registry_id),
            replication_backfill_id: Some(backfill.id.clone()),
            status: status(&backfill),
            started_at: Some(Timestamp(backfill.started_at)),
            destination: Some(backfill.destination),
        })
    }
}

impl ListReplicationBackfills for EcrHandlers {
    async fn list_replication_backfills(
        &self, caller: &Caller, input: ListReplicationBackfillsRequest,
    ) -> Result<ListReplicationBackfillsResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let (page, next_token) = page_by_position(
            self.registry.backfills(&scope).await?,
            input.next_token.as_deref(),
            input.max_results,
            DEFAULT_BACKFILL_PAGE,
        )?;
        let mut backfills = Vec::new();
        for backfill in &page {
            let (_, results) = self.registry.backfill(&scope, &backfill.id).await?;
            backfills.push(ReplicationBackfillSummary {
                replication_backfill_id: Some(backfill.id.clone()),
                destination: Some(backfill.destination.clone()),
                status: status(backfill),
                started_at: Some(Timestamp(backfill.started_at)),
                ended_at: backfill.ended_at.map(Timestamp),
                failure_code: backfill.failure_code.clone(),
                progress: progress(backfill, &results),
            });
        }
        Ok(ListReplicationBackfillsResponse {
            registry_id: Some(scope.registry_id),
            backfills: Some(backfills),
            next_token,
        })
    }
}

impl DescribeReplicationBackfillResults for EcrHandlers {
    async fn describe_replication_backfill_results(
        &self, caller: &Caller, input: DescribeReplicationBackfillResultsRequest,
    ) -> Result<DescribeReplicationBackfillResultsResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let (backfill, results) =
            self.registry.backfill(&scope, &input.replication_backfill_id).await?;
        // Per-image results only once the backfill has ended, as in ECR.
        let listed: Vec<ReplicationBackfillResult> = if backfill.is_terminal() {
            results
                .iter()
                .filter_map(|(repository, digest, state)| {
                    let state = state.as_ref()?;
                    let result_status = ReplicationBackfillResultStatus::from_wire(&state.status)?;
                    input.result_status_filter.is_none_or(|f| f == result_status).then(|| {
                        ReplicationBackfillResult {
                            repository_name: Some(repository.clone()),
                            image_id: Some(ImageIdentifier {
                                image_digest: Some(digest.clone()),
                                image_tag: None,
                            }),
                            status: Some(result_status),
                            failure_code: state.failure_code.clone(),
                            sub_image_failure_codes: None,
                        }
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let (listed, next_token) = page_by_position(
            listed,
            input.next_token.as_deref(),
            input.max_results,
            DEFAULT_RESULT_PAGE,
        )?;
        Ok(DescribeReplicationBackfillResultsResponse {
            registry_id: Some(scope.registry_id),
            replication_backfill_id: Some(backfill.id.clone()),
            destination: Some(backfill.destination.clone()),
            status: status(&backfill),
            started_at: Some(Timestamp(backfill.started_at)),
            ended_at: backfill.ended_at.map(Timestamp),
            failure_code: backfill.failure_code.clone(),
            progress: progress(&backfill, &results),
            results: Some(listed),
            next_token,
        })
    }
}
