//! Several berth replicas behind one address, as a load balancer would put them: each
//! request goes to the next live replica in turn. The replicas share a PostgreSQL database,
//! an S3 prefix and a token key, and nothing else (each has its own data dir).

use super::postgres;
use super::s3::S3Server;
use super::Berth;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The key every replica signs registry passwords with.
const TOKEN_KEY: &str = "YmVydGgtcmVwbGljYXMtc2hhcmUtdGhpcy1rZXktMzI=";

/// Live replicas' endpoints, `None` for one taken out of the rotation.
type Upstreams = Arc<Mutex<Vec<Option<String>>>>;

/// The replicas, their shared S3 server, and the front that alternates between them.
pub struct Replicas {
    /// `http://127.0.0.1:<port>` of the front.
    pub endpoint: String,
    replicas: Vec<Option<Berth>>,
    upstreams: Upstreams,
    /// Requests the front sent to each replica.
    pub sent: Arc<Vec<AtomicUsize>>,
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
        let upstreams: Upstreams = Arc::new(Mutex::new(
            replicas.iter().map(|r| r.as_ref().map(|b| b.endpoint.clone())).collect(),
        ));
        let sent = Arc::new((0..count).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let endpoint = front(upstreams.clone(), sent.clone());
        Replicas { endpoint, replicas, upstreams, sent, s3, _dirs: dirs }
    }

    /// Replica `i` itself (its own endpoint, bypassing the front).
    pub fn replica(&self, i: usize) -> &Berth {
        self.replicas[i].as_ref().expect("the replica was killed")
    }

    /// Kills replica `i` with SIGKILL, as a crash would, and takes it out of the rotation
    /// (as a load balancer's health check would).
    pub fn kill9(&mut self, i: usize) {
        self.upstreams.lock().unwrap()[i] = None;
        self.replicas[i].take().expect("the replica was killed").kill9();
    }
}

/// Serves the front on a free port from its own runtime (tests block their own thread on
/// skopeo and docker); each request goes to the next live upstream in turn.
fn front(upstreams: Upstreams, sent: Arc<Vec<AtomicUsize>>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let client: Client<_, Incoming> =
                Client::builder(TokioExecutor::new()).build_http::<Incoming>();
            let next = Arc::new(AtomicUsize::new(0));
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (client, upstreams, next, sent) =
                    (client.clone(), upstreams.clone(), next.clone(), sent.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |mut request| {
                        let (client, upstreams, next, sent) =
                            (client.clone(), upstreams.clone(), next.clone(), sent.clone());
                        async move {
                            let (i, upstream) = pick(&upstreams, &next);
                            sent[i].fetch_add(1, Ordering::SeqCst);
                            let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
                            *request.uri_mut() = format!("{upstream}{path}").parse().unwrap();
                            client.request(request).await
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    endpoint
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
