//! Create/Describe/Update/DeleteRepositoryCreationTemplate: the caller's registry's
//! templates, checked as the settings they carry are checked elsewhere (lifecycle policy,
//! repository policy, resource tags), kept in the registry record.

use super::page_token::page_by_key;
use super::{resource_tags, EcrHandlers};
use crate::access_policy::PolicyDocument;
use crate::error::RegistryError;
use crate::lifecycle::LifecyclePolicy;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use berth_generated::runtime::Timestamp;

/// Templates per registry (ECR documents no figure; this one is berth's).
pub const MAX_CREATION_TEMPLATES: usize = 50;

/// ECR's page size when `maxResults` is not given.
const DEFAULT_PAGE_SIZE: i32 = 100;

/// The settings a Create or Update may carry, checked.
fn check_settings(template: &RepositoryCreationTemplate) -> Result<(), RegistryError> {
    if let Some(text) = template.lifecycle_policy.as_deref().filter(|t| !t.is_empty()) {
        LifecyclePolicy::parse(text)?;
    }
    if let Some(text) = template.repository_policy.as_deref().filter(|t| !t.is_empty()) {
        PolicyDocument::parse(text).map_err(|_| {
            RegistryError::invalid_parameter(
                "repositoryPolicy",
                "Invalid repository policy provided",
            )
        })?;
    }
    if let Some(tags) = &template.resource_tags {
        // The template operations declare no tagging errors: a bad tag is a bad parameter.
        resource_tags(tags.clone()).map_err(|e| match e {
            RegistryError::InvalidTagParameter(m) | RegistryError::TooManyTags(m) => {
                RegistryError::invalid_parameter("resourceTags", &m)
            }
            other => other,
        })?;
    }
    Ok(())
}

fn not_found(scope: &RegistryScope, prefix: &str) -> RegistryError {
    RegistryError::TemplateNotFound {
        prefix: prefix.to_string(),
        registry: scope.registry_id.clone(),
    }
}

impl CreateRepositoryCreationTemplate for EcrHandlers {
    async fn create_repository_creation_template(
        &self, caller: &Caller, input: CreateRepositoryCreationTemplateRequest,
    ) -> Result<CreateRepositoryCreationTemplateResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let now = Timestamp(self.registry.clock().now());
        let template = RepositoryCreationTemplate {
            prefix: Some(input.prefix.clone()),
            description: input.description,
            applied_for: Some(input.applied_for),
            custom_role_arn: input.custom_role_arn,
            encryption_configuration: Some(input.encryption_configuration.unwrap_or(
                EncryptionConfigurationForRepositoryCreationTemplate {
                    encryption_type: EncryptionType::Aes256,
                    kms_key: None,
                },
            )),
            image_tag_mutability: Some(
                input.image_tag_mutability.unwrap_or(ImageTagMutability::Mutable),
            ),
            image_tag_mutability_exclusion_filters: input.image_tag_mutability_exclusion_filters,
            lifecycle_policy: input.lifecycle_policy,
            repository_policy: input.repository_policy,
            resource_tags: input.resource_tags,
            created_at: Some(now),
            updated_at: Some(now),
        };
        check_settings(&template)?;
        let stored = template.clone();
        self.registry
            .update_creation_templates(&scope, |templates| {
                if templates.iter().any(|t| t.prefix == stored.prefix) {
                    return Err(RegistryError::TemplateAlreadyExists {
                        prefix: input.prefix.clone(),
                        registry: scope.registry_id.clone(),
                    });
                }
                if templates.len() >= MAX_CREATION_TEMPLATES {
                    return Err(RegistryError::LimitExceeded(format!(
                        "The maximum number of repository creation templates ({MAX_CREATION_TEMPLATES}) has been reached for the registry with id '{}'",
                        scope.registry_id
                    )));
                }
                templates.push(stored);
                Ok(())
            })
            .await?;
        Ok(CreateRepositoryCreationTemplateResponse {
            registry_id: Some(scope.registry_id),
            repository_creation_template: Some(template),
        })
    }
}

impl DescribeRepositoryCreationTemplates for EcrHandlers {
    async fn describe_repository_creation_templates(
        &self, caller: &Caller, input: DescribeRepositoryCreationTemplatesRequest,
    ) -> Result<DescribeRepositoryCreationTemplatesResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let templates: Vec<RepositoryCreationTemplate> = self
            .registry
            .creation_templates(&scope)
            .await?
            .into_iter()
            .filter(|t| {
                let prefix = t.prefix.as_deref().unwrap_or_default();
                input.prefixes.as_ref().is_none_or(|wanted| wanted.iter().any(|w| w == prefix))
            })
            .collect();
        let (templates, next_token) = page_by_key(
            templates,
            |t| t.prefix.as_deref().unwrap_or_default(),
            input.next_token.as_deref(),
            input.max_results,
            DEFAULT_PAGE_SIZE,
        )?;
        Ok(DescribeRepositoryCreationTemplatesResponse {
            registry_id: Some(scope.registry_id),
            repository_creation_templates: Some(templates),
            next_token,
        })
    }
}

impl UpdateRepositoryCreationTemplate for EcrHandlers {
    async fn update_repository_creation_template(
        &self, caller: &Caller, input: UpdateRepositoryCreationTemplateRequest,
    ) -> Result<UpdateRepositoryCreationTemplateResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let now = Timestamp(self.registry.clock().now());
        let prefix = input.prefix.clone();
        let updated = self
            .registry
            .update_creation_templates(&scope, |templates| {
                let template = templates
                    .iter_mut()
                    .find(|t| t.prefix.as_deref() == Some(prefix.as_str()))
                    .ok_or_else(|| not_found(&scope, &prefix))?;
                let mut changed = template.clone();
                if input.description.is_some() {
                    changed.description = input.description;
                }
                if input.applied_for.is_some() {
                    changed.applied_for = input.applied_for;
                }
                if input.custom_role_arn.is_some() {
                    changed.custom_role_arn = input.custom_role_arn;
                }
                if let Some(e) = input.encryption_configuration {
                    changed.encryption_configuration = Some(e);
                }
                if let Some(m) = input.image_tag_mutability {
                    changed.image_tag_mutability = Some(m);
                }
                if let Some(f) = input.image_tag_mutability_exclusion_filters {
                    changed.image_tag_mutability_exclusion_filters = Some(f);
                }
                if input.lifecycle_policy.is_some() {
                    changed.lifecycle_policy = input.lifecycle_policy;
                }
                if input.repository_policy.is_some() {
                    changed.repository_policy = input.repository_policy;
                }
                if let Some(tags) = input.resource_tags {
                    changed.resource_tags = Some(tags);
                }
                changed.updated_at = Some(now);
                check_settings(&changed)?;
                *template = changed.clone();
                Ok(changed)
            })
            .await?;
        Ok(UpdateRepositoryCreationTemplateResponse {
            registry_id: Some(scope.registry_id),
            repository_creation_template: Some(updated),
        })
    }
}

impl DeleteRepositoryCreationTemplate for EcrHandlers {
    async fn delete_repository_creation_template(
        &self, caller: &Caller, input: DeleteRepositoryCreationTemplateRequest,
    ) -> Result<DeleteRepositoryCreationTemplateResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let prefix = input.prefix;
        let deleted = self
            .registry
            .update_creation_templates(&scope, |templates| {
                let at = templates
                    .iter()
                    .position(|t| t.prefix.as_deref() == Some(prefix.as_str()))
                    .ok_or_else(|| not_found(&scope, &prefix))?;
                Ok(templates.remove(at))
            })
            .await?;
        Ok(DeleteRepositoryCreationTemplateResponse {
            registry_id: Some(scope.registry_id),
            repository_creation_template: Some(deleted),
        })
    }
}
