//! Garbage collection against the real binary: 64 images pushed with oci-client while
//! garbage collection and lifecycle evaluation run every second (and on demand through the
//! admin API) all pull back whole; the blobs of images a lifecycle policy expired leave the
//! disk once the grace period has passed on berth's clock.

mod support;

use oci_client::client::{Config, ImageLayer};
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use support::*;

fn blob_file(data_dir: &std::path::Path, digest: &str) -> std::path::PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    data_dir.join("blobs/sha256").join(&hex[..2]).join(hex)
}

const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// An image of a base layer every image shares and a layer of its own.
fn image(name: &str) -> Vec<ImageLayer> {
    vec![
        ImageLayer::oci_v1(b"shared base layer".to_vec(), None),
        ImageLayer::oci_v1(format!("the layer of {name}").repeat(500).into_bytes(), None),
    ]
}

async fn push(oci: &oci_client::Client, auth: &RegistryAuth, host: &str, tag: &str) {
    let reference: Reference = format!("{host}/app:{tag}").parse().unwrap();
    let config = Config::oci_v1(format!(r#"{{"image":"{tag}"}}"#).into_bytes(), None);
    oci.push(&reference, &image(tag), config, auth, None)
        .await
        .unwrap_or_else(|e| panic!("push of {tag}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_under_gc_and_lifecycle_lose_nothing_and_expired_blobs_leave_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--admin-api", "--gc-interval", "1", "--lifecycle-interval", "1"];
    let berth = Berth::start(dir.path(), &flags);
    let ecr = default_client(&berth);
    create_repository(&ecr, "app").await;
    let login = || async { RegistryAuth::Basic("AWS".into(), registry_password(&ecr).await) };
    let auth = login().await;
    let host = registry_host(&berth);
    let oci = oci_client();

    // Four old images, then a policy that expires them once they are a day old.
    for n in 0..4 {
        push(&oci, &auth, &host, &format!("old-{n}")).await;
    }
    let old_layers: Vec<String> =
        (0..4).map(|n| image(&format!("old-{n}"))[1].sha256_digest()).collect();
    let policy = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["old-"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]}"#;
    put_lifecycle_policy(&ecr, "app", policy).await;
    advance_clock(&berth, 172_800).await;
    // Two days on, the login has expired: log in again, with a client of no cached tokens.
    let auth = login().await;
    let oci = oci_client();

    // 64 pushes, 8 at a time, while both jobs also run on demand in a loop.
    let done = Arc::new(AtomicBool::new(false));
    let hammer = {
        let (done, endpoint) = (done.clone(), berth.endpoint.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut runs = 0;
            while !done.load(Ordering::Relaxed) {
                for job in ["gc", "lifecycle"] {
                    let url = format!("{endpoint}/_berth/admin/{job}/run");
                    let answer = http.post(url).send().await.unwrap();
                    assert_eq!(answer.status(), 200, "{job}: {}", answer.text().await.unwrap());
                    runs += 1;
                }
            }
            runs
        })
    };
    let mut pushers = Vec::new();
    for worker in 0..8 {
        let (oci, auth, host) = (oci.clone(), auth.clone(), host.clone());
        pushers.push(tokio::spawn(async move {
            for n in 0..8 {
                push(&oci, &auth, &host, &format!("img-{worker}-{n}")).await;
            }
        }));
    }
    for pusher in pushers {
        pusher.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert!(hammer.await.unwrap() > 2, "the jobs ran during the pushes");

    // Every pushed image pulls back byte for byte.
    for worker in 0..8 {
        for n in 0..8 {
            let tag = format!("img-{worker}-{n}");
            let reference: Reference = format!("{host}/app:{tag}").parse().unwrap();
            let pulled = oci
                .pull(&reference, &auth, vec![LAYER])
                .await
                .unwrap_or_else(|e| panic!("pull of {tag}: {e}"));
            let mut got: Vec<String> = pulled.layers.iter().map(|l| digest_of(&l.data)).collect();
            let mut sent: Vec<String> = image(&tag).iter().map(|l| l.sha256_digest()).collect();
            got.sort();
            sent.sort();
            assert_eq!(got, sent, "{tag}");
        }
    }

    // The old images are expired; their own layers stay for the grace, then leave the disk.
    run_job(&berth, "lifecycle").await;
    let listed = ecr.list_images().repository_name("app").max_results(1000).send().await.unwrap();
    assert_eq!(listed.image_ids().len(), 64, "only the 64 new images are left");
    admin(&berth, "gc/run", "").await;
    for layer in &old_layers {
        assert!(berth.has_blob(layer), "kept during the grace");
    }
    admin(&berth, "clock/advance", r#"{"seconds":3601}"#).await;
    let (status, report) = admin(&berth, "gc/run", "").await;
    assert_eq!(status, 200, "{report}");
    for layer in &old_layers {
        assert!(!berth.has_blob(layer), "{layer} is gone: {report}");
    }
    let shared = image("any")[0].sha256_digest();
    assert!(berth.has_blob(&shared), "a layer still used stays");
    let pulled = oci_client()
        .pull(&format!("{host}/app:img-0-0").parse().unwrap(), &auth, vec![LAYER])
        .await
        .unwrap();
    assert_eq!(pulled.layers.len(), 2);
}

/// `berth gc` on a stopped server's data dir deletes the blobs of a deleted image and
/// keeps those of the image that remains.
#[tokio::test]
async fn the_gc_subcommand_collects_a_stopped_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start_local(dir.path(), &[]);
    let ecr = default_client(&berth);
    create_repository(&ecr, "app").await;
    let host = registry_host(&berth);
    push_one_layer(&ecr, &format!("{host}/app:kept"), b"kept layer").await;
    push_one_layer(&ecr, &format!("{host}/app:gone"), b"gone layer").await;
    ecr.batch_delete_image()
        .repository_name("app")
        .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag("gone").build())
        .send()
        .await
        .unwrap();
    assert!(berth.terminate());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["gc", "--grace", "0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("deleted 1 unreferenced blobs"), "{said}");
    assert!(!blob_file(dir.path(), &digest_of(b"gone layer")).exists());
    assert!(blob_file(dir.path(), &digest_of(b"kept layer")).exists());
}
