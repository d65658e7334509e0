//! Hand-written behaviour of berth: the metadata store and the ECR operations over it.

pub mod ecr;
pub mod error;
pub mod metadata;
pub mod scope;

pub use ecr::EcrHandlers;
pub use error::RegistryError;
pub use metadata::MetadataStore;
pub use scope::{Caller, RegistryScope};
