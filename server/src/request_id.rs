//! A request id per request: echoed in the `X-Request-Id` response header (and, on the
//! ECR face, in AWS's `x-amzn-RequestId`), and carried by every log line the request
//! writes, so that a client's report finds its logs.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The id of the request being handled (an extension of the request).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Gives the request its id, logs under it, and echoes it.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
