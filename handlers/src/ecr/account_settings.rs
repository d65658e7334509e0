//! GetAccountSetting, PutAccountSetting: the caller's registry's switches.

use super::EcrHandlers;
use crate::error::RegistryError;
use crate::registry::AccountSetting;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;

impl GetAccountSetting for EcrHandlers {
    async fn get_account_setting(
        &self, caller: &Caller, input: GetAccountSettingRequest,
    ) -> Result<GetAccountSettingResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let setting = AccountSetting::parse(&input.name)?;
        let value = self.registry.account_setting(&scope, setting).await?;
        Ok(GetAccountSettingResponse { name: Some(input.name), value: Some(value) })
    }
}

impl PutAccountSetting for EcrHandlers {
    async fn put_account_setting(
        &self, caller: &Caller, input: PutAccountSettingRequest,
    ) -> Result<PutAccountSettingResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let setting = AccountSetting::parse(&input.name)?;
        self.registry.set_account_setting(&scope, setting, &input.value).await?;
        Ok(PutAccountSettingResponse { name: Some(input.name), value: Some(input.value) })
    }
}
