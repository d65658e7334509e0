//! The workloads, the same for both registries.

use super::servers::Server;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

/// A generated blob: 1 MiB of pseudo-random bytes repeated; never held whole in memory.
#[derive(Clone)]
pub struct Blob {
    chunk: Arc<Vec<u8>>,
    pub size: u64,
    pub digest: String,
}

impl Blob {
    /// A blob of `size` bytes (a multiple of 1 MiB) whose content depends on `seed`.
    pub fn new(seed: u64, size: u64) -> Blob {
        let chunk = pseudo_random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), MIB as usize);
        let mut hasher = Sha256::new();
        for _ in 0..size / MIB {
            hasher.update(&chunk);
        }
        Blob {
            chunk: Arc::new(chunk),
            size,
            digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        }
    }

    /// The blob's first `length` bytes as a reader.
    pub fn reader(&self, length: u64) -> BlobReader {
        self.reader_at(0, length)
    }

    /// `length` bytes of the blob from `offset`, as a reader.
    pub fn reader_at(&self, offset: u64, length: u64) -> BlobReader {
        BlobReader { chunk: self.chunk.clone(), left: length, position: (offset % MIB) as usize }
    }
}

/// Reads a [`Blob`] without holding it.
pub struct BlobReader {
    chunk: Arc<Vec<u8>>,
    left: u64,
    position: usize,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let available = self.chunk.len() - self.position;
        let n = buf.len().min(available).min(self.left as usize);
        buf[..n].copy_from_slice(&self.chunk[self.position..self.position + n]);
        self.position = (self.position + n) % self.chunk.len();
        self.left -= n as u64;
        Ok(n)
    }
}

pub(crate) fn status_error(what: &str, e: ureq::Error) -> String {
    match e {
        ureq::Error::Status(code, r) => {
            format!("{what}: {code} {}", r.into_string().unwrap_or_default())
        }
        other => format!("{what}: {other}"),
    }
}

fn location(server: &Server, response: &ureq::Response) -> Result<String, String> {
    let l = response.header("Location").ok_or("an upload answer without Location")?;
    Ok(if l.starts_with("http") { l.to_string() } else { format!("{}{l}", server.next_base()) })
}

pub(crate) fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

pub(crate) fn absolute(
    server: &Server, agent: &ureq::Agent, method: &str, url: &str,
) -> ureq::Request {
    let r = agent.request(method, url);
    match &server.authorization {
        Some(a) => r.set("Authorization", a),
        None => r,
    }
}

pub(crate) fn start_upload(
    server: &Server, agent: &ureq::Agent, repo: &str,
) -> Result<String, String> {
    let r = server
        .request(agent, "POST", &format!("/v2/{repo}/blobs/uploads/"))
        .call()
        .map_err(|e| status_error("POST upload", e))?;
    location(server, &r)
}

/// A whole blob in one PUT after opening a session; returns the elapsed time.
pub fn push_monolithic(server: &Server, repo: &str, blob: &Blob) -> Result<Duration, String> {
    let agent = ureq::Agent::new();
    let started = Instant::now();
    let session = start_upload(server, &agent, repo)?;
    absolute(server, &agent, "PUT", &with_digest(&session, &blob.digest))
        .set("Content-Type", "application/octet-stream")
        .set("Content-Length", &blob.size.to_string())
        .send(blob.reader(blob.size))
        .map_err(|e| status_error("PUT blob", e))?;
    Ok(started.elapsed())
}

/// PATCHes of `chunk` bytes, then an empty PUT.
pub fn push_chunked(
    server: &Server, repo: &str, blob: &Blob, chunk: u64,
) -> Result<Duration, String> {
    let agent = ureq::Agent::new();
    let started = Instant::now();
    let mut session = start_upload(server, &agent, repo)?;
    let mut offset = 0;
    while offset < blob.size {
        let len = chunk.min(blob.size - offset);
        let r = absolute(server, &agent, "PATCH", &session)
            .set("Content-Type", "application/octet-stream")
            .set("Content-Range", &format!("{offset}-{}", offset + len - 1))
            .set("Content-Length", &len.to_string())
            .send(blob.reader_at(offset, len))
            .map_err(|e| status_error("PATCH", e))?;
        session = location(server, &r)?;
        offset += len;
    }
    absolute(server, &agent, "PUT", &with_digest(&session, &blob.digest))
        .set("Content-Length", "0")
        .call()
        .map_err(|e| status_error("PUT end of upload", e))?;
    Ok(started.elapsed())
}

/// Downloads a blob to nowhere, checking its length.
pub fn pull(server: &Server, repo: &str, blob: &Blob) -> Result<Duration, String> {
    pull_blob(server, repo, &blob.digest, blob.size)
}

/// The same pull by curl (a client nobody here wrote, with its own buffers), to /dev/null,
/// checking the byte count; the elapsed time.
pub fn pull_with_curl(server: &Server, repo: &str, blob: &Blob) -> Result<Duration, String> {
    let curl = super::servers::find_tool("curl")
        .ok_or("curl is not installed: run `apt-get install -y curl`")?;
    let mut command = std::process::Command::new(curl);
    command.args(["-sS", "-o", "/dev/null", "-w", "%{size_download}"]);
    if let Some(a) = &server.authorization {
        command.args(["-H", &format!("Authorization: {a}")]);
    }
    let started = Instant::now();
    let out = command
        .arg(format!("{}/v2/{repo}/blobs/{}", server.base, blob.digest))
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    let elapsed = started.elapsed();
    let got: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    if !out.status.success() || got != blob.size {
        return Err(format!(
            "curl pulled {got} of {} bytes: {}",
            blob.size,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(elapsed)
}

/// Pulls the blob `digest` of `size` bytes, reading and dropping it; the elapsed time.
pub fn pull_blob(server: &Server, repo: &str, digest: &str, size: u64) -> Result<Duration, String> {
    let agent = ureq::Agent::new();
    let started = Instant::now();
    let r = server
        .request(&agent, "GET", &format!("/v2/{repo}/blobs/{digest}"))
        .call()
        .map_err(|e| status_error("GET blob", e))?;
    let mut reader = r.into_reader();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buffer).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    if total != size {
        return Err(format!("pulled {total} bytes of {size}"));
    }
    Ok(started.elapsed())
}

pub(crate) fn put_small_blob(
    server: &Server, agent: &ureq::Agent, repo: &str, bytes: &[u8],
) -> Result<String, String> {
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
    let session = start_upload(server, agent, repo)?;
    absolute(server, agent, "PUT", &with_digest(&session, &digest))
        .set("Content-Type", "application/octet-stream")
        .send_bytes(bytes)
        .map_err(|e| status_error("PUT small blob", e))?;
    Ok(digest)
}

/// A small image manifest text referencing a config and one layer already in `repo`.
pub fn small_manifest(server: &Server, repo: &str, extra: &str) -> Result<String, String> {
    let agent = ureq::Agent::new();
    let config =
        put_small_blob(server, &agent, repo, b"{\"architecture\":\"amd64\",\"os\":\"linux\"}")?;
    let layer = put_small_blob(server, &agent, repo, b"a small layer")?;
    Ok(format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":38}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":13}}]{extra}}}"#
    ))
}

/// Pushes an image whose one layer is `blob` under `tag`.
pub fn push_image_of(server: &Server, repo: &str, tag: &str, blob: &Blob) -> Result<(), String> {
    push_monolithic(server, repo, blob)?;
    put_image_manifest(server, repo, tag, &blob.digest, blob.size)
}

/// Puts an image manifest whose one (uncompressed) layer is already in `repo`.
pub fn put_image_manifest(
    server: &Server, repo: &str, tag: &str, layer: &str, size: u64,
) -> Result<(), String> {
    let agent = ureq::Agent::new();
    let config =
        put_small_blob(server, &agent, repo, b"{\"architecture\":\"amd64\",\"os\":\"linux\"}")?;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":38}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{size}}}]}}"#
    );
    server
        .request(&agent, "PUT", &format!("/v2/{repo}/manifests/{tag}"))
        .set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .send_string(&manifest)
        .map_err(|e| status_error("PUT manifest", e))?;
    Ok(())
}

/// GETs a manifest (which makes a pull-through cache fetch it).
pub fn get_manifest(server: &Server, repo: &str, tag: &str) -> Result<(), String> {
    let agent = ureq::Agent::new();
    server
        .request(&agent, "GET", &format!("/v2/{repo}/manifests/{tag}"))
        .set("Accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
        .map_err(|e| status_error("GET manifest", e))?;
    Ok(())
}

/// Pushes a small image under `tag`.
pub fn push_small_image(server: &Server, repo: &str, tag: &str) -> Result<(), String> {
    let manifest = small_manifest(server, repo, "")?;
    let agent = ureq::Agent::new();
    server
        .request(&agent, "PUT", &format!("/v2/{repo}/manifests/{tag}"))
        .set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .send_string(&manifest)
        .map_err(|e| status_error("PUT manifest", e))?;
    Ok(())
}

/// Request rate and latency of `concurrency` keep-alive clients over `duration`.
/// `size` pseudo-random bytes (xorshift) that depend on `seed`: distinct content without a
/// random generator.
pub(crate) fn pseudo_random(seed: u64, size: usize) -> Vec<u8> {
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

/// Runs `work` on `threads` threads at once; what each returned.
fn on_threads<T: Send>(
    threads: usize, work: impl Fn() -> Result<T, String> + Sync,
) -> Vec<Result<T, String>> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(&work)).collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect()
    })
}

pub struct Load {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// Runs `method path` from `concurrency` threads, each with one connection.
pub fn hammer(
    server: &Server, method: &str, path: &str, concurrency: usize, duration: Duration,
) -> Result<Load, String> {
    let started = Instant::now();
    let deadline = started + duration;
    let results = on_threads(concurrency, || {
        let agent = ureq::AgentBuilder::new().max_idle_connections_per_host(1).build();
        let mut latencies = Vec::new();
        while Instant::now() < deadline {
            let t = Instant::now();
            let r = server
                .request(&agent, method, path)
                .set("Accept", "application/vnd.oci.image.manifest.v1+json")
                .call()
                .map_err(|e| status_error(method, e))?;
            std::io::copy(&mut r.into_reader(), &mut std::io::sink()).map_err(|e| e.to_string())?;
            latencies.push(t.elapsed());
        }
        Ok(latencies)
    });
    let elapsed = started.elapsed();
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    all.sort();
    if all.is_empty() {
        return Err("no request completed".into());
    }
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Ok(Load { per_second: all.len() as f64 / elapsed.as_secs_f64(), p50: at(0.50), p99: at(0.99) })
}

/// Uploads `count` distinct blobs of `size` bytes (POST, then PUT with the body) from
/// `parallel` threads, each with one connection: how long until every one is acknowledged.
pub fn parallel_small_blobs(
    server: &Server, repo: &str, count: usize, size: usize, parallel: usize,
) -> Result<Duration, String> {
    let blobs: Vec<Vec<u8>> = (0..count as u64)
        .map(|i| pseudo_random((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15), size))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let results = on_threads(parallel, || {
        let agent = ureq::AgentBuilder::new().max_idle_connections_per_host(1).build();
        loop {
            let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(blob) = blobs.get(at) else { return Ok(()) };
            put_small_blob(server, &agent, repo, blob)?;
        }
    });
    let elapsed = started.elapsed();
    results.into_iter().collect::<Result<(), String>>()?;
    Ok(elapsed)
}

/// An OCI layout with one image of `layers` random layers of `size` bytes.
pub fn build_layout(dir: &Path, layers: usize, size: usize) -> Result<(), String> {
    build_layout_seeded(dir, layers, size, 0x1234_5678_9abc_def1).map(drop)
}

/// As [`build_layout`], the layers' bytes drawn from `seed`; returns the manifest digest.
pub fn build_layout_seeded(
    dir: &Path, layers: usize, size: usize, seed: u64,
) -> Result<String, String> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| e.to_string())?;
    let write = |bytes: &[u8]| -> Result<String, String> {
        let hex = hex::encode(Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).map_err(|e| e.to_string())?;
        Ok(format!("sha256:{hex}"))
    };
    let mut descriptors = Vec::new();
    for layer in 0..layers as u64 {
        let bytes =
            pseudo_random(seed.wrapping_add(layer.wrapping_mul(0x9E37_79B9_7F4A_7C15)), size);
        let digest = write(&bytes)?;
        descriptors.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size}));
    }
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = write(config)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descriptors,
    })
    .to_string();
    let manifest_digest = write(manifest.as_bytes())?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(|e| e.to_string())?;
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "bench"}}]});
    std::fs::write(dir.join("index.json"), index.to_string()).map_err(|e| e.to_string())?;
    Ok(manifest_digest)
}

/// `skopeo copy` of the layout into `repo`.
pub fn skopeo_push(
    skopeo: &Path, server: &Server, layout: &Path, repo: &str,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut command = std::process::Command::new(skopeo);
    command.args(["copy", "--preserve-digests", "--dest-tls-verify=false"]);
    if let Some(c) = &server.credentials {
        command.args(["--dest-creds", c]);
    }
    let out = command
        .arg(format!("oci:{}:bench", layout.display()))
        .arg(format!("docker://{}/{repo}:bench", server.host()))
        .output()
        .map_err(|e| format!("cannot run skopeo: {e}"))?;
    if !out.status.success() {
        return Err(format!("skopeo failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(started.elapsed())
}
