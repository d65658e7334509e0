//! Values the unit tests of several modules start from.

use crate::metadata::RepositoryRecord;
use crate::scope::RegistryScope;
use berth_generated::ecr::{EncryptionType, ImageTagMutability};

/// The default registry: account 000000000000 in us-east-1.
pub fn scope() -> RegistryScope {
    RegistryScope { registry_id: "000000000000".into(), region: "us-east-1".into() }
}

/// A mutable, AES256 repository created at `created_at`.
pub fn repository(name: &str, created_at: f64) -> RepositoryRecord {
    RepositoryRecord {
        name: name.into(),
        created_at,
        image_tag_mutability: ImageTagMutability::Mutable,
        exclusion_filters: Vec::new(),
        scan_on_push: false,
        encryption_type: EncryptionType::Aes256,
        kms_key: None,
    }
}
