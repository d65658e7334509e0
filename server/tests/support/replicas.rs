//! Several berth replicas behind one address, as a load balancer would put them: each
//! request goes to the next live replica in turn. The replicas share a PostgreSQL database,
//! an S3 prefix and a token key, and nothing else (each has its own data dir).
//!
//! [`Front`] is the load balancer, also behind [`super::Berth`] when the suite runs with
//! `BERTH_TEST_METADATA=replicas`. Plain HTTP goes request by request (an L7 balancer);
//! with TLS, connection by connection (an L4 one, as a balancer that does not hold the
//! certificate). Each replica keeps its own clock, so the front sends the test clock's
//! moves (`/_berth/admin/clock/...`) to every replica.

use super::postgres;
use super::s3::S3Server;
use super::Berth;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The key every replica signs registry passwords with.
pub const TOKEN_KEY: &str = "YmVydGgtcmVwbGljYXMtc2hhcmUtdGhpcy1rZXktMzI=";

/// Live replicas' endpoints, `None` for one taken out of the rotation.
type Upstreams = Arc<Mutex<Vec<Option<String>>>>;

/// The replicas, their shared S3 server, and the front that alternates between them.
pub struct Replicas {
    /// `http://127.0.0.1:<port>` of the front.
    pub endpoint: String,
    replicas: Vec<Option<Berth>>,
    front: Front,
    pub s3: S3Server,
    _dirs: Vec<tempfile::TempDir>,
}

impl Replicas {
    /// `count` replicas with `extra` flags each, on a fresh database and S3 prefix.
    pub fn start(count: usize, extra: &[&str]) -> Replicas {
        let s3 = S3Server::start();
        let database = postgres::cluster().database();
        let mut dirs = Vec::new();
        let mut replicas = Vec::new();
        for _ in 0..count {
            let dir = tempfile::tempdir().unwrap();
            let mut flags: Vec<String> =
                vec!["--metadata".into(), database.clone(), "--token-key".into(), TOKEN_KEY.into()];
            flags.extend(s3.flags("replicas"));
            flags.extend(extra.iter().map(|f| f.to_string()));
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            replicas.push(Some(Berth::start_local_with_env(dir.path(), &flags, &s3.env())));
            dirs.push(dir);
        }
        let endpoints = replicas.iter().flatten().map(|b| b.endpoint.clone()).collect();
        let front = Front::start(Front::reserve(), endpoints);
        Replicas { endpoint: front.endpoint.clone(), replicas, front, s3, _dirs: dirs }
    }

    /// Replica `i` itself (its own endpoint, bypassing the front).
    pub fn replica(&self, i: usize) -> &Berth {
        self.replicas[i].as_ref().expect("the replica was killed")
    }

    /// Requests the front sent to each replica.
    pub fn sent(&self) -> Vec<usize> {
        self.front.sent()
    }

    /// Kills replica `i` with SIGKILL, as a crash would, and takes it out of the rotation
    /// (as a load balancer's health check would).
    pub fn kill9(&mut self, i: usize) {
        self.front.take_out(i);
        self.replicas[i].take().expect("the replica was killed").kill9();
    }
}

/// A load balancer on a free port, alternating between upstream endpoints; it stops when
/// dropped.
pub struct Front {
    /// `http://127.0.0.1:<port>` (or `https://` when the upstreams are).
    pub endpoint: String,
    upstreams: Upstreams,
    sent: Arc<Vec<AtomicUsize>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Front {
    /// The front's port, taken before the replicas start (they name it in repository URIs).
    pub fn reserve() -> std::net::TcpListener {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap()
    }

    /// Serves on `listener` from a runtime of its own (tests block their own thread on
    /// skopeo and docker) until dropped.
    pub fn start(listener: std::net::TcpListener, endpoints: Vec<String>) -> Front {
        listener.set_nonblocking(true).unwrap();
        let tls = endpoints[0].starts_with("https://");
        let scheme = if tls { "https" } else { "http" };
        let endpoint = format!("{scheme}://{}", listener.local_addr().unwrap());
        let sent = Arc::new(endpoints.iter().map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let upstreams: Upstreams = Arc::new(Mutex::new(endpoints.into_iter().map(Some).collect()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (serving, serving_sent) = (upstreams.clone(), sent.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let serve = async {
                    if tls {
                        by_connection(listener, serving, serving_sent).await
                    } else {
                        by_request(listener, serving, serving_sent).await
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_background();
        });
        Front { endpoint, upstreams, sent, _stop: stop }
    }

    /// Requests (connections, with TLS) sent to each upstream.
    pub fn sent(&self) -> Vec<usize> {
        self.sent.iter().map(|s| s.load(Ordering::SeqCst)).collect()
    }

    /// Takes upstream `i` out of the rotation, as a failed health check would.
    pub fn take_out(&self, i: usize) {
        self.upstreams.lock().unwrap()[i] = None;
    }
}

/// The body type the front forwards: a request's own body, or a copy of a buffered one.
type ForwardBody = BoxBody<Bytes, hyper::Error>;

/// An L7 balancer: each request to the next live upstream; clock moves to every one.
async fn by_request(
    listener: tokio::net::TcpListener, upstreams: Upstreams, sent: Arc<Vec<AtomicUsize>>,
) {
    let client: Client<_, ForwardBody> =
        Client::builder(TokioExecutor::new()).build_http::<ForwardBody>();
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (client, upstreams, next, sent) =
            (client.clone(), upstreams.clone(), next.clone(), sent.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let (client, upstreams, next, sent) =
                    (client.clone(), upstreams.clone(), next.clone(), sent.clone());
                async move {
                    let path =
                        request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
                    if path.starts_with("/_berth/admin/clock/") {
                        return broadcast(&client, &upstreams, &path, request).await;
                    }
                    let (i, upstream) = pick(&upstreams, &next);
                    sent[i].fetch_add(1, Ordering::SeqCst);
                    let mut request = request.map(|body| body.boxed());
                    *request.uri_mut() = format!("{upstream}{path}").parse().unwrap();
                    client.request(request).await
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Sends the request to every live upstream; answers with the last answer.
async fn broadcast(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, ForwardBody>,
    upstreams: &Upstreams, path: &str, request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Incoming>, hyper_util::client::legacy::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let live: Vec<String> = upstreams.lock().unwrap().iter().flatten().cloned().collect();
    let mut last = None;
    for upstream in live {
        let mut copy =
            hyper::Request::builder().method(parts.method.clone()).uri(format!("{upstream}{path}"));
        for (name, value) in &parts.headers {
            copy = copy.header(name, value);
        }
        let copy =
            copy.body(Full::new(body.clone()).map_err(|never| match never {}).boxed()).unwrap();
        last = Some(client.request(copy).await?);
    }
    Ok(last.expect("every replica behind the front was killed"))
}

/// An L4 balancer: each connection to the next live upstream, bytes copied both ways.
async fn by_connection(
    listener: tokio::net::TcpListener, upstreams: Upstreams, sent: Arc<Vec<AtomicUsize>>,
) {
    let next = AtomicUsize::new(0);
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let (i, upstream) = pick(&upstreams, &next);
        sent[i].fetch_add(1, Ordering::SeqCst);
        let address = upstream.split("://").nth(1).unwrap_or(&upstream).to_string();
        tokio::spawn(async move {
            if let Ok(mut upstream) = tokio::net::TcpStream::connect(address).await {
                let _ = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await;
            }
        });
    }
}

/// The next live upstream after the last one used: (its index, its endpoint).
fn pick(upstreams: &Upstreams, next: &AtomicUsize) -> (usize, String) {
    let live = upstreams.lock().unwrap();
    for _ in 0..live.len() {
        let i = next.fetch_add(1, Ordering::SeqCst) % live.len();
        if let Some(endpoint) = &live[i] {
            return (i, endpoint.clone());
        }
    }
    panic!("every replica behind the front was killed");
}
