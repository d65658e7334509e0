//! The registry's scanning configuration, kept in the registry record.

use super::Registry;
use crate::error::RegistryError;
use crate::metadata::MetadataStore;
use crate::scanning::{or_default, repository_scanning, RepositoryScanning};
use crate::scope::RegistryScope;
use berth_generated::ecr::RegistryScanningConfiguration;

impl<M: MetadataStore> Registry<M> {
    /// The registry's scanning configuration (ECR's default when never set).
    pub async fn scanning_configuration(
        &self, scope: &RegistryScope,
    ) -> Result<RegistryScanningConfiguration, RegistryError> {
        Ok(or_default(self.store.registry_record(scope).await?.scanning))
    }

    /// Replaces the registry's scanning configuration.
    pub async fn set_scanning_configuration(
        &self, scope: &RegistryScope, configuration: RegistryScanningConfiguration,
    ) -> Result<(), RegistryError> {
        self.store
            .update_registry_record(scope, |record| {
                record.scanning = Some(configuration);
                Ok(())
            })
            .await
    }

    /// How a repository of the registry scans; the repository must exist.
    pub async fn repository_scanning(
        &self, scope: &RegistryScope, name: &crate::reference::RepositoryName,
    ) -> Result<RepositoryScanning, RegistryError> {
        let repository = self.repository(scope, name).await?;
        let configuration = self.scanning_configuration(scope).await?;
        Ok(repository_scanning(&configuration, name.as_str(), repository.scan_on_push))
    }
}
