//! Image signings: one row per image and signing profile; IN_PROGRESS rows are the
//! signing job's queue.

use super::query;
use super::{BindScope, SqlMetadataStore};
use crate::error::RegistryError;
use crate::metadata::{ImageKey, SigningKeyMaterial, SigningState, SigningStore};
use base64::Engine as _;
use sqlx::Row;

impl SigningStore for SqlMetadataStore {
    async fn queue_signings(
        &self, image: &ImageKey, profiles: &[String], at: f64,
    ) -> Result<(), RegistryError> {
        if profiles.is_empty() {
            return Ok(());
        }
        let _writer = self.write_lock.lock().await;
        let mut tx = self.write_transaction().await?;
        for profile in profiles {
            query(
                "INSERT INTO image_signings (registry_id, region, repository, digest, profile_arn, \
                 status, failure_code, failure_reason, updated_at) \
                 VALUES (?, ?, ?, ?, ?, 'IN_PROGRESS', NULL, NULL, ?) \
                 ON CONFLICT (registry_id, region, repository, digest, profile_arn) \
                 DO UPDATE SET status = 'IN_PROGRESS', failure_code = NULL, \
                 failure_reason = NULL, updated_at = excluded.updated_at",
            )
            .bind_scope(&image.scope)
            .bind(&image.repository)
            .bind(image.digest.as_str())
            .bind(profile)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn pending_signings(&self, limit: u32) -> Result<Vec<(ImageKey, String)>, RegistryError> {
        let rows = query(
            "SELECT registry_id, region, repository, digest, profile_arn FROM image_signings \
             WHERE status = 'IN_PROGRESS' ORDER BY updated_at LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((super::scans::image_key(row)?, row.try_get("profile_arn")?)))
            .collect()
    }

    async fn finish_signing(
        &self, image: &ImageKey, profile: &str, failure: Option<(&str, &str)>, at: f64,
    ) -> Result<(), RegistryError> {
        let _writer = self.write_lock.lock().await;
        let status = if failure.is_some() { "FAILED" } else { "COMPLETE" };
        query(
            "UPDATE image_signings SET status = ?, failure_code = ?, failure_reason = ?, updated_at = ? \
             WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ? AND profile_arn = ?",
        )
        .bind(status)
        .bind(failure.map(|f| f.0))
        .bind(failure.map(|f| f.1))
        .bind(at)
        .bind_scope(&image.scope)
        .bind(&image.repository)
        .bind(image.digest.as_str())
        .bind(profile)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn signing_states(&self, image: &ImageKey) -> Result<Vec<SigningState>, RegistryError> {
        let rows = query(
            "SELECT profile_arn, status, failure_code, failure_reason FROM image_signings \
             WHERE registry_id = ? AND region = ? AND repository = ? AND digest = ? ORDER BY profile_arn",
        )
        .bind_scope(&image.scope)
        .bind(&image.repository)
        .bind(image.digest.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SigningState {
                    profile_arn: row.try_get("profile_arn")?,
                    status: row.try_get("status")?,
                    failure_code: row.try_get("failure_code")?,
                    failure_reason: row.try_get("failure_reason")?,
                })
            })
            .collect()
    }

    async fn signing_key(
        &self, profile_arn: &str,
    ) -> Result<Option<SigningKeyMaterial>, RegistryError> {
        let row = query("SELECT pkcs8, certificate_pem FROM signing_keys WHERE profile_arn = ?")
            .bind(profile_arn)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let pkcs8: String = row.try_get("pkcs8")?;
        let pkcs8 = base64::engine::general_purpose::STANDARD.decode(pkcs8).map_err(|e| {
            RegistryError::Internal(format!("the signing key of {profile_arn} is not base64: {e}"))
        })?;
        Ok(Some(SigningKeyMaterial { pkcs8, certificate_pem: row.try_get("certificate_pem")? }))
    }

    async fn keep_signing_key(
        &self, profile_arn: &str, key: &SigningKeyMaterial,
    ) -> Result<SigningKeyMaterial, RegistryError> {
        {
            let _writer = self.write_lock.lock().await;
            query(
                "INSERT INTO signing_keys (profile_arn, pkcs8, certificate_pem) VALUES (?, ?, ?) \
                 ON CONFLICT (profile_arn) DO NOTHING",
            )
            .bind(profile_arn)
            .bind(base64::engine::general_purpose::STANDARD.encode(&key.pkcs8))
            .bind(&key.certificate_pem)
            .execute(&self.pool)
            .await?;
        }
        self.signing_key(profile_arn).await?.ok_or_else(|| {
            RegistryError::Internal(format!("the signing key of {profile_arn} was not kept"))
        })
    }
}
