//! Project automation, run as `cargo xtask <task>`.
//!
//! - `codegen`: regenerate generated/ from model/.
//! - `codegen --check`: exit non-zero when generated/ is not what codegen would write.
//! - `e2e`: end-to-end tests with skopeo, podman and docker against the real binary.
//! - `conformance [--cases N]`: a long property-test campaign (release build).
//! - `bench [--pull-through | --scan | --slow-senders | --many-uploads] [--rounds N]`: berth against CNCF distribution, side
//!   by side (see BENCHMARKS.md); `--pull-through` runs only the pull-through cache
//!   workload, `--scan` only image scanning, `--slow-senders` only hostile slow ECR
//!   senders (both berth alone), `--many-uploads` only 1,000 connections and uploads.
//! - `faults [--runs N] [--seed S] [--disk-full]`: the fault-injection campaign (kill -9
//!   at random moments, or a disk that fills up); see RELIABILITY.md.
//! - `fuzz [--seconds N] [--target NAME] [--quick-build]`: coverage-guided fuzzing of the parsers of client
//!   input (libFuzzer on the stable toolchain), N seconds per target.

mod bench;
mod faults;
mod fuzz;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = workspace_root();
    match args.as_slice() {
        ["codegen"] => match berth_codegen::write(&root) {
            Ok(changed) if changed.is_empty() => {
                println!("generated/ is up to date");
                ExitCode::SUCCESS
            }
            Ok(changed) => {
                for p in changed {
                    println!("wrote {}", p.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        ["codegen", "--check"] => match berth_codegen::check(&root) {
            Ok(stale) if stale.is_empty() => {
                println!("generated/ is up to date");
                ExitCode::SUCCESS
            }
            Ok(stale) => {
                for p in stale {
                    eprintln!("stale: {}", p.display());
                }
                fail("generated/ differs from model/: run `cargo xtask codegen` and commit the result")
            }
            Err(e) => fail(&e.to_string()),
        },
        ["e2e"] => e2e(&root),
        ["bench", rest @ ..] => {
            let selection = match rest.first() {
                Some(&"--pull-through") => bench::Selection::PullThrough,
                Some(&"--scan") => bench::Selection::Scanning,
                Some(&"--slow-senders") => bench::Selection::SlowSenders,
                Some(&"--many-uploads") => bench::Selection::ManyUploads,
                Some(&"--small-blobs") => bench::Selection::SmallBlobs,
                Some(&"--transfers") => bench::Selection::Transfers,
                Some(&"--scale-out") => bench::Selection::ScaleOut,
                _ => bench::Selection::All,
            };
            let rest = if selection == bench::Selection::All {
                rest
            } else {
                &rest[1..]
            };
            match rest {
                [] => report(bench::run(&root, 3, selection)),
                ["--rounds", n] => match n.parse::<usize>() {
                    Ok(n) if n > 0 => report(bench::run(&root, n, selection)),
                    _ => fail("--rounds takes a positive number"),
                },
                _ => fail("usage: cargo xtask bench [--pull-through | --scan | --slow-senders | --many-uploads | --small-blobs | --transfers | --scale-out] [--rounds N]"),
            }
        }
        ["faults", rest @ ..] => faults_command(&root, rest),
        ["fuzz", rest @ ..] => fuzz_command(&root, rest),
        ["conformance"] => conformance(&root, None),
        ["conformance", "--cases", n] => match n.parse::<u32>() {
            Ok(n) if n > 0 => conformance(&root, Some(n)),
            _ => fail("--cases takes a positive number"),
        },
        _ => fail("usage: cargo xtask codegen [--check] | cargo xtask e2e | cargo xtask conformance [--cases N] | cargo xtask bench [--pull-through | --scan | --slow-senders | --many-uploads | --small-blobs | --transfers | --scale-out] [--rounds N]"),
    }
}

/// The container tools the e2e tests drive, and how to get them.
const E2E_TOOLS: &[&str] = &[
    "skopeo",
    "podman",
    "dockerd",
    "docker",
    "tar",
    "docker-registry",
    "htpasswd",
    "openssl",
    "gzip",
    "aws",
    "chromium",
    "chromedriver",
    "s3s-fs",
];
const E2E_INSTALL: &str = "apt-get install -y skopeo podman docker.io docker-registry apache2-utils openssl awscli chromium chromium-driver` as root, and `cargo install s3s-fs --version 0.14.1 --locked --features binary";

/// Checks the tools are there (naming the install step when not), then runs the e2e tests.
fn e2e(root: &Path) -> ExitCode {
    let path = std::env::var("PATH").unwrap_or_default();
    let missing: Vec<&str> = E2E_TOOLS
        .iter()
        .copied()
        .filter(|tool| {
            !path
                .split(':')
                .chain(["/usr/sbin", "/sbin"])
                .any(|dir| Path::new(dir).join(tool).is_file())
        })
        .collect();
    if !missing.is_empty() {
        return fail(&format!("missing {}: run `{E2E_INSTALL}`", missing.join(", ")));
    }
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args([
                "test",
                "-p",
                "berth-server",
                "--features",
                "e2e",
                "--test",
                "e2e_clients",
                "--test",
                "e2e_registries",
                "--test",
                "e2e_pull_through",
                "--test",
                "e2e_scanning",
                "--test",
                "e2e_signing",
                "--test",
                "e2e_memory",
                "--test",
                "e2e_console",
                "--test",
                "e2e_s3",
                "--test",
                "e2e_replicas",
                "--",
                "--nocapture",
            ])
            .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => fail(&format!("e2e tests failed ({s})")),
        Err(e) => fail(&format!("cannot run cargo: {e}")),
    }
}

/// Runs the conformance sequences in a release build, `cases` of them (or the default).
fn conformance(root: &Path, cases: Option<u32>) -> ExitCode {
    let mut command =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root).args([
        "test",
        "--release",
        "-p",
        "berth-conformance",
        "--test",
        "sequences",
        "--",
        "--nocapture",
    ]);
    if let Some(n) = cases {
        command.env("BERTH_CONFORMANCE_CASES", n.to_string());
    }
    match command.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => fail(&format!("conformance failed ({s})")),
        Err(e) => fail(&format!("cannot run cargo: {e}")),
    }
}

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("xtask: {message}");
    ExitCode::FAILURE
}

/// xtask lives one level below the workspace root.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).to_path_buf()
}

/// `faults [--runs N] [--seed S] [--disk-full]`.
fn faults_command(root: &Path, args: &[&str]) -> ExitCode {
    let (mut runs, mut seed, mut disk_full) = (100usize, 1u64, false);
    let usage = "usage: cargo xtask faults [--runs N] [--seed S] [--disk-full]";
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if *arg == "--disk-full" {
            disk_full = true;
            continue;
        }
        match (*arg, args.next().map(|v| v.parse::<u64>())) {
            ("--runs", Some(Ok(n))) if n > 0 => runs = n as usize,
            ("--seed", Some(Ok(n))) => seed = n,
            _ => return fail(usage),
        }
    }
    report(faults::run(root, runs, seed, disk_full))
}

/// `fuzz [--seconds N] [--target NAME] [--quick-build]`.
fn fuzz_command(root: &Path, args: &[&str]) -> ExitCode {
    let (mut seconds, mut target, mut quick) = (60u64, None, false);
    let usage = "usage: cargo xtask fuzz [--seconds N] [--target NAME] [--quick-build]";
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if *arg == "--quick-build" {
            quick = true;
            continue;
        }
        match (*arg, args.next()) {
            ("--seconds", Some(n)) if n.parse::<u64>().is_ok_and(|n| n > 0) => {
                seconds = n.parse().unwrap_or(60)
            }
            ("--target", Some(name)) => target = Some(*name),
            _ => return fail(usage),
        }
    }
    report(fuzz::run(root, seconds, target, quick))
}
