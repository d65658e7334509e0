//! PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy, and the preview
//! (StartLifecyclePolicyPreview, GetLifecyclePolicyPreview): the policy is checked as ECR
//! checks it and kept compacted, as ECR echoes it; a previewed text is echoed as sent. `lastEvaluatedAt` is the last
//! evaluation by the background job, 0 (as in ECR) for a policy never evaluated.

use super::page_token::PageToken;
use super::{refuse_paging_with, EcrHandlers};
use crate::error::RegistryError;
use crate::lifecycle::policy::{Action, StorageClass};
use crate::lifecycle::{compact, Decision, LifecycleImage, LifecyclePolicy};
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
        &self, caller: &Caller, input: PutLifecyclePolicyRequest,
    ) -> Result<PutLifecyclePolicyResponse, RegistryError> {
        let (scope, name) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        LifecyclePolicy::parse(&input.lifecycle_policy_text)?;
        let text = compact(&input.lifecycle_policy_text);
        let kind = RepositoryDocument::LifecyclePolicy;
        self.registry.set_repository_document(&scope, name.as_str(), kind, Some(&text)).await?;
        Ok(PutLifecyclePolicyResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(input.repository_name),
            lifecycle_policy_text: Some(text),
        })
    }
}

impl GetLifecyclePolicy for EcrHandlers {
    async fn get_lifecycle_policy(
        &self, caller: &Caller, input: GetLifecyclePolicyRequest,
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
        &self, caller: &Caller, input: DeleteLifecyclePolicyRequest,
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

/// The stored preview: the text as sent, and the registry time it was started at.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredPreview {
    text: String,
    at: f64,
}

/// ECR's page size of preview results when `maxResults` is not given.
const PREVIEW_PAGE: i32 = 100;

impl StartLifecyclePolicyPreview for EcrHandlers {
    /// Checks the text (or takes the saved policy) and records the preview; it is computed
    /// when read, against the repository's images, at the time it was started. It answers
    /// IN_PROGRESS as ECR does; GetLifecyclePolicyPreview then finds it COMPLETE.
    async fn start_lifecycle_policy_preview(
        &self, caller: &Caller, input: StartLifecyclePolicyPreviewRequest,
    ) -> Result<StartLifecyclePolicyPreviewResponse, RegistryError> {
        let (scope, name) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let text = match input.lifecycle_policy_text {
            Some(text) => {
                LifecyclePolicy::parse(&text)?;
                text
            }
            None => self
                .registry
                .repository_document(&scope, name.as_str(), RepositoryDocument::LifecyclePolicy)
                .await?
                .ok_or_else(|| not_found(&scope, name.as_str()))?,
        };
        let stored = StoredPreview { text: text.clone(), at: self.registry.clock().now() };
        let stored = serde_json::to_string(&stored)
            .map_err(|e| RegistryError::Internal(format!("cannot encode a preview: {e}")))?;
        let kind = RepositoryDocument::LifecyclePreview;
        self.registry.set_repository_document(&scope, name.as_str(), kind, Some(&stored)).await?;
        Ok(StartLifecyclePolicyPreviewResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(input.repository_name),
            lifecycle_policy_text: Some(text),
            status: Some(LifecyclePolicyPreviewStatus::InProgress),
        })
    }
}

/// One preview result in ECR's shape.
fn preview_result(decision: &Decision, image: &LifecycleImage) -> LifecyclePolicyPreviewResult {
    let action = match decision.action {
        Action::Expire => LifecyclePolicyRuleAction {
            r#type: Some(ImageActionType::Expire),
            target_storage_class: None,
        },
        Action::Transition(_) => LifecyclePolicyRuleAction {
            r#type: Some(ImageActionType::Transition),
            target_storage_class: Some(LifecyclePolicyTargetStorageClass::Archive),
        },
    };
    LifecyclePolicyPreviewResult {
        image_tags: Some(image.tags.clone()),
        image_digest: Some(image.digest.clone()),
        image_pushed_at: Some(Timestamp(image.pushed_at)),
        action: Some(action),
        applied_rule_priority: Some(i32::try_from(decision.rule_priority).unwrap_or(i32::MAX)),
        storage_class: Some(match image.storage_class {
            StorageClass::Standard => LifecyclePolicyStorageClass::Standard,
            StorageClass::Archive => LifecyclePolicyStorageClass::Archive,
        }),
    }
}

/// True when the image's tags pass the preview's `tagStatus` filter.
fn passes(filter: Option<TagStatus>, image: &LifecycleImage) -> bool {
    match filter {
        None | Some(TagStatus::Any) => true,
        Some(TagStatus::Tagged) => !image.tags.is_empty(),
        Some(TagStatus::Untagged) => image.tags.is_empty(),
    }
}

/// Whether an id names the image (by digest, by tag, or both).
fn named(id: &ImageIdentifier, image: &LifecycleImage) -> bool {
    id.image_digest.as_ref().is_none_or(|d| *d == image.digest)
        && id.image_tag.as_ref().is_none_or(|t| image.tags.contains(t))
        && (id.image_digest.is_some() || id.image_tag.is_some())
}

impl GetLifecyclePolicyPreview for EcrHandlers {
    async fn get_lifecycle_policy_preview(
        &self, caller: &Caller, input: GetLifecyclePolicyPreviewRequest,
    ) -> Result<GetLifecyclePolicyPreviewResponse, RegistryError> {
        let (scope, name) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        if input.image_ids.is_some() {
            refuse_paging_with(
                input.max_results.is_some(),
                input.next_token.is_some(),
                "imageIds",
            )?;
        }
        let kind = RepositoryDocument::LifecyclePreview;
        let stored =
            self.registry.repository_document(&scope, name.as_str(), kind).await?.ok_or_else(
                || RegistryError::LifecyclePolicyPreviewNotFound {
                    name: name.to_string(),
                    registry: scope.registry_id.clone(),
                },
            )?;
        let stored: StoredPreview = serde_json::from_str(&stored)
            .map_err(|e| RegistryError::Internal(format!("stored preview is invalid: {e}")))?;
        let policy = LifecyclePolicy::parse(&stored.text)?;
        let decisions = self.registry.lifecycle_preview(&scope, &name, &policy, stored.at).await?;
        let expiring = decisions.iter().filter(|(d, _)| d.action == Action::Expire).count();
        let transitioning = decisions.len() - expiring;
        let tag_status = input.filter.and_then(|f| f.tag_status);
        let mut chosen: Vec<&(Decision, LifecycleImage)> = decisions
            .iter()
            .filter(|(_, image)| passes(tag_status, image))
            .filter(|(_, image)| {
                input.image_ids.as_ref().is_none_or(|ids| ids.iter().any(|id| named(id, image)))
            })
            .collect();
        chosen.sort_by(|(a, _), (b, _)| a.digest.cmp(&b.digest));
        let after = input.next_token.as_deref().map(PageToken::decode).transpose()?;
        if let Some(after) = &after {
            chosen.retain(|(d, _)| d.digest.as_str() > after.after());
        }
        let size = input.max_results.unwrap_or(PREVIEW_PAGE).max(1) as usize;
        let next_token =
            (chosen.len() > size).then(|| PageToken::new(&chosen[size - 1].0.digest).encode());
        chosen.truncate(size);
        Ok(GetLifecyclePolicyPreviewResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(input.repository_name),
            lifecycle_policy_text: Some(stored.text),
            status: Some(LifecyclePolicyPreviewStatus::Complete),
            next_token,
            preview_results: Some(chosen.iter().map(|(d, i)| preview_result(d, i)).collect()),
            summary: Some(LifecyclePolicyPreviewSummary {
                expiring_image_total_count: Some(i32::try_from(expiring).unwrap_or(i32::MAX)),
                transitioning_image_total_counts: (transitioning > 0).then(|| {
                    vec![TransitioningImageTotalCount {
                        target_storage_class: Some(LifecyclePolicyTargetStorageClass::Archive),
                        image_total_count: Some(i32::try_from(transitioning).unwrap_or(i32::MAX)),
                    }]
                }),
            }),
        })
    }
}
