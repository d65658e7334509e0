//! The one error enum of the handler layer. How it looks on each face's wire is the
//! server's business (server/src/ecr_api/error.rs, server/src/oci_api/error.rs).

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
    #[error("Registry policy does not exist in the registry with id '{registry}'")]
    RegistryPolicyNotFound { registry: String },
    #[error("Lifecycle policy does not exist for the repository with name '{name}' in the registry with id '{registry}'")]
    LifecyclePolicyNotFound { name: String, registry: String },
    #[error("Lifecycle policy preview does not exist for the repository with name '{name}' in the registry with id '{registry}'")]
    LifecyclePolicyPreviewNotFound { name: String, registry: String },
    #[error("The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten because the repository is immutable.")]
    ImageTagImmutable { tag: String, repository: String, same_digest: bool },
    #[error("Layers with digests '[{}]' required for pushing image into repository with name '{repository}' in the registry with id '{registry}' do not exist", digests.join(", "))]
    LayersNotFound { digests: Vec<String>, repository: String, registry: String },
    #[error("Images with digests '[{}]' required for pushing image into repository with name '{repository}' in the registry with id '{registry}' do not exist", digests.join(", "))]
    ReferencedImagesNotFound { digests: Vec<String>, repository: String, registry: String },
    #[error("Requested image referenced by manifest list: [{}]", parents.join(", "))]
    ImageReferencedByManifestList { parents: Vec<String> },
    #[error("Requested image not found")]
    ImageNotFound,
    /// DescribeImages' thrown ImageNotFoundException, with ECR's whole message.
    #[error("{0}")]
    ImageNotFoundById(String),
    #[error("Image with digest '{digest}' and tag '{tag}' already exists in the repository with name '{repository}' in registry with id '{registry}'")]
    ImageAlreadyExists { digest: String, tag: String, repository: String, registry: String },
    #[error("{0}")]
    ImageDigestDoesNotMatch(String),
    /// A blob that is not in the repository.
    #[error("The blob with digest '{digest}' does not exist in the repository")]
    BlobUnknown { digest: String, repository: String, registry: String },
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
    InvalidLayerPart(String),
    #[error("{0}")]
    LayerAlreadyExists(String),
    #[error("{0}")]
    LayerPartTooSmall(String),
    #[error("{0}")]
    EmptyUpload(String),
    /// UpdateImageStorageClass asked for a move that cannot happen now; the whole message.
    #[error("{0}")]
    ImageStorageClassUpdateNotSupported(String),
    #[error("The principal with ARN '{principal}' is already excluded from pull time updates in the registry with id '{registry}'")]
    ExclusionAlreadyExists { principal: String, registry: String },
    #[error("The principal with ARN '{principal}' is not excluded from pull time updates in the registry with id '{registry}'")]
    ExclusionNotFound { principal: String, registry: String },
    #[error("A repository creation template with prefix '{prefix}' already exists in the registry with id '{registry}'")]
    TemplateAlreadyExists { prefix: String, registry: String },
    #[error("The repository creation template with prefix '{prefix}' does not exist in the registry with id '{registry}'")]
    TemplateNotFound { prefix: String, registry: String },
    #[error("{0}")]
    ReplicationBackfillInProgress(String),
    #[error("{0}")]
    ReplicationBackfillNotFound(String),
    #[error("{0}")]
    ReplicationBackfillInvalidStatus(String),
    #[error("A pull through cache rule with prefix '{prefix}' already exists in the registry with id '{registry}'")]
    PullThroughCacheRuleAlreadyExists { prefix: String, registry: String },
    #[error("The pull through cache rule with prefix '{prefix}' does not exist in the registry with id '{registry}'")]
    PullThroughCacheRuleNotFound { prefix: String, registry: String },
    /// ECR's whole message.
    #[error("{0}")]
    UnsupportedUpstreamRegistry(String),
    #[error("The secret '{0}' does not exist or could not be found")]
    SecretNotFound(String),
    /// DescribeImageScanFindings of an image never scanned; ECR's whole message.
    #[error("{0}")]
    ScanNotFound(String),
    /// Get/DeleteSigningConfiguration when none was put.
    #[error("The signing configuration does not exist in the registry with id '{registry}'")]
    SigningConfigurationNotFound { registry: String },
    /// A scan of an archived image; ECR's whole message.
    #[error("{0}")]
    ImageArchived(String),
    /// A pull-through cache's upstream refused berth's login; ECR's whole message.
    #[error("{0}")]
    UpstreamAccessDenied(String),
    /// BatchGetImage could not fetch an uncached image from upstream; the whole message.
    #[error("{0}")]
    UnableToGetUpstreamImage(String),
    /// A cross-account request no resource policy allows; ECR's whole message.
    #[error("{0}")]
    AccessDenied(String),
    /// A quota of ECR's; the whole message.
    #[error("{0}")]
    LimitExceeded(String),
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
    /// The data disk is full: nothing was stored, and the same request works once space
    /// is freed. Not the client's fault, but not a bug either.
    #[error("berth's storage is full ({0}): free space on its data disk and retry")]
    StorageFull(String),
}

impl RegistryError {
    /// An InvalidParameterException in ECR's constraint wording.
    pub fn invalid_parameter(member: &str, constraint: &str) -> Self {
        RegistryError::InvalidParameter(format!(
            "Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"
        ))
    }
}

impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        // SQLITE_FULL
        if let sqlx::Error::Database(db) = &e {
            if db.code().as_deref() == Some("13") {
                return RegistryError::StorageFull("the metadata store cannot grow".into());
            }
        }
        RegistryError::Internal(format!("metadata store: {e}"))
    }
}

impl RegistryError {
    /// A file-system failure: StorageFull when the disk is full, else Internal with
    /// `context`.
    pub fn from_io(context: impl std::fmt::Display, e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            RegistryError::StorageFull(e.to_string())
        } else {
            RegistryError::Internal(format!("{context}: {e}"))
        }
    }
}

impl From<sqlx::migrate::MigrateError> for RegistryError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        RegistryError::Internal(format!("metadata store migration: {e}"))
    }
}
