//! Lists: tags of a repository, the catalog of repositories, referrers of a manifest.

use super::{json_response, query, OciError};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use berth_generated::oci::media_types::OCI_IMAGE_INDEX;
use berth_generated::oci::OciErrorCode;
use berth_handlers::digest::Digest;
use berth_handlers::reference::RepositoryName;
use berth_handlers::{Registry, RegistryScope};
use serde::Deserialize;

/// Page size when `n` is not given, and the largest `n` accepted (as ECR caps it).
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

#[derive(Deserialize)]
struct PageQuery {
    n: Option<String>,
    last: Option<String>,
}

fn page(parts: &Parts) -> Result<(u32, Option<String>), OciError> {
    let q: PageQuery = query(parts)?;
    let n = match q.n {
        None => DEFAULT_PAGE,
        Some(n) => {
            n.parse::<u32>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
                OciError::new(
                    OciErrorCode::Unsupported,
                    format!("n must be between 1 and {MAX_PAGE}"),
                )
                .with_status(400)
            })?
        }
    };
    Ok((n, q.last))
}

/// Adds `Link: <path?n=..&last=..>; rel="next"` when another page follows.
fn with_next(mut response: Response, path: &str, n: u32, last: Option<&String>) -> Response {
    if let Some(last) = last {
        let encoded: String = last
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'-' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        if let Ok(v) =
            HeaderValue::from_str(&format!("<{path}?n={n}&last={encoded}>; rel=\"next\""))
        {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    response
}

pub async fn tags(
    registry: &Registry, scope: &RegistryScope, name: &RepositoryName, parts: &Parts,
) -> Result<Response, OciError> {
    let (n, last) = page(parts)?;
    let (tags, more) = registry.tags(scope, name, last.as_deref(), n).await?;
    let next = if more { tags.last().cloned() } else { None };
    let response = json_response(serde_json::json!({ "name": name.as_str(), "tags": tags }));
    Ok(with_next(response, &format!("/v2/{name}/tags/list"), n, next.as_ref()))
}

pub async fn catalog(
    registry: &Registry, scope: &RegistryScope, parts: &Parts,
) -> Result<Response, OciError> {
    let (n, last) = page(parts)?;
    let (names, more) = registry.catalog(scope, last.as_deref(), n).await?;
    let next = if more { names.last().cloned() } else { None };
    let response = json_response(serde_json::json!({ "repositories": names }));
    Ok(with_next(response, "/v2/_catalog", n, next.as_ref()))
}

#[derive(Deserialize)]
struct ReferrersQuery {
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
}

pub async fn referrers(
    registry: &Registry, scope: &RegistryScope, name: &RepositoryName, subject: &Digest,
    parts: &Parts,
) -> Result<Response, OciError> {
    let q: ReferrersQuery = query(parts)?;
    let found = registry.referrers(scope, name, subject, q.artifact_type.as_deref()).await?;
    let manifests: Vec<serde_json::Value> = found
        .into_iter()
        .map(|r| {
            let mut d = serde_json::json!({
                "mediaType": r.media_type,
                "digest": r.digest.as_str(),
                "size": r.size,
            });
            if let Some(t) = r.artifact_type {
                d["artifactType"] = t.into();
            }
            if let Some(a) =
                r.annotations.and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
            {
                d["annotations"] = a;
            }
            d
        })
        .collect();
    let mut response = json_response(serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_INDEX,
        "manifests": manifests,
    }));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCI_IMAGE_INDEX));
    if q.artifact_type.is_some() {
        headers.insert("OCI-Filters-Applied", HeaderValue::from_static("artifactType"));
    }
    Ok(response)
}
