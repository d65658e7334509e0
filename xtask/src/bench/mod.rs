//! `cargo xtask bench`: berth side by side with CNCF distribution (Debian
//! `docker-registry`), same workloads, alternating, several rounds; prints a table of
//! median, min, max and the berth/distribution ratio, then ECR API figures for berth.

pub mod api;
mod limits;
mod many_uploads;
mod pull_through;
mod scale_out;
mod scanning;
pub(crate) mod servers;
mod slow_senders;
pub(crate) mod workloads;

use servers::{find_tool, Kind, Server};
use std::path::Path;
use std::time::{Duration, Instant};
use workloads::Blob;

const GIB: u64 = 1 << 30;
const INSTALL: &str = "apt-get install -y docker-registry skopeo";

/// One measured figure over the rounds.
struct Sample {
    metric: String,
    unit: &'static str,
    higher_is_better: bool,
    values: Vec<(Kind, f64)>,
}

#[derive(Default)]
pub(crate) struct Samples(Vec<Sample>);

impl Samples {
    /// The median of `metric` for `kind`, if measured.
    pub(crate) fn median(&self, metric: &str, kind: Kind) -> Option<f64> {
        let sample = self.0.iter().find(|s| s.metric == metric)?;
        let values: Vec<f64> =
            sample.values.iter().filter(|(k, _)| *k == kind).map(|(_, v)| *v).collect();
        stats(&values).map(|(median, _, _)| median)
    }

    fn add(
        &mut self, metric: &str, unit: &'static str, higher_is_better: bool, kind: Kind, value: f64,
    ) {
        match self.0.iter_mut().find(|s| s.metric == metric) {
            Some(s) => s.values.push((kind, value)),
            None => self.0.push(Sample {
                metric: metric.to_string(),
                unit,
                higher_is_better,
                values: vec![(kind, value)],
            }),
        }
    }
}

fn stats(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    Some((v[v.len() / 2], v[0], v[v.len() - 1]))
}

fn fmt(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn create_repositories(server: &Server, names: &[&str]) -> Result<(), String> {
    if server.kind == Kind::Berth {
        let agent = ureq::Agent::new();
        for name in names {
            api::call(
                &agent,
                &server.base,
                "CreateRepository",
                &serde_json::json!({ "repositoryName": name }),
            )?;
        }
    }
    Ok(())
}

fn one_server(
    server: &Server, samples: &mut Samples, blobs: (&Blob, &Blob), skopeo: &Path, layout: &Path,
) -> Result<(), String> {
    let kind = server.kind;
    samples.add("cold start to first answer", "ms", false, kind, ms(server.cold_start));
    create_repositories(server, &["bench/small", "bench/big"])?;
    workloads::push_small_image(server, "bench/small", "v1")?;
    for method in ["HEAD", "GET"] {
        for concurrency in [1, 16, 64] {
            let load = workloads::hammer(
                server,
                method,
                "/v2/bench/small/manifests/v1",
                concurrency,
                Duration::from_secs(3),
            )?;
            samples.add(
                &format!("manifest {method} c={concurrency}"),
                "req/s",
                true,
                kind,
                load.per_second,
            );
            samples.add(
                &format!("manifest {method} c={concurrency} p50"),
                "ms",
                false,
                kind,
                ms(load.p50),
            );
            samples.add(
                &format!("manifest {method} c={concurrency} p99"),
                "ms",
                false,
                kind,
                ms(load.p99),
            );
        }
    }
    samples.add(
        "peak RSS through the manifest phase",
        "MiB",
        false,
        kind,
        server.peak_rss() as f64 / 1048576.0,
    );
    transfers(server, samples, blobs)?;
    small_blobs(server, samples, skopeo, layout)
}

/// The 1 GiB pushes (monolithic and chunked) and pulls (the bench's client and curl).
fn transfers(server: &Server, samples: &mut Samples, blobs: (&Blob, &Blob)) -> Result<(), String> {
    let kind = server.kind;
    let (big, chunked) = blobs;
    let d = workloads::push_monolithic(server, "bench/big", big)?;
    samples.add("push 1 GiB monolithic", "MB/s", true, kind, mb_per_s(big.size, d));
    let d = workloads::push_chunked(server, "bench/big", chunked, 16 << 20)?;
    samples.add("push 1 GiB in 16 MiB chunks", "MB/s", true, kind, mb_per_s(chunked.size, d));
    let d = workloads::pull(server, "bench/big", big)?;
    samples.add("pull 1 GiB", "MB/s", true, kind, mb_per_s(big.size, d));
    let d = workloads::pull_with_curl(server, "bench/big", big)?;
    samples.add("pull 1 GiB with curl", "MB/s", true, kind, mb_per_s(big.size, d));
    samples.add(
        "peak RSS through the 1 GiB pushes",
        "MiB",
        false,
        kind,
        server.peak_rss() as f64 / 1048576.0,
    );
    Ok(())
}

/// Many small blobs: skopeo's image of 200 layers, and 200 blobs through 32 parallel
/// uploads, each blob acknowledged only once it is durable.
fn small_blobs(
    server: &Server, samples: &mut Samples, skopeo: &Path, layout: &Path,
) -> Result<(), String> {
    let kind = server.kind;
    create_repositories(server, &["bench/skopeo", "bench/parallel"])?;
    let d = workloads::skopeo_push(skopeo, server, layout, "bench/skopeo")?;
    samples.add("skopeo push, 200 layers of 64 KiB", "s", false, kind, d.as_secs_f64());
    let d = workloads::parallel_small_blobs(server, "bench/parallel", 200, 64 << 10, 32)?;
    samples.add("200 blobs of 64 KiB, 32 parallel uploads", "s", false, kind, d.as_secs_f64());
    Ok(())
}

/// ECR API figures, berth only.
fn api_figures(binary: &Path) -> Result<Vec<String>, String> {
    let server = Server::berth(binary)?;
    let agent = ureq::Agent::new();
    let mut lines = Vec::new();
    api::call(
        &agent,
        &server.base,
        "CreateRepository",
        &serde_json::json!({"repositoryName": "api"}),
    )?;

    let calls = 2000;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let agent = ureq::Agent::new();
                for _ in 0..calls / 8 {
                    let _ = api::call(
                        &agent,
                        &server.base,
                        "GetAuthorizationToken",
                        &serde_json::json!({}),
                    );
                }
            });
        }
    });
    lines.push(format!(
        "GetAuthorizationToken: {:.0} calls/s (8 clients)",
        calls as f64 / started.elapsed().as_secs_f64()
    ));

    let images = 10_000;
    let template = workloads::small_manifest(&server, "api", "")?;
    let started = Instant::now();
    let failures = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for worker in 0..8 {
            let template = &template;
            let failures = &failures;
            let server = &server;
            scope.spawn(move || {
                let agent = ureq::Agent::new();
                for i in (worker..images).step_by(8) {
                    let manifest = format!("{},\"annotations\":{{\"n\":\"{i}\"}}}}", template.trim_end_matches('}'));
                    let input = serde_json::json!({"repositoryName": "api", "imageManifest": manifest, "imageTag": format!("t{i}")});
                    if api::call(&agent, &server.base, "PutImage", &input).is_err() {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let failed = failures.load(std::sync::atomic::Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} PutImage calls failed"));
    }
    lines.push(format!(
        "PutImage: {:.0} images/s (8 clients, {images} images)",
        images as f64 / started.elapsed().as_secs_f64()
    ));

    let started = Instant::now();
    let mut token: Option<String> = None;
    let mut seen = 0;
    loop {
        let mut input = serde_json::json!({"repositoryName": "api", "maxResults": 1000});
        if let Some(t) = &token {
            input["nextToken"] = t.clone().into();
        }
        let page = api::call(&agent, &server.base, "DescribeImages", &input)?;
        seen += page["imageDetails"].as_array().map(Vec::len).unwrap_or(0);
        token = page["nextToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    if seen != images {
        return Err(format!("DescribeImages paged through {seen} images, not {images}"));
    }
    lines.push(format!(
        "DescribeImages, all {images} images in pages of 1000: {:.0} ms",
        ms(started.elapsed())
    ));
    Ok(lines)
}

/// Which workloads run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    All,
    /// Only the pull-through cache (`--pull-through`).
    PullThrough,
    /// Only image scanning, berth alone (`--scan`).
    Scanning,
    /// Only the slow ECR senders, berth alone (`--slow-senders`).
    SlowSenders,
    /// Only 1,000 idle connections and 1,000 concurrent uploads, both servers
    /// (`--many-uploads`).
    ManyUploads,
    /// Only the small blobs (skopeo's 200 layers and 32 parallel uploads), both servers
    /// (`--small-blobs`).
    SmallBlobs,
    /// berth on SQLite and files, on PostgreSQL and S3, and on two replicas of those
    /// (`--scale-out`).
    ScaleOut,
    /// Only the 1 GiB pushes and pulls with the machine's limits, both servers
    /// (`--transfers`).
    Transfers,
}

/// Runs the benchmark.
pub fn run(root: &Path, rounds: usize, selection: Selection) -> Result<(), String> {
    let registry = find_tool("docker-registry").ok_or_else(|| {
        format!("docker-registry (CNCF distribution) is not installed: run `{INSTALL}`")
    })?;
    let skopeo =
        find_tool("skopeo").ok_or_else(|| format!("skopeo is not installed: run `{INSTALL}`"))?;
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args(["build", "--release", "-p", "berth-server"])
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("the release build failed".into());
    }
    let berth = root.join("target/release/berth");
    let alone = match selection {
        Selection::Scanning => Some(scanning::figures(&berth, rounds)?),
        Selection::SlowSenders => Some(slow_senders::figures(&berth)?),
        Selection::ManyUploads => Some(many_uploads::figures(&berth, &registry)?),
        Selection::ScaleOut => Some(scale_out::figures(&berth, rounds)?),
        _ => None,
    };
    if let Some(lines) = alone {
        println!("\n{}", machine());
        for line in lines {
            println!("- {line}");
        }
        return Ok(());
    }
    let work = servers::tempfile_dir::Dir::new("bench-layout").map_err(|e| e.to_string())?;
    workloads::build_layout(work.path(), 200, 64 * 1024)?;

    let mut samples = Samples::default();
    let mut machine_limits = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Kind::Distribution, Kind::Berth]
        } else {
            [Kind::Berth, Kind::Distribution]
        };
        if selection == Selection::SmallBlobs {
            for kind in order {
                eprintln!("round {}: {} small blobs", round + 1, kind.name());
                let server = Server::start(kind, &berth, &registry)?;
                small_blobs(&server, &mut samples, &skopeo, work.path())?;
            }
            continue;
        }
        eprintln!("round {} of {rounds}: generating two 1 GiB blobs", round + 1);
        let big = Blob::new(round as u64 * 2 + 1, GIB);
        if matches!(selection, Selection::All | Selection::Transfers) {
            eprintln!("round {}: machine limits", round + 1);
            machine_limits.push(limits::measure(work.path(), &big)?);
        }
        let chunked = Blob::new(round as u64 * 2 + 2, GIB);
        if selection == Selection::Transfers {
            for kind in order {
                eprintln!("round {}: {} transfers", round + 1, kind.name());
                let server = Server::start(kind, &berth, &registry)?;
                create_repositories(&server, &["bench/big"])?;
                transfers(&server, &mut samples, (&big, &chunked))?;
            }
            continue;
        }
        eprintln!("round {}: pull-through", round + 1);
        pull_through::round(&mut samples, (&registry, &berth), &big, order)?;
        if selection == Selection::PullThrough {
            continue;
        }
        for kind in order {
            eprintln!("round {}: {}", round + 1, kind.name());
            let server = Server::start(kind, &berth, &registry)?;
            one_server(&server, &mut samples, (&big, &chunked), &skopeo, work.path())?;
        }
    }
    let api = match selection {
        Selection::All => {
            let mut lines = api_figures(&berth)?;
            lines.extend(scanning::figures(&berth, rounds)?);
            lines.extend(slow_senders::figures(&berth)?);
            lines.extend(many_uploads::figures(&berth, &registry)?);
            lines
        }
        Selection::PullThrough
        | Selection::Scanning
        | Selection::SlowSenders
        | Selection::ManyUploads
        | Selection::ScaleOut
        | Selection::SmallBlobs
        | Selection::Transfers => Vec::new(),
    };

    println!("\n{}", machine());
    println!("rounds: {rounds}; each figure is the median (min-max) over the rounds\n");
    println!("| workload | unit | distribution | berth | berth / distribution |");
    println!("|---|---|---|---|---|");
    for s in &samples.0 {
        let of = |k: Kind| {
            s.values.iter().filter(|(kind, _)| *kind == k).map(|(_, v)| *v).collect::<Vec<_>>()
        };
        let (d, b) = (stats(&of(Kind::Distribution)), stats(&of(Kind::Berth)));
        let cell = |x: Option<(f64, f64, f64)>| match x {
            Some((m, lo, hi)) => format!("{} ({}-{})", fmt(m), fmt(lo), fmt(hi)),
            None => "-".into(),
        };
        let ratio = match (d, b) {
            (Some((dm, ..)), Some((bm, ..))) if dm > 0.0 => format!("{:.2}x", bm / dm),
            _ => "-".into(),
        };
        let direction = if s.higher_is_better { "higher is better" } else { "lower is better" };
        println!(
            "| {} | {} ({direction}) | {} | {} | {ratio} |",
            s.metric,
            s.unit,
            cell(d),
            cell(b)
        );
    }
    println!("\nAgainst the machine's limits:");
    for line in limits::fractions(&samples, &machine_limits) {
        println!("- {line}");
    }
    println!("\nECR API and scanning (berth only):");
    for line in api {
        println!("- {line}");
    }
    Ok(())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("machine: {cpus} CPUs, {model}")
}
