//! Managed signing as the registry keeps it: the signing configuration (registry record),
//! the signings queued when an image is pushed, and the signing pass that attaches each
//! profile's Notary Project signature to the image as a referrer.

use super::Registry;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{ImageKey, MetadataStore, SigningState};
use crate::reference::{Reference, RepositoryName};
use crate::scope::RegistryScope;
use crate::signing::keys::{ProfileKey, SigningKeys};
use crate::signing::notation::{sign, Target, EMPTY_CONFIG};
use crate::signing::{profiles_for, SigningProfile};
use berth_generated::ecr::SigningConfiguration;
use futures_util::StreamExt;
use std::sync::Arc;

/// Signings per pass of the job.
const BATCH: u32 = 16;

fn one_chunk(bytes: Vec<u8>) -> crate::blob_store::ByteStream {
    futures_util::stream::iter([Ok(bytes::Bytes::from(bytes))]).boxed()
}

impl<M: MetadataStore> Registry<M> {
    /// The registry's signing configuration, if one was put.
    pub async fn signing_configuration(
        &self, scope: &RegistryScope,
    ) -> Result<Option<SigningConfiguration>, RegistryError> {
        Ok(self.store.registry_record(scope).await?.signing)
    }

    /// Replaces (`Some`) or removes (`None`) the signing configuration; returns the one
    /// it replaced.
    pub async fn set_signing_configuration(
        &self, scope: &RegistryScope, configuration: Option<SigningConfiguration>,
    ) -> Result<Option<SigningConfiguration>, RegistryError> {
        self.store
            .update_registry_record(scope, |record| {
                Ok(std::mem::replace(&mut record.signing, configuration))
            })
            .await
    }

    /// Queues the signing of a pushed image by every profile whose rule covers its
    /// repository.
    pub(super) async fn sign_on_push(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest,
    ) -> Result<(), RegistryError> {
        let Some(configuration) = self.signing_configuration(scope).await? else {
            return Ok(());
        };
        let profiles = profiles_for(&configuration, repository.as_str());
        let image = ImageKey {
            scope: scope.clone(),
            repository: repository.to_string(),
            digest: digest.clone(),
        };
        self.store.queue_signings(&image, &profiles, self.clock.now()).await
    }

    /// The image's signing by each profile.
    pub async fn signing_states(
        &self, image: &ImageKey,
    ) -> Result<Vec<SigningState>, RegistryError> {
        self.store.signing_states(image).await
    }

    /// The profile's key if it ever signed here, for its certificate.
    pub async fn signing_key(
        &self, keys: &SigningKeys, profile: &SigningProfile,
    ) -> Result<Option<Arc<ProfileKey>>, RegistryError> {
        keys.existing(&self.store, profile).await
    }

    /// Performs the queued signings with `keys`; reports how many ended how.
    pub async fn signing_pass(&self, keys: &SigningKeys) -> Result<String, RegistryError> {
        let (mut complete, mut failed) = (0, 0);
        for (image, profile) in self.store.pending_signings(BATCH).await? {
            let failure = match self.sign_image(&image, &profile, keys).await {
                Ok(()) => None,
                Err(Refusal(code, reason)) => Some((code, reason)),
            };
            match &failure {
                None => complete += 1,
                Some(_) => failed += 1,
            }
            self.store
                .finish_signing(
                    &image,
                    &profile,
                    failure.as_ref().map(|(c, r)| (*c, r.as_str())),
                    self.clock.now(),
                )
                .await?;
        }
        Ok(format!("{complete} signings complete, {failed} failed"))
    }

    /// Signs one image with one profile and attaches the signature to it.
    async fn sign_image(
        &self, image: &ImageKey, profile: &str, keys: &SigningKeys,
    ) -> Result<(), Refusal> {
        let profile = SigningProfile::parse(profile).ok_or_else(|| {
            Refusal("InvalidSigningProfile", format!("{profile} is not a signing profile ARN"))
        })?;
        if profile.account != image.scope.registry_id {
            return Err(Refusal(
                "SigningProfileAccessDenied",
                format!(
                    "The signing profile {} belongs to account {}, not to the registry's account {}",
                    profile.arn, profile.account, image.scope.registry_id
                ),
            ));
        }
        let name = RepositoryName::parse(&image.repository)
            .ok_or_else(|| Refusal("ImageNotFound", "the repository name is invalid".into()))?;
        let manifest = self
            .find_manifest(&image.scope, &name, &Reference::Digest(image.digest.clone()))
            .await
            .map_err(Refusal::internal)?
            .ok_or_else(|| Refusal("ImageNotFound", "the image was deleted".into()))?;
        let key = keys.key(&self.store, &profile).await.map_err(Refusal::internal)?;
        let target = Target {
            media_type: manifest.media_type.clone(),
            digest: manifest.digest.clone(),
            size: manifest.body.len() as u64,
        };
        let signature = sign(&key, &target, &crate::clock::rfc3339(self.clock.now()))
            .map_err(Refusal::internal)?;
        for blob in [EMPTY_CONFIG.to_vec(), signature.envelope] {
            let digest = Digest::of(&blob);
            self.store_blob(&image.scope, &name, &digest, one_chunk(blob))
                .await
                .map_err(Refusal::internal)?;
        }
        self.push_manifest(&image.scope, &name, None, None, None, signature.manifest)
            .await
            .map_err(Refusal::internal)?;
        Ok(())
    }
}

/// Why a signing failed: ECR's `failureCode` (berth's words; ECR documents none) and the
/// reason.
struct Refusal(&'static str, String);

impl Refusal {
    fn internal(e: RegistryError) -> Self {
        Refusal("SigningFailed", e.to_string())
    }
}
