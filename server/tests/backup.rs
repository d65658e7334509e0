//! `berth export` while the server runs and `berth import` into a new data dir: the
//! repositories, images, tags, policies and blobs come back, tokens stay valid, and a
//! corrupt blob or an occupied data dir is refused with nothing written.

mod support;

use std::path::Path;
use std::process::Command;
use support::*;

/// `berth <subcommand> --data-dir <data> <flag> <file>`: success, and all it said.
fn berth(subcommand: &str, data: &Path, flag: &str, file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([subcommand, "--data-dir"])
        .arg(data)
        .arg(flag)
        .arg(file)
        .output()
        .unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), said)
}

fn export(data: &Path, archive: &Path) -> (bool, String) {
    berth("export", data, "--out", archive)
}

fn import(archive: &Path, data: &Path) -> (bool, String) {
    berth("import", data, "--in", archive)
}

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["ecr:BatchGetImage"]}]}"#;

/// Every (repository, tag, digest) of the registry, sorted.
async fn image_digests(ecr: &aws_sdk_ecr::Client) -> Vec<(String, String, String)> {
    let mut all = Vec::new();
    for repository in ["one", "two"] {
        let mut pages = ecr.describe_images().repository_name(repository).into_paginator().send();
        while let Some(page) = pages.next().await {
            for image in page.unwrap().image_details() {
                let digest = image.image_digest().unwrap().to_string();
                for tag in image.image_tags() {
                    all.push((repository.to_string(), tag.clone(), digest.clone()));
                }
            }
        }
    }
    all.sort();
    all
}

#[tokio::test]
async fn export_while_running_then_import_brings_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let original = Berth::start_local(&data, &[]);
    let ecr = default_client(&original);
    let host = registry_host(&original);
    for name in ["one", "two"] {
        create_repository(&ecr, name).await;
        push_one_layer(&ecr, &format!("{host}/{name}:v1"), name.as_bytes()).await;
    }
    // 100 images in all: 98 more, each with a layer of its own.
    for i in 0..98 {
        let layer = format!("layer of image {i}");
        push_one_layer(&ecr, &format!("{host}/two:image-{i}"), layer.as_bytes()).await;
    }
    let before = image_digests(&ecr).await;
    assert_eq!(before.len(), 100);
    ecr.set_repository_policy().repository_name("one").policy_text(POLICY).send().await.unwrap();
    let password = registry_password(&ecr).await;

    let archive = dir.path().join("backup.tar");
    let (ok, said) = export(&data, &archive);
    assert!(ok, "{said}");
    assert!(said.contains("exported"), "{said}");

    let restored_dir = dir.path().join("restored");
    let (ok, said) = import(&archive, &restored_dir);
    assert!(ok, "{said}");
    assert!(said.contains("every digest verified"), "{said}");
    let restored = Berth::start_local(&restored_dir, &[]);
    let ecr = default_client(&restored);
    let names: Vec<String> = ecr
        .describe_repositories()
        .send()
        .await
        .unwrap()
        .repositories()
        .iter()
        .filter_map(|r| r.repository_name().map(str::to_string))
        .collect();
    assert_eq!(names, ["one", "two"]);
    assert_eq!(image_digests(&ecr).await, before, "every image, with its digest");
    let policy = ecr.get_repository_policy().repository_name("one").send().await.unwrap();
    assert!(policy.policy_text().unwrap().contains("111122223333"));
    // The token issued before the export still opens the restored registry, and the
    // layers come back with their digests.
    let raw = RawRegistry::new(&restored, &password);
    for name in ["one", "two"] {
        let tags = raw
            .request(reqwest::Method::GET, &format!("/v2/{name}/tags/list"))
            .send()
            .await
            .unwrap();
        assert_eq!(tags.status(), 200);
        let digest = digest_of(name.as_bytes());
        let blob = raw
            .request(reqwest::Method::GET, &format!("/v2/{name}/blobs/{digest}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(digest_of(&blob), digest);
    }
    for (repository, tag, digest) in &before {
        let manifest = raw
            .get_manifest(
                &format!("/v2/{repository}/manifests/{tag}"),
                "application/vnd.oci.image.manifest.v1+json",
            )
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(&digest_of(&manifest), digest, "{repository}:{tag}");
    }
    drop(original);
}

#[tokio::test]
async fn a_corrupt_blob_or_an_occupied_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let original = Berth::start_local(&data, &[]);
    let ecr = default_client(&original);
    create_repository(&ecr, "app").await;
    let layer = b"a layer of unmistakable bytes";
    push_one_layer(&ecr, &format!("{}/app:v1", registry_host(&original)), layer).await;
    let archive = dir.path().join("backup.tar");
    assert!(export(&data, &archive).0);

    // Occupied: the original data dir.
    let (ok, said) = import(&archive, &data);
    assert!(!ok && said.contains("is not empty"), "{said}");

    // One byte of the layer changed inside the archive.
    let mut bytes = std::fs::read(&archive).unwrap();
    let at =
        bytes.windows(layer.len()).position(|w| w == layer).expect("the layer is stored as it is");
    bytes[at] ^= 1;
    let corrupt = dir.path().join("corrupt.tar");
    std::fs::write(&corrupt, bytes).unwrap();
    let target = dir.path().join("never");
    let (ok, said) = import(&corrupt, &target);
    assert!(!ok, "{said}");
    assert!(
        said.contains(&format!("the blob {} in the archive is corrupt", digest_of(layer))),
        "{said}"
    );
    assert!(!target.exists(), "nothing is left behind");
}
