//! InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload, BatchCheckLayerAvailability,
//! GetDownloadUrlForLayer: the ECR API's way to move layers, on the same store as /v2.

use super::{repository_name, EcrHandlers};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::UploadKind;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use bytes::Bytes;
use http_body_util::Full;

/// The part size ECR recommends in InitiateLayerUpload.
const PART_SIZE: i64 = 10 * 1024 * 1024;

/// How long a GetDownloadUrlForLayer URL is valid, as S3 pre-signed URLs from ECR are.
pub const DOWNLOAD_URL_LIFETIME_SECS: u64 = 60 * 60;

fn layer_digest(text: &str) -> Result<Digest, RegistryError> {
    Digest::parse_sha256(text).map_err(|_| {
        RegistryError::DigestInvalid(format!(
            "The layer digest '{text}' is not a valid sha256 digest"
        ))
    })
}

impl InitiateLayerUpload for EcrHandlers {
    async fn initiate_layer_upload(
        &self, caller: &Caller, input: InitiateLayerUploadRequest,
    ) -> Result<InitiateLayerUploadResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let repository = repository_name(&input.repository_name)?;
        let id = self.registry.start_upload(&scope, &repository, UploadKind::Ecr).await?;
        Ok(InitiateLayerUploadResponse { upload_id: Some(id), part_size: Some(PART_SIZE) })
    }
}

impl UploadLayerPart for EcrHandlers {
    async fn upload_layer_part(
        &self, caller: &Caller, input: UploadLayerPartRequest,
    ) -> Result<UploadLayerPartResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let repository = repository_name(&input.repository_name)?;
        let id = input.upload_id;
        let first = input.part_first_byte;
        let last = input.part_last_byte;
        let blob = input.layer_part_blob;
        if last < first || (last - first + 1) as u64 != blob.0.len() as u64 {
            return Err(RegistryError::InvalidLayerPart(format!(
                "The part from byte {first} to byte {last} does not match the {} bytes sent",
                blob.0.len()
            )));
        }
        let appended = self
            .registry
            .append_upload(
                &scope,
                &repository,
                &id,
                UploadKind::Ecr,
                Some(first as u64),
                Full::new(Bytes::from(blob.0)),
            )
            .await;
        let size = match appended {
            Ok(size) => size,
            Err(RegistryError::RangeInvalid { size }) => {
                return Err(RegistryError::InvalidLayerPart(format!(
                    "The part must start at byte {size}, the first byte not yet received; it starts at {first}"
                )))
            }
            Err(e) => return Err(e),
        };
        Ok(UploadLayerPartResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(repository.to_string()),
            upload_id: Some(id),
            last_byte_received: Some(size as i64 - 1),
        })
    }
}

impl CompleteLayerUpload for EcrHandlers {
    async fn complete_layer_upload(
        &self, caller: &Caller, input: CompleteLayerUploadRequest,
    ) -> Result<CompleteLayerUploadResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let repository = repository_name(&input.repository_name)?;
        let id = input.upload_id;
        let digests = input.layer_digests;
        let [digest] = digests.as_slice() else {
            return Err(RegistryError::invalid_parameter(
                "layerDigests",
                "must hold exactly one digest",
            ));
        };
        let digest = layer_digest(digest)?;
        let size = self.registry.upload_status(&scope, &repository, &id, UploadKind::Ecr).await?;
        if size == 0 {
            return Err(RegistryError::EmptyUpload(format!(
                "The upload with id '{id}' contains no layer parts"
            )));
        }
        if self.registry.linked_blob_size(&scope, &repository, &digest).await?.is_some() {
            self.registry.cancel_upload(&scope, &repository, &id, UploadKind::Ecr).await?;
            return Err(RegistryError::LayerAlreadyExists(format!(
                "The layer with digest '{digest}' already exists in the repository with name '{repository}' in the registry with id '{}'",
                scope.registry_id
            )));
        }
        self.registry
            .finish_upload(&scope, &repository, &id, UploadKind::Ecr, &digest, None::<Full<Bytes>>)
            .await?;
        Ok(CompleteLayerUploadResponse {
            registry_id: Some(scope.registry_id),
            repository_name: Some(repository.to_string()),
            upload_id: Some(id),
            layer_digest: Some(digest.to_string()),
        })
    }
}

impl BatchCheckLayerAvailability for EcrHandlers {
    async fn batch_check_layer_availability(
        &self, caller: &Caller, input: BatchCheckLayerAvailabilityRequest,
    ) -> Result<BatchCheckLayerAvailabilityResponse, RegistryError> {
        let (scope, repository) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let mut layers = Vec::new();
        let mut failures = Vec::new();
        for text in input.layer_digests {
            let Ok(digest) = Digest::parse_sha256(&text) else {
                failures.push(LayerFailure {
                    layer_digest: Some(text.clone()),
                    failure_code: Some(if text.is_empty() {
                        LayerFailureCode::MissingLayerDigest
                    } else {
                        LayerFailureCode::InvalidLayerDigest
                    }),
                    failure_reason: Some(format!("Invalid layer digest '{text}'")),
                });
                continue;
            };
            let size = self.registry.linked_blob_size(&scope, &repository, &digest).await?;
            layers.push(Layer {
                layer_digest: Some(text),
                layer_availability: Some(if size.is_some() {
                    LayerAvailability::Available
                } else {
                    LayerAvailability::Unavailable
                }),
                layer_size: size.map(|s| s as i64),
                media_type: None,
            });
        }
        Ok(BatchCheckLayerAvailabilityResponse { layers: Some(layers), failures: Some(failures) })
    }
}

impl GetDownloadUrlForLayer for EcrHandlers {
    async fn get_download_url_for_layer(
        &self, caller: &Caller, input: GetDownloadUrlForLayerRequest,
    ) -> Result<GetDownloadUrlForLayerResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, input.registry_id.as_deref());
        let repository = repository_name(&input.repository_name)?;
        let text = input.layer_digest;
        let digest = Digest::parse_sha256(&text).map_err(|_| {
            RegistryError::invalid_parameter("layerDigest", "must be a valid sha256 digest")
        })?;
        match self.registry.blob_size(&scope, &repository, &digest).await {
            // A cached image's layer not fetched yet: the URL pulls it through.
            Err(RegistryError::BlobUnknown { .. })
                if self.cache.fetchable(&scope, &repository, &digest).await? => {}
            found => {
                found?;
            }
        }
        let expires = self.registry.clock().now_secs().saturating_add(DOWNLOAD_URL_LIFETIME_SECS);
        let token = crate::download::DownloadGrant {
            scope: scope.clone(),
            repository: repository.to_string(),
            digest: digest.clone(),
            expires_at: expires,
        }
        .sign(&self.tokens);
        Ok(GetDownloadUrlForLayerResponse {
            download_url: Some(format!(
                "{}{}{token}",
                self.endpoint.url(&scope),
                crate::download::DOWNLOAD_PATH
            )),
            layer_digest: Some(digest.to_string()),
        })
    }
}
