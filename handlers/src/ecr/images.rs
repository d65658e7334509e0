//! PutImage, BatchGetImage, BatchDeleteImage, DescribeImages, ListImages, ListImageReferrers.

use super::page_token::PageToken;
use super::{refuse_paging_with, repository_name, EcrHandlers};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{ImageFilter, ImageSummary, StoredManifest, TagFilter};
use crate::reference::{Reference, RepositoryName, Tag};
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use berth_generated::runtime::Timestamp;

/// ECR's page size when `maxResults` is not given.
const DEFAULT_PAGE_SIZE: i32 = 100;

/// An image id resolved to a stored manifest, or the failure ECR reports for it.
pub(super) type Resolved = Result<(StoredManifest, Option<Tag>), ImageFailure>;

fn failure(id: &ImageIdentifier, code: ImageFailureCode, reason: &str) -> ImageFailure {
    ImageFailure {
        image_id: Some(id.clone()),
        failure_code: Some(code),
        failure_reason: Some(reason.to_string()),
    }
}

/// ECR's listing filter as the store's: `tagStatus` ANY when absent, `imageStatus` ACTIVE
/// when absent (ECR lists only active images unless asked), both as of `now`.
fn image_filter(
    tag_status: Option<TagStatus>, image_status: Option<ImageStatusFilter>, now: f64,
) -> ImageFilter {
    let tags = match tag_status {
        None | Some(TagStatus::Any) => TagFilter::Any,
        Some(TagStatus::Tagged) => TagFilter::Tagged,
        Some(TagStatus::Untagged) => TagFilter::Untagged,
    };
    let status = match image_status {
        None | Some(ImageStatusFilter::Active) => Some(ImageStatus::Active),
        Some(ImageStatusFilter::Archived) => Some(ImageStatus::Archived),
        Some(ImageStatusFilter::Activating) => Some(ImageStatus::Activating),
        Some(ImageStatusFilter::Any) => None,
    };
    ImageFilter { tags, status, now }
}

/// What DescribeImages says of an image.
fn image_detail(
    scope: &RegistryScope, repository: &RepositoryName, image: ImageSummary, now: f64,
) -> ImageDetail {
    let storage = image.storage;
    ImageDetail {
        registry_id: Some(scope.registry_id.clone()),
        repository_name: Some(repository.to_string()),
        image_digest: Some(image.digest.to_string()),
        image_tags: (!image.tags.is_empty()).then_some(image.tags),
        image_size_in_bytes: Some(image.image_size as i64),
        image_pushed_at: Some(Timestamp(image.pushed_at)),
        image_manifest_media_type: Some(image.media_type),
        artifact_media_type: image.config_media_type,
        last_recorded_pull_time: image.last_pulled_at.map(Timestamp),
        subject_manifest_digest: image.subject.map(|s| s.to_string()),
        image_status: Some(storage.status(now)),
        last_archived_at: storage.last_archived_at.map(Timestamp),
        last_activated_at: storage.last_activated_at.filter(|at| *at <= now).map(Timestamp),
        ..Default::default()
    }
}

fn page_size(max_results: Option<i32>) -> usize {
    max_results.unwrap_or(DEFAULT_PAGE_SIZE).max(1) as usize
}

/// ECR's message for a missing image in DescribeImages: absent parts print as 'null'.
pub(super) fn image_not_found(
    id: &ImageIdentifier, repository: &RepositoryName, scope: &RegistryScope,
) -> RegistryError {
    RegistryError::ImageNotFoundById(format!(
        "The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with name '{}' in the registry with id '{}'",
        id.image_digest.as_deref().unwrap_or("null"),
        id.image_tag.as_deref().unwrap_or("null"),
        repository,
        scope.registry_id
    ))
}

impl EcrHandlers {
    /// Resolves one image id: by digest, by tag, or both (which must agree).
    pub(super) async fn resolve(
        &self, scope: &RegistryScope, repository: &RepositoryName, id: &ImageIdentifier,
    ) -> Result<Resolved, RegistryError> {
        let digest = match id.image_digest.as_deref() {
            Some(text) => match Digest::parse_sha256(text) {
                Ok(d) => Some(d),
                Err(_) => {
                    return Ok(Err(failure(
                        id,
                        ImageFailureCode::InvalidImageDigest,
                        "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
                    )))
                }
            },
            None => None,
        };
        let tag = match id.image_tag.as_deref() {
            Some(text) => match Tag::parse(text) {
                Some(t) => Some(t),
                None => {
                    return Ok(Err(failure(
                        id,
                        ImageFailureCode::InvalidImageTag,
                        "Invalid request parameters: invalid image tag",
                    )))
                }
            },
            None => None,
        };
        let not_found =
            || Ok(Err(failure(id, ImageFailureCode::ImageNotFound, "Requested image not found")));
        match (digest, tag) {
            (None, None) => Ok(Err(failure(
                id,
                ImageFailureCode::MissingDigestAndTag,
                "Invalid request parameters: both tag and digest cannot be null",
            ))),
            (Some(digest), None) => {
                let reference = Reference::Digest(digest);
                match self.registry.find_manifest(scope, repository, &reference).await? {
                    Some(m) => Ok(Ok((m, None))),
                    None => not_found(),
                }
            }
            (digest, Some(tag)) => match self
                .registry
                .find_manifest(scope, repository, &Reference::Tag(tag.clone()))
                .await?
            {
                Some(m) if digest.as_ref().is_none_or(|d| *d == m.digest) => Ok(Ok((m, Some(tag)))),
                Some(_) => Ok(Err(failure(
                    id,
                    ImageFailureCode::ImageTagDoesNotMatchDigest,
                    "Invalid request parameters: given tag does not map to the given digest",
                ))),
                None => not_found(),
            },
        }
    }
}

impl PutImage for EcrHandlers {
    async fn put_image(
        &self, caller: &Caller, input: PutImageRequest,
    ) -> Result<PutImageResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let repository = repository_name(&input.repository_name)?;
        let manifest = input.image_manifest;
        let tag = input
            .image_tag
            .as_deref()
            .map(|t| {
                Tag::parse(t).ok_or_else(|| {
                    RegistryError::invalid_parameter("imageTag", "must be a valid image tag")
                })
            })
            .transpose()?;
        let expected = input
            .image_digest
            .as_deref()
            .map(|d| {
                Digest::parse_sha256(d).map_err(|_| {
                    RegistryError::invalid_parameter("imageDigest", "must be a valid sha256 digest")
                })
            })
            .transpose()?;
        let content_type = input.image_manifest_media_type.as_deref();
        let pushed = self
            .registry
            .push_manifest(
                &scope,
                &repository,
                tag.as_ref(),
                expected.as_ref(),
                content_type,
                manifest.clone().into_bytes(),
            )
            .await
            .map_err(|e| match e {
                RegistryError::DigestInvalid(_) => RegistryError::ImageDigestDoesNotMatch(format!(
                    "The digest of the manifest does not match the imageDigest '{}'",
                    input.image_digest.as_deref().unwrap_or("")
                )),
                RegistryError::ManifestInvalid(why) => {
                    RegistryError::invalid_parameter("ImageManifest", &why)
                }
                RegistryError::ManifestTooLarge { .. } => RegistryError::invalid_parameter(
                    "ImageManifest",
                    "must have length less than or equal to 4194304",
                ),
                RegistryError::ImageTagImmutable { tag, same_digest: true, .. } => {
                    RegistryError::ImageAlreadyExists {
                        digest: crate::digest::Digest::of(manifest.as_bytes()).to_string(),
                        tag,
                        repository: repository.to_string(),
                        registry: scope.registry_id.clone(),
                    }
                }
                other => other,
            })?;
        if let (Some(tag), Some(previous)) = (&tag, &pushed.previous) {
            if *previous == pushed.digest {
                return Err(RegistryError::ImageAlreadyExists {
                    digest: pushed.digest.to_string(),
                    tag: tag.to_string(),
                    repository: repository.to_string(),
                    registry: scope.registry_id.clone(),
                });
            }
        }
        Ok(PutImageResponse {
            image: Some(Image {
                registry_id: Some(scope.registry_id),
                repository_name: Some(repository.to_string()),
                image_id: Some(ImageIdentifier {
                    image_digest: Some(pushed.digest.to_string()),
                    image_tag: tag.map(|t| t.to_string()),
                }),
                image_manifest: Some(manifest),
                image_manifest_media_type: Some(pushed.media_type),
            }),
        })
    }
}

impl BatchGetImage for EcrHandlers {
    async fn batch_get_image(
        &self, caller: &Caller, input: BatchGetImageRequest,
    ) -> Result<BatchGetImageResponse, RegistryError> {
        // Under a pull-through cache rule, what is not cached yet is fetched first (which
        // may create the repository).
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let name = repository_name(&input.repository_name)?;
        let mut denied = Vec::new();
        for id in &input.image_ids {
            let tag = id.image_tag.as_deref().and_then(Tag::parse);
            let digest = id.image_digest.as_deref().and_then(|d| Digest::parse_sha256(d).ok());
            let Some(reference) = tag.map(Reference::Tag).or_else(|| digest.map(Reference::Digest))
            else {
                continue;
            };
            if let Err(RegistryError::UpstreamAccessDenied(text)) =
                self.cache.manifest(&scope, &name, &reference).await
            {
                denied.push((id.clone(), text));
            }
        }
        let (scope, repository) = match self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await
        {
            Err(RegistryError::RepositoryNotFound { .. }) if !denied.is_empty() => {
                return Err(RegistryError::UnableToGetUpstreamImage(format!(
                    "The image could not be pulled through the cache: {}",
                    denied[0].1
                )))
            }
            found => found?,
        };
        let accepted = input.accepted_media_types.unwrap_or_default();
        let mut images = Vec::new();
        let mut failures = Vec::new();
        for id in input.image_ids {
            if let Some((_, text)) = denied.iter().find(|(d, _)| *d == id) {
                failures.push(failure(&id, ImageFailureCode::UpstreamAccessDenied, text));
                continue;
            }
            match self.resolve(&scope, &repository, &id).await? {
                Err(f) => failures.push(f),
                Ok((m, _)) if !accepted.is_empty() && !accepted.contains(&m.media_type) => failures.push(failure(
                    &id,
                    ImageFailureCode::ImageNotFound,
                    &format!("Requested image not found: its media type {} is not among acceptedMediaTypes", m.media_type),
                )),
                Ok((m, _)) if !self.registry.is_pullable(&m.storage) => failures.push(failure(
                    &id,
                    ImageFailureCode::ImageNotFound,
                    "Requested image not found: it is archived (restore it with UpdateImageStorageClass, or push it again)",
                )),
                Ok((m, tag)) => {
                    self.registry.record_pull(&scope, &repository, &m.digest, &caller.principal).await;
                    images.push(Image {
                        registry_id: Some(scope.registry_id.clone()),
                        repository_name: Some(repository.to_string()),
                        image_id: Some(ImageIdentifier {
                            image_digest: Some(m.digest.to_string()),
                            image_tag: tag.map(|t| t.to_string()),
                        }),
                        image_manifest: Some(String::from_utf8_lossy(&m.body).into_owned()),
                        image_manifest_media_type: Some(m.media_type),
                    });
                }
            }
        }
        Ok(BatchGetImageResponse { images: Some(images), failures: Some(failures) })
    }
}

impl BatchDeleteImage for EcrHandlers {
    async fn batch_delete_image(
        &self, caller: &Caller, input: BatchDeleteImageRequest,
    ) -> Result<BatchDeleteImageResponse, RegistryError> {
        let (scope, repository) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let mut deleted: Vec<ImageIdentifier> = Vec::new();
        let mut failures = Vec::new();
        for id in input.image_ids {
            let (manifest, tag) = match self.resolve(&scope, &repository, &id).await? {
                Ok(found) => found,
                Err(f) => {
                    // An id already deleted earlier in this call is not a failure again.
                    let seen = deleted.iter().any(|d| {
                        id.image_digest.is_some() && d.image_digest == id.image_digest
                            || id.image_tag.is_some() && d.image_tag == id.image_tag
                    });
                    if !seen {
                        failures.push(f);
                    }
                    continue;
                }
            };
            let outcome = match (&tag, id.image_digest.is_some()) {
                (Some(tag), false) => self
                    .registry
                    .delete_tag(&scope, &repository, tag)
                    .await
                    .map(|_| vec![tag.to_string()]),
                _ => self.registry.delete_image(&scope, &repository, &manifest.digest).await,
            };
            match outcome {
                Ok(tags) if tags.is_empty() => deleted.push(ImageIdentifier {
                    image_digest: Some(manifest.digest.to_string()),
                    image_tag: None,
                }),
                Ok(tags) => deleted.extend(tags.into_iter().map(|t| ImageIdentifier {
                    image_digest: Some(manifest.digest.to_string()),
                    image_tag: Some(t),
                })),
                Err(RegistryError::ImageReferencedByManifestList { parents }) => {
                    failures.push(failure(
                        &id,
                        ImageFailureCode::ImageReferencedByManifestList,
                        &format!(
                            "Requested image referenced by manifest list: [{}]",
                            parents.join(", ")
                        ),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        deleted.dedup();
        Ok(BatchDeleteImageResponse { image_ids: Some(deleted), failures: Some(failures) })
    }
}

impl DescribeImages for EcrHandlers {
    async fn describe_images(
        &self, caller: &Caller, input: DescribeImagesRequest,
    ) -> Result<DescribeImagesResponse, RegistryError> {
        let (scope, repository) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        if let Some(ids) = input.image_ids {
            refuse_paging_with(
                input.max_results.is_some(),
                input.next_token.is_some(),
                "imageIds",
            )?;
            let mut details: Vec<ImageDetail> = Vec::new();
            for id in ids {
                match self.resolve(&scope, &repository, &id).await? {
                    Ok((m, _)) => {
                        if !details
                            .iter()
                            .any(|d| d.image_digest.as_deref() == Some(m.digest.as_str()))
                        {
                            let image =
                                self.registry.image(&scope, &repository, &m.digest).await.map_err(
                                    |e| match e {
                                        RegistryError::ImageNotFound => {
                                            image_not_found(&id, &repository, &scope)
                                        }
                                        other => other,
                                    },
                                )?;
                            let now = self.registry.clock().now();
                            details.push(image_detail(&scope, &repository, image, now));
                        }
                    }
                    Err(_) => return Err(image_not_found(&id, &repository, &scope)),
                }
            }
            self.add_scan_summaries(&scope, &repository, &mut details).await?;
            return Ok(DescribeImagesResponse { image_details: Some(details), next_token: None });
        }
        let now = self.registry.clock().now();
        let filter = input.filter.unwrap_or_default();
        let filter = image_filter(filter.tag_status, filter.image_status, now);
        let after = input.next_token.as_deref().map(PageToken::decode).transpose()?;
        let size = page_size(input.max_results);
        let mut page = self
            .registry
            .image_page(
                &scope,
                &repository,
                after.as_ref().map_or("", |a| a.after()),
                filter,
                size as u32 + 1,
            )
            .await?;
        let next_token =
            (page.len() > size).then(|| PageToken::new(page[size - 1].digest.as_str()).encode());
        page.truncate(size);
        let mut details: Vec<ImageDetail> =
            page.into_iter().map(|image| image_detail(&scope, &repository, image, now)).collect();
        self.add_scan_summaries(&scope, &repository, &mut details).await?;
        Ok(DescribeImagesResponse { image_details: Some(details), next_token })
    }
}

impl ListImages for EcrHandlers {
    async fn list_images(
        &self, caller: &Caller, input: ListImagesRequest,
    ) -> Result<ListImagesResponse, RegistryError> {
        let (scope, repository) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let filter = input.filter.unwrap_or_default();
        let filter =
            image_filter(filter.tag_status, filter.image_status, self.registry.clock().now());
        let after = input.next_token.as_deref().map(PageToken::decode).transpose()?;
        // The key of an id is its digest, then a space and its tag when it has one.
        let after = after
            .as_ref()
            .map_or(("", ""), |a| a.after().split_once(' ').unwrap_or((a.after(), "")));
        let size = page_size(input.max_results);
        let mut page = self
            .registry
            .image_id_page(&scope, &repository, after, filter, size as u32 + 1)
            .await?;
        let next_token = (page.len() > size).then(|| {
            let (digest, tag) = &page[size - 1];
            let key = match tag {
                Some(tag) => format!("{digest} {tag}"),
                None => digest.clone(),
            };
            PageToken::new(&key).encode()
        });
        page.truncate(size);
        Ok(ListImagesResponse {
            image_ids: Some(
                page.into_iter()
                    .map(|(digest, tag)| ImageIdentifier {
                        image_digest: Some(digest),
                        image_tag: tag,
                    })
                    .collect(),
            ),
            next_token,
        })
    }
}

impl ListImageReferrers for EcrHandlers {
    async fn list_image_referrers(
        &self, caller: &Caller, input: ListImageReferrersRequest,
    ) -> Result<ListImageReferrersResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let repository = repository_name(&input.repository_name)?;
        let subject = input.subject_id.image_digest;
        let subject = Digest::parse_sha256(&subject).map_err(|_| {
            RegistryError::invalid_parameter("subjectId", "must be a valid sha256 digest")
        })?;
        let types = input.filter.and_then(|f| f.artifact_types).unwrap_or_default();
        let after = input.next_token.as_deref().map(PageToken::decode).transpose()?;
        let mut referrers: Vec<ImageReferrer> = self
            .registry
            .referrers(&scope, &repository, &subject, None)
            .await?
            .into_iter()
            .filter(|r| {
                types.is_empty() || r.artifact_type.as_ref().is_some_and(|t| types.contains(t))
            })
            .filter(|r| after.as_ref().is_none_or(|a| r.digest.as_str() > a.after()))
            .map(|r| ImageReferrer {
                digest: Some(r.digest.to_string()),
                media_type: Some(r.media_type),
                artifact_type: r.artifact_type,
                size: Some(r.size as i64),
                annotations: r.annotations.and_then(|a| serde_json::from_str(&a).ok()),
                artifact_status: Some(ArtifactStatus::Active),
            })
            .collect();
        let size = page_size(input.max_results);
        let next_token = (referrers.len() > size)
            .then(|| referrers[size - 1].digest.as_deref().map(|d| PageToken::new(d).encode()))
            .flatten();
        referrers.truncate(size);
        Ok(ListImageReferrersResponse { referrers: Some(referrers), next_token })
    }
}
