//! DescribeRegistry.

use super::EcrHandlers;
use crate::error::RegistryError;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;

impl DescribeRegistry for EcrHandlers {
    /// The caller's registry with its replication configuration from the registry record;
    /// an empty rule list when none was put, as for a fresh ECR registry.
    async fn describe_registry(
        &self, caller: &Caller, _input: DescribeRegistryRequest,
    ) -> Result<DescribeRegistryResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let record = self.registry.registry_record(&scope).await?;
        let replication =
            record.replication.unwrap_or(ReplicationConfiguration { rules: Vec::new() });
        Ok(DescribeRegistryResponse {
            registry_id: Some(scope.registry_id),
            replication_configuration: Some(replication),
        })
    }
}
