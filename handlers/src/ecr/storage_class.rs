//! UpdateImageStorageClass: archive an image, or restore it to the standard class.

use super::images::image_not_found;
use super::EcrHandlers;
use crate::error::RegistryError;
use crate::registry::StorageClassTarget;
use crate::scope::Caller;
use berth_generated::ecr::*;

impl UpdateImageStorageClass for EcrHandlers {
    async fn update_image_storage_class(
        &self, caller: &Caller, input: UpdateImageStorageClassRequest,
    ) -> Result<UpdateImageStorageClassResponse, RegistryError> {
        let (scope, repository) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let id = input.image_id;
        let (manifest, _) = match self.resolve(&scope, &repository, &id).await? {
            Ok(found) => found,
            Err(failure) => {
                return Err(match failure.failure_code {
                    Some(ImageFailureCode::ImageNotFound) => {
                        image_not_found(&id, &repository, &scope)
                    }
                    _ => RegistryError::InvalidParameter(format!(
                        "Invalid parameter at 'imageId' failed to satisfy constraint: '{}'",
                        failure.failure_reason.unwrap_or_default()
                    )),
                })
            }
        };
        let target = match input.target_storage_class {
            TargetStorageClass::Standard => StorageClassTarget::Standard,
            TargetStorageClass::Archive => StorageClassTarget::Archive,
        };
        let status = self
            .registry
            .set_storage_class(&scope, &repository, &manifest.digest, target)
            .await
            .map_err(|e| match e {
                RegistryError::ImageNotFound => image_not_found(&id, &repository, &scope),
                other => other,
            })?;
        Ok(UpdateImageStorageClassResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(repository.to_string()),
            image_id: Some(ImageIdentifier {
                image_digest: Some(manifest.digest.to_string()),
                image_tag: id.image_tag,
            }),
            image_status: Some(status),
        })
    }
}
