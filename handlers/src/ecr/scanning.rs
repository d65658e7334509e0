//! Put/GetRegistryScanningConfiguration and BatchGetRepositoryScanningConfiguration: which
//! repositories scan when, as ECR answers.

use super::{repository_name, EcrHandlers};
use crate::error::RegistryError;
use crate::registry::repository_arn;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;

impl PutRegistryScanningConfiguration for EcrHandlers {
    async fn put_registry_scanning_configuration(
        &self,
        caller: &Caller,
        input: PutRegistryScanningConfigurationRequest,
    ) -> Result<PutRegistryScanningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let scan_type = input.scan_type.unwrap_or(ScanType::Basic);
        let rules = input.rules.unwrap_or_default();
        for (i, rule) in rules.iter().enumerate() {
            if scan_type == ScanType::Basic && rule.scan_frequency == ScanFrequency::ContinuousScan
            {
                return Err(RegistryError::invalid_parameter(
                    "rules",
                    "CONTINUOUS_SCAN is only supported for the ENHANCED scan type",
                ));
            }
            if rules[..i]
                .iter()
                .any(|other| other.scan_frequency == rule.scan_frequency)
            {
                return Err(RegistryError::invalid_parameter(
                    "rules",
                    "only one rule per scan frequency is allowed",
                ));
            }
        }
        let configuration = RegistryScanningConfiguration {
            scan_type: Some(scan_type),
            rules: Some(rules),
        };
        self.registry
            .set_scanning_configuration(&scope, configuration.clone())
            .await?;
        Ok(PutRegistryScanningConfigurationResponse {
            registry_scanning_configuration: Some(configuration),
        })
    }
}

impl GetRegistryScanningConfiguration for EcrHandlers {
    async fn get_registry_scanning_configuration(
        &self,
        caller: &Caller,
        _input: GetRegistryScanningConfigurationRequest,
    ) -> Result<GetRegistryScanningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        Ok(GetRegistryScanningConfigurationResponse {
            registry_id: Some(scope.registry_id.clone()),
            scanning_configuration: Some(self.registry.scanning_configuration(&scope).await?),
        })
    }
}

impl BatchGetRepositoryScanningConfiguration for EcrHandlers {
    async fn batch_get_repository_scanning_configuration(
        &self,
        caller: &Caller,
        input: BatchGetRepositoryScanningConfigurationRequest,
    ) -> Result<BatchGetRepositoryScanningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let mut configurations = Vec::new();
        let mut failures = Vec::new();
        for name in input.repository_names {
            let parsed = repository_name(&name)?;
            match self.registry.repository_scanning(&scope, &parsed).await {
                Ok(scanning) => configurations.push(RepositoryScanningConfiguration {
                    repository_arn: Some(repository_arn(&scope, &name)),
                    repository_name: Some(name),
                    scan_on_push: scanning.scan_on_push,
                    scan_frequency: Some(scanning.frequency),
                    applied_scan_filters: Some(scanning.applied_filters),
                }),
                Err(e @ RegistryError::RepositoryNotFound { .. }) => {
                    failures.push(RepositoryScanningConfigurationFailure {
                        repository_name: Some(name),
                        failure_code: Some(ScanningConfigurationFailureCode::RepositoryNotFound),
                        failure_reason: Some(e.to_string()),
                    })
                }
                Err(e) => return Err(e),
            }
        }
        Ok(BatchGetRepositoryScanningConfigurationResponse {
            scanning_configurations: Some(configurations),
            failures: Some(failures),
        })
    }
}
