//! `cargo xtask faults`: the fault-injection campaign behind RELIABILITY.md.
//!
//! Kill runs: each run starts berth (the debug build) on a fresh data dir, pushes images of
//! random shapes (monolithic and chunked raw uploads, and a skopeo copy) from two threads,
//! kills berth with SIGKILL at a random moment, restarts it on the same data dir, and
//! checks: `berth fsck` finds no corrupt blob, no missing blob of a manifest and no link
//! without bytes; and every manifest whose PUT was acknowledged (201, or skopeo's success)
//! pulls by tag and digest with its bytes and every layer's bytes hashing to their digests.
//!
//! Disk-full run (`--disk-full`, needs root for a tmpfs mount): pushes until the disk is
//! full, checks that the refusal is a clean 5xx in the OCI envelope (and on the ECR API in
//! AWS JSON), that fsck is clean and what was acknowledged pulls, then frees space (removes
//! a 16 MiB file of its own from the disk) and checks that pushes work again.

use crate::bench::servers::{find_tool, free_port, Server};
use crate::bench::workloads::{
    build_layout_seeded, push_chunked, push_monolithic, put_small_blob, status_error, Blob,
};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
const REPO: &str = "faults";

/// xorshift64*: the campaign's only randomness, so that a seed replays a run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// A manifest berth acknowledged, with what it references.
#[derive(Debug, Clone)]
struct Acknowledged {
    tag: String,
    digest: String,
    blobs: Vec<String>,
}

/// What the campaign saw.
#[derive(Default)]
struct Tally {
    runs: usize,
    acknowledged: usize,
    lost: Vec<String>,
    corrupt: usize,
    missing_references: usize,
    dangling_links: usize,
    orphaned_uploads: usize,
    sessions_without_bytes: usize,
}

/// Runs the kill campaign (or the disk-full run) and prints the figures; an error when
/// anything acknowledged was lost or anything is corrupt.
pub fn run(root: &Path, runs: usize, seed: u64, disk_full: bool) -> Result<(), String> {
    // The debug build the tests use: the campaign checks what is kept, not how fast.
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "-p", "berth-server"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("the build failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let berth = target.join("debug/berth");
    let skopeo = find_tool("skopeo")
        .ok_or("skopeo is not installed: run `apt-get install -y skopeo` as root")?;
    if disk_full {
        return disk_full_run(&berth, seed);
    }
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut random = Random(seed.max(1));
    for run in 0..runs {
        kill_run(&berth, &skopeo, run, &mut random, &mut tally)
            .map_err(|e| format!("run {run}: {e}"))?;
        if (run + 1) % 10 == 0 {
            eprintln!("{} runs, {} acknowledged manifests", run + 1, tally.acknowledged);
        }
    }
    println!(
        "kill campaign, seed {seed}: {} runs (one SIGKILL each) in {:.0} s; {} acknowledged \
         manifests, {} lost; fsck: {} corrupt blobs, {} missing blobs of manifests, {} links \
         without bytes; left by the kills (not errors): {} upload files without a session, \
         {} upload sessions without bytes",
        tally.runs,
        started.elapsed().as_secs_f64(),
        tally.acknowledged,
        tally.lost.len(),
        tally.corrupt,
        tally.missing_references,
        tally.dangling_links,
        tally.orphaned_uploads,
        tally.sessions_without_bytes,
    );
    for lost in &tally.lost {
        println!("lost: {lost}");
    }
    if tally.lost.is_empty()
        && tally.corrupt == 0
        && tally.missing_references == 0
        && tally.dangling_links == 0
    {
        Ok(())
    } else {
        Err("the campaign found lost or corrupt data".into())
    }
}

/// One run: push from two threads, kill at a random moment, restart, check.
fn kill_run(
    berth: &Path, skopeo: &Path, run: usize, random: &mut Random, tally: &mut Tally,
) -> Result<(), String> {
    let work =
        crate::bench::servers::tempfile_dir::Dir::new("berth-faults").map_err(|e| e.to_string())?;
    let data = work.path().join("data");
    let port = free_port()?;
    let mut server = Server::berth_at(berth, &data, port, &[])?;
    create_repository(&server)?;
    let acknowledged = Arc::new(Mutex::new(Vec::<Acknowledged>::new()));

    // Raw pushes until berth stops answering.
    let raw = {
        let shadow = Server::detached(&server.base, server.authorization.clone());
        let acknowledged = acknowledged.clone();
        let seed = random.next();
        std::thread::spawn(move || raw_pushes(&shadow, &acknowledged, run, seed))
    };
    // One skopeo copy of a random layout.
    let layout = work.path().join("layout");
    let layers = random.between(1, 4) as usize;
    let size = random.between(64 * 1024, 2 * MIB) as usize;
    let layout_digest = build_layout_seeded(&layout, layers, size, random.next())?;
    let credentials = server.credentials.clone().unwrap_or_default();
    let host = server.host();
    let tag = format!("skopeo-{run}");
    let mut copy = Command::new(skopeo)
        .args(["copy", "--preserve-digests", "--dest-tls-verify=false"])
        .args(["--dest-creds", &credentials])
        .arg(format!("oci:{}:bench", layout.display()))
        .arg(format!("docker://{host}/{REPO}:{tag}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run skopeo: {e}"))?;

    std::thread::sleep(Duration::from_millis(random.between(50, 1500)));
    server.kill9();
    if copy.wait().map_err(|e| e.to_string())?.success() {
        acknowledged.lock().unwrap().push(Acknowledged {
            tag,
            digest: layout_digest.clone(),
            blobs: layout_blobs(&layout, &layout_digest)?,
        });
    }
    raw.join().map_err(|_| "the push thread panicked")?;

    let server = Server::berth_at(berth, &data, port, &[])?;
    fsck(berth, &data, tally)?;
    let acknowledged = acknowledged.lock().unwrap().clone();
    tally.runs += 1;
    tally.acknowledged += acknowledged.len();
    for ack in &acknowledged {
        if let Err(e) = pulls_intact(&server, ack) {
            tally.lost.push(format!("run {run}: {} ({}): {e}", ack.tag, ack.digest));
        }
    }
    Ok(())
}

/// Pushes images of 1-3 layers of 1-3 MiB, monolithic or in chunks, until a request fails
/// (berth was killed); records each acknowledged manifest.
fn raw_pushes(server: &Server, acknowledged: &Mutex<Vec<Acknowledged>>, run: usize, seed: u64) {
    let mut random = Random(seed.max(1));
    for image in 0.. {
        match push_image(server, &mut random, &format!("raw-{run}-{image}")) {
            Ok(ack) => acknowledged.lock().unwrap().push(ack),
            Err(_) => return,
        }
    }
}

/// One image of random shape, its manifest tagged `tag`.
fn push_image(server: &Server, random: &mut Random, tag: &str) -> Result<Acknowledged, String> {
    let mut blobs = Vec::new();
    let mut descriptors = Vec::new();
    for _ in 0..random.between(1, 3) {
        let blob = Blob::new(random.next(), random.between(1, 3) * MIB);
        if random.next().is_multiple_of(2) {
            push_monolithic(server, REPO, &blob)?;
        } else {
            push_chunked(server, REPO, &blob, random.between(256 * 1024, MIB))?;
        }
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": blob.digest, "size": blob.size
        }));
        blobs.push(blob.digest.clone());
    }
    let agent = ureq::Agent::new();
    let config = format!(r#"{{"architecture":"amd64","os":"linux","tag":"{tag}"}}"#);
    let config_digest = put_small_blob(server, &agent, REPO, config.as_bytes())?;
    blobs.push(config_digest.clone());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config.len()},
        "layers": descriptors,
    })
    .to_string();
    server
        .request(&agent, "PUT", &format!("/v2/{REPO}/manifests/{tag}"))
        .set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .send_string(&manifest)
        .map_err(|e| status_error("PUT manifest", e))?;
    Ok(Acknowledged { tag: tag.to_string(), digest: sha256(manifest.as_bytes()), blobs })
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The config and layer digests of the layout's manifest.
fn layout_blobs(layout: &Path, manifest: &str) -> Result<Vec<String>, String> {
    let path = layout.join("blobs/sha256").join(manifest.trim_start_matches("sha256:"));
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut blobs = vec![parsed["config"]["digest"].as_str().unwrap_or_default().to_string()];
    for layer in parsed["layers"].as_array().into_iter().flatten() {
        blobs.push(layer["digest"].as_str().unwrap_or_default().to_string());
    }
    Ok(blobs)
}

/// The tag and the digest give the manifest's bytes; every blob's bytes hash to its name.
fn pulls_intact(server: &Server, ack: &Acknowledged) -> Result<(), String> {
    let agent = ureq::Agent::new();
    for reference in [&ack.tag, &ack.digest] {
        let response = server
            .request(&agent, "GET", &format!("/v2/{REPO}/manifests/{reference}"))
            .set("Accept", "application/vnd.oci.image.manifest.v1+json")
            .call()
            .map_err(|e| status_error("GET manifest", e))?;
        let got = sha256(&read_all(response)?);
        if got != ack.digest {
            return Err(format!("manifest {reference} has digest {got}"));
        }
    }
    for blob in &ack.blobs {
        let response = server
            .request(&agent, "GET", &format!("/v2/{REPO}/blobs/{blob}"))
            .call()
            .map_err(|e| status_error("GET blob", e))?;
        let got = sha256(&read_all(response)?);
        if &got != blob {
            return Err(format!("blob {blob} has digest {got}"));
        }
    }
    Ok(())
}

fn read_all(response: ureq::Response) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    response.into_reader().read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

fn create_repository(server: &Server) -> Result<(), String> {
    crate::bench::api::call(
        &ureq::Agent::new(),
        &server.base,
        "CreateRepository",
        &serde_json::json!({ "repositoryName": REPO }),
    )
    .map(drop)
}

/// `berth fsck` on the data dir (berth running); its findings added to the tally.
fn fsck(berth: &Path, data: &Path, tally: &mut Tally) -> Result<(), String> {
    let out = Command::new(berth)
        .args(["fsck", "--data-dir"])
        .arg(data)
        .output()
        .map_err(|e| format!("cannot run berth fsck: {e}"))?;
    let report = String::from_utf8_lossy(&out.stdout);
    let count = |what: &str| report.lines().filter(|l| l.starts_with(what)).count();
    tally.corrupt += count("corrupt blob:");
    tally.missing_references += count("missing blob of a manifest:");
    tally.dangling_links += count("link without bytes:");
    tally.orphaned_uploads += count("upload without a session:");
    tally.sessions_without_bytes += count("upload session without bytes:");
    if out.status.code() == Some(2) {
        return Err(format!("berth fsck could not run: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// A tmpfs of `size` mounted at `dir` for the run, unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, megabytes: u64) -> Result<SmallDisk, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir)
            .status()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !status.success() {
            return Err("cannot mount a tmpfs for the disk-full run: it needs root".into());
        }
        Ok(SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills a 64 MiB disk, checks the refusals, frees 16 MiB, pushes again.
fn disk_full_run(berth: &Path, seed: u64) -> Result<(), String> {
    let work = crate::bench::servers::tempfile_dir::Dir::new("berth-disk-full")
        .map_err(|e| e.to_string())?;
    let disk = SmallDisk::mount(&work.path().join("disk"), 64)?;
    let data = disk.0.join("data");
    let ballast = disk.0.join("ballast");
    std::fs::write(&ballast, vec![0u8; 16 * MIB as usize]).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let server = Server::berth_at(berth, &data, port, &[])?;
    create_repository(&server)?;
    let mut random = Random(seed.max(1));
    let mut acknowledged = Vec::new();
    let refusal = loop {
        match push_image(&server, &mut random, &format!("fill-{}", acknowledged.len())) {
            Ok(ack) => acknowledged.push(ack),
            Err(e) => break e,
        }
        if acknowledged.len() > 200 {
            return Err("the 64 MiB disk never filled".into());
        }
    };
    if acknowledged.is_empty() {
        return Err(format!("the first push failed: {refusal}"));
    }
    let clean_oci = refusal.contains(": 5") && refusal.contains("\"errors\"");
    // The ECR face when full: an upload part is refused in AWS JSON.
    let ecr_refusal = ecr_upload_when_full(&server);
    let clean_ecr = ecr_refusal.contains("failed with 5") && ecr_refusal.contains("__type");
    let mut tally = Tally::default();
    fsck(berth, &data, &mut tally)?;
    let mut lost = 0;
    for ack in &acknowledged {
        if pulls_intact(&server, ack).is_err() {
            lost += 1;
        }
    }
    // Space is freed the way an operator would: another file on the disk goes.
    std::fs::remove_file(&ballast).map_err(|e| e.to_string())?;
    let recovered = push_image(&server, &mut random, "after-freeing");
    let mut after = Tally::default();
    fsck(berth, &data, &mut after)?;
    println!(
        "disk-full run, seed {seed}: 64 MiB tmpfs filled after {} acknowledged images; /v2 \
         refusal clean (5xx, OCI envelope): {clean_oci} ({refusal}); ECR refusal clean (5xx, \
         AWS JSON): {clean_ecr} ({ecr_refusal}); fsck when full: {} corrupt, {} missing, {} \
         dangling; acknowledged images lost: {lost}; push after freeing space: {}; fsck after: \
         {} corrupt",
        acknowledged.len(),
        tally.corrupt,
        tally.missing_references,
        tally.dangling_links,
        if recovered.is_ok() { "ok" } else { "FAILED" },
        after.corrupt,
    );
    drop(server);
    if clean_oci
        && clean_ecr
        && lost == 0
        && tally.corrupt + tally.missing_references + tally.dangling_links == 0
        && recovered.is_ok()
        && after.corrupt == 0
    {
        Ok(())
    } else {
        Err(format!("the disk-full run failed: {recovered:?}"))
    }
}

/// InitiateLayerUpload and a 4 MiB UploadLayerPart on a full disk: the error text.
fn ecr_upload_when_full(server: &Server) -> String {
    let agent = ureq::Agent::new();
    let started = crate::bench::api::call(
        &agent,
        &server.base,
        "InitiateLayerUpload",
        &serde_json::json!({ "repositoryName": REPO }),
    );
    let id = match started {
        Ok(answer) => answer["uploadId"].as_str().unwrap_or_default().to_string(),
        Err(e) => return e,
    };
    let part = base64_of(&vec![7u8; 4 * MIB as usize]);
    match crate::bench::api::call(
        &agent,
        &server.base,
        "UploadLayerPart",
        &serde_json::json!({
            "repositoryName": REPO, "uploadId": id, "partFirstByte": 0,
            "partLastByte": 4 * MIB - 1, "layerPartBlob": part
        }),
    ) {
        Ok(_) => "UploadLayerPart succeeded on a full disk".into(),
        Err(e) => e,
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
