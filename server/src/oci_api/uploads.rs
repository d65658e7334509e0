//! Blob uploads: POST (session, monolithic, mount), PATCH, GET status, PUT, DELETE.

use super::error::upload_range;
use super::{parse_digest, query, OciError};
use crate::app::AppState;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::Response;
use berth_generated::oci::OciErrorCode;
use berth_handlers::digest::{Digest, DigestAlgorithm};
use berth_handlers::metadata::UploadKind;
use berth_handlers::reference::RepositoryName;
use berth_handlers::{Registry, RegistryError, RegistryScope};
use serde::Deserialize;

#[derive(Deserialize)]
struct PostQuery {
    digest: Option<String>,
    mount: Option<String>,
    from: Option<String>,
    /// The algorithm the finished blob's digest will use; berth checks the final digest
    /// with its own algorithm whatever was announced, so only the name is checked here.
    #[serde(rename = "digest-algorithm")]
    digest_algorithm: Option<String>,
}

#[derive(Deserialize)]
struct PutQuery {
    digest: Option<String>,
}

fn build(builder: axum::http::response::Builder) -> Result<Response, OciError> {
    builder.body(Body::empty()).map_err(|e| OciError::new(OciErrorCode::Unknown, e.to_string()))
}

fn created(name: &RepositoryName, digest: &Digest) -> Result<Response, OciError> {
    build(
        Response::builder()
            .status(StatusCode::CREATED)
            .header(header::LOCATION, format!("/v2/{name}/blobs/{digest}"))
            .header("Docker-Content-Digest", digest.as_str())
            .header(header::CONTENT_LENGTH, 0),
    )
}

fn session(
    status: StatusCode, name: &RepositoryName, id: &str, size: u64,
) -> Result<Response, OciError> {
    build(
        Response::builder()
            .status(status)
            .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
            .header(header::RANGE, upload_range(size))
            .header("Docker-Upload-UUID", id)
            .header(header::CONTENT_LENGTH, 0),
    )
}

/// Upload ids are uuids; anything else cannot name a session.
fn upload_id(reference: &str) -> Result<&str, OciError> {
    uuid::Uuid::parse_str(reference).map(|_| reference).map_err(|_| {
        OciError::new(
            OciErrorCode::BlobUploadUnknown,
            format!("Upload with id '{reference}' does not exist"),
        )
    })
}

pub async fn post(
    state: &AppState, scope: &RegistryScope, name: &RepositoryName, parts: &Parts, body: Body,
) -> Result<Response, OciError> {
    let registry = &state.registry;
    let q: PostQuery = query(parts)?;
    if let Some(algorithm) =
        q.digest_algorithm.as_deref().filter(|a| DigestAlgorithm::parse(a).is_none())
    {
        return Err(OciError::new(
            OciErrorCode::DigestInvalid,
            format!("digest algorithm {algorithm} is not supported; use sha256 or sha512"),
        ));
    }
    if let (Some(mount), Some(from)) = (&q.mount, &q.from) {
        let digest = parse_digest(mount)?;
        if let Some(from) = RepositoryName::parse(from) {
            if registry.mount_blob(scope, name, &from, &digest).await?.is_some() {
                return created(name, &digest);
            }
        }
    } else if let Some(digest) = &q.digest {
        let digest = parse_digest(digest)?;
        registry.upload_blob(scope, name, &digest, body).await?;
        return created(name, &digest);
    }
    let id = registry.start_upload(scope, name, UploadKind::Oci).await?;
    session(StatusCode::ACCEPTED, name, &id, 0)
}

pub async fn patch(
    registry: &Registry, scope: &RegistryScope, name: &RepositoryName, reference: &str,
    parts: &Parts, body: Body,
) -> Result<Response, OciError> {
    let id = upload_id(reference)?;
    let start = match &parts.headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) => Some(content_range(value, &parts.headers)?),
        None => None,
    };
    let size = match registry.append_upload(scope, name, id, UploadKind::Oci, start, body).await {
        Ok(size) => size,
        // Out of order: 416 with where the upload stands, so the client can resume there.
        Err(e @ RegistryError::RangeInvalid { .. }) => {
            return Err(OciError::from(e)
                .with_header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
                .with_header(HeaderName::from_static("docker-upload-uuid"), id.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    session(StatusCode::ACCEPTED, name, id, size)
}

/// The start of a PATCH `Content-Range: <start>-<end>`, checked against Content-Length.
fn content_range(value: &str, headers: &axum::http::HeaderMap) -> Result<u64, OciError> {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    berth_handlers::byte_range::upload_chunk_start(value, length).ok_or_else(|| {
        OciError::new(OciErrorCode::RangeInvalid, format!("invalid Content-Range '{value}'"))
            .with_status(416)
    })
}

pub async fn status(
    registry: &Registry, scope: &RegistryScope, name: &RepositoryName, reference: &str,
) -> Result<Response, OciError> {
    let id = upload_id(reference)?;
    let size = registry.upload_status(scope, name, id, UploadKind::Oci).await?;
    session(StatusCode::NO_CONTENT, name, id, size)
}

pub async fn put(
    registry: &Registry, scope: &RegistryScope, name: &RepositoryName, reference: &str,
    parts: &Parts, body: Body,
) -> Result<Response, OciError> {
    let id = upload_id(reference)?;
    let q: PutQuery = query(parts)?;
    let digest = q.digest.ok_or_else(|| {
        OciError::new(OciErrorCode::DigestInvalid, "the digest query parameter is required")
    })?;
    let digest = parse_digest(&digest)?;
    registry.finish_upload(scope, name, id, UploadKind::Oci, &digest, Some(body)).await?;
    created(name, &digest)
}

pub async fn delete(
    registry: &Registry, scope: &RegistryScope, name: &RepositoryName, reference: &str,
) -> Result<Response, OciError> {
    let id = upload_id(reference)?;
    registry.cancel_upload(scope, name, id, UploadKind::Oci).await?;
    build(Response::builder().status(StatusCode::NO_CONTENT))
}
