//! Many clients at once, berth and distribution side by side: 1,000 idle connections, then
//! 1,000 upload sessions each sending a 1 MiB blob on its own connection, all in the middle
//! of their bodies at the same moment. Figures: RSS with the idle connections, RSS while
//! every upload is half sent, and peak RSS (VmHWM) over the whole run.

use super::servers::{proc_status_bytes, Server};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const CLIENTS: usize = 1000;
const BLOB: usize = 1 << 20;
const MIB: f64 = (1 << 20) as f64;

/// The figures for both servers, as lines for the report.
pub fn figures(berth: &Path, distribution: &Path) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for server in [Server::distribution(distribution)?, Server::berth(berth)?] {
        if server.authorization.is_some() {
            super::api::call(
                &ureq::Agent::new(),
                &server.base,
                "CreateRepository",
                &serde_json::json!({ "repositoryName": "many" }),
            )?;
        }
        let rss = || proc_status_bytes(server.pid(), "VmRSS:") as f64 / MIB;
        let before = rss();
        let idle: Vec<TcpStream> = (0..CLIENTS)
            .map(|_| TcpStream::connect(server.host()).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        std::thread::sleep(Duration::from_secs(1));
        let with_idle = rss();
        drop(idle);
        let during = uploads(&server)?;
        lines.push(format!(
            "{}: RSS {before:.1} MiB at rest, {with_idle:.1} MiB with {CLIENTS} idle connections, \
             {during:.1} MiB with {CLIENTS} uploads of 1 MiB half sent at once; peak {:.1} MiB",
            server.kind.name(),
            server.peak_rss() as f64 / MIB,
        ));
    }
    Ok(lines)
}

/// Runs the uploads; the server's RSS (MiB) while all are half sent.
fn uploads(server: &Server) -> Result<f64, String> {
    let half_sent = Arc::new(Barrier::new(CLIENTS + 1));
    let measured = Arc::new(Barrier::new(CLIENTS + 1));
    let mut threads = Vec::new();
    for i in 0..CLIENTS {
        let (half_sent, measured) = (half_sent.clone(), measured.clone());
        let host = server.host();
        let authorization = server.authorization.clone();
        let base = server.base.clone();
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || upload(i, &base, &host, authorization, &half_sent, &measured))
            .map_err(|e| e.to_string())?;
        threads.push(thread);
    }
    half_sent.wait();
    let during = proc_status_bytes(server.pid(), "VmRSS:") as f64 / MIB;
    measured.wait();
    for thread in threads {
        thread.join().map_err(|_| "an upload thread panicked")??;
    }
    Ok(during)
}

/// One monolithic upload: POST, a PATCH whose body stops halfway until everyone is there,
/// then the PUT that closes it with the digest.
fn upload(
    i: usize, base: &str, host: &str, authorization: Option<String>, half_sent: &Barrier,
    measured: &Barrier,
) -> Result<(), String> {
    let failed = |e: String| {
        // Keep the others from waiting forever.
        half_sent.wait();
        measured.wait();
        Err(e)
    };
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(120)).build();
    let with_auth = |r: ureq::Request| match &authorization {
        Some(a) => r.set("Authorization", a),
        None => r,
    };
    let started = match with_auth(agent.post(&format!("{base}/v2/many/blobs/uploads/"))).call() {
        Ok(r) => r,
        Err(e) => return failed(format!("upload {i}: POST failed: {e}")),
    };
    let location = started.header("location").unwrap_or_default().to_string();
    let path = location.trim_start_matches(base).to_string();
    let body: Vec<u8> = (0..BLOB).map(|n| (n ^ i) as u8).collect();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let Ok(mut stream) = TcpStream::connect(host) else {
        return failed(format!("upload {i}: cannot connect"));
    };
    let auth_line =
        authorization.as_ref().map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {host}\r\n{auth_line}Content-Type: application/octet-stream\r\n\
         Content-Length: {BLOB}\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(&body[..BLOB / 2]).is_err() {
        return failed(format!("upload {i}: cannot send"));
    }
    half_sent.wait();
    measured.wait();
    stream.write_all(&body[BLOB / 2..]).map_err(|e| format!("upload {i}: {e}"))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| format!("upload {i}: {e}"))?;
    if !answer.starts_with("HTTP/1.1 202") {
        return Err(format!("upload {i}: PATCH answered {answer}"));
    }
    let location = answer
        .lines()
        .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
        .unwrap_or(&path)
        .trim()
        .to_string();
    let separator = if location.contains('?') { '&' } else { '?' };
    let url =
        if location.starts_with("http") { location.clone() } else { format!("{base}{location}") };
    with_auth(agent.put(&format!("{url}{separator}digest={digest}")))
        .call()
        .map_err(|e| format!("upload {i}: PUT failed: {e}"))?;
    Ok(())
}
