//! Manifests: HEAD, GET (honouring Accept), PUT, DELETE.

use super::OciError;
use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use berth_generated::oci::OciErrorCode;
use berth_handlers::manifest::MAX_MANIFEST_BYTES;
use berth_handlers::pull_through::PullThroughCache;
use berth_handlers::reference::{Reference, RepositoryName};
use berth_handlers::{Registry, RegistryError, RegistryScope};
use http_body_util::{BodyExt, Limited};

fn reference(text: &str) -> Result<Reference, OciError> {
    Reference::parse(text).ok_or_else(|| {
        if text.contains(':') {
            OciError::new(OciErrorCode::DigestInvalid, format!("invalid digest '{text}'"))
        } else {
            OciError::new(OciErrorCode::TagInvalid, format!("invalid tag '{text}'"))
        }
    })
}

fn build(builder: axum::http::response::Builder, body: Body) -> Result<Response, OciError> {
    builder.body(body).map_err(|e| OciError::new(OciErrorCode::Unknown, e.to_string()))
}

/// True when the request's Accept header allows `media_type` (no header allows all).
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let mut listed = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .filter(|v| !v.is_empty())
        .peekable();
    if listed.peek().is_none() {
        return true;
    }
    listed.any(|v| v == media_type || v == "*/*")
}

pub async fn get(
    registry: &Registry, cache: &PullThroughCache, scope: &RegistryScope, name: &RepositoryName,
    reference_text: &str, principal: &str, parts: &Parts,
) -> Result<Response, OciError> {
    let reference = reference(reference_text)?;
    let manifest = cache.manifest(scope, name, &reference).await?;
    // A digest names exact bytes; Accept only narrows what a tag may resolve to.
    if matches!(reference, Reference::Tag(_)) && !accepts(&parts.headers, &manifest.media_type) {
        return Err(OciError::new(
            OciErrorCode::ManifestUnknown,
            format!(
                "Requested image not found: the manifest is {}, which the Accept header does not allow",
                manifest.media_type
            ),
        ));
    }
    let head = parts.method == Method::HEAD;
    if !head {
        registry.record_pull(scope, name, &manifest.digest, principal).await;
    }
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, &manifest.media_type)
        .header(header::CONTENT_LENGTH, manifest.body.len())
        .header("Docker-Content-Digest", manifest.digest.as_str())
        .header(header::ETAG, format!("\"{}\"", manifest.digest));
    let body = if head { Body::empty() } else { Body::from(manifest.body) };
    build(builder, body)
}

pub async fn put(
    registry: &Registry, scope: &RegistryScope, name: &RepositoryName, reference_text: &str,
    parts: &Parts, body: Body,
) -> Result<Response, OciError> {
    let reference = reference(reference_text)?;
    let content_type =
        &parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = read_manifest(body).await?;
    let (tag, expected) = match &reference {
        Reference::Tag(tag) => (Some(tag), None),
        Reference::Digest(digest) => (None, Some(digest)),
    };
    let pushed = match registry
        .push_manifest(scope, name, tag, expected, content_type.as_deref(), Vec::from(body))
        .await
    {
        Ok(pushed) => pushed,
        Err(e) => return Err(e.into()),
    };
    let mut builder = Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/manifests/{}", pushed.digest))
        .header("Docker-Content-Digest", pushed.digest.as_str())
        .header(header::CONTENT_LENGTH, 0);
    if let Some(subject) = &pushed.subject {
        builder = builder.header("OCI-Subject", subject.as_str());
    }
    build(builder, Body::empty())
}

async fn read_manifest(body: Body) -> Result<Bytes, OciError> {
    match Limited::new(body, MAX_MANIFEST_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(RegistryError::ManifestTooLarge { limit: MAX_MANIFEST_BYTES }.into())
        }
        Err(e) => Err(OciError::new(
            OciErrorCode::ManifestInvalid,
            format!("cannot read the manifest: {e}"),
        )),
    }
}

pub async fn delete(
    registry: &Registry, scope: &RegistryScope, name: &RepositoryName, reference_text: &str,
) -> Result<Response, OciError> {
    let reference = reference(reference_text)?;
    registry.delete_manifest(scope, name, &reference).await?;
    build(
        Response::builder().status(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, 0),
        Body::empty(),
    )
}
