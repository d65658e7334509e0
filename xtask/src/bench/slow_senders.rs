//! Hostile ECR clients: 300 connections each start a 32 MiB UploadLayerPart, send 1 MiB of
//! it, and then trickle. berth must keep its memory bounded (large bodies share an
//! in-flight budget, `--ecr-bodies-in-flight`) and keep answering ordinary calls.
//! Figures: berth's RSS before and while the senders hang on, and an ordinary call's
//! status and time meanwhile.

use super::servers::{proc_status_bytes, Server};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

const SENDERS: usize = 300;
const MIB: usize = 1 << 20;

/// The figures, as lines for the report.
pub fn figures(berth: &Path) -> Result<Vec<String>, String> {
    let server = Server::berth(berth)?;
    let pid = server.pid();
    let address = server.host();
    let before = proc_status_bytes(pid, "VmRSS:");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: AmazonEC2ContainerRegistry_V20150921.UploadLayerPart\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n",
        32 * MIB
    );
    let chunk = vec![b' '; MIB];
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let mut stream = TcpStream::connect(&address).map_err(|e| e.to_string())?;
        stream.set_write_timeout(Some(Duration::from_millis(200))).map_err(|e| e.to_string())?;
        stream.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        // Those that must wait for the budget are not read: their first MiB may not go
        // through, which is the point.
        let _ = stream.write_all(&chunk);
        senders.push(stream);
    }
    std::thread::sleep(Duration::from_secs(2));
    let during = proc_status_bytes(pid, "VmRSS:");
    let agent = ureq::Agent::new();
    let started = Instant::now();
    let status = match crate::bench::api::call(
        &agent,
        &server.base,
        "DescribeRepositories",
        &serde_json::json!({}),
    ) {
        Ok(_) => "200".to_string(),
        Err(e) => e,
    };
    let took = started.elapsed();
    let after = proc_status_bytes(pid, "VmRSS:");
    drop(senders);
    Ok(vec![format!(
        "{SENDERS} slow senders of 32 MiB UploadLayerPart bodies (1 MiB sent each, then silence): \
         berth RSS {:.1} MiB before, {:.1} MiB with them connected, {:.1} MiB after an ordinary \
         DescribeRepositories, which answered {status} in {:.1} ms",
        before as f64 / MIB as f64,
        during as f64 / MIB as f64,
        after as f64 / MIB as f64,
        took.as_secs_f64() * 1000.0
    )])
}
