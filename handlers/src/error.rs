//! The one error enum of the handler layer, and its mapping to each operation's errors.

use berth_generated::runtime::{DomainError, ModeledError, OperationError};

/// What the registry core can fail with. The text of each variant is ECR's message.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "The repository with name '{name}' does not exist in the registry with id '{registry}'"
    )]
    RepositoryNotFound { name: String, registry: String },
    #[error(
        "The repository with name '{name}' already exists in the registry with id '{registry}'"
    )]
    RepositoryAlreadyExists { name: String, registry: String },
    #[error(
        "The repository with name '{name}' in registry with id '{registry}' cannot be deleted because it still contains images"
    )]
    RepositoryNotEmpty { name: String, registry: String },
    #[error("Repository policy does not exist for the repository with name '{name}' in the registry with id '{registry}'")]
    RepositoryPolicyNotFound { name: String, registry: String },
    #[error("The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten because the repository is immutable.")]
    ImageTagImmutable {
        tag: String,
        repository: String,
        same_digest: bool,
    },
    #[error("Layers with digests '[{}]' required for pushing image into repository with name '{repository}' in the registry with id '{registry}' do not exist", digests.join(", "))]
    LayersNotFound {
        digests: Vec<String>,
        repository: String,
        registry: String,
    },
    #[error("Images with digests '[{}]' required for pushing image into repository with name '{repository}' in the registry with id '{registry}' do not exist", digests.join(", "))]
    ReferencedImagesNotFound {
        digests: Vec<String>,
        repository: String,
        registry: String,
    },
    #[error("Requested image referenced by manifest list: [{}]", parents.join(", "))]
    ImageReferencedByManifestList { parents: Vec<String> },
    #[error("Requested image not found")]
    ImageNotFound,
    /// GetDownloadUrlForLayer's LayersNotFoundException, with ECR's whole message.
    #[error("{0}")]
    LayersNotFoundText(String),
    /// DescribeImages' thrown ImageNotFoundException, with ECR's whole message.
    #[error("{0}")]
    ImageNotFoundById(String),
    #[error("Image with digest '{digest}' and tag '{tag}' already exists in the repository with name '{repository}' in registry with id '{registry}'")]
    ImageAlreadyExists {
        digest: String,
        tag: String,
        repository: String,
        registry: String,
    },
    #[error("{0}")]
    ImageDigestDoesNotMatch(String),
    /// A blob that is not in the repository (OCI BLOB_UNKNOWN).
    #[error("The blob with digest '{digest}' does not exist in the repository")]
    BlobUnknown { digest: String },
    /// An upload session that does not exist (for this repository).
    #[error("Upload with id '{id}' does not exist")]
    UploadUnknown { id: String },
    #[error("{0}")]
    DigestInvalid(String),
    #[error("{0}")]
    SizeInvalid(String),
    /// A chunk that does not start where the upload ends; `size` is what was received.
    #[error("The chunk does not start at the end of the upload ({size} bytes received)")]
    RangeInvalid { size: u64 },
    #[error("{0}")]
    ManifestInvalid(String),
    #[error("The manifest is larger than the limit of {limit} bytes")]
    ManifestTooLarge { limit: usize },
    #[error("{0}")]
    TagInvalid(String),
    #[error("{0}")]
    NameInvalid(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    InvalidLayer(String),
    #[error("{0}")]
    InvalidLayerPart(String),
    #[error("{0}")]
    LayerAlreadyExists(String),
    #[error("{0}")]
    LayerPartTooSmall(String),
    #[error("{0}")]
    EmptyUpload(String),
    #[error("{0}")]
    UploadNotFound(String),
    /// A request ECR refuses as InvalidParameterException; the whole message.
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidTagParameter(String),
    #[error("{0}")]
    TooManyTags(String),
    /// An ECR operation whose behaviour is not built yet.
    #[error("not implemented")]
    NotImplemented,
    /// berth's own fault (storage, I/O); answered as ServerException.
    #[error("{0}")]
    Internal(String),
}

impl RegistryError {
    /// An InvalidParameterException in ECR's constraint wording.
    pub fn invalid_parameter(member: &str, constraint: &str) -> Self {
        RegistryError::InvalidParameter(format!(
            "Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"
        ))
    }

    /// The ECR error shape this becomes on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            RegistryError::RepositoryNotFound { .. } => "RepositoryNotFoundException",
            RegistryError::RepositoryAlreadyExists { .. } => "RepositoryAlreadyExistsException",
            RegistryError::RepositoryNotEmpty { .. } => "RepositoryNotEmptyException",
            RegistryError::RepositoryPolicyNotFound { .. } => "RepositoryPolicyNotFoundException",
            RegistryError::InvalidParameter(_) => "InvalidParameterException",
            RegistryError::InvalidTagParameter(_) => "InvalidTagParameterException",
            RegistryError::TooManyTags(_) => "TooManyTagsException",
            RegistryError::ImageTagImmutable { .. } => "ImageTagAlreadyExistsException",
            RegistryError::LayersNotFound { .. }
            | RegistryError::LayersNotFoundText(_)
            | RegistryError::BlobUnknown { .. } => "LayersNotFoundException",
            RegistryError::ReferencedImagesNotFound { .. } => "ReferencedImagesNotFoundException",
            RegistryError::ImageNotFound | RegistryError::ImageNotFoundById(_) => {
                "ImageNotFoundException"
            }
            RegistryError::ImageAlreadyExists { .. } => "ImageAlreadyExistsException",
            RegistryError::ImageDigestDoesNotMatch(_) => "ImageDigestDoesNotMatchException",
            RegistryError::UploadUnknown { .. } | RegistryError::UploadNotFound(_) => {
                "UploadNotFoundException"
            }
            RegistryError::InvalidLayer(_)
            | RegistryError::DigestInvalid(_)
            | RegistryError::SizeInvalid(_) => "InvalidLayerException",
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
            RegistryError::Internal(_) => "ServerException",
            RegistryError::NotImplemented => "NotImplementedException",
        }
    }
}

impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        RegistryError::Internal(format!("metadata store: {e}"))
    }
}

impl From<sqlx::migrate::MigrateError> for RegistryError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        RegistryError::Internal(format!("metadata store migration: {e}"))
    }
}

/// Maps onto the operation's declared errors; an error the operation does not declare is
/// a bug of ours and becomes ServerException.
impl DomainError for RegistryError {
    fn into_operation_error<E: ModeledError>(self) -> OperationError<E> {
        let e = self;
        match e {
            RegistryError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                return OperationError::Internal(detail);
            }
            RegistryError::NotImplemented => return OperationError::NotImplemented,
            _ => {}
        }
        let type_name = e.type_name();
        match E::from_message(type_name, e.to_string()) {
            Some(modeled) => OperationError::Modeled(modeled),
            None => {
                tracing::error!(type_name, error = %e, "error not declared by the operation");
                OperationError::Internal(format!("{type_name}: {e}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> String {
        "text".into()
    }

    /// Each registry error and the ECR error shape it is answered with on the AWS JSON face.
    #[test]
    fn every_registry_error_has_its_ecr_type() {
        let table: Vec<(RegistryError, &str)> = vec![
            (
                RegistryError::RepositoryNotFound {
                    name: text(),
                    registry: text(),
                },
                "RepositoryNotFoundException",
            ),
            (
                RegistryError::RepositoryAlreadyExists {
                    name: text(),
                    registry: text(),
                },
                "RepositoryAlreadyExistsException",
            ),
            (
                RegistryError::RepositoryNotEmpty {
                    name: text(),
                    registry: text(),
                },
                "RepositoryNotEmptyException",
            ),
            (
                RegistryError::RepositoryPolicyNotFound {
                    name: text(),
                    registry: text(),
                },
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
            (
                RegistryError::LayersNotFoundText(text()),
                "LayersNotFoundException",
            ),
            (
                RegistryError::ImageNotFoundById(text()),
                "ImageNotFoundException",
            ),
            (
                RegistryError::ImageAlreadyExists {
                    digest: text(),
                    tag: text(),
                    repository: text(),
                    registry: text(),
                },
                "ImageAlreadyExistsException",
            ),
            (
                RegistryError::ImageDigestDoesNotMatch(text()),
                "ImageDigestDoesNotMatchException",
            ),
            (
                RegistryError::BlobUnknown { digest: text() },
                "LayersNotFoundException",
            ),
            (
                RegistryError::UploadUnknown { id: text() },
                "UploadNotFoundException",
            ),
            (
                RegistryError::DigestInvalid(text()),
                "InvalidLayerException",
            ),
            (RegistryError::SizeInvalid(text()), "InvalidLayerException"),
            (
                RegistryError::RangeInvalid { size: 1 },
                "InvalidLayerPartException",
            ),
            (
                RegistryError::ManifestInvalid(text()),
                "InvalidParameterException",
            ),
            (
                RegistryError::ManifestTooLarge { limit: 1 },
                "InvalidParameterException",
            ),
            (
                RegistryError::TagInvalid(text()),
                "InvalidParameterException",
            ),
            (
                RegistryError::NameInvalid(text()),
                "InvalidParameterException",
            ),
            (
                RegistryError::Unsupported(text()),
                "InvalidParameterException",
            ),
            (RegistryError::InvalidLayer(text()), "InvalidLayerException"),
            (
                RegistryError::InvalidLayerPart(text()),
                "InvalidLayerPartException",
            ),
            (
                RegistryError::LayerAlreadyExists(text()),
                "LayerAlreadyExistsException",
            ),
            (
                RegistryError::LayerPartTooSmall(text()),
                "LayerPartTooSmallException",
            ),
            (RegistryError::EmptyUpload(text()), "EmptyUploadException"),
            (
                RegistryError::UploadNotFound(text()),
                "UploadNotFoundException",
            ),
            (
                RegistryError::InvalidParameter(text()),
                "InvalidParameterException",
            ),
            (
                RegistryError::InvalidTagParameter(text()),
                "InvalidTagParameterException",
            ),
            (RegistryError::TooManyTags(text()), "TooManyTagsException"),
            (RegistryError::Internal(text()), "ServerException"),
        ];
        for (error, expected) in table {
            assert_eq!(error.type_name(), expected, "{error:?}");
        }
    }
}
