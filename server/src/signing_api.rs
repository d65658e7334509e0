//! The public certificate of a signing profile, for verifiers outside berth (a Notary
//! Project trust store, openssl): `GET /_berth/signing/certificate?profile=<ARN>`.

use crate::app::AppState;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_handlers::signing::SigningProfile;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct CertificateQuery {
    profile: String,
}

/// The profile's certificate as PEM; 404 for a profile that never signed here.
pub async fn certificate(
    State(state): State<Arc<AppState>>, Query(query): Query<CertificateQuery>,
) -> Response {
    let Some(profile) = SigningProfile::parse(&query.profile) else {
        return (
            StatusCode::BAD_REQUEST,
            "profile must be a signing profile ARN: arn:aws:signer:<region>:<account>:/signing-profiles/<name>\n",
        )
            .into_response();
    };
    match state.registry.signing_key(&state.signing_keys, &profile).await {
        Ok(None) => (
            StatusCode::NOT_FOUND,
            format!("the signing profile {} has signed nothing here\n", profile.arn),
        )
            .into_response(),
        Ok(Some(key)) => {
            ([(header::CONTENT_TYPE, "application/x-pem-file")], key.certificate_pem.clone())
                .into_response()
        }
        Err(e) => {
            tracing::error!("signing certificate of {}: {e}", profile.arn);
            (StatusCode::INTERNAL_SERVER_ERROR, format!("berth failed: {e}\n")).into_response()
        }
    }
}
