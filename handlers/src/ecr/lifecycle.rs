//! PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy: the policy is checked as
//! ECR checks it and kept compacted, as ECR echoes it. `lastEvaluatedAt` is the last
//! evaluation by the background job, 0 (as in ECR) for a policy never evaluated.

use super::{repository_name, EcrHandlers};
use crate::error::RegistryError;
use crate::lifecycle::{compact, LifecyclePolicy};
use crate::metadata::RepositoryDocument;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use berth_generated::runtime::Timestamp;

/// `lastEvaluatedAt`: 0 for a policy that was never evaluated.
fn last_evaluated(at: Option<f64>) -> Option<Timestamp> {
    Some(Timestamp(at.unwrap_or(0.0)))
}

fn not_found(scope: &RegistryScope, name: &str) -> RegistryError {
    RegistryError::LifecyclePolicyNotFound {
        name: name.to_string(),
        registry: scope.registry_id.clone(),
    }
}

impl PutLifecyclePolicy for EcrHandlers {
    async fn put_lifecycle_policy(
        &self,
        caller: &Caller,
        input: PutLifecyclePolicyRequest,
    ) -> Result<PutLifecyclePolicyResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = repository_name(&input.repository_name)?;
        self.registry.repository(&scope, &name).await?;
        LifecyclePolicy::parse(&input.lifecycle_policy_text)?;
        let text = compact(&input.lifecycle_policy_text);
        let kind = RepositoryDocument::LifecyclePolicy;
        self.registry
            .set_repository_document(&scope, name.as_str(), kind, Some(&text))
            .await?;
        Ok(PutLifecyclePolicyResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(input.repository_name),
            lifecycle_policy_text: Some(text),
        })
    }
}

impl GetLifecyclePolicy for EcrHandlers {
    async fn get_lifecycle_policy(
        &self,
        caller: &Caller,
        input: GetLifecyclePolicyRequest,
    ) -> Result<GetLifecyclePolicyResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = input.repository_name;
        let text = self
            .registry
            .repository_document(&scope, &name, RepositoryDocument::LifecyclePolicy)
            .await?
            .ok_or_else(|| not_found(&scope, &name))?;
        let evaluated = self.registry.lifecycle_evaluated_at(&scope, &name).await?;
        Ok(GetLifecyclePolicyResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(name),
            lifecycle_policy_text: Some(text),
            last_evaluated_at: last_evaluated(evaluated),
        })
    }
}

impl DeleteLifecyclePolicy for EcrHandlers {
    async fn delete_lifecycle_policy(
        &self,
        caller: &Caller,
        input: DeleteLifecyclePolicyRequest,
    ) -> Result<DeleteLifecyclePolicyResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = input.repository_name;
        let kind = RepositoryDocument::LifecyclePolicy;
        let evaluated = self.registry.lifecycle_evaluated_at(&scope, &name).await?;
        let previous = self
            .registry
            .set_repository_document(&scope, &name, kind, None)
            .await?
            .ok_or_else(|| not_found(&scope, &name))?;
        Ok(DeleteLifecyclePolicyResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(name),
            lifecycle_policy_text: Some(previous),
            last_evaluated_at: last_evaluated(evaluated),
        })
    }
}
