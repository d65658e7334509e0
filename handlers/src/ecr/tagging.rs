//! TagResource, UntagResource, ListTagsForResource on repository ARNs.

use super::{resource_tags, EcrHandlers, MAX_RESOURCE_TAGS};
use crate::error::RegistryError;
use crate::scope::{Caller, RepositoryArn};
use berth_generated::ecr::*;

fn repository_arn(arn: &str) -> Result<RepositoryArn, RegistryError> {
    RepositoryArn::parse(arn).ok_or_else(|| {
        RegistryError::invalid_parameter(
            "resourceArn",
            "must be a repository ARN of the form arn:aws:ecr:<region>:<account>:repository/<name>",
        )
    })
}

impl TagResource for EcrHandlers {
    async fn tag_resource(
        &self, _caller: &Caller, input: TagResourceRequest,
    ) -> Result<TagResourceResponse, RegistryError> {
        let arn = repository_arn(&input.resource_arn)?;
        let tags = resource_tags(input.tags)?;
        self.registry.tag_repository(&arn.scope, &arn.name, &tags, MAX_RESOURCE_TAGS).await?;
        Ok(TagResourceResponse {})
    }
}

impl UntagResource for EcrHandlers {
    async fn untag_resource(
        &self, _caller: &Caller, input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, RegistryError> {
        let arn = repository_arn(&input.resource_arn)?;
        let keys = input.tag_keys;
        self.registry.untag_repository(&arn.scope, &arn.name, &keys).await?;
        Ok(UntagResourceResponse {})
    }
}

impl ListTagsForResource for EcrHandlers {
    async fn list_tags_for_resource(
        &self, _caller: &Caller, input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, RegistryError> {
        let arn = repository_arn(&input.resource_arn)?;
        let tags = self.registry.resource_tags(&arn.scope, &arn.name).await?;
        Ok(ListTagsForResourceResponse {
            tags: Some(tags.into_iter().map(|(key, value)| Tag { key, value }).collect()),
        })
    }
}
