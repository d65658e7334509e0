//! DescribeRegistry.

use super::EcrHandlers;
use crate::scope::Caller;
use berth_generated::ecr::*;

impl EcrHandlers {
    /// The caller's registry; replication is not configured until its issue lands, so the
    /// rule list is empty, as for a fresh ECR registry.
    pub(crate) fn describe_registry_op(&self, caller: &Caller) -> DescribeRegistryResponse {
        DescribeRegistryResponse {
            registry_id: Some(caller.account_id.clone()),
            replication_configuration: Some(ReplicationConfiguration {
                rules: Some(Vec::new()),
            }),
        }
    }
}
