//! ECR's storage classes: archiving an image and restoring it (UpdateImageStorageClass and
//! lifecycle transitions). An archived image stays listed and deletable but is never
//! pulled; a restore makes it ACTIVATING for the registry's restore delay, then ACTIVE. A
//! re-push restores at once (the store does that in `put_manifest`).

use super::Registry;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{ImageStorage, MetadataStore};
use crate::reference::RepositoryName;
use crate::scope::RegistryScope;
use berth_generated::ecr::ImageStatus;

/// The class an image is moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageClassTarget {
    Standard,
    Archive,
}

/// Applies a move to `storage` at `now`. Moving to the class the image is already in (or
/// on its way to) changes nothing; archiving an image that is still being restored is
/// refused, as its restore has not finished.
pub fn move_storage(
    storage: &mut ImageStorage, target: StorageClassTarget, now: f64, restore_delay: f64,
) -> Result<(), RegistryError> {
    match (target, storage.status(now)) {
        (StorageClassTarget::Archive, ImageStatus::Active) => {
            storage.archived = true;
            storage.last_archived_at = Some(now);
        }
        (StorageClassTarget::Archive, ImageStatus::Activating) => {
            return Err(RegistryError::ImageStorageClassUpdateNotSupported(
                "The image is being restored from the archive; archive it again once it is ACTIVE"
                    .into(),
            ))
        }
        (StorageClassTarget::Standard, ImageStatus::Archived) => {
            storage.archived = false;
            storage.last_activated_at = Some(now + restore_delay);
        }
        (StorageClassTarget::Archive, ImageStatus::Archived)
        | (StorageClassTarget::Standard, ImageStatus::Active | ImageStatus::Activating) => {}
    }
    Ok(())
}

impl<M: MetadataStore> Registry<M> {
    /// Moves the image to `target` now; returns its status afterwards.
    pub async fn set_storage_class(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
        target: StorageClassTarget,
    ) -> Result<ImageStatus, RegistryError> {
        let now = self.clock.now();
        let delay = self.restore_delay;
        let storage = self
            .store
            .update_image_storage(scope, repository.as_str(), digest, |storage| {
                move_storage(storage, target, now, delay)
            })
            .await?;
        Ok(storage.status(now))
    }

    /// True when the image may be pulled now: it is neither archived nor being restored.
    pub fn is_pullable(&self, storage: &ImageStorage) -> bool {
        storage.status(self.clock.now()) == ImageStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archived_image_restores_through_activating() {
        let mut storage = ImageStorage::default();
        move_storage(&mut storage, StorageClassTarget::Archive, 10.0, 60.0).unwrap();
        assert_eq!(storage.status(10.0), ImageStatus::Archived);
        assert_eq!(storage.last_archived_at, Some(10.0));
        assert_eq!(storage.transitioned_at(), Some(10.0));
        move_storage(&mut storage, StorageClassTarget::Standard, 20.0, 60.0).unwrap();
        assert_eq!(storage.status(20.0), ImageStatus::Activating);
        assert_eq!(storage.status(79.9), ImageStatus::Activating);
        assert_eq!(storage.status(80.0), ImageStatus::Active);
        assert_eq!(storage.transitioned_at(), Some(80.0));
    }

    #[test]
    fn moving_to_the_current_class_changes_nothing_and_archiving_while_activating_is_refused() {
        let mut storage = ImageStorage::default();
        move_storage(&mut storage, StorageClassTarget::Standard, 5.0, 60.0).unwrap();
        assert_eq!(storage, ImageStorage::default());
        move_storage(&mut storage, StorageClassTarget::Archive, 10.0, 60.0).unwrap();
        let archived = storage;
        move_storage(&mut storage, StorageClassTarget::Archive, 30.0, 60.0).unwrap();
        assert_eq!(storage, archived);
        move_storage(&mut storage, StorageClassTarget::Standard, 40.0, 60.0).unwrap();
        let activating = storage;
        let refused = move_storage(&mut storage, StorageClassTarget::Archive, 50.0, 60.0);
        assert!(matches!(refused, Err(RegistryError::ImageStorageClassUpdateNotSupported(_))));
        assert_eq!(storage, activating);
        move_storage(&mut storage, StorageClassTarget::Standard, 50.0, 60.0).unwrap();
        assert_eq!(storage, activating);
    }
}
