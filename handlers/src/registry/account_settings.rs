//! ECR's account settings (Get/PutAccountSetting): a few named switches per registry, kept
//! in the registry record, each with ECR's allowed values and default.

use super::Registry;
use crate::error::RegistryError;
use crate::metadata::MetadataStore;
use crate::scope::RegistryScope;

/// A setting berth knows, with its values (the default first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSetting {
    /// The basic scanning engine.
    BasicScanTypeVersion,
    /// Which actions the registry policy governs (V1: replication, pull-through cache and
    /// create-repository only; V2: every `ecr:` action).
    RegistryPolicyScope,
    /// Whether /v2 cross-repository mounts link blobs (ENABLED) or open an upload.
    BlobMounting,
}

/// Every setting, in ECR's documentation order.
pub const ACCOUNT_SETTINGS: [AccountSetting; 3] = [
    AccountSetting::BasicScanTypeVersion,
    AccountSetting::RegistryPolicyScope,
    AccountSetting::BlobMounting,
];

impl AccountSetting {
    /// The setting of this name, or InvalidParameter naming the known ones.
    pub fn parse(name: &str) -> Result<Self, RegistryError> {
        ACCOUNT_SETTINGS.into_iter().find(|s| s.name() == name).ok_or_else(|| {
            let names: Vec<&str> = ACCOUNT_SETTINGS.iter().map(|s| s.name()).collect();
            RegistryError::invalid_parameter(
                "name",
                &format!("Member must satisfy enum value set: [{}]", names.join(", ")),
            )
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            AccountSetting::BasicScanTypeVersion => "BASIC_SCAN_TYPE_VERSION",
            AccountSetting::RegistryPolicyScope => "REGISTRY_POLICY_SCOPE",
            AccountSetting::BlobMounting => "BLOB_MOUNTING",
        }
    }

    /// The values ECR accepts; the first is a fresh registry's.
    pub fn values(self) -> &'static [&'static str] {
        match self {
            AccountSetting::BasicScanTypeVersion => &["AWS_NATIVE", "CLAIR"],
            AccountSetting::RegistryPolicyScope => &["V2", "V1"],
            AccountSetting::BlobMounting => &["DISABLED", "ENABLED"],
        }
    }

    /// `value` if the setting takes it, else InvalidParameter naming the values.
    pub fn check(self, value: &str) -> Result<(), RegistryError> {
        if self.values().contains(&value) {
            return Ok(());
        }
        Err(RegistryError::invalid_parameter(
            "value",
            &format!("Member must satisfy enum value set: [{}]", self.values().join(", ")),
        ))
    }
}

impl<M: MetadataStore> Registry<M> {
    /// The setting's value in the registry (its default when never put).
    pub async fn account_setting(
        &self, scope: &RegistryScope, setting: AccountSetting,
    ) -> Result<String, RegistryError> {
        let record = self.store.registry_record(scope).await?;
        Ok(record
            .account_settings
            .get(setting.name())
            .cloned()
            .unwrap_or_else(|| setting.values()[0].to_string()))
    }

    /// Sets the setting, after checking the value.
    pub async fn set_account_setting(
        &self, scope: &RegistryScope, setting: AccountSetting, value: &str,
    ) -> Result<(), RegistryError> {
        setting.check(value)?;
        self.store
            .update_registry_record(scope, |record| {
                record.account_settings.insert(setting.name().to_string(), value.to_string());
                Ok(())
            })
            .await
    }

    /// The registry permissions policy, if one was put.
    pub async fn registry_policy(
        &self, scope: &RegistryScope,
    ) -> Result<Option<String>, RegistryError> {
        Ok(self.store.registry_record(scope).await?.policy_text)
    }

    /// Replaces (or with `None` removes) the registry policy; returns the previous one.
    pub async fn set_registry_policy(
        &self, scope: &RegistryScope, text: Option<&str>,
    ) -> Result<Option<String>, RegistryError> {
        let text = text.map(str::to_string);
        self.store
            .update_registry_record(scope, move |record| {
                Ok(std::mem::replace(&mut record.policy_text, text))
            })
            .await
    }
}
