//! Create/Describe/Update/DeletePullThroughCacheRule with ECR's checks: the upstream kind
//! inferred from the URL (and refused when ECR does not cache it), credentials required
//! for the kinds that need them and resolved from berth's secrets, `upstreamRepositoryPrefix`
//! only under a named prefix, one rule per prefix, 50 per registry.

use super::page_token::page_by_key;
use super::EcrHandlers;
use crate::error::RegistryError;
use crate::pull_through::{needs_credentials, upstream_kind, ROOT};
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use berth_generated::runtime::Timestamp;

/// Rules per registry (ECR's quota).
pub const MAX_PULL_THROUGH_RULES: usize = 50;

/// ECR's page size when `maxResults` is not given.
const DEFAULT_PAGE_SIZE: i32 = 100;

/// Where the rule for `prefix` stands among the registry's rules, or ECR's not-found.
fn rule_at(
    rules: &[PullThroughCacheRule], scope: &RegistryScope, prefix: &str,
) -> Result<usize, RegistryError> {
    rules.iter().position(|r| r.ecr_repository_prefix.as_deref() == Some(prefix)).ok_or_else(|| {
        RegistryError::PullThroughCacheRuleNotFound {
            prefix: prefix.to_string(),
            registry: scope.registry_id.clone(),
        }
    })
}

impl EcrHandlers {
    /// Refuses a credential berth cannot resolve (ECR reads the secret on Create/Update).
    fn check_secret(&self, arn: Option<&str>) -> Result<(), RegistryError> {
        match arn {
            Some(arn) if self.cache.secrets().get(arn).is_none() => {
                Err(RegistryError::SecretNotFound(arn.to_string()))
            }
            _ => Ok(()),
        }
    }
}

impl CreatePullThroughCacheRule for EcrHandlers {
    async fn create_pull_through_cache_rule(
        &self, caller: &Caller, input: CreatePullThroughCacheRuleRequest,
    ) -> Result<CreatePullThroughCacheRuleResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let url = input.upstream_registry_url;
        let kind = upstream_kind(&url).ok_or_else(|| {
            RegistryError::UnsupportedUpstreamRegistry(format!(
                "The upstream registry URL {url} is invalid. Specify a valid upstream registry URL and try again"
            ))
        })?;
        if input.upstream_registry.is_some_and(|given| given != kind) {
            return Err(RegistryError::invalid_parameter(
                "upstreamRegistry",
                &format!("must be {} for the upstream registry URL {url}", kind.as_str()),
            ));
        }
        if needs_credentials(kind) && input.credential_arn.is_none() {
            return Err(RegistryError::UnsupportedUpstreamRegistry(
                "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN and try again"
                    .into(),
            ));
        }
        let prefix = input.ecr_repository_prefix;
        if input.upstream_repository_prefix.is_some() && prefix == ROOT {
            return Err(RegistryError::invalid_parameter(
                "upstreamRepositoryPrefix",
                "can only be specified when ecrRepositoryPrefix is not ROOT",
            ));
        }
        self.check_secret(input.credential_arn.as_deref())?;
        let now = Timestamp(self.registry.clock().now());
        let rule = PullThroughCacheRule {
            ecr_repository_prefix: Some(prefix.clone()),
            upstream_registry_url: Some(url),
            upstream_registry: Some(kind),
            upstream_repository_prefix: Some(
                input.upstream_repository_prefix.unwrap_or_else(|| ROOT.into()),
            ),
            credential_arn: input.credential_arn,
            custom_role_arn: input.custom_role_arn,
            registry_id: Some(scope.registry_id.clone()),
            created_at: Some(now),
            updated_at: None,
        };
        let stored = rule.clone();
        self.registry
            .update_pull_through_rules(&scope, |rules| {
                if rules.iter().any(|r| r.ecr_repository_prefix.as_deref() == Some(&prefix)) {
                    return Err(RegistryError::PullThroughCacheRuleAlreadyExists {
                        prefix: prefix.clone(),
                        registry: scope.registry_id.clone(),
                    });
                }
                if rules.len() >= MAX_PULL_THROUGH_RULES {
                    return Err(RegistryError::LimitExceeded(format!(
                        "The maximum number of pull through cache rules ({MAX_PULL_THROUGH_RULES}) has been reached for the registry with id '{}'",
                        scope.registry_id
                    )));
                }
                rules.push(stored);
                Ok(())
            })
            .await?;
        Ok(CreatePullThroughCacheRuleResponse {
            ecr_repository_prefix: rule.ecr_repository_prefix,
            upstream_registry_url: rule.upstream_registry_url,
            upstream_registry: rule.upstream_registry,
            upstream_repository_prefix: rule.upstream_repository_prefix,
            credential_arn: rule.credential_arn,
            custom_role_arn: rule.custom_role_arn,
            registry_id: rule.registry_id,
            created_at: rule.created_at,
        })
    }
}

impl DescribePullThroughCacheRules for EcrHandlers {
    async fn describe_pull_through_cache_rules(
        &self, caller: &Caller, input: DescribePullThroughCacheRulesRequest,
    ) -> Result<DescribePullThroughCacheRulesResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let rules = self.registry.pull_through_rules(&scope).await?;
        if let Some(wanted) = &input.ecr_repository_prefixes {
            for prefix in wanted {
                rule_at(&rules, &scope, prefix)?;
            }
        }
        let rules: Vec<PullThroughCacheRule> = rules
            .into_iter()
            .filter(|r| {
                let prefix = r.ecr_repository_prefix.as_deref().unwrap_or_default();
                input
                    .ecr_repository_prefixes
                    .as_ref()
                    .is_none_or(|wanted| wanted.iter().any(|w| w == prefix))
            })
            .collect();
        let (page, next_token) = page_by_key(
            rules,
            |r| r.ecr_repository_prefix.as_deref().unwrap_or_default(),
            input.next_token.as_deref(),
            input.max_results,
            DEFAULT_PAGE_SIZE,
        )?;
        Ok(DescribePullThroughCacheRulesResponse {
            pull_through_cache_rules: Some(page),
            next_token,
        })
    }
}

impl UpdatePullThroughCacheRule for EcrHandlers {
    async fn update_pull_through_cache_rule(
        &self, caller: &Caller, input: UpdatePullThroughCacheRuleRequest,
    ) -> Result<UpdatePullThroughCacheRuleResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        if input.credential_arn.is_none() && input.custom_role_arn.is_none() {
            return Err(RegistryError::InvalidParameter(
                "Invalid input: Please set either credential arn or role arn to update the credentials"
                    .into(),
            ));
        }
        self.check_secret(input.credential_arn.as_deref())?;
        let now = Timestamp(self.registry.clock().now());
        let prefix = input.ecr_repository_prefix;
        let rule = self
            .registry
            .update_pull_through_rules(&scope, |rules| {
                let at = rule_at(rules, &scope, &prefix)?;
                let rule = &mut rules[at];
                if input.credential_arn.is_some() {
                    rule.credential_arn = input.credential_arn;
                }
                if input.custom_role_arn.is_some() {
                    rule.custom_role_arn = input.custom_role_arn;
                }
                rule.updated_at = Some(now);
                Ok(rule.clone())
            })
            .await?;
        Ok(UpdatePullThroughCacheRuleResponse {
            ecr_repository_prefix: rule.ecr_repository_prefix,
            registry_id: rule.registry_id,
            updated_at: rule.updated_at,
            credential_arn: rule.credential_arn,
            custom_role_arn: rule.custom_role_arn,
            upstream_repository_prefix: rule.upstream_repository_prefix,
        })
    }
}

impl DeletePullThroughCacheRule for EcrHandlers {
    async fn delete_pull_through_cache_rule(
        &self, caller: &Caller, input: DeletePullThroughCacheRuleRequest,
    ) -> Result<DeletePullThroughCacheRuleResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let prefix = input.ecr_repository_prefix;
        let rule = self
            .registry
            .update_pull_through_rules(&scope, |rules| {
                let at = rule_at(rules, &scope, &prefix)?;
                Ok(rules.remove(at))
            })
            .await?;
        // As ECR: the Create fields without upstreamRegistry.
        Ok(DeletePullThroughCacheRuleResponse {
            ecr_repository_prefix: rule.ecr_repository_prefix,
            upstream_registry_url: rule.upstream_registry_url,
            upstream_repository_prefix: rule.upstream_repository_prefix,
            credential_arn: rule.credential_arn,
            custom_role_arn: rule.custom_role_arn,
            registry_id: rule.registry_id,
            created_at: rule.created_at,
        })
    }
}

impl ValidatePullThroughCacheRule for EcrHandlers {
    /// Logs in to the rule's upstream registry with its credentials, as a pull would.
    async fn validate_pull_through_cache_rule(
        &self, caller: &Caller, input: ValidatePullThroughCacheRuleRequest,
    ) -> Result<ValidatePullThroughCacheRuleResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let prefix = input.ecr_repository_prefix;
        let mut rules = self.registry.pull_through_rules(&scope).await?;
        let rule = rules.swap_remove(rule_at(&rules, &scope, &prefix)?);
        let credentials = match rule.credential_arn.as_deref() {
            Some(arn) => Some(
                self.cache
                    .secrets()
                    .get(arn)
                    .ok_or_else(|| RegistryError::SecretNotFound(arn.to_string()))?,
            ),
            None => None,
        };
        let url = rule.upstream_registry_url.clone().unwrap_or_default();
        let failure = self.cache.upstream_client().log_in(&url, credentials).await.err();
        Ok(ValidatePullThroughCacheRuleResponse {
            is_valid: failure.is_none(),
            failure: failure.map(|f| f.0),
            ecr_repository_prefix: rule.ecr_repository_prefix,
            upstream_registry_url: rule.upstream_registry_url,
            upstream_repository_prefix: rule.upstream_repository_prefix,
            credential_arn: rule.credential_arn,
            custom_role_arn: rule.custom_role_arn,
            registry_id: rule.registry_id,
        })
    }
}
