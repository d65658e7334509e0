//! Serves GetDownloadUrlForLayer URLs: `GET /_berth/layers/<signed grant>`.

use crate::app::AppState;
use crate::oci_api::{blob_response, OciError};
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use berth_generated::oci::OciErrorCode;
use berth_handlers::download::DownloadGrant;
use berth_handlers::reference::RepositoryName;
use std::sync::Arc;

/// Streams the granted blob (Range works as on /v2); a forged or expired grant is 403.
pub async fn handle(
    State(state): State<Arc<AppState>>, Path(grant): Path<String>, request: Request,
) -> Response {
    let now = state.registry.clock().now_secs();
    let Some(grant) = DownloadGrant::verify(&grant, &state.tokens, now) else {
        return OciError::new(OciErrorCode::Denied, "The download URL is invalid or has expired")
            .into_response();
    };
    let Some(repository) = RepositoryName::parse(&grant.repository) else {
        return OciError::new(OciErrorCode::Denied, "The download URL is invalid").into_response();
    };
    let (parts, _) = request.into_parts();
    match blob_response(&state, &grant.scope, &repository, &grant.digest, &parts).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}
