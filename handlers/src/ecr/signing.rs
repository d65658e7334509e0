//! Put/Get/DeleteSigningConfiguration and DescribeImageSigningStatus: which signing
//! profiles sign pushed images, and how each image's signing went.

use super::images::image_not_found;
use super::EcrHandlers;
use crate::error::RegistryError;
use crate::metadata::ImageKey;
use crate::scope::{Caller, RegistryScope};
use crate::signing::SigningProfile;
use berth_generated::ecr::*;

fn not_found(scope: &RegistryScope) -> RegistryError {
    RegistryError::SigningConfigurationNotFound { registry: scope.registry_id.clone() }
}

impl PutSigningConfiguration for EcrHandlers {
    async fn put_signing_configuration(
        &self, caller: &Caller, input: PutSigningConfigurationRequest,
    ) -> Result<PutSigningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let configuration = input.signing_configuration;
        for rule in &configuration.rules {
            if SigningProfile::parse(&rule.signing_profile_arn).is_none() {
                return Err(RegistryError::invalid_parameter(
                    "signingProfileArn",
                    "must be a signing profile ARN of the form arn:aws:signer:<region>:<account>:/signing-profiles/<name>",
                ));
            }
        }
        self.registry.set_signing_configuration(&scope, Some(configuration.clone())).await?;
        Ok(PutSigningConfigurationResponse { signing_configuration: Some(configuration) })
    }
}

impl GetSigningConfiguration for EcrHandlers {
    async fn get_signing_configuration(
        &self, caller: &Caller, _input: GetSigningConfigurationRequest,
    ) -> Result<GetSigningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let configuration =
            self.registry.signing_configuration(&scope).await?.ok_or_else(|| not_found(&scope))?;
        Ok(GetSigningConfigurationResponse {
            registry_id: Some(scope.registry_id.clone()),
            signing_configuration: Some(configuration),
        })
    }
}

impl DeleteSigningConfiguration for EcrHandlers {
    async fn delete_signing_configuration(
        &self, caller: &Caller, _input: DeleteSigningConfigurationRequest,
    ) -> Result<DeleteSigningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let deleted = self
            .registry
            .set_signing_configuration(&scope, None)
            .await?
            .ok_or_else(|| not_found(&scope))?;
        Ok(DeleteSigningConfigurationResponse {
            registry_id: Some(scope.registry_id.clone()),
            signing_configuration: Some(deleted),
        })
    }
}

impl DescribeImageSigningStatus for EcrHandlers {
    async fn describe_image_signing_status(
        &self, caller: &Caller, input: DescribeImageSigningStatusRequest,
    ) -> Result<DescribeImageSigningStatusResponse, RegistryError> {
        let (scope, repository) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let id = input.image_id;
        let manifest = match self.resolve(&scope, &repository, &id).await? {
            Ok((manifest, _)) => manifest,
            Err(_) => return Err(image_not_found(&id, &repository, &scope)),
        };
        let image = ImageKey {
            scope: scope.clone(),
            repository: repository.to_string(),
            digest: manifest.digest,
        };
        let statuses = self
            .registry
            .signing_states(&image)
            .await?
            .into_iter()
            .map(|state| ImageSigningStatus {
                signing_profile_arn: Some(state.profile_arn),
                status: Some(match state.status.as_str() {
                    "COMPLETE" => SigningStatus::Complete,
                    "FAILED" => SigningStatus::Failed,
                    _ => SigningStatus::InProgress,
                }),
                failure_code: state.failure_code,
                failure_reason: state.failure_reason,
            })
            .collect();
        Ok(DescribeImageSigningStatusResponse {
            registry_id: Some(scope.registry_id.clone()),
            repository_name: Some(repository.to_string()),
            image_id: Some(id),
            signing_statuses: Some(statuses),
        })
    }
}
