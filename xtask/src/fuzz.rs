//! `cargo xtask fuzz [--seconds N] [--target NAME]`: coverage-guided fuzzing on the stable
//! toolchain. The targets (`conformance/fuzz_targets/`, bodies in
//! `berth_conformance::hostile`) are built with libFuzzer and LLVM's SanitizerCoverage
//! passes, which stable rustc enables through `-C passes` and `-C llvm-args` (no
//! `-Z` flags, so no nightly), into their own target dir. Each runs for N seconds from its
//! checked-in corpus (`conformance/fuzz/corpus/<target>/`, read-only here); new inputs go
//! to a scratch corpus, crashes to `target/fuzz/artifacts/<target>/`, and a crash fails the
//! command. Keep a crash as a corpus file (and fix it): the corpus tests then replay it.

use std::path::Path;
use std::process::Command;

/// The targets, as named in `berth_conformance::hostile::TARGETS`.
const TARGETS: [&str; 5] = ["oci_route", "manifest", "byte_ranges", "ecr_input", "policies"];

/// What makes rustc instrument every crate for libFuzzer (as cargo-fuzz does, minus the
/// sanitizer, which needs nightly).
const COVERAGE_FLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    -Cdebug-assertions \
    -Coverflow-checks \
    --cfg fuzzing";

/// Builds the targets and runs each (or `only`) for `seconds`. With `quick_build` the
/// dependencies are not optimized: the build takes half the time and the targets run
/// several times slower, the right trade for CI's short runs.
pub fn run(root: &Path, seconds: u64, only: Option<&str>, quick_build: bool) -> Result<(), String> {
    let targets: Vec<&str> = TARGETS.into_iter().filter(|t| only.is_none_or(|o| o == *t)).collect();
    if targets.is_empty() {
        return Err(format!("no fuzz target named {only:?}; they are {TARGETS:?}"));
    }
    let target_dir = root.join(if quick_build { "target/fuzz-quick" } else { "target/fuzz" });
    // With an explicit --target, RUSTFLAGS reach only the target's code, not build
    // scripts and proc macros (which cannot link libFuzzer's hooks).
    let host = host_triple()?;
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build
        .current_dir(root)
        .env("RUSTFLAGS", COVERAGE_FLAGS)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        // The dev profile (dependencies at opt-level 1): a release build of the whole tree
        // with instrumentation takes twice as long, for fuzzing that is not twice as good
        // over CI's short runs.
        .args(["build", "-p", "berth-conformance"])
        .args(["--features", "libfuzzer", "--bins", "--target", &host, "--target-dir"])
        .arg(&target_dir);
    if quick_build {
        build.args([
            "--config",
            "profile.dev.package.\"*\".opt-level=0",
            "--config",
            "profile.dev.debug=false",
        ]);
    }
    let status = build.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("the fuzz targets did not build (libFuzzer needs a C++ compiler: \
             `apt-get install -y g++`)"
            .into());
    }
    let mut failed = Vec::new();
    for target in targets {
        let corpus = root.join("conformance/fuzz/corpus").join(target);
        let scratch = target_dir.join("corpus").join(target);
        let artifacts = target_dir.join("artifacts").join(target);
        for dir in [&scratch, &artifacts] {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        eprintln!("fuzzing {target} for {seconds} s");
        let binary = target_dir.join(&host).join(format!("debug/fuzz_{target}"));
        let status = Command::new(binary)
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=2048")
            .arg("-max_len=65536")
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg(&scratch)
            .arg(&corpus)
            .status()
            .map_err(|e| format!("cannot run the {target} fuzzer: {e}"))?;
        if !status.success() {
            failed.push(target);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("the fuzzers found crashes in {failed:?}: see target/fuzz/artifacts/"))
    }
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String, String> {
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| "rustc -vV names no host".to_string())
}
