//! SetRepositoryPolicy, GetRepositoryPolicy, DeleteRepositoryPolicy, and the registry's
//! PutRegistryPolicy, GetRegistryPolicy, DeleteRegistryPolicy.

use super::EcrHandlers;
use crate::access_policy::PolicyDocument;
use crate::error::RegistryError;
use crate::metadata::RepositoryDocument;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;

/// Refuses text that is not a resource policy ECR would store (see `access_policy`);
/// `kind` is `repository` or `registry`, as ECR's message names it.
fn check_policy(text: &str, kind: &str) -> Result<(), RegistryError> {
    PolicyDocument::parse(text).map(drop).map_err(|_| {
        RegistryError::invalid_parameter("PolicyText", &format!("Invalid {kind} policy provided"))
    })
}

fn policy_not_found(scope: &RegistryScope, name: &str) -> RegistryError {
    RegistryError::RepositoryPolicyNotFound {
        name: name.to_string(),
        registry: scope.registry_id.clone(),
    }
}

impl SetRepositoryPolicy for EcrHandlers {
    async fn set_repository_policy(
        &self, caller: &Caller, input: SetRepositoryPolicyRequest,
    ) -> Result<SetRepositoryPolicyResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = input.repository_name;
        let text = input.policy_text;
        check_policy(&text, "repository")?;
        self.registry
            .set_repository_document(&scope, &name, RepositoryDocument::Policy, Some(&text))
            .await?;
        Ok(SetRepositoryPolicyResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(name),
            policy_text: Some(text),
        })
    }
}

impl GetRepositoryPolicy for EcrHandlers {
    async fn get_repository_policy(
        &self, caller: &Caller, input: GetRepositoryPolicyRequest,
    ) -> Result<GetRepositoryPolicyResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = input.repository_name;
        let text = self
            .registry
            .repository_document(&scope, &name, RepositoryDocument::Policy)
            .await?
            .ok_or_else(|| policy_not_found(&scope, &name))?;
        Ok(GetRepositoryPolicyResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(name),
            policy_text: Some(text),
        })
    }
}

impl DeleteRepositoryPolicy for EcrHandlers {
    async fn delete_repository_policy(
        &self, caller: &Caller, input: DeleteRepositoryPolicyRequest,
    ) -> Result<DeleteRepositoryPolicyResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = input.repository_name;
        let previous = self
            .registry
            .set_repository_document(&scope, &name, RepositoryDocument::Policy, None)
            .await?
            .ok_or_else(|| policy_not_found(&scope, &name))?;
        Ok(DeleteRepositoryPolicyResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(name),
            policy_text: Some(previous),
        })
    }
}

fn registry_policy_not_found(scope: &RegistryScope) -> RegistryError {
    RegistryError::RegistryPolicyNotFound { registry: scope.registry_id.clone() }
}

impl PutRegistryPolicy for EcrHandlers {
    async fn put_registry_policy(
        &self, caller: &Caller, input: PutRegistryPolicyRequest,
    ) -> Result<PutRegistryPolicyResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        check_policy(&input.policy_text, "registry")?;
        self.registry.set_registry_policy(&scope, Some(&input.policy_text)).await?;
        Ok(PutRegistryPolicyResponse {
            registry_id: Some(scope.registry_id),
            policy_text: Some(input.policy_text),
        })
    }
}

impl GetRegistryPolicy for EcrHandlers {
    async fn get_registry_policy(
        &self, caller: &Caller, _input: GetRegistryPolicyRequest,
    ) -> Result<GetRegistryPolicyResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let text = self
            .registry
            .registry_policy(&scope)
            .await?
            .ok_or_else(|| registry_policy_not_found(&scope))?;
        Ok(GetRegistryPolicyResponse {
            registry_id: Some(scope.registry_id),
            policy_text: Some(text),
        })
    }
}

impl DeleteRegistryPolicy for EcrHandlers {
    async fn delete_registry_policy(
        &self, caller: &Caller, _input: DeleteRegistryPolicyRequest,
    ) -> Result<DeleteRegistryPolicyResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let previous = self
            .registry
            .set_registry_policy(&scope, None)
            .await?
            .ok_or_else(|| registry_policy_not_found(&scope))?;
        Ok(DeleteRegistryPolicyResponse {
            registry_id: Some(scope.registry_id),
            policy_text: Some(previous),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents() {
        assert!(check_policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"}]}"#, "repository").is_ok());
        assert!(check_policy(
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"ecr:*"}}"#,
            "repository"
        )
        .is_ok());
        for bad in
            ["", "not json", "{}", r#"{"Statement":[]}"#, r#"{"Statement":[{"Effect":"Maybe"}]}"#]
        {
            let err = check_policy(bad, "repository").unwrap_err();
            assert_eq!(
                err.to_string(),
                "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
            );
        }
    }
}
