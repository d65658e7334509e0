//! The ECR API: `EcrHandlers` implements the generated `EcrService` trait.
//!
//! Each implemented operation lives in the module of its concept; this file wires them,
//! and lists the operations whose issues have not landed yet (they answer 501 naming
//! the operation).

mod authorization;
mod images;
mod layers;
mod page_token;
mod policies;
mod registry;
mod repositories;
mod tagging;

use crate::auth::TokenSigner;
use crate::error::RegistryError;
use crate::metadata::RepositoryTag;
use crate::reference::RepositoryName;
use crate::registry::Registry;
use crate::scope::Caller;
use berth_generated::ecr::*;
use berth_generated::runtime::OperationError;
use std::collections::BTreeSet;
use std::sync::Arc;

/// ECR's limit of resource tags per repository.
pub const MAX_RESOURCE_TAGS: usize = 50;

/// The ECR operations over the registry core.
#[derive(Debug)]
pub struct EcrHandlers {
    registry: Arc<Registry>,
    tokens: TokenSigner,
    /// `host[:port]` that repository URIs start with, so that docker can push to them.
    registry_host: String,
}

impl EcrHandlers {
    /// Handlers over `registry`, naming repositories `<registry_host>/<name>`.
    pub fn new(registry: Arc<Registry>, tokens: TokenSigner, registry_host: String) -> Self {
        EcrHandlers {
            registry,
            tokens,
            registry_host,
        }
    }
}

/// A member the generated validation already required; refusing it again keeps the
/// handlers panic-free without trusting that.
pub(crate) fn required<T>(value: Option<T>, member: &str) -> Result<T, RegistryError> {
    value.ok_or_else(|| RegistryError::invalid_parameter(member, "Member must not be null"))
}

/// The repository name of a request, as a parsed name.
pub(crate) fn repository_name(name: Option<String>) -> Result<RepositoryName, RegistryError> {
    let name = required(name, "repositoryName")?;
    RepositoryName::parse(&name).ok_or_else(|| {
        RegistryError::invalid_parameter(
            "repositoryName",
            "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'",
        )
    })
}

/// Checks resource tags as AWS tagging does: key 1-128 characters, value up to 256, no
/// `aws:` prefix, no key twice, at most 50.
pub(crate) fn resource_tags(tags: Vec<Tag>) -> Result<Vec<RepositoryTag>, RegistryError> {
    if tags.len() > MAX_RESOURCE_TAGS {
        return Err(RegistryError::TooManyTags(format!(
            "Tag limit exceeded: {} tags were given, and at most {MAX_RESOURCE_TAGS} are allowed",
            tags.len()
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(tags.len());
    for tag in tags {
        let key = required(tag.key, "Key")?;
        let value = required(tag.value, "Value")?;
        let invalid =
            |why: &str| RegistryError::InvalidTagParameter(format!("Invalid tag '{key}': {why}"));
        if key.is_empty() || key.chars().count() > 128 {
            return Err(invalid("a tag key must have 1 to 128 characters"));
        }
        if value.chars().count() > 256 {
            return Err(invalid("a tag value must have at most 256 characters"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("the 'aws:' prefix is reserved for AWS use"));
        }
        if !seen.insert(key.clone()) {
            return Err(invalid("the key is given more than once"));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Operations whose behaviour a later issue builds; they answer NotImplemented.
macro_rules! not_implemented_yet {
    ($($method:ident($input:ident) -> $output:ident, $error:ident;)*) => {
        $(
            async fn $method(&self, _cx: &Caller, _input: $input) -> Result<$output, OperationError<$error>> {
                Err(OperationError::NotImplemented)
            }
        )*
    };
}

impl EcrService for EcrHandlers {
    type Context = Caller;

    async fn create_repository(
        &self,
        cx: &Caller,
        input: CreateRepositoryRequest,
    ) -> Result<CreateRepositoryResponse, OperationError<CreateRepositoryError>> {
        Ok(self.create_repository_op(cx, input).await?)
    }

    async fn describe_repositories(
        &self,
        cx: &Caller,
        input: DescribeRepositoriesRequest,
    ) -> Result<DescribeRepositoriesResponse, OperationError<DescribeRepositoriesError>> {
        Ok(self.describe_repositories_op(cx, input).await?)
    }

    async fn delete_repository(
        &self,
        cx: &Caller,
        input: DeleteRepositoryRequest,
    ) -> Result<DeleteRepositoryResponse, OperationError<DeleteRepositoryError>> {
        Ok(self.delete_repository_op(cx, input).await?)
    }

    async fn put_image_tag_mutability(
        &self,
        cx: &Caller,
        input: PutImageTagMutabilityRequest,
    ) -> Result<PutImageTagMutabilityResponse, OperationError<PutImageTagMutabilityError>> {
        Ok(self.put_image_tag_mutability_op(cx, input).await?)
    }

    async fn put_image_scanning_configuration(
        &self,
        cx: &Caller,
        input: PutImageScanningConfigurationRequest,
    ) -> Result<
        PutImageScanningConfigurationResponse,
        OperationError<PutImageScanningConfigurationError>,
    > {
        Ok(self.put_image_scanning_configuration_op(cx, input).await?)
    }

    async fn set_repository_policy(
        &self,
        cx: &Caller,
        input: SetRepositoryPolicyRequest,
    ) -> Result<SetRepositoryPolicyResponse, OperationError<SetRepositoryPolicyError>> {
        Ok(self.set_repository_policy_op(cx, input).await?)
    }

    async fn get_repository_policy(
        &self,
        cx: &Caller,
        input: GetRepositoryPolicyRequest,
    ) -> Result<GetRepositoryPolicyResponse, OperationError<GetRepositoryPolicyError>> {
        Ok(self.get_repository_policy_op(cx, input).await?)
    }

    async fn delete_repository_policy(
        &self,
        cx: &Caller,
        input: DeleteRepositoryPolicyRequest,
    ) -> Result<DeleteRepositoryPolicyResponse, OperationError<DeleteRepositoryPolicyError>> {
        Ok(self.delete_repository_policy_op(cx, input).await?)
    }

    async fn tag_resource(
        &self,
        _cx: &Caller,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, OperationError<TagResourceError>> {
        Ok(self.tag_resource_op(input).await?)
    }

    async fn untag_resource(
        &self,
        _cx: &Caller,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, OperationError<UntagResourceError>> {
        Ok(self.untag_resource_op(input).await?)
    }

    async fn list_tags_for_resource(
        &self,
        _cx: &Caller,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, OperationError<ListTagsForResourceError>> {
        Ok(self.list_tags_for_resource_op(input).await?)
    }

    async fn describe_registry(
        &self,
        cx: &Caller,
        _input: DescribeRegistryRequest,
    ) -> Result<DescribeRegistryResponse, OperationError<DescribeRegistryError>> {
        Ok(self.describe_registry_op(cx).await?)
    }

    async fn get_authorization_token(
        &self,
        cx: &Caller,
        input: GetAuthorizationTokenRequest,
    ) -> Result<GetAuthorizationTokenResponse, OperationError<GetAuthorizationTokenError>> {
        Ok(self.get_authorization_token_op(cx, input))
    }

    async fn put_image(
        &self,
        cx: &Caller,
        input: PutImageRequest,
    ) -> Result<PutImageResponse, OperationError<PutImageError>> {
        Ok(self.put_image_op(cx, input).await?)
    }

    async fn batch_get_image(
        &self,
        cx: &Caller,
        input: BatchGetImageRequest,
    ) -> Result<BatchGetImageResponse, OperationError<BatchGetImageError>> {
        Ok(self.batch_get_image_op(cx, input).await?)
    }

    async fn batch_delete_image(
        &self,
        cx: &Caller,
        input: BatchDeleteImageRequest,
    ) -> Result<BatchDeleteImageResponse, OperationError<BatchDeleteImageError>> {
        Ok(self.batch_delete_image_op(cx, input).await?)
    }

    async fn describe_images(
        &self,
        cx: &Caller,
        input: DescribeImagesRequest,
    ) -> Result<DescribeImagesResponse, OperationError<DescribeImagesError>> {
        Ok(self.describe_images_op(cx, input).await?)
    }

    async fn list_images(
        &self,
        cx: &Caller,
        input: ListImagesRequest,
    ) -> Result<ListImagesResponse, OperationError<ListImagesError>> {
        Ok(self.list_images_op(cx, input).await?)
    }

    async fn list_image_referrers(
        &self,
        cx: &Caller,
        input: ListImageReferrersRequest,
    ) -> Result<ListImageReferrersResponse, OperationError<ListImageReferrersError>> {
        Ok(self.list_image_referrers_op(cx, input).await?)
    }

    async fn initiate_layer_upload(
        &self,
        cx: &Caller,
        input: InitiateLayerUploadRequest,
    ) -> Result<InitiateLayerUploadResponse, OperationError<InitiateLayerUploadError>> {
        Ok(self.initiate_layer_upload_op(cx, input).await?)
    }

    async fn upload_layer_part(
        &self,
        cx: &Caller,
        input: UploadLayerPartRequest,
    ) -> Result<UploadLayerPartResponse, OperationError<UploadLayerPartError>> {
        Ok(self.upload_layer_part_op(cx, input).await?)
    }

    async fn complete_layer_upload(
        &self,
        cx: &Caller,
        input: CompleteLayerUploadRequest,
    ) -> Result<CompleteLayerUploadResponse, OperationError<CompleteLayerUploadError>> {
        Ok(self.complete_layer_upload_op(cx, input).await?)
    }

    async fn batch_check_layer_availability(
        &self,
        cx: &Caller,
        input: BatchCheckLayerAvailabilityRequest,
    ) -> Result<BatchCheckLayerAvailabilityResponse, OperationError<BatchCheckLayerAvailabilityError>>
    {
        Ok(self.batch_check_layer_availability_op(cx, input).await?)
    }

    async fn get_download_url_for_layer(
        &self,
        cx: &Caller,
        input: GetDownloadUrlForLayerRequest,
    ) -> Result<GetDownloadUrlForLayerResponse, OperationError<GetDownloadUrlForLayerError>> {
        Ok(self.get_download_url_for_layer_op(cx, input).await?)
    }

    not_implemented_yet! {
        batch_get_repository_scanning_configuration(BatchGetRepositoryScanningConfigurationRequest) -> BatchGetRepositoryScanningConfigurationResponse, BatchGetRepositoryScanningConfigurationError;
        create_pull_through_cache_rule(CreatePullThroughCacheRuleRequest) -> CreatePullThroughCacheRuleResponse, CreatePullThroughCacheRuleError;
        create_repository_creation_template(CreateRepositoryCreationTemplateRequest) -> CreateRepositoryCreationTemplateResponse, CreateRepositoryCreationTemplateError;
        delete_lifecycle_policy(DeleteLifecyclePolicyRequest) -> DeleteLifecyclePolicyResponse, DeleteLifecyclePolicyError;
        delete_pull_through_cache_rule(DeletePullThroughCacheRuleRequest) -> DeletePullThroughCacheRuleResponse, DeletePullThroughCacheRuleError;
        delete_registry_policy(DeleteRegistryPolicyRequest) -> DeleteRegistryPolicyResponse, DeleteRegistryPolicyError;
        delete_repository_creation_template(DeleteRepositoryCreationTemplateRequest) -> DeleteRepositoryCreationTemplateResponse, DeleteRepositoryCreationTemplateError;
        delete_signing_configuration(DeleteSigningConfigurationRequest) -> DeleteSigningConfigurationResponse, DeleteSigningConfigurationError;
        deregister_pull_time_update_exclusion(DeregisterPullTimeUpdateExclusionRequest) -> DeregisterPullTimeUpdateExclusionResponse, DeregisterPullTimeUpdateExclusionError;
        describe_image_replication_status(DescribeImageReplicationStatusRequest) -> DescribeImageReplicationStatusResponse, DescribeImageReplicationStatusError;
        describe_image_scan_findings(DescribeImageScanFindingsRequest) -> DescribeImageScanFindingsResponse, DescribeImageScanFindingsError;
        describe_image_signing_status(DescribeImageSigningStatusRequest) -> DescribeImageSigningStatusResponse, DescribeImageSigningStatusError;
        describe_pull_through_cache_rules(DescribePullThroughCacheRulesRequest) -> DescribePullThroughCacheRulesResponse, DescribePullThroughCacheRulesError;
        describe_replication_backfill_results(DescribeReplicationBackfillResultsRequest) -> DescribeReplicationBackfillResultsResponse, DescribeReplicationBackfillResultsError;
        describe_repository_creation_templates(DescribeRepositoryCreationTemplatesRequest) -> DescribeRepositoryCreationTemplatesResponse, DescribeRepositoryCreationTemplatesError;
        get_account_setting(GetAccountSettingRequest) -> GetAccountSettingResponse, GetAccountSettingError;
        get_lifecycle_policy(GetLifecyclePolicyRequest) -> GetLifecyclePolicyResponse, GetLifecyclePolicyError;
        get_lifecycle_policy_preview(GetLifecyclePolicyPreviewRequest) -> GetLifecyclePolicyPreviewResponse, GetLifecyclePolicyPreviewError;
        get_registry_policy(GetRegistryPolicyRequest) -> GetRegistryPolicyResponse, GetRegistryPolicyError;
        get_registry_scanning_configuration(GetRegistryScanningConfigurationRequest) -> GetRegistryScanningConfigurationResponse, GetRegistryScanningConfigurationError;
        get_signing_configuration(GetSigningConfigurationRequest) -> GetSigningConfigurationResponse, GetSigningConfigurationError;
        list_pull_time_update_exclusions(ListPullTimeUpdateExclusionsRequest) -> ListPullTimeUpdateExclusionsResponse, ListPullTimeUpdateExclusionsError;
        list_replication_backfills(ListReplicationBackfillsRequest) -> ListReplicationBackfillsResponse, ListReplicationBackfillsError;
        put_account_setting(PutAccountSettingRequest) -> PutAccountSettingResponse, PutAccountSettingError;
        put_lifecycle_policy(PutLifecyclePolicyRequest) -> PutLifecyclePolicyResponse, PutLifecyclePolicyError;
        put_registry_policy(PutRegistryPolicyRequest) -> PutRegistryPolicyResponse, PutRegistryPolicyError;
        put_registry_scanning_configuration(PutRegistryScanningConfigurationRequest) -> PutRegistryScanningConfigurationResponse, PutRegistryScanningConfigurationError;
        put_replication_configuration(PutReplicationConfigurationRequest) -> PutReplicationConfigurationResponse, PutReplicationConfigurationError;
        put_signing_configuration(PutSigningConfigurationRequest) -> PutSigningConfigurationResponse, PutSigningConfigurationError;
        register_pull_time_update_exclusion(RegisterPullTimeUpdateExclusionRequest) -> RegisterPullTimeUpdateExclusionResponse, RegisterPullTimeUpdateExclusionError;
        start_image_scan(StartImageScanRequest) -> StartImageScanResponse, StartImageScanError;
        start_lifecycle_policy_preview(StartLifecyclePolicyPreviewRequest) -> StartLifecyclePolicyPreviewResponse, StartLifecyclePolicyPreviewError;
        start_replication_backfill(StartReplicationBackfillRequest) -> StartReplicationBackfillResponse, StartReplicationBackfillError;
        stop_replication_backfill(StopReplicationBackfillRequest) -> StopReplicationBackfillResponse, StopReplicationBackfillError;
        update_image_storage_class(UpdateImageStorageClassRequest) -> UpdateImageStorageClassResponse, UpdateImageStorageClassError;
        update_pull_through_cache_rule(UpdatePullThroughCacheRuleRequest) -> UpdatePullThroughCacheRuleResponse, UpdatePullThroughCacheRuleError;
        update_repository_creation_template(UpdateRepositoryCreationTemplateRequest) -> UpdateRepositoryCreationTemplateResponse, UpdateRepositoryCreationTemplateError;
        validate_pull_through_cache_rule(ValidatePullThroughCacheRuleRequest) -> ValidatePullThroughCacheRuleResponse, ValidatePullThroughCacheRuleError;
    }
}
