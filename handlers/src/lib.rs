//! Hand-written behaviour of berth: the registry core (metadata, blobs, uploads,
//! manifests), tokens, and the ECR operations over it.

pub mod access_policy;
pub mod auth;
pub mod blob_store;
pub mod block_writer;
pub mod byte_range;
pub mod clock;
pub mod digest;
pub mod download;
pub mod ecr;
pub mod endpoint;
pub mod error;
pub mod fsck;
pub mod immutability;
pub mod jobs;
pub mod lifecycle;
pub mod manifest;
pub mod metadata;
pub mod pull_through;
pub mod reference;
pub mod registry;
pub mod scanning;
pub mod scope;
pub mod secrets;
pub mod signed_claims;
pub mod signing;
#[cfg(test)]
mod test_fixtures;

pub use ecr::EcrHandlers;
pub use error::RegistryError;
pub use metadata::{MetadataStore, SqlMetadataStore};
pub use registry::Registry;
pub use scope::{Caller, RegistryScope};
