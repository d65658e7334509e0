//! Runs the real `berth` binary on a random port for end-to-end tests.

#![allow(dead_code)]

pub mod dockerd;
pub mod images;
pub mod layout;
pub mod postgres;
pub mod replicas;
pub mod s3;
pub mod tools;
pub mod upstream;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running berth; killed when dropped. With `BERTH_TEST_METADATA=replicas` it is two
/// replicas behind a load balancer (`replicas::Front`), which the tests see as one.
pub struct Berth {
    /// The berth process, or each replica's.
    processes: Vec<Child>,
    /// The load balancer in front of the replicas.
    front: Option<replicas::Front>,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    pub data_dir: PathBuf,
    /// Where the blobs are in the shared S3 server, for replicas not given `--blobs` (else
    /// files in `data_dir`).
    s3_prefix: Option<String>,
}

/// Where the berths of [`Berth::start`] keep their state, from `BERTH_TEST_METADATA`, so
/// that the same tests check every backend.
enum TestBackends {
    /// SQLite and blob files in the data dir (unset or `sqlite`).
    Embedded,
    /// Metadata on PostgreSQL, a database per data dir (`postgres`).
    Postgres,
    /// Two replicas sharing PostgreSQL, an S3 prefix per data dir and a token key, behind a
    /// front that alternates requests (`replicas`).
    Replicas,
}

fn test_backends() -> TestBackends {
    match std::env::var("BERTH_TEST_METADATA").as_deref() {
        Ok("sqlite") | Err(_) => TestBackends::Embedded,
        Ok("postgres") => TestBackends::Postgres,
        Ok("replicas") => TestBackends::Replicas,
        Ok(other) => panic!("BERTH_TEST_METADATA={other}: expected sqlite, postgres or replicas"),
    }
}

impl Berth {
    /// Starts berth on `data_dir` with extra flags, and waits until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Berth {
        Self::start_with_env::<&str>(data_dir, extra, &[])
    }

    /// As [`Berth::start`], always one process on the embedded default (SQLite and blob
    /// files in the data dir, whatever `BERTH_TEST_METADATA` says): for the tests of the
    /// data dir itself (`berth export`, `fsck`, `gc` read its files) and of one process's
    /// own figures.
    pub fn start_local(data_dir: &Path, extra: &[&str]) -> Berth {
        Self::start_local_with_env::<&str>(data_dir, extra, &[])
    }

    /// As [`Berth::start_local`], with extra environment variables: for tests that name
    /// their backends themselves.
    pub fn start_local_with_env<V: AsRef<std::ffi::OsStr>>(
        data_dir: &Path, extra: &[&str], env: &[(&str, V)],
    ) -> Berth {
        Self::single(spawn(data_dir, extra, env), data_dir)
    }

    /// As [`Berth::start`], with extra environment variables.
    pub fn start_with_env<V: AsRef<std::ffi::OsStr>>(
        data_dir: &Path, extra: &[&str], env: &[(&str, V)],
    ) -> Berth {
        match test_backends() {
            TestBackends::Embedded => Self::start_local_with_env(data_dir, extra, env),
            TestBackends::Postgres => {
                let database = postgres::cluster().database_for(data_dir);
                let flags = [&["--metadata", database.as_str()][..], extra].concat();
                Self::single(spawn(data_dir, &flags, env), data_dir)
            }
            TestBackends::Replicas => Self::replicas(data_dir, extra, env),
        }
    }

    fn single(process: (Child, String), data_dir: &Path) -> Berth {
        let (child, endpoint) = process;
        Berth {
            processes: vec![child],
            front: None,
            endpoint,
            data_dir: data_dir.to_path_buf(),
            s3_prefix: None,
        }
    }

    /// Two replicas on the database and S3 prefix that stand for `data_dir` (so that a
    /// restart finds its state), or on the test's own `--blobs`; the second keeps its own
    /// folder in `data_dir/replica-2`.
    fn replicas<V: AsRef<std::ffi::OsStr>>(
        data_dir: &Path, extra: &[&str], env: &[(&str, V)],
    ) -> Berth {
        let s3 = s3::shared();
        let database = postgres::cluster().database_for(data_dir);
        let mut flags: Vec<String> =
            vec!["--metadata".into(), database, "--token-key".into(), replicas::TOKEN_KEY.into()];
        let own_blobs = extra.contains(&"--blobs");
        let prefix = (!own_blobs).then(|| s3.prefix_for(data_dir));
        if let Some(prefix) = &prefix {
            flags.extend(s3.flags(prefix));
        }
        // Repository URIs name the front, as behind a real load balancer.
        let listener = replicas::Front::reserve();
        let port = listener.local_addr().unwrap().port();
        if !extra.contains(&"--registry-host") {
            flags.push("--registry-host".into());
            flags.push(if extra.contains(&"--tls-cert") {
                format!("{{account}}.dkr.ecr.{{region}}.localhost:{port}")
            } else {
                format!("localhost:{port}")
            });
        }
        flags.extend(extra.iter().map(|f| f.to_string()));
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let mut environment: Vec<(&str, std::ffi::OsString)> =
            s3.env().into_iter().map(|(k, v)| (k, v.into())).collect();
        environment.extend(env.iter().map(|(k, v)| (*k, v.as_ref().to_os_string())));
        let (first, first_endpoint) = spawn(data_dir, &flags, &environment);
        let (second, second_endpoint) = spawn(&data_dir.join("replica-2"), &flags, &environment);
        let front = replicas::Front::start(listener, vec![first_endpoint, second_endpoint]);
        Berth {
            processes: vec![first, second],
            endpoint: front.endpoint.clone(),
            front: Some(front),
            data_dir: data_dir.to_path_buf(),
            s3_prefix: prefix,
        }
    }

    /// How many uploads have bytes in the blob store (files in the data dir, or objects
    /// in S3 for replicas).
    pub fn upload_leftovers(&self) -> usize {
        match &self.s3_prefix {
            Some(prefix) => s3::shared().objects_under(&format!("{prefix}/uploads")),
            None => std::fs::read_dir(self.data_dir.join("uploads")).map_or(0, |d| d.count()),
        }
    }

    /// Whether the blob store holds `digest`'s bytes (a file in the data dir, or an
    /// object in S3 for replicas).
    pub fn has_blob(&self, digest: &str) -> bool {
        let hex = digest.trim_start_matches("sha256:");
        match &self.s3_prefix {
            Some(prefix) => s3::shared()
                .root
                .join(s3::BUCKET)
                .join(prefix)
                .join("blobs/sha256")
                .join(hex)
                .is_file(),
            None => self.data_dir.join("blobs/sha256").join(&hex[..2]).join(hex).is_file(),
        }
    }

    /// How many blobs the blob store holds.
    pub fn blob_count(&self) -> usize {
        match &self.s3_prefix {
            Some(prefix) => s3::shared().objects_under(&format!("{prefix}/blobs")),
            None => std::fs::read_dir(self.data_dir.join("blobs/sha256")).map_or(0, |fanout| {
                fanout
                    .flatten()
                    .map(|d| std::fs::read_dir(d.path()).map_or(0, |files| files.count()))
                    .sum()
            }),
        }
    }

    /// What signs this berth's registry passwords: the replicas' shared key, or the one in
    /// the data dir.
    pub fn token_signer(&self) -> berth_handlers::auth::TokenSigner {
        match &self.front {
            Some(_) => berth_handlers::auth::TokenSigner::from_base64(replicas::TOKEN_KEY).unwrap(),
            None => berth_handlers::auth::TokenSigner::open(&self.data_dir).unwrap(),
        }
    }

    /// How many berth processes serve this endpoint (two for replicas).
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }

    /// The (first) process's id, to read its memory use.
    pub fn pid(&self) -> u32 {
        self.processes[0].id()
    }

    /// Kills the process(es) with SIGKILL, as a crash would, and waits for them.
    pub fn kill9(mut self) {
        for child in &mut self.processes {
            child.kill().expect("kill -9");
            child.wait().expect("wait");
        }
    }

    /// Sends SIGTERM and waits for a graceful exit; returns whether every process exited
    /// with success.
    pub fn terminate(mut self) -> bool {
        let mut success = true;
        for child in &mut self.processes {
            let pid = child.id().to_string();
            let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
            assert!(sent.success());
            success &= child.wait().expect("wait").success();
        }
        success
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        for child in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `berth serve` on `data_dir` with these flags; the process and its endpoint once
/// it listens.
fn spawn<V: AsRef<std::ffi::OsStr>>(
    data_dir: &Path, extra: &[&str], env: &[(&str, V)],
) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .envs(env.iter().map(|(k, v)| (k, v.as_ref())))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("BERTH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start the berth binary");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("cannot read berth's first line");
    let endpoint = line
        .trim()
        .strip_prefix("berth listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from berth: {line:?}"))
        .to_string();
    (child, endpoint)
}

/// An aws-sdk-ecr client for `endpoint`, with these credentials and region, no retries.
pub fn ecr_client(endpoint: &str, access_key: &str, region: &str) -> aws_sdk_ecr::Client {
    let credentials =
        aws_sdk_ecr::config::Credentials::new(access_key, "secret", None, None, "berth-tests");
    aws_sdk_ecr::Client::from_conf(ecr_config(endpoint, region, credentials).build())
}

/// The configuration of [`ecr_client`], for tests that set more (a secret, a clock).
pub fn ecr_config(
    endpoint: &str, region: &str, credentials: aws_sdk_ecr::config::Credentials,
) -> aws_sdk_ecr::config::Builder {
    use aws_sdk_ecr::config::{retry::RetryConfig, BehaviorVersion, Region};
    aws_sdk_ecr::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
}

/// A client for the default identity (account 000000000000, us-east-1).
pub fn default_client(berth: &Berth) -> aws_sdk_ecr::Client {
    ecr_client(&berth.endpoint, "AKIDDEFAULT", "us-east-1")
}

/// The /v2 password for `ecr`'s caller, from GetAuthorizationToken.
pub async fn registry_password(ecr: &aws_sdk_ecr::Client) -> String {
    use base64::Engine;
    let token = ecr.get_authorization_token().send().await.expect("GetAuthorizationToken");
    let data = &token.authorization_data()[0];
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.authorization_token().expect("a token"))
        .expect("base64 token");
    let text = String::from_utf8(decoded).expect("utf-8 token");
    text.strip_prefix("AWS:").expect("AWS: prefix").to_string()
}

/// `host:port` of berth's endpoint, as image references name registries.
pub fn registry_host(berth: &Berth) -> String {
    berth.endpoint.trim_start_matches("http://").to_string()
}

/// An oci-client for plain HTTP.
pub fn oci_client() -> oci_client::Client {
    oci_client::Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    })
}

/// A raw /v2 client with Basic credentials, for the protocol details clients hide.
pub struct RawRegistry {
    pub endpoint: String,
    pub authorization: Option<String>,
    pub http: reqwest::Client,
}

impl RawRegistry {
    /// Logged in as `AWS` with `password`.
    pub fn new(berth: &Berth, password: &str) -> Self {
        Self::at(&berth.endpoint, password)
    }

    /// Logged in as `AWS` with `password` at `endpoint` (`http://host:port`).
    pub fn at(endpoint: &str, password: &str) -> Self {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
        RawRegistry {
            endpoint: endpoint.to_string(),
            authorization: Some(format!("Basic {basic}")),
            http: reqwest::Client::new(),
        }
    }

    /// A request to `path` (absolute `/v2/...`) with the credentials.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(method, format!("{}{path}", self.endpoint));
        if let Some(a) = &self.authorization {
            r = r.header("Authorization", a);
        }
        r
    }

    /// GET of a manifest path with one Accept type.
    pub async fn get_manifest(&self, path: &str, accept: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path).header("Accept", accept).send().await.unwrap()
    }
}

/// Saves `policy` as the repository's lifecycle policy.
pub async fn put_lifecycle_policy(
    ecr: &aws_sdk_ecr::Client, repository: &str, policy: &str,
) -> aws_sdk_ecr::operation::put_lifecycle_policy::PutLifecyclePolicyOutput {
    ecr.put_lifecycle_policy()
        .repository_name(repository)
        .lifecycle_policy_text(policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("lifecycle policy of {repository}: {e}"))
}

/// BatchGetImage of one tag.
pub async fn get_tagged_image(
    ecr: &aws_sdk_ecr::Client, repository: &str, tag: &str,
) -> aws_sdk_ecr::operation::batch_get_image::BatchGetImageOutput {
    let id = aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(tag).build();
    ecr.batch_get_image().repository_name(repository).image_ids(id).send().await.unwrap()
}

/// The `errors[0].code` of an OCI error body.
pub async fn oci_error_code(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!("OCI error bodies are JSON ({e}): {}", String::from_utf8_lossy(&bytes))
    });
    (
        status,
        body["errors"][0]["code"].as_str().unwrap_or("<none>").to_string(),
        body["errors"][0]["message"].as_str().unwrap_or("<none>").to_string(),
    )
}

/// sha256 digest string of bytes.
/// `size` pseudo-random bytes (incompressible, deterministic, different per `seed`),
/// without a random generator.
pub fn pseudo_random(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

pub fn digest_of(bytes: &[u8]) -> String {
    berth_handlers::digest::Digest::of(bytes).to_string()
}

/// The error code and message of a failed aws-sdk-ecr call.
pub fn code_and_message<E: aws_sdk_ecr::error::ProvideErrorMetadata>(err: E) -> (String, String) {
    (err.code().unwrap_or("<none>").to_string(), err.message().unwrap_or("<none>").to_string())
}

/// POST to berth's admin API (`--admin-api`): status and JSON answer.
pub async fn admin(berth: &Berth, path: &str, body: &str) -> (u16, serde_json::Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/_berth/admin/{path}", berth.endpoint))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Creates the repository `name` with ECR's defaults.
pub async fn create_repository(ecr: &aws_sdk_ecr::Client, name: &str) {
    ecr.create_repository()
        .repository_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
}

/// A berth (with `--admin-api`) on a fresh data dir, and a client with one repository,
/// `app`.
pub async fn berth_with_app(flags: &[&str]) -> (tempfile::TempDir, Berth, aws_sdk_ecr::Client) {
    let (dir, berth, ecr) = started(flags);
    create_repository(&ecr, "app").await;
    (dir, berth, ecr)
}

/// berth on a new data folder (kept while the returned folder lives), and a client of its
/// default account.
pub fn started(flags: &[&str]) -> (tempfile::TempDir, Berth, aws_sdk_ecr::Client) {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), flags);
    let ecr = default_client(&berth);
    (dir, berth, ecr)
}

/// Moves berth's clock (`--admin-api`) `seconds` on; returns its new time.
pub async fn advance_clock(berth: &Berth, seconds: u64) -> f64 {
    let (status, moved) =
        admin(berth, "clock/advance", &format!(r#"{{"seconds":{seconds}}}"#)).await;
    assert_eq!(status, 200, "moving the clock needs --admin-api: {moved}");
    moved["now"].as_f64().expect("the new time")
}

/// Runs a background job now (`--admin-api`), e.g. `lifecycle` or `gc`; returns its report.
pub async fn run_job(berth: &Berth, job: &str) -> String {
    let (status, ran) = admin(berth, &format!("jobs/{job}/run"), "").await;
    assert_eq!(status, 200, "{job}: {ran}");
    ran["report"].as_str().unwrap_or_default().to_string()
}

/// An ECR API call as raw AWS JSON, for members the SDK in use does not know yet
/// (berth reads the access key and region of the SigV4 header; it does not check the
/// signature). Returns the status and the JSON answer.
pub async fn ecr_json(
    berth: &Berth, access_key: &str, region: &str, operation: &str, body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/{region}/ecr/aws4_request, SignedHeaders=host, Signature=0"
    );
    let answer = ecr_request(berth, operation, body.to_string())
        .header("Authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(serde_json::Value::Null))
}

/// An ECR API request with exactly this body and no signature, to send as it is or with
/// more headers.
pub fn ecr_request(
    berth: &Berth, operation: &str, body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}/", berth.endpoint))
        .header("X-Amz-Target", format!("AmazonEC2ContainerRegistry_V20150921.{operation}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(body)
}

/// PutImageScanningConfiguration: `repository` scans each image pushed to it.
pub async fn scan_on_push(ecr: &aws_sdk_ecr::Client, repository: &str) {
    ecr.put_image_scanning_configuration()
        .repository_name(repository)
        .image_scanning_configuration(
            aws_sdk_ecr::types::ImageScanningConfiguration::builder().scan_on_push(true).build(),
        )
        .send()
        .await
        .unwrap();
}

/// PutReplicationConfiguration: one rule sending every repository to these
/// (account, region) destinations.
pub async fn replicate_to(ecr: &aws_sdk_ecr::Client, destinations: &[(&str, &str)]) {
    use aws_sdk_ecr::types::{ReplicationConfiguration, ReplicationDestination, ReplicationRule};
    let destinations: Vec<ReplicationDestination> = destinations
        .iter()
        .map(|(account, region)| {
            ReplicationDestination::builder().registry_id(*account).region(*region).build().unwrap()
        })
        .collect();
    let rule = ReplicationRule::builder().set_destinations(Some(destinations)).build().unwrap();
    let configuration = ReplicationConfiguration::builder().rules(rule).build().unwrap();
    ecr.put_replication_configuration()
        .replication_configuration(configuration)
        .send()
        .await
        .unwrap();
}

/// Pushes with oci-client, as `ecr`'s account, an image of one layer to `reference`
/// (`host/repository:tag`).
pub async fn push_one_layer(ecr: &aws_sdk_ecr::Client, reference: &str, layer: &[u8]) {
    let reference: oci_client::Reference = reference.parse().unwrap();
    oci_client()
        .push(
            &reference,
            &[oci_client::client::ImageLayer::oci_v1(layer.to_vec(), None)],
            oci_client::client::Config::oci_v1(b"{}".to_vec(), None),
            &oci_client::secrets::RegistryAuth::Basic("AWS".into(), registry_password(ecr).await),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("push of {reference}: {e}"));
}

/// StartLifecyclePolicyPreview of `repository`'s saved policy, then its result.
pub async fn run_preview(
    ecr: &aws_sdk_ecr::Client, repository: &str,
) -> aws_sdk_ecr::operation::get_lifecycle_policy_preview::GetLifecyclePolicyPreviewOutput {
    ecr.start_lifecycle_policy_preview().repository_name(repository).send().await.unwrap();
    ecr.get_lifecycle_policy_preview().repository_name(repository).send().await.unwrap()
}
