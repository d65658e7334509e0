//! `berth fsck` against a real data dir: clean while the server runs, then each kind of
//! damage reported, and `--repair` removing only what nothing can reach.

mod support;

use std::process::Command;
use support::{
    create_repository, default_client, push_one_layer, registry_host, registry_password, Berth,
    RawRegistry,
};

fn fsck(data_dir: &std::path::Path, repair: bool) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command.arg("fsck").arg("--data-dir").arg(data_dir).env("BERTH_LOG", "warn");
    if repair {
        command.arg("--repair");
    }
    let output = command.output().expect("berth fsck runs");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

fn blob_file(data_dir: &std::path::Path, digest: &str) -> std::path::PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    data_dir.join("blobs/sha256").join(&hex[..2]).join(hex)
}

#[tokio::test]
async fn fsck_reports_damage_and_repairs_only_the_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let berth = Berth::start_local(&data, &[]);
    let ecr = default_client(&berth);
    create_repository(&ecr, "app").await;
    let host = registry_host(&berth);
    push_one_layer(&ecr, &format!("{host}/app:v1"), b"the layer").await;
    push_one_layer(&ecr, &format!("{host}/app:v2"), b"another layer").await;

    let (code, report) = fsck(&data, false);
    assert_eq!(code, 0, "clean while the server runs:\n{report}");
    assert!(report.contains("blobs hashed") && report.ends_with("clean\n"), "{report}");
    // An upload session, whose bytes a crash during its commit would leave behind.
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    let started =
        raw.request(reqwest::Method::POST, "/v2/app/blobs/uploads/").send().await.unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let session = location.rsplit('/').next().unwrap().to_string();
    assert!(berth.terminate(), "berth stops cleanly");
    std::fs::remove_file(data.join("uploads").join(&session)).unwrap();

    // A corrupt blob, a lost blob, and upload bytes nobody owns.
    let layer = support::digest_of(b"the layer");
    let lost = support::digest_of(b"another layer");
    std::fs::write(blob_file(&data, &layer), b"the lazer").unwrap();
    std::fs::remove_file(blob_file(&data, &lost)).unwrap();
    std::fs::write(data.join("uploads/stray"), b"half a push").unwrap();
    let (code, report) = fsck(&data, false);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains(&format!("corrupt blob: {layer}")), "{report}");
    assert!(
        report.contains(&format!("link without bytes: 000000000000/us-east-1/app -> {lost}")),
        "{report}"
    );
    assert!(
        report.contains(&format!("-> {lost}")) && report.contains("missing blob of a manifest"),
        "{report}"
    );
    assert!(report.contains("upload without a session: stray"), "{report}");
    assert!(report.contains(&format!("upload session without bytes: {session}")), "{report}");
    assert!(data.join("uploads/stray").exists(), "read-only without --repair");

    let (_, repaired) = fsck(&data, true);
    assert!(repaired.contains("repaired: removed upload bytes stray"), "{repaired}");
    assert!(!data.join("uploads/stray").exists());
    assert!(
        repaired.contains(&format!("repaired: removed upload session {session}")),
        "{repaired}"
    );
    let (_, again) = fsck(&data, false);
    assert!(!again.contains("upload session without bytes"), "{again}");
    assert!(blob_file(&data, &layer).exists(), "a corrupt blob is reported, not removed");
}
