//! The ECR API endpoint: `POST /` with `X-Amz-Target`, AWS JSON 1.1 in and out.

mod error;

pub use error::ecr_error;

use crate::app::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_generated::ecr::{dispatch, Operation};
use berth_generated::runtime::WireError;
use berth_handlers::scope::{AccountId, PrincipalArn};
use berth_handlers::{Caller, RegistryError, RegistryScope};
use http_body_util::BodyExt;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// The AWS JSON 1.1 content type, of requests and responses.
pub const AMZ_JSON: &str = "application/x-amz-json-1.1";

/// Largest accepted request body: an UploadLayerPart of 20 MiB in base64 with room to spare.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Largest body of an operation whose input carries no document: the model's largest legal
/// inputs (PutReplicationConfiguration at its quotas, about 700 KB) with headroom.
pub const SMALL_BODY_BYTES: usize = 1024 * 1024;

/// Largest PutImage body: a manifest of ECR's 4 MiB, JSON-escaped, with headroom.
pub const PUT_IMAGE_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Bodies up to this size are read without taking from the in-flight budget, so that
/// ordinary calls never wait behind large uploads.
const UNBUDGETED_BODY_BYTES: usize = 64 * 1024;

/// How much of an oversized body is read and dropped before the connection is cut.
const MAX_DRAINED_BYTES: usize = 256 * 1024 * 1024;

/// The largest body `operation` accepts.
pub fn body_limit(operation: Operation) -> usize {
    match operation {
        Operation::UploadLayerPart => MAX_BODY_BYTES,
        Operation::PutImage => PUT_IMAGE_BODY_BYTES,
        _ => SMALL_BODY_BYTES,
    }
}

/// Bytes of ECR request bodies being read at once, shared by all requests: a large body
/// reserves its declared size (or its operation's limit) before it is read.
#[derive(Debug)]
pub struct BodyBudget {
    permits: tokio::sync::Semaphore,
    /// The budget in KiB (one permit each).
    total_kib: usize,
    /// How long a large body waits for the budget before a 503.
    wait: std::time::Duration,
}

impl BodyBudget {
    /// A budget of `bytes` (at least one largest body), waited for up to `wait`.
    pub fn new(bytes: usize, wait: std::time::Duration) -> Self {
        let total_kib = bytes.max(MAX_BODY_BYTES) / 1024;
        BodyBudget { permits: tokio::sync::Semaphore::new(total_kib), total_kib, wait }
    }

    async fn reserve(&self, bytes: usize) -> Result<tokio::sync::SemaphorePermit<'_>, WireError> {
        let kib = bytes.div_ceil(1024).min(self.total_kib) as u32;
        match tokio::time::timeout(self.wait, self.permits.acquire_many(kib)).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(WireError::new(
                503,
                "ServiceUnavailableException",
                format!(
                    "berth is reading {} MiB of request bodies already; retry the request",
                    self.total_kib / 1024
                ),
            )),
        }
    }
}

/// Handles one ECR API call.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let request_id = request
        .extensions()
        .get::<crate::request_id::RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let result = call(&state, request).await;
    let mut response = match result {
        Ok(body) => (StatusCode::OK, body).into_response(),
        Err(e) => {
            if e.status == 500 {
                tracing::error!(request_id, type_name = %e.type_name, message = e.message(), "ECR API error");
            } else {
                tracing::debug!(request_id, type_name = %e.type_name, message = e.message(), "ECR API client error");
            }
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, e.body.to_string()).into_response();
            if let Ok(v) = HeaderValue::from_str(&e.type_name) {
                response.headers_mut().insert("x-amzn-ErrorType", v);
            }
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    response
}

async fn call(state: &AppState, request: Request) -> Result<Vec<u8>, WireError> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let operation = operation(headers)?;
    check_content_type(headers)?;
    let limit = body_limit(operation);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(declared) = declared.filter(|d| *d > limit) {
        // Read and dropped (nothing kept), so that the client still sending gets the 413.
        let drained = read_body(body, None, limit).await;
        return Err(drained.err().unwrap_or_else(|| too_large(limit, declared)));
    }
    let reserve = declared.unwrap_or(limit);
    let _reserved = if reserve > UNBUDGETED_BODY_BYTES {
        Some(state.body_budget.reserve(reserve).await?)
    } else {
        None
    };
    let body = read_body(body, declared, limit).await?;
    if let Some(verifier) = &state.signatures {
        let now = UNIX_EPOCH + Duration::from_secs_f64(state.registry.clock().now().max(0.0));
        verifier.verify(&parts, &body, now)?;
    }
    let caller =
        state.identities.caller(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()));
    authorize_cross_account(state, &caller, operation, &body).await?;
    dispatch(&state.ecr, &caller, operation, &body, ecr_error).await
}

/// The registry and repository a request addresses, read before dispatch.
#[derive(Deserialize)]
struct Addressed {
    #[serde(rename = "registryId")]
    registry_id: Option<String>,
    #[serde(rename = "repositoryName")]
    repository_name: Option<String>,
}

/// A request naming another account's registry (`registryId`) is allowed only as that
/// registry's policies allow `ecr:<Operation>`, else AccessDeniedException with ECR's
/// text. Bodies that do not parse, or name no valid account, are left to the dispatcher's
/// validation.
async fn authorize_cross_account(
    state: &AppState, caller: &Caller, operation: Operation, body: &[u8],
) -> Result<(), WireError> {
    let Ok(addressed) = serde_json::from_slice::<Addressed>(body) else {
        return Ok(());
    };
    let Some(registry) = addressed
        .registry_id
        .filter(|id| *id != caller.account_id && AccountId::parse(id).is_some())
    else {
        return Ok(());
    };
    let scope = RegistryScope { registry_id: registry, region: caller.region.clone() };
    let principal = PrincipalArn::parse(&caller.principal)
        .unwrap_or_else(|| PrincipalArn::root(&caller.account_id));
    let action = format!("ecr:{}", operation.name());
    let repository = addressed.repository_name.as_deref();
    match state.registry.authorize(&principal, &action, &scope, repository).await {
        Ok(()) => Ok(()),
        Err(RegistryError::AccessDenied(message)) => {
            Err(WireError::new(400, "AccessDeniedException", message))
        }
        Err(other) => Err(WireError::new(500, "ServerException", other.to_string())),
    }
}

fn operation(headers: &HeaderMap) -> Result<Operation, WireError> {
    let target = headers.get("x-amz-target").ok_or_else(|| {
        WireError::new(
            400,
            "UnknownOperationException",
            "The X-Amz-Target header is missing".into(),
        )
    })?;
    let target = target.to_str().unwrap_or("");
    Operation::from_target(target).ok_or_else(|| {
        WireError::new(400, "UnknownOperationException", format!("Unknown operation {target}"))
    })
}

/// AWS JSON 1.1 clients send `application/x-amz-json-1.1`; plain `application/json` is
/// accepted too, for hand-written requests.
fn check_content_type(headers: &HeaderMap) -> Result<(), WireError> {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case(AMZ_JSON)
        || media_type.eq_ignore_ascii_case("application/json")
    {
        Ok(())
    } else {
        Err(WireError::new(
            415,
            "UnsupportedMediaTypeException",
            format!("Content-Type must be {AMZ_JSON}, not '{content_type}'"),
        ))
    }
}

fn too_large(limit: usize, size: usize) -> WireError {
    WireError::new(
        413,
        "RequestEntityTooLargeException",
        format!("The request body of {size} bytes is larger than this operation's limit of {limit} bytes"),
    )
}

/// Reads the body up to `limit`, checking as it streams (a body without Content-Length, or
/// one longer than it said). A larger body is read to its end (up to
/// [`MAX_DRAINED_BYTES`]) and dropped, so that the client, still sending, gets the 413
/// instead of a broken pipe.
async fn read_body(
    mut body: Body, declared: Option<usize>, limit: usize,
) -> Result<Vec<u8>, WireError> {
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            WireError::new(
                400,
                "SerializationException",
                format!("cannot read the request body: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= limit {
            bytes.extend_from_slice(&data);
        } else {
            if !bytes.is_empty() {
                bytes = Vec::new();
            }
            if seen > MAX_DRAINED_BYTES {
                break;
            }
        }
    }
    if seen > limit {
        return Err(too_large(limit, seen));
    }
    Ok(bytes)
}
