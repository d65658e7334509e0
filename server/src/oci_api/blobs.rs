//! Blob HEAD and GET, with `Range`; with `--blob-redirect`, a GET of a stored blob is a
//! redirect to a presigned URL of the object in S3 (HEAD answers here, as the reference
//! registry's redirect does).

use super::OciError;
use crate::app::AppState;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use berth_generated::oci::OciErrorCode;
use berth_handlers::blob_store::ByteStream;
use berth_handlers::digest::Digest;
use berth_handlers::pull_through::CachedBlob;
use berth_handlers::reference::RepositoryName;
use berth_handlers::{RegistryError, RegistryScope};

/// How long a redirect's presigned URL works (the reference registry's choice): long
/// enough for a slow client to start, short enough that a leaked URL soon expires.
const REDIRECT_VALID_FOR: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// Answers a blob HEAD or GET of /v2 (and of a GetDownloadUrlForLayer URL): the stored
/// bytes, a range of them, a pull-through fetch as it streams, or a redirect to S3.
pub async fn get(
    state: &AppState, scope: &RegistryScope, name: &RepositoryName, digest: &Digest, parts: &Parts,
) -> Result<Response, OciError> {
    let (registry, cache) = (&*state.registry, &*state.cache);
    let head = parts.method == Method::HEAD;
    let range_header = parts.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let size = match registry.blob_size(scope, name, digest).await {
        Err(unknown @ RegistryError::BlobUnknown { .. }) => {
            // A cached image's layer not fetched yet: a whole GET streams while it is
            // stored; HEAD and ranges wait for the stored blob.
            let streaming = !head && range_header.is_none();
            match cache.blob(scope, name, digest, streaming).await? {
                Some(CachedBlob::Streaming { size, body }) => {
                    return streamed_from_upstream(digest, size, body)
                }
                Some(CachedBlob::Stored) => registry.blob_size(scope, name, digest).await?,
                // Not a cached image's layer: unknown, as first found (a push's HEAD of
                // each layer ends here; no second lookup).
                None => return Err(unknown.into()),
            }
        }
        found => found?,
    };
    if state.blob_redirect && !head {
        if let Some(url) = registry.blob_download_url(digest, REDIRECT_VALID_FOR).await? {
            return Response::builder()
                .status(StatusCode::TEMPORARY_REDIRECT)
                .header(header::LOCATION, url)
                .header("Docker-Content-Digest", digest.as_str())
                .header(header::CONTENT_LENGTH, 0)
                .body(Body::empty())
                .map_err(|e| OciError::new(OciErrorCode::Unknown, e.to_string()));
        }
    }
    let range = match &range_header {
        Some(value) => {
            Some(berth_handlers::byte_range::blob_range(value, size).ok_or_else(|| {
                OciError::new(
                    OciErrorCode::RangeInvalid,
                    format!("the range {value} cannot be served from {size} bytes"),
                )
                .with_status(416)
                .with_header(header::CONTENT_RANGE, format!("bytes */{size}"))
            })?)
        }
        None => None,
    };
    let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
    let length = if size == 0 { 0 } else { end - start + 1 };
    let mut builder = Response::builder()
        .status(if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK })
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        .header("Docker-Content-Digest", digest.as_str())
        .header(header::ETAG, format!("\"{digest}\""));
    if range.is_some() {
        builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
    }
    let body = if head || length == 0 {
        Body::empty()
    } else {
        Body::from_stream(registry.read_blob(digest, start, length).await?)
    };
    builder.body(body).map_err(|e| OciError::new(OciErrorCode::Unknown, e.to_string()))
}

/// A blob as it arrives from upstream (its last bytes only once its digest is checked).
fn streamed_from_upstream(
    digest: &Digest, size: Option<u64>, body: ByteStream,
) -> Result<Response, OciError> {
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes")
        .header("Docker-Content-Digest", digest.as_str())
        .header(header::ETAG, format!("\"{digest}\""));
    if let Some(size) = size {
        builder = builder.header(header::CONTENT_LENGTH, size);
    }
    builder
        .body(Body::from_stream(body))
        .map_err(|e| OciError::new(OciErrorCode::Unknown, e.to_string()))
}
