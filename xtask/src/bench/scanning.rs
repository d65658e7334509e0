//! Image scanning, berth alone (distribution has no scanner): an image of one uncompressed
//! layer (a dpkg status file, os-release, and a big file of pseudo-random bytes) is pushed
//! to a scan-on-push repository and the scan job is run on demand. Figures: the scan's
//! time and throughput next to a pull of the same layer in the same run (the machine's
//! rate of reading those bytes through berth), and the peak RSS during the scan.

use super::api;
use super::servers::{proc_status_bytes, tempfile_dir, Server};
use super::workloads::{self, Blob};
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// A dpkg database of two packages, one of them named by the feed's one advisory.
const STATUS: &str = "Package: zlib1g\nStatus: install ok installed\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n\nPackage: tar\nStatus: install ok installed\nVersion: 1.34+dfsg-1.2\n";

/// Writes the layer as a tar file; returns its digest and size.
fn layer_file(path: &Path, big: u64, seed: u64) -> Result<(String, u64), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
    let mut append = |name: &str, size: u64, data: &mut dyn Read| {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, data).map_err(|e| e.to_string())
    };
    let release = b"ID=debian\nVERSION_ID=12\n";
    append("etc/os-release", release.len() as u64, &mut &release[..])?;
    append("var/lib/dpkg/status", STATUS.len() as u64, &mut STATUS.as_bytes())?;
    let blob = Blob::new(seed, big);
    append("opt/data.bin", big, &mut blob.reader(big))?;
    builder
        .into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut reader = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut buffer = vec![0u8; MIB as usize];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buffer).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

/// Pushes the file as a blob of `repo` (streamed from disk).
fn push_file(server: &Server, repo: &str, path: &Path, digest: &str) -> Result<(), String> {
    let agent = ureq::Agent::new();
    let session = workloads::start_upload(server, &agent, repo)?;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    workloads::absolute(server, &agent, "PUT", &workloads::with_digest(&session, digest))
        .set("Content-Type", "application/octet-stream")
        .send(file)
        .map_err(|e| workloads::status_error("PUT layer", e))?;
    Ok(())
}

/// What one scan measured.
struct Scan {
    time: Duration,
    pull: Duration,
    peak_rss: u64,
    size: u64,
}

fn scan_once(berth: &Path, work: &Path, big: u64, seed: u64) -> Result<Scan, String> {
    let feed = work.join("feed");
    std::fs::create_dir_all(&feed).map_err(|e| e.to_string())?;
    let advisory = serde_json::json!({
        "id": "CVE-2026-1000", "modified": "2026-11-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "zlib"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.3-1"}]}]}]
    });
    std::fs::write(feed.join("CVE-2026-1000.json"), advisory.to_string())
        .map_err(|e| e.to_string())?;
    let feed_arg = feed.display().to_string();
    let server = Server::berth_with(
        berth,
        &["--admin-api", "--scan-interval", "3600", "--vulnerability-db", &feed_arg],
    )?;
    let agent = ureq::Agent::new();
    api::call(
        &agent,
        &server.base,
        "CreateRepository",
        &serde_json::json!({ "repositoryName": "bench/scan", "imageScanningConfiguration": { "scanOnPush": true } }),
    )?;
    let layer = work.join(format!("layer-{seed}.tar"));
    let (digest, size) = layer_file(&layer, big, seed)?;
    push_file(&server, "bench/scan", &layer, &digest)?;
    let _ = std::fs::remove_file(&layer);
    workloads::put_image_manifest(&server, "bench/scan", "v1", &digest, size)?;

    let pid = server.pid();
    let (running, peak) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicU64::new(0)));
    let sampler = {
        let (running, peak) = (running.clone(), peak.clone());
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(proc_status_bytes(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let started = Instant::now();
    let report = agent
        .post(&format!("{}/_berth/admin/jobs/scan/run", server.base))
        .call()
        .map_err(|e| workloads::status_error("run the scan job", e))?
        .into_string()
        .map_err(|e| e.to_string())?;
    let time = started.elapsed();
    running.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    if !report.contains("1 scans complete") {
        return Err(format!("the scan did not complete: {report}"));
    }
    let pull = workloads::pull_blob(&server, "bench/scan", &digest, size)?;
    Ok(Scan { time, pull, peak_rss: peak.load(Ordering::Relaxed), size })
}

/// The scanning figures, as lines for the report.
pub fn figures(berth: &Path, rounds: usize) -> Result<Vec<String>, String> {
    let work = tempfile_dir::Dir::new("bench-scan").map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    for (label, big) in [("200 MiB", 200 * MIB), ("1 GiB", 1024 * MIB)] {
        let mut scans = Vec::new();
        for round in 0..rounds {
            eprintln!("scan of a {label} image, round {}", round + 1);
            scans.push(scan_once(berth, work.path(), big, round as u64 + 7)?);
        }
        scans.sort_by_key(|s| s.time);
        let median = &scans[scans.len() / 2];
        let rate = |d: Duration| median.size as f64 / d.as_secs_f64() / 1e6;
        let peak = scans.iter().map(|s| s.peak_rss).max().unwrap_or(0);
        lines.push(format!(
            "scan of a {label} image (one uncompressed layer), median of {rounds}: {:.2} s, {:.0} MB/s; \
             a pull of the same layer in the same run: {:.0} MB/s (scan / pull {:.2}x); peak RSS during the scans {:.1} MiB",
            median.time.as_secs_f64(),
            rate(median.time),
            rate(median.pull),
            rate(median.time) / rate(median.pull),
            peak as f64 / MIB as f64,
        ));
    }
    Ok(lines)
}
