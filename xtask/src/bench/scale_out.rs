//! `cargo xtask bench --scale-out`: the registry workloads on berth's three ways of
//! running: SQLite and blob files in the data dir (the default), PostgreSQL and S3 with one
//! replica, and the same with two replicas taking the requests in turn. PostgreSQL is a
//! throwaway cluster of Debian's server, S3 an s3s-fs; everything shares the 2 cores.

use super::servers::{free_port, tempfile_dir::Dir, Server};
use super::workloads::{self, Blob};
use super::{create_repositories, fmt, mb_per_s, ms, stats};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SETUPS: [&str; 3] =
    ["SQLite + files", "PostgreSQL + S3, 1 replica", "PostgreSQL + S3, 2 replicas"];
const INSTALL: &str = "apt-get install -y postgresql; cargo install s3s-fs --version 0.14.1 --locked --features binary";

/// PostgreSQL and s3s-fs, stopped when dropped.
struct Backends {
    children: Vec<Child>,
    pg_port: u16,
    s3: String,
    _dir: Dir,
}

impl Drop for Backends {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn as_postgres(program: &Path) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { geteuid() } == 0 {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

extern "C" {
    fn geteuid() -> u32;
}

fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command.stdout(Stdio::null()).status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

impl Backends {
    fn start() -> Result<Backends, String> {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
            .unwrap_or_default();
        versions.retain(|bin| bin.join("initdb").is_file());
        versions.sort();
        let bin = versions.pop().ok_or_else(|| format!("PostgreSQL is missing: {INSTALL}"))?;
        let s3s = super::servers::find_tool("s3s-fs")
            .ok_or_else(|| format!("s3s-fs is missing: {INSTALL}"))?;
        let dir = Dir::new("bench-scale-out").map_err(|e| e.to_string())?;
        // SAFETY: as above.
        if unsafe { geteuid() } == 0 {
            run(Command::new("chown").arg("postgres").arg(dir.path()))?;
        }
        let data = dir.path().join("pg");
        run(as_postgres(&bin.join("initdb")).arg("-D").arg(&data).args([
            "-U",
            "berth",
            "--auth=trust",
            "--no-locale",
            "-E",
            "UTF8",
        ]))?;
        let pg_port = free_port()?;
        let mut children = vec![as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &pg_port.to_string(), "-c", "listen_addresses=127.0.0.1", "-k"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start postgres: {e}"))?];
        let s3_port = free_port()?;
        let buckets = dir.path().join("s3");
        std::fs::create_dir_all(buckets.join("bench")).map_err(|e| e.to_string())?;
        children.push(
            Command::new(s3s)
                .args(["--host", "127.0.0.1", "--port", &s3_port.to_string()])
                .args(["--access-key", "bench", "--secret-key", "bench-secret"])
                .arg(&buckets)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start s3s-fs: {e}"))?,
        );
        let backends =
            Backends { children, pg_port, s3: format!("http://127.0.0.1:{s3_port}"), _dir: dir };
        for _ in 0..100 {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &pg_port.to_string()])
                .status();
            if ready.is_ok_and(|s| s.success()) {
                return Ok(backends);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("postgres did not start".into())
    }

    /// A new database's URL.
    fn database(&self, name: &str) -> Result<String, String> {
        run(Command::new("psql")
            .args(["-q", "-h", "127.0.0.1", "-p", &self.pg_port.to_string(), "-U", "berth"])
            .args(["-d", "postgres", "-c", &format!("CREATE DATABASE {name}")]))?;
        Ok(format!("postgres://berth@127.0.0.1:{}/{name}", self.pg_port))
    }
}

/// Starts setup `which` (an index into [`SETUPS`]) fresh.
fn start(which: usize, berth: &Path, backends: &Backends, run_id: usize) -> Result<Server, String> {
    if which == 0 {
        return Server::berth(berth);
    }
    // The process environment carries the S3 credentials to the replicas.
    std::env::set_var("AWS_ACCESS_KEY_ID", "bench");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "bench-secret");
    std::env::set_var("AWS_REGION", "us-east-1");
    let database = backends.database(&format!("bench_{run_id}"))?;
    let prefix = format!("s3://bench/run{run_id}");
    let flags = [
        "--metadata",
        &database,
        "--blobs",
        &prefix,
        "--s3-endpoint",
        &backends.s3,
        "--token-key",
        "YmVuY2gtc2NhbGUtb3V0LXNoYXJlZC10b2tlbi1rZXk=",
    ];
    let first = Server::berth_with(berth, &flags)?;
    if which == 1 {
        return Ok(first);
    }
    Ok(first.with_replicas(vec![Server::berth_with(berth, &flags)?]))
}

/// The figures, one line per workload and setup, over `rounds` rounds.
pub fn figures(berth: &Path, rounds: usize) -> Result<Vec<String>, String> {
    let backends = Backends::start()?;
    let mut samples: Vec<(String, &'static str, usize, f64)> = Vec::new();
    let mut run_id = 0;
    for round in 0..rounds {
        let blob = Blob::new(round as u64 + 7, 256 << 20);
        for (which, setup) in SETUPS.iter().enumerate() {
            eprintln!("round {}: {setup}", round + 1);
            run_id += 1;
            let server = start(which, berth, &backends, run_id)?;
            create_repositories(&server, &["bench/small", "bench/big", "bench/parallel"])?;
            workloads::push_small_image(&server, "bench/small", "v1")?;
            for method in ["HEAD", "GET"] {
                let load = workloads::hammer(
                    &server,
                    method,
                    "/v2/bench/small/manifests/v1",
                    16,
                    Duration::from_secs(3),
                )?;
                samples.push((format!("manifest {method} c=16"), "req/s", which, load.per_second));
                samples.push((format!("manifest {method} c=16 p99"), "ms", which, ms(load.p99)));
            }
            let d = workloads::push_monolithic(&server, "bench/big", &blob)?;
            samples.push(("push 256 MiB monolithic".into(), "MB/s", which, mb_per_s(blob.size, d)));
            let d = workloads::push_chunked(&server, "bench/big", &blob, 16 << 20)?;
            samples.push((
                "push 256 MiB in 16 MiB chunks".into(),
                "MB/s",
                which,
                mb_per_s(blob.size, d),
            ));
            let d = workloads::pull(&server, "bench/big", &blob)?;
            samples.push(("pull 256 MiB".into(), "MB/s", which, mb_per_s(blob.size, d)));
            let d = workloads::parallel_small_blobs(&server, "bench/parallel", 200, 64 << 10, 32)?;
            samples.push((
                "200 blobs of 64 KiB, 32 parallel uploads".into(),
                "s",
                which,
                d.as_secs_f64(),
            ));
        }
    }
    let mut lines = vec![format!(
        "| workload | unit | {} | {} | {} |\n|---|---|---|---|---|",
        SETUPS[0], SETUPS[1], SETUPS[2]
    )];
    let mut metrics: Vec<(String, &str)> = Vec::new();
    for (metric, unit, _, _) in &samples {
        if !metrics.iter().any(|(m, _)| m == metric) {
            metrics.push((metric.clone(), unit));
        }
    }
    for (metric, unit) in metrics {
        let cells: Vec<String> = (0..SETUPS.len())
            .map(|which| {
                let values: Vec<f64> = samples
                    .iter()
                    .filter(|(m, _, w, _)| *m == metric && *w == which)
                    .map(|(_, _, _, v)| *v)
                    .collect();
                match stats(&values) {
                    Some((m, lo, hi)) => format!("{} ({}-{})", fmt(m), fmt(lo), fmt(hi)),
                    None => "-".into(),
                }
            })
            .collect();
        lines.push(format!("| {metric} | {unit} | {} |", cells.join(" | ")));
    }
    Ok(lines)
}
