//! The registry record: registry-wide state of one (account, region), the home of account
//! settings, the registry policy, and the replication, scanning and signing
//! configurations. Two methods: read it, or change it in one transaction.

use super::query;
use super::{BindScope, SqlMetadataStore};
use crate::error::RegistryError;
use crate::metadata::{RegistryRecord, RegistryRecordStore};
use crate::scope::RegistryScope;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

fn decode<T: DeserializeOwned>(
    column: &str, text: Option<String>,
) -> Result<Option<T>, RegistryError> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            RegistryError::Internal(format!("stored registry {column} is invalid: {e}"))
        })
    })
    .transpose()
}

fn encode<T: Serialize>(value: &T) -> Result<String, RegistryError> {
    serde_json::to_string(value)
        .map_err(|e| RegistryError::Internal(format!("cannot encode registry state: {e}")))
}

fn encode_optional<T: Serialize>(value: &Option<T>) -> Result<Option<String>, RegistryError> {
    value.as_ref().map(encode).transpose()
}

const SELECT: &str = "SELECT policy_text, account_settings, replication_configuration, \
     scanning_configuration, signing_configuration, creation_templates, replication_backfills, \
     pull_through_cache_rules FROM registries \
     WHERE registry_id = ? AND region = ?";

async fn read<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E, scope: &RegistryScope,
) -> Result<RegistryRecord, RegistryError> {
    let row = query(SELECT).bind_scope(scope).fetch_optional(executor).await?;
    let Some(row) = row else {
        return Ok(RegistryRecord::default());
    };
    let settings: String = row.try_get("account_settings")?;
    let templates: String = row.try_get("creation_templates")?;
    let backfills: String = row.try_get("replication_backfills")?;
    let rules: String = row.try_get("pull_through_cache_rules")?;
    Ok(RegistryRecord {
        policy_text: row.try_get("policy_text")?,
        account_settings: decode("account settings", Some(settings))?.unwrap_or_default(),
        replication: decode("replication", row.try_get("replication_configuration")?)?,
        scanning: decode("scanning", row.try_get("scanning_configuration")?)?,
        signing: decode("signing", row.try_get("signing_configuration")?)?,
        creation_templates: decode("creation templates", Some(templates))?.unwrap_or_default(),
        backfills: decode("replication backfills", Some(backfills))?.unwrap_or_default(),
        pull_through_rules: decode("pull-through cache rules", Some(rules))?.unwrap_or_default(),
    })
}

impl RegistryRecordStore for SqlMetadataStore {
    async fn registries(&self) -> Result<Vec<RegistryScope>, RegistryError> {
        let rows = query(
            "SELECT registry_id, region FROM registries \
             UNION SELECT registry_id, region FROM repositories \
             ORDER BY registry_id, region",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| super::columns::scope(row, "")).collect()
    }

    async fn registry_record(
        &self, scope: &RegistryScope,
    ) -> Result<RegistryRecord, RegistryError> {
        read(&self.pool, scope).await
    }

    async fn update_registry_record<T>(
        &self, scope: &RegistryScope,
        change: impl FnOnce(&mut RegistryRecord) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        let mut record = read(&mut *tx, scope).await?;
        let answer = change(&mut record)?;
        query(
            "INSERT INTO registries (registry_id, region, policy_text, account_settings, \
             replication_configuration, scanning_configuration, signing_configuration, \
             creation_templates, replication_backfills, pull_through_cache_rules) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (registry_id, region) DO UPDATE SET \
             policy_text = excluded.policy_text, account_settings = excluded.account_settings, \
             replication_configuration = excluded.replication_configuration, \
             scanning_configuration = excluded.scanning_configuration, \
             signing_configuration = excluded.signing_configuration, \
             creation_templates = excluded.creation_templates, \
             replication_backfills = excluded.replication_backfills, \
             pull_through_cache_rules = excluded.pull_through_cache_rules",
        )
        .bind_scope(scope)
        .bind(&record.policy_text)
        .bind(encode(&record.account_settings)?)
        .bind(encode_optional(&record.replication)?)
        .bind(encode_optional(&record.scanning)?)
        .bind(encode_optional(&record.signing)?)
        .bind(encode(&record.creation_templates)?)
        .bind(encode(&record.backfills)?)
        .bind(encode(&record.pull_through_rules)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::*;
    use crate::test_fixtures::scope;
    use berth_generated::ecr::ReplicationConfiguration;
    use berth_generated::ecr::{ReplicationDestination, ReplicationRule};

    fn other_region() -> RegistryScope {
        RegistryScope { region: "eu-west-1".into(), ..scope() }
    }

    #[tokio::test]
    async fn records_start_empty_change_in_one_transaction_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlMetadataStore::open(dir.path()).await.unwrap();
        assert_eq!(store.registry_record(&scope()).await.unwrap(), RegistryRecord::default());

        let replication = ReplicationConfiguration {
            rules: vec![ReplicationRule {
                destinations: vec![ReplicationDestination {
                    region: "eu-west-1".into(),
                    registry_id: "000000000000".into(),
                }],
                ..Default::default()
            }],
        };
        store
            .update_registry_record(&scope(), |r| {
                r.policy_text = Some("{}".into());
                r.account_settings.insert("BASIC_SCAN_TYPE_VERSION".into(), "AWS_NATIVE".into());
                r.replication = Some(replication.clone());
                Ok(())
            })
            .await
            .unwrap();
        let refused = store
            .update_registry_record(&scope(), |r| {
                r.policy_text = None;
                Err::<(), _>(RegistryError::Internal("refused".into()))
            })
            .await;
        assert!(refused.is_err());
        store.close().await;

        let store = SqlMetadataStore::open(dir.path()).await.unwrap();
        let record = store.registry_record(&scope()).await.unwrap();
        assert_eq!(record.policy_text.as_deref(), Some("{}"), "a refused change writes nothing");
        assert_eq!(record.account_settings["BASIC_SCAN_TYPE_VERSION"], "AWS_NATIVE");
        assert_eq!(record.replication, Some(replication));
        assert_eq!(
            store.registry_record(&other_region()).await.unwrap(),
            RegistryRecord::default(),
            "each (account, region) has its own record"
        );
    }
}
