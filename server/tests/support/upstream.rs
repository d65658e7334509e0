//! A real upstream registry for the pull-through cache tests: CNCF distribution (Debian's
//! `docker-registry`) on loopback, with htpasswd logins and its access log kept, so that a
//! test can count what reached upstream.

use super::images::OCI_MANIFEST;
use super::tools::run;
use super::{digest_of, RawRegistry};
use reqwest::Method;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How to get the upstream registry and the htpasswd tool.
pub const INSTALL: &str = "apt-get install -y docker-registry apache2-utils";

/// The one login upstream accepts.
pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cret-upstream";

/// A running docker-registry; killed when dropped.
pub struct Upstream {
    child: Child,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

fn installed(name: &str) -> PathBuf {
    let found = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| panic!("{name} is not installed: run `{INSTALL}` (as root)"))
}

impl Upstream {
    /// Starts docker-registry on a free port, asking for `USER`/`PASSWORD`.
    pub fn start() -> Upstream {
        let registry = installed("docker-registry");
        let htpasswd = installed("htpasswd");
        let dir = tempfile::tempdir().unwrap();
        let logins = run(Command::new(htpasswd).args(["-Bbn", USER, PASSWORD])).stdout;
        std::fs::write(dir.path().join("htpasswd"), logins).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}/storage\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: upstream\n    path: {root}/htpasswd\n",
            root = dir.path().display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new(registry)
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(std::fs::File::create(dir.path().join("access.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start docker-registry");
        let upstream = Upstream { child, dir, endpoint: format!("http://127.0.0.1:{port}") };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return upstream;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not start on port {port}");
    }

    /// A /v2 client logged in upstream.
    pub fn client(&self) -> RawRegistry {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        RawRegistry {
            endpoint: self.endpoint.clone(),
            authorization: Some(format!("Basic {basic}")),
            http: reqwest::Client::new(),
        }
    }

    /// Successful requests upstream whose request line contains `needle` (e.g.
    /// `GET /v2/library/app/blobs/sha256:...`).
    pub fn served(&self, needle: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains(needle) && l.contains("\" 200 ")).count()
    }

    /// The file upstream keeps a blob's bytes in (to corrupt it).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An image pushed upstream: its manifest digest, config and layer digests.
pub struct PushedImage {
    pub digest: String,
    pub manifest: String,
    pub layer: String,
    pub config: String,
}

/// Pushes an image of one layer (`layer` bytes) to `repository:tag` upstream.
pub async fn push_image(
    raw: &RawRegistry, repository: &str, tag: &str, layer: &[u8], arch: &str,
) -> PushedImage {
    // An uncompressed layer: its diff id is its digest (docker checks them).
    let layer_digest = push_blob(raw, repository, layer).await;
    let config_bytes = format!(
        r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}},"config":{{}}}}"#
    );
    let config = push_blob(raw, repository, config_bytes.as_bytes()).await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
        config_bytes.len(),
        layer.len()
    );
    put(raw, repository, tag, &manifest, OCI_MANIFEST).await;
    PushedImage { digest: digest_of(manifest.as_bytes()), manifest, layer: layer_digest, config }
}

/// Puts a manifest upstream; panics unless it is accepted.
pub async fn put(raw: &RawRegistry, repository: &str, reference: &str, body: &str, media: &str) {
    let r = raw
        .request(Method::PUT, &format!("/v2/{repository}/manifests/{reference}"))
        .header("Content-Type", media)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "upstream refused the manifest: {:?}", r.text().await);
}

/// Uploads a blob upstream in one POST+PUT (distribution has no monolithic POST).
pub async fn push_blob(raw: &RawRegistry, repository: &str, bytes: &[u8]) -> String {
    let digest = digest_of(bytes);
    let started = raw
        .request(Method::POST, &format!("/v2/{repository}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let separator = if location.contains('?') { '&' } else { '?' };
    let url = if location.starts_with("http") {
        format!("{location}{separator}digest={digest}")
    } else {
        format!("{}{location}{separator}digest={digest}", raw.endpoint)
    };
    let mut put = raw.http.put(url).body(bytes.to_vec());
    if let Some(a) = &raw.authorization {
        put = put.header("Authorization", a);
    }
    let r = put.send().await.unwrap();
    assert_eq!(r.status(), 201, "upstream refused the blob");
    digest
}
