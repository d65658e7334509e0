//! DescribeRegistry.

use super::EcrHandlers;
use crate::error::RegistryError;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;

impl EcrHandlers {
    /// The caller's registry with its replication configuration from the registry record;
    /// an empty rule list when none was put, as for a fresh ECR registry.
    pub(crate) async fn describe_registry_op(
        &self,
        caller: &Caller,
    ) -> Result<DescribeRegistryResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let record = self.registry.store().registry_record(&scope).await?;
        let replication = record.replication.unwrap_or(ReplicationConfiguration {
            rules: Some(Vec::new()),
        });
        Ok(DescribeRegistryResponse {
            registry_id: Some(scope.registry_id),
            replication_configuration: Some(replication),
        })
    }
}
