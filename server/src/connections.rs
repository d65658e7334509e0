//! Accepting connections with limits, so that slow or numerous clients cannot hold berth:
//! a client has `header_read_timeout` to send a request's headers (also the longest a
//! kept-alive connection may sit idle), a request body that sends nothing for
//! `body_idle_timeout` is cut (see `app::router`), and beyond `max_connections` a new
//! connection gets one clear answer (ECR's ThrottlingException on the ECR API, OCI's
//! TOOMANYREQUESTS on /v2) and is closed.
//!
//! Our own accept loop rather than `axum::serve`, which sets no timer (so no header
//! timeout) and no connection limit.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How many connections, how long each may take to speak, and TLS when on.
#[derive(Clone)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    /// `--tls-cert`: every connection starts with a TLS handshake (bounded by
    /// `header_read_timeout` too).
    pub tls: Option<TlsAcceptor>,
}

/// The most a connection's read buffer grows to (hyper's default is ~400 KiB, which a
/// thousand fast uploads at once would all reach); 64 KiB reads keep a single upload at
/// disk speed.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Connections over the limit that may wait for their refusal at once; more are closed
/// without a word.
const MAX_REFUSALS: usize = 256;

/// How long a connection over the limit has to send the request it is refused.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener, router: Router, limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small requests and responses go out at once (manifests, API answers).
        let _ = stream.set_nodelay(true);
        let connection = if let Ok(permit) = connections.clone().try_acquire_owned() {
            Connection::Served { router: router.clone(), watcher: graceful.watcher(), peer, permit }
        } else if let Ok(permit) = refusals.clone().try_acquire_owned() {
            Connection::Refused { max: limits.max_connections, permit }
        } else {
            continue;
        };
        let limits = limits.clone();
        tokio::spawn(async move {
            match &limits.tls {
                None => connection.run(TokioIo::new(stream), &limits).await,
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(limits.header_read_timeout, handshake).await {
                        Ok(Ok(tls)) => connection.run(TokioIo::new(tls), &limits).await,
                        Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
    graceful.shutdown().await;
}

/// What an accepted connection gets: served, or one refusal; its permit is held until the
/// connection closes.
enum Connection {
    Served {
        router: Router,
        watcher: hyper_util::server::graceful::Watcher,
        /// The client's address (the console opens to loopback with `--ui-open`).
        peer: std::net::SocketAddr,
        permit: OwnedSemaphorePermit,
    },
    Refused {
        max: usize,
        permit: OwnedSemaphorePermit,
    },
}

impl Connection {
    async fn run<I>(self, io: TokioIo<I>, limits: &ConnectionLimits)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        match self {
            Connection::Served { router, watcher, peer, permit } => {
                let service = TowerToHyperService::new(router.map_request(
                    move |request: Request<Incoming>| {
                        let mut request = request.map(Body::new);
                        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                        request
                    },
                ));
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout)
                    .max_buf_size(READ_BUFFER_BYTES)
                    .serve_connection(io, service);
                if let Err(e) = watcher.watch(connection).await {
                    tracing::debug!("connection ended: {e}");
                }
                drop(permit);
            }
            Connection::Refused { max, permit } => {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    std::future::ready(Ok::<_, Infallible>(refusal(&request, max)))
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(REFUSAL_HEADER_TIMEOUT)
                    .keep_alive(false)
                    .serve_connection(io, service);
                let _ = connection.await;
                drop(permit);
            }
        }
    }
}

/// The answer to a request on a connection over the limit, in its face's format.
fn refusal(request: &Request<Incoming>, max: usize) -> Response<Body> {
    let message = format!(
        "berth is serving its limit of {max} connections (--max-connections); retry shortly"
    );
    let (status, body) = if request.uri().path().starts_with("/v2") {
        let body = serde_json::json!({
            "errors": [{ "code": "TOOMANYREQUESTS", "message": message, "detail": null }]
        });
        (StatusCode::TOO_MANY_REQUESTS, body)
    } else {
        // AWS's throttling answer, which the SDKs retry with backoff.
        let body = serde_json::json!({ "__type": "ThrottlingException", "message": message });
        (StatusCode::BAD_REQUEST, body)
    };
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let content_type = if status == StatusCode::BAD_REQUEST {
        "application/x-amz-json-1.1"
    } else {
        "application/json"
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if status == StatusCode::BAD_REQUEST {
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static("ThrottlingException"));
    }
    response
}
