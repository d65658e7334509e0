//! CreateRepository, DescribeRepositories, DeleteRepository, PutImageTagMutability,
//! PutImageScanningConfiguration.

use super::{refuse_paging_with, resource_tags, EcrHandlers};
use crate::ecr::page_token::PageToken;
use crate::error::RegistryError;
use crate::metadata::RepositoryRecord;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use berth_generated::runtime::Timestamp;

/// ECR's page size when `maxResults` is not given.
const DEFAULT_PAGE_SIZE: i32 = 100;

impl EcrHandlers {
    /// The wire form of a stored repository.
    pub(crate) fn repository_view(
        &self, scope: &RegistryScope, r: &RepositoryRecord,
    ) -> Repository {
        Repository {
            repository_arn: Some(scope.repository_arn(&r.name)),
            registry_id: Some(scope.registry_id.clone()),
            repository_name: Some(r.name.clone()),
            repository_uri: Some(format!("{}/{}", self.endpoint.host(scope), r.name)),
            created_at: Some(Timestamp(r.created_at)),
            image_tag_mutability: Some(r.image_tag_mutability),
            image_tag_mutability_exclusion_filters: (!r.exclusion_filters.is_empty())
                .then(|| r.exclusion_filters.clone()),
            image_scanning_configuration: Some(ImageScanningConfiguration {
                scan_on_push: r.scan_on_push,
            }),
            encryption_configuration: Some(EncryptionConfiguration {
                encryption_type: r.encryption_type,
                kms_key: r.kms_key.clone(),
            }),
        }
    }
}

/// Exclusion filters go with the `*_WITH_EXCLUSION` settings, and only with them.
fn exclusion_filters(
    mutability: ImageTagMutability, filters: Option<Vec<ImageTagMutabilityExclusionFilter>>,
) -> Result<Vec<ImageTagMutabilityExclusionFilter>, RegistryError> {
    let with_exclusion = matches!(
        mutability,
        ImageTagMutability::ImmutableWithExclusion | ImageTagMutability::MutableWithExclusion
    );
    match (with_exclusion, filters) {
        (true, Some(filters)) => Ok(filters),
        (true, None) => Err(RegistryError::invalid_parameter(
            "imageTagMutabilityExclusionFilters",
            &format!("must be specified when imageTagMutability is {}", mutability.as_str()),
        )),
        (false, Some(_)) => Err(RegistryError::invalid_parameter(
            "imageTagMutabilityExclusionFilters",
            "can only be specified when imageTagMutability is IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION",
        )),
        (false, None) => Ok(Vec::new()),
    }
}

/// AES256 unless asked otherwise; a KMS key only with a KMS encryption type.
fn encryption(
    config: Option<EncryptionConfiguration>,
) -> Result<(EncryptionType, Option<String>), RegistryError> {
    let Some(config) = config else {
        return Ok((EncryptionType::Aes256, None));
    };
    let kind = config.encryption_type;
    if kind == EncryptionType::Aes256 && config.kms_key.is_some() {
        return Err(RegistryError::invalid_parameter(
            "encryptionConfiguration",
            "kmsKey can only be specified when encryptionType is KMS or KMS_DSSE",
        ));
    }
    Ok((kind, config.kms_key))
}

impl CreateRepository for EcrHandlers {
    async fn create_repository(
        &self, caller: &Caller, input: CreateRepositoryRequest,
    ) -> Result<CreateRepositoryResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = input.repository_name;
        let mutability = input.image_tag_mutability.unwrap_or(ImageTagMutability::Mutable);
        let filters = exclusion_filters(mutability, input.image_tag_mutability_exclusion_filters)?;
        let (encryption_type, kms_key) = encryption(input.encryption_configuration)?;
        let tags = resource_tags(input.tags.unwrap_or_default())?;
        let record = RepositoryRecord {
            name,
            created_at: self.registry.clock().now(),
            image_tag_mutability: mutability,
            exclusion_filters: filters,
            scan_on_push: input.image_scanning_configuration.is_some_and(|c| c.scan_on_push),
            encryption_type,
            kms_key,
        };
        self.registry.create_repository(&scope, &record, &tags).await?;
        Ok(CreateRepositoryResponse { repository: Some(self.repository_view(&scope, &record)) })
    }
}

impl DescribeRepositories for EcrHandlers {
    async fn describe_repositories(
        &self, caller: &Caller, input: DescribeRepositoriesRequest,
    ) -> Result<DescribeRepositoriesResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        if let Some(names) = input.repository_names {
            refuse_paging_with(
                input.max_results.is_some(),
                input.next_token.is_some(),
                "repositoryNames",
            )?;
            let mut repositories = Vec::new();
            let mut seen = std::collections::BTreeSet::new();
            for name in names {
                if seen.insert(name.clone()) {
                    let record = self.registry.repository_record(&scope, &name).await?;
                    repositories.push(self.repository_view(&scope, &record));
                }
            }
            return Ok(DescribeRepositoriesResponse {
                repositories: Some(repositories),
                next_token: None,
            });
        }
        let page_size = input.max_results.unwrap_or(DEFAULT_PAGE_SIZE).max(1) as u32;
        let after = input.next_token.as_deref().map(PageToken::decode).transpose()?;
        let mut records = self
            .registry
            .repositories(&scope, after.as_ref().map(PageToken::after), page_size + 1)
            .await?;
        let more = records.len() > page_size as usize;
        records.truncate(page_size as usize);
        let next_token = match records.last() {
            Some(last) if more => Some(PageToken::new(&last.name).encode()),
            _ => None,
        };
        Ok(DescribeRepositoriesResponse {
            repositories: Some(records.iter().map(|r| self.repository_view(&scope, r)).collect()),
            next_token,
        })
    }
}

impl DeleteRepository for EcrHandlers {
    async fn delete_repository(
        &self, caller: &Caller, input: DeleteRepositoryRequest,
    ) -> Result<DeleteRepositoryResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = input.repository_name;
        let record = self.registry.delete_repository(&scope, &name, input.force).await?;
        Ok(DeleteRepositoryResponse { repository: Some(self.repository_view(&scope, &record)) })
    }
}

impl PutImageTagMutability for EcrHandlers {
    async fn put_image_tag_mutability(
        &self, caller: &Caller, input: PutImageTagMutabilityRequest,
    ) -> Result<PutImageTagMutabilityResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = input.repository_name;
        let mutability = input.image_tag_mutability;
        let filters = exclusion_filters(mutability, input.image_tag_mutability_exclusion_filters)?;
        self.registry.set_tag_mutability(&scope, &name, mutability, &filters).await?;
        Ok(PutImageTagMutabilityResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(name),
            image_tag_mutability: Some(mutability),
            image_tag_mutability_exclusion_filters: (!filters.is_empty()).then_some(filters),
        })
    }
}

impl PutImageScanningConfiguration for EcrHandlers {
    async fn put_image_scanning_configuration(
        &self, caller: &Caller, input: PutImageScanningConfigurationRequest,
    ) -> Result<PutImageScanningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = input.repository_name;
        let config = input.image_scanning_configuration;
        self.registry.set_scan_on_push(&scope, &name, config.scan_on_push).await?;
        Ok(PutImageScanningConfigurationResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(name),
            image_scanning_configuration: Some(config),
        })
    }
}
