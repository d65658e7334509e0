//! Who may reach another account's registry: ECR's resource policies decide. A caller of
//! its own account is always allowed (berth has no identity policies); a caller of another
//! account is allowed an action on a repository when the repository's policy, or under
//! REGISTRY_POLICY_SCOPE V2 the registry's policy, allows it and neither denies it.

use super::{AccountSetting, Registry};
use crate::access_policy::{evaluate, AccessRequest, Decision, PolicyDocument};
use crate::error::RegistryError;
use crate::metadata::{MetadataStore, RepositoryDocument};
use crate::scope::{PrincipalArn, RegistryScope};

/// Actions a V1 registry policy governs; under V2 it governs every `ecr:` action.
const V1_REGISTRY_ACTIONS: &[&str] =
    &["ecr:ReplicateImage", "ecr:CreateRepository", "ecr:BatchImportUpstreamImage"];

/// The ARN of a repository, as policies and ECR's messages name it.
pub fn repository_arn(scope: &RegistryScope, repository: &str) -> String {
    format!("arn:aws:ecr:{}:{}:repository/{repository}", scope.region, scope.registry_id)
}

impl<M: MetadataStore> Registry<M> {
    /// Allows `principal` the `action` (`ecr:BatchGetImage`...) on `repository` of `scope`
    /// (or on the registry, when no repository is named), or AccessDenied with ECR's text.
    pub async fn authorize(
        &self, principal: &PrincipalArn, action: &str, scope: &RegistryScope,
        repository: Option<&str>,
    ) -> Result<(), RegistryError> {
        if principal.account() == scope.registry_id {
            return Ok(());
        }
        let resource = match repository {
            Some(name) => repository_arn(scope, name),
            None => format!("arn:aws:ecr:{}:{}:repository/*", scope.region, scope.registry_id),
        };
        let context = [
            ("aws:PrincipalAccount", principal.account().to_string()),
            ("aws:PrincipalArn", principal.as_str().to_string()),
        ];
        let request = AccessRequest { principal, action, resource: &resource, context: &context };
        let mut policies = Vec::new();
        if let Some(name) = repository {
            // A repository that does not exist has no policy; the operation itself then
            // answers RepositoryNotFound to whoever may ask.
            if let Ok(Some(text)) =
                self.store.document(scope, name, RepositoryDocument::Policy).await
            {
                policies.push(text);
            }
        }
        let record = self.store.registry_record(scope).await?;
        let scope_setting = record
            .account_settings
            .get(AccountSetting::RegistryPolicyScope.name())
            .map(String::as_str)
            .unwrap_or("V2");
        if let Some(text) = record.policy_text {
            if scope_setting == "V2" || V1_REGISTRY_ACTIONS.contains(&action) {
                policies.push(text);
            }
        }
        let mut allowed = false;
        for text in &policies {
            let Ok(policy) = PolicyDocument::parse(text) else {
                continue;
            };
            match evaluate(&policy, &request) {
                Decision::ExplicitDeny => {
                    return Err(denied(
                        principal,
                        action,
                        &resource,
                        "with an explicit deny in a resource-based policy".into(),
                    ))
                }
                Decision::Allow => allowed = true,
                Decision::NotAllowed => {}
            }
        }
        if allowed {
            Ok(())
        } else {
            let why = format!("because no resource-based policy allows the {action} action");
            Err(denied(principal, action, &resource, why))
        }
    }
}

/// AWS's text: `User: <arn> is not authorized to perform: <action> on resource: <arn>
/// because no resource-based policy allows ...` or `... with an explicit deny ...`.
fn denied(principal: &PrincipalArn, action: &str, resource: &str, why: String) -> RegistryError {
    RegistryError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
        principal.as_str()
    ))
}
