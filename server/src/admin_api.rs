//! `/_berth/admin/*`, on only with `--admin-api`: moves berth's clock and runs background
//! jobs now, so that tests of later behaviour (expiry, lifecycle, GC) never sleep.
//!
//! Anyone who reaches the port can use it; it is for tests and development, never for a
//! shared registry. Answers are JSON; mistakes are 400 or 404 with `{"message"}`.

use crate::app::AppState;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;

/// The admin routes, to be merged when the API is on.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_berth/admin/clock/advance", post(advance_clock))
        .route("/_berth/admin/jobs/{name}/run", post(run_job))
        .route("/_berth/admin/lifecycle/run", post(run_lifecycle))
        .route("/_berth/admin/gc/run", post(run_gc))
}

/// The most one call may move the clock: a century, far beyond any expiry berth knows.
const MAX_ADVANCE_SECS: f64 = 100.0 * 365.0 * 86_400.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: f64,
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn refusal(status: StatusCode, message: String) -> Response {
    json(status, serde_json::json!({ "message": message }))
}

/// `{"seconds": N}` moves the clock forward by N (positive, finite); answers the new time.
async fn advance_clock(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let advance: Advance = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return refusal(StatusCode::BAD_REQUEST, format!("expected {{\"seconds\": N}}: {e}"))
        }
    };
    if !advance.seconds.is_finite() || advance.seconds <= 0.0 {
        return refusal(
            StatusCode::BAD_REQUEST,
            "seconds must be a positive number: the clock never goes back".into(),
        );
    }
    if advance.seconds > MAX_ADVANCE_SECS {
        return refusal(
            StatusCode::BAD_REQUEST,
            format!("seconds must be at most {MAX_ADVANCE_SECS} (a century) per call"),
        );
    }
    let clock = state.registry.clock();
    clock.advance(advance.seconds);
    json(StatusCode::OK, serde_json::json!({ "now": clock.now() }))
}

/// Evaluates every lifecycle policy now; answers after its deletions are committed.
async fn run_lifecycle(state: State<Arc<AppState>>) -> Response {
    run_job(state, Path("lifecycle".to_string())).await
}

/// Collects garbage now; answers after the unreferenced blobs past their grace are gone.
async fn run_gc(state: State<Arc<AppState>>) -> Response {
    run_job(state, Path("gc".to_string())).await
}

/// Runs the named background job now and answers its report.
async fn run_job(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    match state.jobs.run_now(&name).await {
        None => refusal(
            StatusCode::NOT_FOUND,
            format!("no job named {name:?}; jobs: {:?}", state.jobs.names()),
        ),
        Some(Ok(report)) => {
            json(StatusCode::OK, serde_json::json!({ "job": name, "report": report }))
        }
        Some(Err(e)) => {
            tracing::error!(job = %name, "job failed: {e}");
            refusal(StatusCode::INTERNAL_SERVER_ERROR, format!("job {name} failed: {e}"))
        }
    }
}
