//! The one place registry errors become ECR API answers: the error shape (`__type`) of
//! each, with the error's text as ECR's message. Exhaustive: a new variant does not compile
//! until it is placed here. The dispatcher then keeps only shapes the operation declares.

use berth_generated::runtime::ErrorShape;
use berth_handlers::RegistryError;

/// `e` as the ECR face shows it.
pub fn ecr_error(e: RegistryError) -> ErrorShape {
    let type_name = match &e {
        RegistryError::Internal(detail) => return ErrorShape::Internal(detail.clone()),
        RegistryError::StorageFull(_) => return ErrorShape::Internal(e.to_string()),
        RegistryError::NotImplemented => return ErrorShape::NotImplemented,

        RegistryError::RepositoryNotFound { .. } => "RepositoryNotFoundException",
        RegistryError::RepositoryAlreadyExists { .. } => "RepositoryAlreadyExistsException",
        RegistryError::RepositoryNotEmpty { .. } => "RepositoryNotEmptyException",
        RegistryError::RepositoryPolicyNotFound { .. } => "RepositoryPolicyNotFoundException",
        RegistryError::LifecyclePolicyNotFound { .. } => "LifecyclePolicyNotFoundException",
        RegistryError::RegistryPolicyNotFound { .. } => "RegistryPolicyNotFoundException",
        RegistryError::LifecyclePolicyPreviewNotFound { .. } => {
            "LifecyclePolicyPreviewNotFoundException"
        }
        RegistryError::ImageStorageClassUpdateNotSupported(_) => {
            "ImageStorageClassUpdateNotSupportedException"
        }
        RegistryError::ExclusionAlreadyExists { .. } => "ExclusionAlreadyExistsException",
        RegistryError::ExclusionNotFound { .. } => "ExclusionNotFoundException",
        RegistryError::LimitExceeded(_) => "LimitExceededException",
        RegistryError::AccessDenied(_) | RegistryError::UpstreamAccessDenied(_) => {
            "AccessDeniedException"
        }
        RegistryError::PullThroughCacheRuleAlreadyExists { .. } => {
            "PullThroughCacheRuleAlreadyExistsException"
        }
        RegistryError::PullThroughCacheRuleNotFound { .. } => {
            "PullThroughCacheRuleNotFoundException"
        }
        RegistryError::UnsupportedUpstreamRegistry(_) => "UnsupportedUpstreamRegistryException",
        RegistryError::SecretNotFound(_) => "SecretNotFoundException",
        RegistryError::ScanNotFound(_) => "ScanNotFoundException",
        RegistryError::SigningConfigurationNotFound { .. } => {
            "SigningConfigurationNotFoundException"
        }
        RegistryError::ImageArchived(_) => "ImageArchivedException",
        RegistryError::UnableToGetUpstreamImage(_) => "UnableToGetUpstreamImageException",
        RegistryError::ReplicationBackfillInProgress(_) => "ReplicationBackfillInProgressException",
        RegistryError::ReplicationBackfillNotFound(_) => "ReplicationBackfillNotFoundException",
        RegistryError::ReplicationBackfillInvalidStatus(_) => {
            "ReplicationBackfillInvalidStatusException"
        }
        RegistryError::TemplateAlreadyExists { .. } => "TemplateAlreadyExistsException",
        RegistryError::TemplateNotFound { .. } => "TemplateNotFoundException",
        RegistryError::InvalidParameter(_) => "InvalidParameterException",
        RegistryError::InvalidTagParameter(_) => "InvalidTagParameterException",
        RegistryError::TooManyTags(_) => "TooManyTagsException",
        RegistryError::ImageTagImmutable { .. } => "ImageTagAlreadyExistsException",
        RegistryError::BlobUnknown {
            digest,
            repository,
            registry,
        } => {
            return ErrorShape::Modeled {
                type_name: "LayersNotFoundException",
                message: format!(
                    "The layer with digest {digest} does not exist within the repository with name '{repository}' in the registry with id '{registry}'"
                ),
            }
        }
        RegistryError::LayersNotFound { .. } => "LayersNotFoundException",
        RegistryError::ReferencedImagesNotFound { .. } => "ReferencedImagesNotFoundException",
        RegistryError::ImageNotFound | RegistryError::ImageNotFoundById(_) => {
            "ImageNotFoundException"
        }
        RegistryError::ImageAlreadyExists { .. } => "ImageAlreadyExistsException",
        RegistryError::ImageDigestDoesNotMatch(_) => "ImageDigestDoesNotMatchException",
        RegistryError::UploadUnknown { id } => {
            return ErrorShape::Modeled {
                type_name: "UploadNotFoundException",
                message: format!("The upload with id '{id}' does not exist"),
            }
        }
        RegistryError::DigestInvalid(_) | RegistryError::SizeInvalid(_) => "InvalidLayerException",
        RegistryError::InvalidLayerPart(_) | RegistryError::RangeInvalid { .. } => {
            "InvalidLayerPartException"
        }
        RegistryError::LayerAlreadyExists(_) => "LayerAlreadyExistsException",
        RegistryError::LayerPartTooSmall(_) => "LayerPartTooSmallException",
        RegistryError::EmptyUpload(_) => "EmptyUploadException",
        RegistryError::ImageReferencedByManifestList { .. }
        | RegistryError::ManifestInvalid(_)
        | RegistryError::ManifestTooLarge { .. }
        | RegistryError::TagInvalid(_)
        | RegistryError::NameInvalid(_)
        | RegistryError::Unsupported(_) => "InvalidParameterException",
    };
    ErrorShape::Modeled { type_name, message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_handlers::RegistryError;

    fn text() -> String {
        "text".into()
    }

    /// Each registry error and the ECR error shape it is answered with on the AWS JSON face.
    #[test]
    fn every_registry_error_has_its_ecr_type() {
        let table: Vec<(RegistryError, &str)> = vec![
            (
                RegistryError::RepositoryNotFound { name: text(), registry: text() },
                "RepositoryNotFoundException",
            ),
            (
                RegistryError::RepositoryAlreadyExists { name: text(), registry: text() },
                "RepositoryAlreadyExistsException",
            ),
            (
                RegistryError::RepositoryNotEmpty { name: text(), registry: text() },
                "RepositoryNotEmptyException",
            ),
            (
                RegistryError::LifecyclePolicyPreviewNotFound { name: text(), registry: text() },
                "LifecyclePolicyPreviewNotFoundException",
            ),
            (
                RegistryError::LifecyclePolicyNotFound { name: text(), registry: text() },
                "LifecyclePolicyNotFoundException",
            ),
            (
                RegistryError::RegistryPolicyNotFound { registry: text() },
                "RegistryPolicyNotFoundException",
            ),
            (
                RegistryError::ImageStorageClassUpdateNotSupported(text()),
                "ImageStorageClassUpdateNotSupportedException",
            ),
            (
                RegistryError::ExclusionAlreadyExists { principal: text(), registry: text() },
                "ExclusionAlreadyExistsException",
            ),
            (
                RegistryError::ExclusionNotFound { principal: text(), registry: text() },
                "ExclusionNotFoundException",
            ),
            (
                RegistryError::TemplateAlreadyExists { prefix: text(), registry: text() },
                "TemplateAlreadyExistsException",
            ),
            (
                RegistryError::TemplateNotFound { prefix: text(), registry: text() },
                "TemplateNotFoundException",
            ),
            (
                RegistryError::ReplicationBackfillInProgress(text()),
                "ReplicationBackfillInProgressException",
            ),
            (
                RegistryError::ReplicationBackfillNotFound(text()),
                "ReplicationBackfillNotFoundException",
            ),
            (
                RegistryError::ReplicationBackfillInvalidStatus(text()),
                "ReplicationBackfillInvalidStatusException",
            ),
            (
                RegistryError::PullThroughCacheRuleAlreadyExists {
                    prefix: text(),
                    registry: text(),
                },
                "PullThroughCacheRuleAlreadyExistsException",
            ),
            (
                RegistryError::PullThroughCacheRuleNotFound { prefix: text(), registry: text() },
                "PullThroughCacheRuleNotFoundException",
            ),
            (
                RegistryError::UnsupportedUpstreamRegistry(text()),
                "UnsupportedUpstreamRegistryException",
            ),
            (RegistryError::SecretNotFound(text()), "SecretNotFoundException"),
            (RegistryError::LimitExceeded(text()), "LimitExceededException"),
            (
                RegistryError::RepositoryPolicyNotFound { name: text(), registry: text() },
                "RepositoryPolicyNotFoundException",
            ),
            (
                RegistryError::ImageTagImmutable {
                    tag: text(),
                    repository: text(),
                    same_digest: true,
                },
                "ImageTagAlreadyExistsException",
            ),
            (
                RegistryError::LayersNotFound {
                    digests: vec![text()],
                    repository: text(),
                    registry: text(),
                },
                "LayersNotFoundException",
            ),
            (
                RegistryError::ReferencedImagesNotFound {
                    digests: vec![text()],
                    repository: text(),
                    registry: text(),
                },
                "ReferencedImagesNotFoundException",
            ),
            (
                RegistryError::ImageReferencedByManifestList { parents: vec![] },
                "InvalidParameterException",
            ),
            (RegistryError::ImageNotFound, "ImageNotFoundException"),
            (RegistryError::ImageNotFoundById(text()), "ImageNotFoundException"),
            (
                RegistryError::ImageAlreadyExists {
                    digest: text(),
                    tag: text(),
                    repository: text(),
                    registry: text(),
                },
                "ImageAlreadyExistsException",
            ),
            (RegistryError::ImageDigestDoesNotMatch(text()), "ImageDigestDoesNotMatchException"),
            (
                RegistryError::BlobUnknown { digest: text(), repository: text(), registry: text() },
                "LayersNotFoundException",
            ),
            (RegistryError::UploadUnknown { id: text() }, "UploadNotFoundException"),
            (RegistryError::DigestInvalid(text()), "InvalidLayerException"),
            (RegistryError::SizeInvalid(text()), "InvalidLayerException"),
            (RegistryError::RangeInvalid { size: 1 }, "InvalidLayerPartException"),
            (RegistryError::ManifestInvalid(text()), "InvalidParameterException"),
            (RegistryError::ManifestTooLarge { limit: 1 }, "InvalidParameterException"),
            (RegistryError::TagInvalid(text()), "InvalidParameterException"),
            (RegistryError::NameInvalid(text()), "InvalidParameterException"),
            (RegistryError::Unsupported(text()), "InvalidParameterException"),
            (RegistryError::InvalidLayerPart(text()), "InvalidLayerPartException"),
            (RegistryError::LayerAlreadyExists(text()), "LayerAlreadyExistsException"),
            (RegistryError::LayerPartTooSmall(text()), "LayerPartTooSmallException"),
            (RegistryError::EmptyUpload(text()), "EmptyUploadException"),
            (RegistryError::InvalidParameter(text()), "InvalidParameterException"),
            (RegistryError::InvalidTagParameter(text()), "InvalidTagParameterException"),
            (RegistryError::TooManyTags(text()), "TooManyTagsException"),
            (RegistryError::Internal(text()), "ServerException"),
            (RegistryError::StorageFull(text()), "ServerException"),
            (RegistryError::NotImplemented, "NotImplementedException"),
        ];
        for (error, expected) in table {
            let shown = format!("{error:?}");
            let type_name = match ecr_error(error) {
                ErrorShape::Modeled { type_name, .. } => type_name,
                ErrorShape::Internal(_) => "ServerException",
                ErrorShape::NotImplemented => "NotImplementedException",
            };
            assert_eq!(type_name, expected, "{shown}");
        }
    }

    /// The ECR face words a missing upload as ECR does, not as /v2 does.
    #[test]
    fn a_missing_upload_reads_in_ecr_words() {
        let shape = ecr_error(RegistryError::UploadUnknown { id: "u1".into() });
        assert_eq!(
            shape,
            ErrorShape::Modeled {
                type_name: "UploadNotFoundException",
                message: "The upload with id 'u1' does not exist".into(),
            }
        );
    }
}
