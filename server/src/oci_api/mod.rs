//! The OCI Distribution face: `/v2/...`, routed by the generated `OciRoute` parser.

mod access;
mod auth;
mod blobs;
mod error;
mod listing;
mod manifests;
mod uploads;

pub use blobs::get as blob_response;
pub use error::OciError;

use crate::app::AppState;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use berth_generated::oci::{OciErrorCode, OciRoute};
use berth_handlers::digest::{Digest, DigestError};
use berth_handlers::reference::RepositoryName;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Handles every request under `/v2`.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let mut response = match route(&state, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .insert("Docker-Distribution-API-Version", HeaderValue::from_static("registry/2.0"));
    response
}

async fn route(state: &AppState, request: Request) -> Result<Response, OciError> {
    // Parts are Sync and can be borrowed across awaits; the body is passed on by value.
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let route = OciRoute::parse(&path).ok_or_else(|| OciError::not_found(&path))?;
    let method = parts.method.clone();
    if !route.methods().contains(&method.as_str()) {
        return Err(OciError::new(
            OciErrorCode::Unsupported,
            format!("{method} is not supported on {path}"),
        ));
    }
    let caller = auth::authenticate(state, &parts.headers)?;
    access::authorize(state, &caller, &route, &method).await?;
    let scope = caller.scope;
    let registry = &state.registry;
    match route {
        OciRoute::Base => Ok(json_response(serde_json::json!({}))),
        OciRoute::Catalog => listing::catalog(registry, &scope, &parts).await,
        OciRoute::Blob { name, digest } => {
            let (name, digest) = (repository(&name)?, parse_digest(&digest)?);
            match method {
                Method::DELETE => Err(OciError::new(
                    OciErrorCode::Unsupported,
                    "Blobs cannot be deleted; delete the images that use them",
                )),
                _ => blobs::get(state, &scope, &name, &digest, &parts).await,
            }
        }
        OciRoute::Uploads { name } => {
            uploads::post(state, &scope, &repository(&name)?, &parts, body).await
        }
        OciRoute::Upload { name, reference } => {
            let name = repository(&name)?;
            match method {
                Method::PATCH => {
                    uploads::patch(registry, &scope, &name, &reference, &parts, body).await
                }
                Method::PUT => {
                    uploads::put(registry, &scope, &name, &reference, &parts, body).await
                }
                Method::DELETE => uploads::delete(registry, &scope, &name, &reference).await,
                _ => uploads::status(registry, &scope, &name, &reference).await,
            }
        }
        OciRoute::Manifest { name, reference } => {
            let name = repository(&name)?;
            match method {
                Method::PUT => {
                    manifests::put(registry, &scope, &name, &reference, &parts, body).await
                }
                Method::DELETE => manifests::delete(registry, &scope, &name, &reference).await,
                _ => {
                    let principal = &caller.principal;
                    let cache = &state.cache;
                    manifests::get(registry, cache, &scope, &name, &reference, principal, &parts)
                        .await
                }
            }
        }
        OciRoute::TagsList { name } => {
            listing::tags(registry, &scope, &repository(&name)?, &parts).await
        }
        OciRoute::Referrers { name, digest } => {
            listing::referrers(
                registry,
                &scope,
                &repository(&name)?,
                &parse_digest(&digest)?,
                &parts,
            )
            .await
        }
    }
}

fn repository(name: &str) -> Result<RepositoryName, OciError> {
    RepositoryName::parse(name).ok_or_else(|| {
        OciError::new(OciErrorCode::NameInvalid, format!("invalid repository name '{name}'"))
    })
}

fn parse_digest(text: &str) -> Result<Digest, OciError> {
    Digest::parse(text).map_err(|e| match e {
        DigestError::Malformed => {
            OciError::new(OciErrorCode::DigestInvalid, format!("invalid digest '{text}'"))
        }
        DigestError::UnsupportedAlgorithm(a) => OciError::new(
            OciErrorCode::DigestInvalid,
            format!("digest algorithm {a} is not supported; use sha256 or sha512"),
        ),
    })
}

/// The query string as `T`; a malformed query is a 400.
fn query<T: DeserializeOwned>(parts: &Parts) -> Result<T, OciError> {
    let query = parts.uri.query().unwrap_or("");
    serde_urlencoded_query(query)
}

/// A `+` in a query is a plus (RFC 3986), not form encoding's space: media types such as
/// `application/vnd.oci.image.config.v1+json` arrive unencoded from some clients, and no
/// OCI parameter (tag, digest, count, media type) holds a space.
fn serde_urlencoded_query<T: DeserializeOwned>(query: &str) -> Result<T, OciError> {
    let query = query.replace('+', "%2B");
    axum::extract::Query::<T>::try_from_uri(&format!("/?{query}").parse().map_err(|_| bad_query())?)
        .map(|q| q.0)
        .map_err(|_| bad_query())
}

fn bad_query() -> OciError {
    OciError::new(OciErrorCode::Unsupported, "malformed query string").with_status(400)
}

fn json_response(body: serde_json::Value) -> Response {
    let mut response = body.to_string().into_response();
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
