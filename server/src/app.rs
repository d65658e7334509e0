//! The axum application: shared state and the router of both faces.

use crate::identity::Identities;
use crate::{admin_api, download_api, ecr_api, metrics, oci_api, request_id, signing_api};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum::Router;
use berth_handlers::auth::TokenSigner;
use berth_handlers::jobs::JobRunner;
use berth_handlers::pull_through::PullThroughCache;
use berth_handlers::signing::keys::SigningKeys;
use berth_handlers::{EcrHandlers, Registry};
use std::sync::Arc;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

/// Everything a request handler needs.
#[derive(Debug)]
pub struct AppState {
    pub ecr: EcrHandlers,
    pub registry: Arc<Registry>,
    /// Pulls that the store cannot answer, under a pull-through cache rule.
    pub cache: Arc<PullThroughCache>,
    /// Each signing profile's key and certificate (the signing job signs with them).
    pub signing_keys: Arc<SigningKeys>,
    pub tokens: TokenSigner,
    pub identities: Identities,
    /// `--verify-signatures`: every ECR API request must be signed with a known secret.
    pub signatures: Option<crate::signature::SignatureVerifier>,
    /// A request body that sends nothing this long is cut (`--body-idle-timeout`).
    pub body_idle_timeout: std::time::Duration,
    /// Where clients reach the registry, as in repository URIs.
    pub endpoint: berth_handlers::endpoint::RegistryEndpoint,
    /// Development mode: /v2 takes any Basic credentials.
    pub accept_any_credentials: bool,
    /// `/_berth/admin/*` is served (tests and development only).
    pub admin_api: bool,
    /// `--blob-redirect`: blob GETs answer with a presigned URL of the blob store.
    pub blob_redirect: bool,
    /// `--ui-open`: the console shows the default registry to loopback clients without
    /// signing in.
    pub console_open: bool,
    /// Bytes of large ECR request bodies read at once (`--ecr-bodies-in-flight`).
    pub body_budget: crate::ecr_api::BodyBudget,
    /// Request counts and latencies for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Background work; started and stopped by `serve`.
    pub jobs: JobRunner,
}

impl AppState {
    /// The registry URL clients log in to (GetAuthorizationToken's proxyEndpoint).
    pub fn proxy_endpoint(&self) -> String {
        self.endpoint.url(&berth_handlers::scope::RegistryScope {
            registry_id: self.identities.default_account.clone(),
            region: self.identities.default_region.clone(),
        })
    }
}

/// The router: the ECR API on `POST /`, the OCI registry under `/v2`.
pub fn router(state: Arc<AppState>) -> Router {
    let admin = if state.admin_api { admin_api::router() } else { Router::new() };
    Router::new()
        .route("/", post(ecr_api::handle))
        .route("/v2", any(oci_api::handle))
        .route("/v2/", any(oci_api::handle))
        .route("/v2/{*path}", any(oci_api::handle))
        .route("/_berth/layers/{grant}", get(download_api::handle))
        .route("/_berth/signing/certificate", get(signing_api::certificate))
        .route("/metrics", get(metrics::metrics))
        .route("/_berth/health", get(metrics::health))
        .route("/_berth/ready", get(metrics::ready))
        .merge(admin)
        .merge(crate::console::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::count))
        .layer(axum::middleware::from_fn(request_id::assign))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(state.body_idle_timeout))
        .layer(
            // Errors are logged by each face with their wire type; the trace layer only at debug.
            TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "Not Found\n")
}
