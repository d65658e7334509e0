//! What clients can make berth hold: 200 distinct 4 MiB manifests pushed and read back
//! leave berth's peak memory under its cache budget plus a fixed margin, and the peak does
//! not grow with the number of manifests (large manifests are never cached; the caches are
//! bounded by bytes). Heavy (800 MiB through the metadata store): run by `cargo xtask e2e`.

mod support;

use reqwest::Method;
use support::images::OCI_INDEX;
use support::{create_repository, default_client, registry_password, Berth, RawRegistry};

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    kib / 1024.0
}

#[tokio::test]
async fn large_manifests_do_not_grow_memory_past_the_cache_budget() {
    const BUDGET_MIB: f64 = 16.0;
    // What one 4 MiB request holds while it is handled (its body, the parsed manifest, the
    // metadata store's copy): berth's peak was about 90 MiB in all (it returns buffers over
    // 2 MiB to the system; without that, glibc kept 150-190 MiB).
    const MARGIN_MIB: f64 = 128.0;
    let dir = tempfile::tempdir().unwrap();
    let budget = format!("{}", (BUDGET_MIB as usize) << 20);
    let berth = Berth::start(dir.path(), &["--cache-bytes", &budget]);
    let ecr = default_client(&berth);
    create_repository(&ecr, "big").await;
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    let padding = "x".repeat((4 << 20) - 200);
    let mut early_peak = 0.0;
    for i in 0..200 {
        if i == 20 {
            early_peak = peak_rss_mib(berth.pid());
        }
        // A distinct index of just under ECR's 4 MiB limit (no blobs needed).
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[],"annotations":{{"n":"{i}","pad":"{padding}"}}}}"#
        );
        let put = raw
            .request(Method::PUT, &format!("/v2/big/manifests/t{i}"))
            .header("Content-Type", OCI_INDEX)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201, "manifest {i}");
        let got = raw.get_manifest(&format!("/v2/big/manifests/t{i}"), OCI_INDEX).await;
        assert_eq!(got.bytes().await.unwrap().len(), body.len());
    }
    let peak = peak_rss_mib(berth.pid());
    eprintln!("peak RSS: {early_peak:.1} MiB after 20 manifests, {peak:.1} MiB after 200");
    assert!(
        peak < BUDGET_MIB + MARGIN_MIB,
        "peak RSS {peak:.1} MiB after 800 MiB of manifests; the bound is {BUDGET_MIB} MiB of cache plus {MARGIN_MIB} MiB"
    );
    assert!(
        peak - early_peak < 32.0,
        "the peak grew from {early_peak:.1} MiB (20 manifests) to {peak:.1} MiB (200)"
    );
}
