//! Two berth replicas behind one address (`support::replicas`: each request to the next
//! replica in turn), sharing PostgreSQL, an S3 server and a token key: clients log in once
//! and push and pull as against one registry, a chunked upload whose PATCHes land on
//! different replicas completes, and a replica killed with SIGKILL in the middle of a push
//! loses nothing that was acknowledged while the push completes through the other. Run by
//! `cargo xtask e2e`; PostgreSQL, s3s-fs and skopeo missing fail with their install lines.

mod support;

use reqwest::Method;
use support::images::{chunked_upload, chunked_upload_with, put_manifest, OCI_MANIFEST};
use support::layout::{add_blob, add_layered_image, sha256_file, write_tagged_index};
use support::replicas::Replicas;
use support::tools::Skopeo;
use support::*;

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

async fn logged_in(replicas: &Replicas, repository: &str) -> (RawRegistry, String) {
    let ecr = ecr_client(&replicas.endpoint, "AKIDREPLICAS", "us-east-1");
    create_repository(&ecr, repository).await;
    let password = registry_password(&ecr).await;
    (RawRegistry::at(&replicas.endpoint, &password), password)
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_and_a_chunked_upload_go_through_alternating_replicas() {
    let replicas = Replicas::start(2, &[]);
    let (raw, password) = logged_in(&replicas, "shared/app").await;

    // PATCHes alternate between the replicas; the digest is checked on whichever gets
    // the PUT, from staged parts it did not all receive.
    let blob = pseudo_random((6 << 20) + 123, 5);
    let done =
        chunked_upload(&raw, "shared/app", &blob, &[4096, 1 << 20, (5 << 20) - 4096, 123]).await;
    assert_eq!(done.status(), 201);
    let path = format!("/v2/shared/app/blobs/{}", digest_of(&blob));
    for i in 0..2 {
        let direct = RawRegistry::at(&replicas.replica(i).endpoint, &password);
        let got = direct.request(Method::GET, &path).send().await.unwrap();
        assert_eq!(got.status(), 200, "replica {i} serves the blob");
        assert_eq!(digest_of(&got.bytes().await.unwrap()), digest_of(&blob), "replica {i}");
    }

    // skopeo logs in once (a password one replica signed) and pushes and pulls an image
    // of three layers through both.
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let mut layers = Vec::new();
    for (size, seed) in [(7 << 20, 1), (40_000, 2), (10, 3)] {
        let (digest, size) = add_blob(&layout, &pseudo_random(size, seed));
        layers.push((digest.clone(), size, digest, TAR));
    }
    let (manifest, manifest_size) = add_layered_image(&layout, &layers, "amd64");
    write_tagged_index(&layout, &manifest, manifest_size, "v1");
    let host = replicas.endpoint.trim_start_matches("http://").to_string();
    let skopeo = Skopeo::login(dir.path(), &host, &password);
    let remote = format!("docker://{host}/shared/app:v1");
    skopeo.copy(&format!("oci:{}:v1", layout.display()), &remote);
    let out = dir.path().join("out");
    skopeo.copy(&remote, &format!("oci:{}:v1", out.display()));
    for (digest, _, _, _) in &layers {
        let path = out.join("blobs/sha256").join(&digest[7..]);
        assert_eq!(sha256_file(&path).0, *digest, "{digest} came back byte for byte");
    }
    for (i, sent) in replicas.sent().into_iter().enumerate() {
        assert!(sent > 10, "replica {i} served its share of requests");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_mid_push_loses_nothing_acknowledged_and_the_push_completes() {
    let mut replicas = Replicas::start(2, &[]);
    let (raw, password) = logged_in(&replicas, "shared/crash").await;

    // Acknowledged before the crash: a whole image, and the first chunks of a layer.
    let config = b"{}".to_vec();
    let first = pseudo_random(300_000, 9);
    for blob in [&config, &first] {
        assert_eq!(chunked_upload(&raw, "shared/crash", blob, &[blob.len()]).await.status(), 201);
    }
    let manifest = image_manifest(&config, &[&first]);
    let put = put_manifest(&raw, "shared/crash", "before", &manifest, OCI_MANIFEST).await;
    assert_eq!(put.status(), 201);

    let layer = pseudo_random(3 << 20, 11);
    // SIGKILL one replica between two acknowledged PATCHes.
    let chunks = [1 << 20, 1 << 20, 1 << 20];
    let kill_before_the_third = |n: usize| {
        if n == 2 {
            replicas.kill9(0);
        }
    };
    let done =
        chunked_upload_with(&raw, "shared/crash", &layer, &chunks, kill_before_the_third).await;
    assert_eq!(done.status(), 201, "the push completes through the live replica");
    let manifest_after = image_manifest(&config, &[&layer]);
    let put = put_manifest(&raw, "shared/crash", "after", &manifest_after, OCI_MANIFEST).await;
    assert_eq!(put.status(), 201);

    // Everything acknowledged, before and after the crash, is served by the survivor.
    let survivor = RawRegistry::at(&replicas.replica(1).endpoint, &password);
    for (tag, body) in [("before", &manifest), ("after", &manifest_after)] {
        let got =
            survivor.get_manifest(&format!("/v2/shared/crash/manifests/{tag}"), OCI_MANIFEST).await;
        assert_eq!(got.status(), 200, "{tag}");
        assert_eq!(got.bytes().await.unwrap(), body.as_bytes(), "{tag}");
    }
    for blob in [&config, &first, &layer] {
        let path = format!("/v2/shared/crash/blobs/{}", digest_of(blob));
        let got = survivor.request(Method::GET, &path).send().await.unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(digest_of(&got.bytes().await.unwrap()), digest_of(blob));
    }
}

/// An image manifest of `config` and `layers`.
fn image_manifest(config: &[u8], layers: &[&[u8]]) -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": config.len() },
        "layers": layers.iter().map(|l| serde_json::json!({ "mediaType": TAR, "digest": digest_of(l), "size": l.len() })).collect::<Vec<_>>(),
    })
    .to_string()
}

/// "N images expired" of a lifecycle report (0 when the run was skipped).
fn expired_count(report: &str) -> usize {
    report
        .split_once(" images expired")
        .and_then(|(before, _)| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_running_lifecycle_and_gc_at_once_expire_each_image_once_and_keep_referenced_blobs(
) {
    let replicas = Replicas::start(2, &["--admin-api", "--gc-grace", "0"]);
    let ecr = ecr_client(&replicas.endpoint, "AKIDREPLICAS", "us-east-1");
    create_repository(&ecr, "shared/jobs").await;
    let host = replicas.endpoint.trim_start_matches("http://").to_string();
    for i in 0..3 {
        let layer = format!("old layer {i}");
        push_one_layer(&ecr, &format!("{host}/shared/jobs:old-{i}"), layer.as_bytes()).await;
    }
    push_one_layer(&ecr, &format!("{host}/shared/jobs:kept"), b"kept layer").await;
    put_lifecycle_policy(
        &ecr,
        "shared/jobs",
        r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["old"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#,
    )
    .await;

    // Both replicas evaluate the policy at the same moment: each image expires once, and
    // neither run fails on an image the other already deleted.
    let (one, two) = tokio::join!(
        run_job(replicas.replica(0), "lifecycle"),
        run_job(replicas.replica(1), "lifecycle")
    );
    assert_eq!(expired_count(&one) + expired_count(&two), 2, "{one} / {two}");
    let listed = ecr.list_images().repository_name("shared/jobs").send().await.unwrap();
    let mut tags: Vec<_> = listed.image_ids().iter().filter_map(|i| i.image_tag()).collect();
    tags.sort();
    assert_eq!(tags, ["kept", "old-2"], "the newest old image is kept");

    // Both collect garbage at once: the expired layers go from S3, the others stay.
    let (one, two) =
        tokio::join!(run_job(replicas.replica(0), "gc"), run_job(replicas.replica(1), "gc"));
    let blob = |layer: &[u8]| {
        replicas.s3.root.join("berth/replicas/blobs/sha256").join(&digest_of(layer)[7..])
    };
    for i in 0..2 {
        let layer = format!("old layer {i}");
        assert!(!blob(layer.as_bytes()).exists(), "old-{i}'s layer was collected: {one} / {two}");
    }
    assert!(blob(b"old layer 2").exists(), "old-2's layer stays: {one} / {two}");
    assert!(blob(b"kept layer").exists(), "the kept image's layer stays: {one} / {two}");
    for i in 0..2 {
        let password = registry_password(&ecr).await;
        let direct = RawRegistry::at(&replicas.replica(i).endpoint, &password);
        let path = format!("/v2/shared/jobs/blobs/{}", digest_of(b"kept layer"));
        let got = direct.request(Method::GET, &path).send().await.unwrap();
        assert_eq!(got.status(), 200, "replica {i} still serves the kept layer");
    }
}

/// The leases garbage collection and commits take on PostgreSQL, as two processes' stores
/// see them: a commit's shared lease keeps a collection off the blob, commits share, and a
/// commit waits while a collection holds it.
#[tokio::test(flavor = "multi_thread")]
async fn blob_leases_keep_a_collection_off_a_blob_being_committed() {
    use berth_handlers::digest::Digest;
    use berth_handlers::SqlMetadataStore;
    let database = support::postgres::cluster().database();
    let one = SqlMetadataStore::connect_postgres(&database).await.unwrap();
    let two = SqlMetadataStore::connect_postgres(&database).await.unwrap();
    let (committer, collector) = (one.blob_leases().unwrap(), two.blob_leases().unwrap());
    let digest = Digest::of(b"a layer");

    let committing = committer.share(&digest).await.unwrap();
    assert!(collector.try_take(&digest).await.unwrap().is_none(), "a commit holds the blob");
    let also_committing = collector.share(&digest).await.unwrap();
    let other = Digest::of(b"another layer");
    let other_collected = collector.try_take(&other).await.unwrap();
    assert!(other_collected.is_some(), "other blobs are free");
    drop((committing, also_committing, other_collected));

    // Leases are given back on the runtime once dropped: the collection gets it after.
    let collecting = loop {
        if let Some(lease) = collector.try_take(&digest).await.unwrap() {
            break lease;
        }
        tokio::task::yield_now().await;
    };
    let waiting = {
        let (committer, digest) = (committer.clone(), digest.clone());
        tokio::spawn(async move { committer.share(&digest).await.map(drop) })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "a commit waits while the blob is being collected");
    drop(collecting);
    waiting.await.unwrap().unwrap();
}
