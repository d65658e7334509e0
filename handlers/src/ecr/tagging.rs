//! TagResource, UntagResource, ListTagsForResource on repository ARNs.

use super::{required, resource_tags, EcrHandlers, MAX_RESOURCE_TAGS};
use crate::error::RegistryError;
use crate::scope::RepositoryArn;
use berth_generated::ecr::*;

fn repository_arn(arn: Option<String>) -> Result<RepositoryArn, RegistryError> {
    let arn = required(arn, "resourceArn")?;
    RepositoryArn::parse(&arn).ok_or_else(|| {
        RegistryError::invalid_parameter(
            "resourceArn",
            "must be a repository ARN of the form arn:aws:ecr:<region>:<account>:repository/<name>",
        )
    })
}

impl EcrHandlers {
    pub(crate) async fn tag_resource_op(
        &self,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, RegistryError> {
        let arn = repository_arn(input.resource_arn)?;
        let tags = resource_tags(required(input.tags, "tags")?)?;
        self.registry
            .store()
            .tag_repository(&arn.scope, &arn.name, &tags, MAX_RESOURCE_TAGS)
            .await?;
        Ok(TagResourceResponse {})
    }

    pub(crate) async fn untag_resource_op(
        &self,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, RegistryError> {
        let arn = repository_arn(input.resource_arn)?;
        let keys = required(input.tag_keys, "tagKeys")?;
        self.registry
            .store()
            .untag_repository(&arn.scope, &arn.name, &keys)
            .await?;
        Ok(UntagResourceResponse {})
    }

    pub(crate) async fn list_tags_for_resource_op(
        &self,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, RegistryError> {
        let arn = repository_arn(input.resource_arn)?;
        let tags = self.registry.store().tags(&arn.scope, &arn.name).await?;
        Ok(ListTagsForResourceResponse {
            tags: Some(
                tags.into_iter()
                    .map(|(key, value)| Tag {
                        key: Some(key),
                        value: Some(value),
                    })
                    .collect(),
            ),
        })
    }
}
