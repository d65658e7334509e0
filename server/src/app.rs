//! The axum application: shared state and the router of both faces.

use crate::ecr_api;
use crate::identity::Identities;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use berth_handlers::EcrHandlers;
use std::sync::Arc;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

/// Everything a request handler needs.
#[derive(Debug)]
pub struct AppState {
    pub ecr: EcrHandlers,
    pub identities: Identities,
}

/// The router: the ECR API on `POST /`; the OCI registry on `/v2/` comes with its issue.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", post(ecr_api::handle))
        .fallback(not_found)
        .layer(
            // Errors are logged by each face with their wire type; the trace layer only at debug.
            TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "Not Found\n")
}
