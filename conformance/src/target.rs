//! How the conformance client reaches berth: its router in-process (`oneshot`) or a
//! running berth over HTTP; and what comes back.

use axum::http::{HeaderMap, Method, Request};
use berth_server::app::{router, AppState};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tower::ServiceExt;

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (null when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Where requests go; cheap to clone, so that concurrent readers can own one.
#[derive(Clone)]
pub enum Target {
    InProcess(Arc<AppState>),
    /// One berth, or several replicas of one registry: each request goes to the next URL in
    /// turn, except that moving the clock (each process has its own) goes to all of them.
    Remote {
        urls: Arc<Vec<String>>,
        next: Arc<AtomicUsize>,
        http: reqwest::Client,
    },
}

impl Target {
    /// A request as a future that owns what it needs, so that several can run at once.
    pub fn request(
        &self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + 'static>> {
        match self {
            Target::InProcess(state) => {
                let mut request = Request::builder().method(method).uri(path);
                for (k, v) in headers {
                    request = request.header(*k, *v);
                }
                let request = request.body(axum::body::Body::from(body)).expect("a valid request");
                let app = router(state.clone());
                Box::pin(async move {
                    let response = app.oneshot(request).await.expect("the router answers");
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let body = response.into_body().collect().await.expect("a body").to_bytes();
                    Answer { status, headers, body }
                })
            }
            Target::Remote { urls, next, http } => {
                let chosen: Vec<&String> = if path.starts_with("/_berth/admin/clock/") {
                    urls.iter().collect()
                } else {
                    vec![&urls[next.fetch_add(1, Ordering::Relaxed) % urls.len()]]
                };
                let requests: Vec<_> = chosen
                    .into_iter()
                    .map(|url| {
                        let mut request =
                            http.request(method.clone(), format!("{url}{path}")).body(body.clone());
                        for (k, v) in headers {
                            request = request.header(*k, *v);
                        }
                        request
                    })
                    .collect();
                Box::pin(async move {
                    let mut response = None;
                    for request in requests {
                        response = Some(request.send().await.expect("berth answers"));
                    }
                    let response = response.expect("at least one URL");
                    let status = response.status().as_u16();
                    let mut headers = HeaderMap::new();
                    for (k, v) in response.headers() {
                        if let (Ok(k), Ok(v)) = (
                            axum::http::HeaderName::from_bytes(k.as_str().as_bytes()),
                            axum::http::HeaderValue::from_bytes(v.as_bytes()),
                        ) {
                            headers.insert(k, v);
                        }
                    }
                    let body = response.bytes().await.expect("a body");
                    Answer { status, headers, body }
                })
            }
        }
    }
}
