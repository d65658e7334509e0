//! Registry errors on /v2: `{"errors":[{"code","message","detail"}]}` with the table's status.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_generated::oci::OciErrorCode;
use berth_handlers::RegistryError;

/// An error response of the OCI face.
#[derive(Debug)]
pub struct OciError {
    pub status: u16,
    pub code: OciErrorCode,
    pub message: String,
    pub headers: Vec<(HeaderName, String)>,
}

impl OciError {
    /// An error with the code's own status.
    pub fn new(code: OciErrorCode, message: impl Into<String>) -> Self {
        OciError { status: code.status(), code, message: message.into(), headers: Vec::new() }
    }

    /// The same error with another status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 404 for a path that is no endpoint.
    pub fn not_found(path: &str) -> Self {
        OciError::new(OciErrorCode::NameUnknown, format!("no registry endpoint at {path}"))
            .with_status(404)
    }
}

/// The one place registry errors become /v2 answers. Exhaustive: a new variant does not
/// compile until it is placed here.
impl From<RegistryError> for OciError {
    fn from(e: RegistryError) -> Self {
        use OciErrorCode as C;
        let message = e.to_string();
        match e {
            RegistryError::RepositoryNotFound { .. } => OciError::new(C::NameUnknown, message),
            RegistryError::BlobUnknown { .. } => OciError::new(C::BlobUnknown, message),
            RegistryError::UploadUnknown { .. } => OciError::new(C::BlobUploadUnknown, message),
            RegistryError::DigestInvalid(_) | RegistryError::ImageDigestDoesNotMatch(_) => {
                OciError::new(C::DigestInvalid, message)
            }
            RegistryError::SizeInvalid(_) => OciError::new(C::SizeInvalid, message),
            RegistryError::RangeInvalid { size } => OciError::new(C::RangeInvalid, message)
                .with_header(header::RANGE, upload_range(size))
                .with_header(HeaderName::from_static("docker-upload-uuid"), String::new()),
            RegistryError::ImageNotFound => OciError::new(C::ManifestUnknown, message),
            RegistryError::AccessDenied(_) | RegistryError::UpstreamAccessDenied(_) => {
                OciError::new(C::Denied, message).with_status(403)
            }
            RegistryError::ManifestInvalid(_) => OciError::new(C::ManifestInvalid, message),
            RegistryError::ManifestTooLarge { .. } => {
                OciError::new(C::ManifestInvalid, message).with_status(413)
            }
            RegistryError::LayersNotFound { .. }
            | RegistryError::ReferencedImagesNotFound { .. } => {
                OciError::new(C::ManifestBlobUnknown, message)
            }
            RegistryError::ImageTagImmutable { .. } | RegistryError::TagInvalid(_) => {
                OciError::new(C::TagInvalid, message)
            }
            RegistryError::NameInvalid(_) => OciError::new(C::NameInvalid, message),
            RegistryError::ImageReferencedByManifestList { .. } | RegistryError::Unsupported(_) => {
                OciError::new(C::Unsupported, message)
            }
            RegistryError::Internal(detail) => {
                tracing::error!(%detail, "internal error on /v2");
                OciError::new(C::Unknown, format!("berth failed: {detail}"))
            }
            RegistryError::StorageFull(_) => {
                tracing::error!("{message}");
                OciError::new(C::Unavailable, message).with_status(507)
            }
            // Errors of the ECR face only; a /v2 path that met one answers UNSUPPORTED 400.
            RegistryError::RepositoryAlreadyExists { .. }
            | RegistryError::RepositoryNotEmpty { .. }
            | RegistryError::RepositoryPolicyNotFound { .. }
            | RegistryError::LifecyclePolicyNotFound { .. }
            | RegistryError::LifecyclePolicyPreviewNotFound { .. }
            | RegistryError::RegistryPolicyNotFound { .. }
            | RegistryError::TemplateAlreadyExists { .. }
            | RegistryError::TemplateNotFound { .. }
            | RegistryError::PullThroughCacheRuleAlreadyExists { .. }
            | RegistryError::PullThroughCacheRuleNotFound { .. }
            | RegistryError::UnsupportedUpstreamRegistry(_)
            | RegistryError::SecretNotFound(_)
            | RegistryError::ScanNotFound(_)
            | RegistryError::SigningConfigurationNotFound { .. }
            | RegistryError::ImageArchived(_)
            | RegistryError::UnableToGetUpstreamImage(_)
            | RegistryError::ReplicationBackfillInProgress(_)
            | RegistryError::ReplicationBackfillNotFound(_)
            | RegistryError::ReplicationBackfillInvalidStatus(_)
            | RegistryError::ImageStorageClassUpdateNotSupported(_)
            | RegistryError::ExclusionAlreadyExists { .. }
            | RegistryError::ExclusionNotFound { .. }
            | RegistryError::LimitExceeded(_)
            | RegistryError::ImageNotFoundById(_)
            | RegistryError::ImageAlreadyExists { .. }
            | RegistryError::InvalidLayerPart(_)
            | RegistryError::LayerAlreadyExists(_)
            | RegistryError::LayerPartTooSmall(_)
            | RegistryError::EmptyUpload(_)
            | RegistryError::InvalidParameter(_)
            | RegistryError::InvalidTagParameter(_)
            | RegistryError::TooManyTags(_)
            | RegistryError::NotImplemented => {
                OciError::new(C::Unsupported, message).with_status(400)
            }
        }
    }
}

/// The `Range` value of an upload that has received `size` bytes (distribution's form).
pub fn upload_range(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{ "code": self.code.as_str(), "message": self.message, "detail": null }]
        });
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> String {
        "text".into()
    }

    /// Each registry error, the OCI code and status /v2 answers it with.
    #[test]
    fn every_registry_error_has_its_oci_code_and_status() {
        let names = || (String::from("n"), String::from("000000000000"));
        let (name, registry) = names();
        let table: Vec<(RegistryError, &str, u16)> = vec![
            (RegistryError::RepositoryNotFound { name, registry }, "NAME_UNKNOWN", 404),
            (
                RegistryError::BlobUnknown { digest: text(), repository: text(), registry: text() },
                "BLOB_UNKNOWN",
                404,
            ),
            (RegistryError::UploadUnknown { id: text() }, "BLOB_UPLOAD_UNKNOWN", 404),
            (RegistryError::DigestInvalid(text()), "DIGEST_INVALID", 400),
            (RegistryError::ImageDigestDoesNotMatch(text()), "DIGEST_INVALID", 400),
            (RegistryError::SizeInvalid(text()), "SIZE_INVALID", 400),
            (RegistryError::RangeInvalid { size: 5 }, "RANGE_INVALID", 416),
            (RegistryError::ImageNotFound, "MANIFEST_UNKNOWN", 404),
            (RegistryError::ManifestInvalid(text()), "MANIFEST_INVALID", 400),
            (RegistryError::ManifestTooLarge { limit: 1 }, "MANIFEST_INVALID", 413),
            (
                RegistryError::LayersNotFound {
                    digests: vec![],
                    repository: text(),
                    registry: text(),
                },
                "MANIFEST_BLOB_UNKNOWN",
                400,
            ),
            (
                RegistryError::ReferencedImagesNotFound {
                    digests: vec![],
                    repository: text(),
                    registry: text(),
                },
                "MANIFEST_BLOB_UNKNOWN",
                400,
            ),
            (
                RegistryError::ImageTagImmutable {
                    tag: text(),
                    repository: text(),
                    same_digest: false,
                },
                "TAG_INVALID",
                400,
            ),
            (RegistryError::TagInvalid(text()), "TAG_INVALID", 400),
            (RegistryError::NameInvalid(text()), "NAME_INVALID", 400),
            (RegistryError::ImageReferencedByManifestList { parents: vec![] }, "UNSUPPORTED", 405),
            (RegistryError::Unsupported(text()), "UNSUPPORTED", 405),
            (RegistryError::Internal(text()), "UNKNOWN", 500),
            (RegistryError::StorageFull(text()), "UNAVAILABLE", 507),
            (RegistryError::InvalidParameter(text()), "UNSUPPORTED", 400),
            (RegistryError::TooManyTags(text()), "UNSUPPORTED", 400),
            (RegistryError::EmptyUpload(text()), "UNSUPPORTED", 400),
            (RegistryError::LimitExceeded(text()), "UNSUPPORTED", 400),
            (RegistryError::ImageStorageClassUpdateNotSupported(text()), "UNSUPPORTED", 400),
            (
                RegistryError::LifecyclePolicyNotFound { name: text(), registry: text() },
                "UNSUPPORTED",
                400,
            ),
            (
                RegistryError::LifecyclePolicyPreviewNotFound { name: text(), registry: text() },
                "UNSUPPORTED",
                400,
            ),
        ];
        for (error, code, status) in table {
            let shown = format!("{error:?}");
            let answer = OciError::from(error);
            assert_eq!((answer.code.as_str(), answer.status), (code, status), "{shown}");
        }
        let range = OciError::from(RegistryError::RangeInvalid { size: 5 });
        assert!(range.headers.iter().any(|(n, v)| n == header::RANGE && v == "0-4"));
    }
}
