//! PutReplicationConfiguration and DescribeImageReplicationStatus (DescribeRegistry shows
//! the configuration; the `replication` job performs it).

use super::images::image_not_found;
use super::EcrHandlers;
use crate::error::RegistryError;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use std::collections::BTreeSet;

/// Distinct destinations a configuration may name across its rules (ECR's quota).
pub const MAX_DESTINATIONS: usize = 25;

fn invalid(constraint: &str) -> RegistryError {
    RegistryError::invalid_parameter("replicationConfiguration", constraint)
}

/// ECR's checks beyond the model's: not the source itself, at most 25 destinations.
fn check(
    configuration: &ReplicationConfiguration, scope: &RegistryScope,
) -> Result<(), RegistryError> {
    let mut distinct = BTreeSet::new();
    for rule in &configuration.rules {
        for d in &rule.destinations {
            if d.registry_id == scope.registry_id && d.region == scope.region {
                return Err(invalid(
                    "Replication destination cannot be the same as the source registry",
                ));
            }
            distinct.insert((d.registry_id.as_str(), d.region.as_str()));
        }
    }
    if distinct.len() > MAX_DESTINATIONS {
        return Err(invalid(&format!(
            "A replication configuration can have at most {MAX_DESTINATIONS} unique destinations"
        )));
    }
    Ok(())
}

impl PutReplicationConfiguration for EcrHandlers {
    async fn put_replication_configuration(
        &self, caller: &Caller, input: PutReplicationConfigurationRequest,
    ) -> Result<PutReplicationConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let configuration = input.replication_configuration;
        check(&configuration, &scope)?;
        self.registry.set_replication_configuration(&scope, configuration.clone()).await?;
        Ok(PutReplicationConfigurationResponse { replication_configuration: Some(configuration) })
    }
}

impl DescribeImageReplicationStatus for EcrHandlers {
    async fn describe_image_replication_status(
        &self, caller: &Caller, input: DescribeImageReplicationStatusRequest,
    ) -> Result<DescribeImageReplicationStatusResponse, RegistryError> {
        let (scope, repository) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let id = input.image_id;
        let (manifest, _) = self
            .resolve(&scope, &repository, &id)
            .await?
            .map_err(|_| image_not_found(&id, &repository, &scope))?;
        let statuses = self
            .registry
            .replication_states(&scope, &repository, &manifest.digest)
            .await?
            .into_iter()
            .map(|state| ImageReplicationStatus {
                region: Some(state.destination.region),
                registry_id: Some(state.destination.registry_id),
                status: ReplicationStatus::from_wire(&state.status),
                failure_code: state.failure_code,
            })
            .collect();
        Ok(DescribeImageReplicationStatusResponse {
            repository_name: Some(repository.to_string()),
            image_id: Some(ImageIdentifier {
                image_digest: Some(manifest.digest.to_string()),
                image_tag: id.image_tag,
            }),
            replication_statuses: Some(statuses),
        })
    }
}
