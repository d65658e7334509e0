//! The one error enum of the handler layer, and its mapping to each operation's errors.

use berth_generated::runtime::{ModeledError, OperationError};

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
    /// A request ECR refuses as InvalidParameterException; the whole message.
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidTagParameter(String),
    #[error("{0}")]
    TooManyTags(String),
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
            RegistryError::Internal(_) => "ServerException",
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
impl<E: ModeledError> From<RegistryError> for OperationError<E> {
    fn from(e: RegistryError) -> Self {
        if let RegistryError::Internal(detail) = e {
            tracing::error!(%detail, "internal error");
            return OperationError::Internal(detail);
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
