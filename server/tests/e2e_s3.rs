//! Blobs in S3 (`--blobs s3://bucket/prefix`) end to end: the real berth binary keeping its
//! blob bytes in a real S3-compatible server (s3s-fs), pushed and pulled by skopeo and by
//! plain OCI requests. Run by `cargo xtask e2e`; a missing s3s-fs fails with its install
//! line.

mod support;

use reqwest::Method;
use std::process::Command;
use support::images::chunked_upload;
use support::layout::{add_blob, add_layered_image, sha256_file, write_tagged_index};
use support::s3::S3Server;
use support::tools::Skopeo;
use support::*;

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

fn start_berth(s3: &S3Server, data_dir: &std::path::Path) -> Berth {
    let flags = s3.flags("registry");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Berth::start_with_env(data_dir, &flags, &s3.env())
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_pushes_and_pulls_an_image_whose_layers_live_in_s3() {
    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let berth = start_berth(&s3, &dir.path().join("data"));
    let ecr = default_client(&berth);
    create_repository(&ecr, "s3/app").await;
    let password = registry_password(&ecr).await;
    let host = registry_host(&berth);

    // A layer of 13 MiB (an S3 multipart upload of three parts) and a small one.
    let layout = dir.path().join("layout");
    let mut layers = Vec::new();
    for (size, seed) in [(13 << 20, 7), (3000, 11)] {
        let (digest, size) = add_blob(&layout, &pseudo_random(size, seed));
        layers.push((digest.clone(), size, digest, TAR));
    }
    let (manifest, manifest_size) = add_layered_image(&layout, &layers, "amd64");
    write_tagged_index(&layout, &manifest, manifest_size, "v1");
    let skopeo = Skopeo::login(dir.path(), &host, &password);
    let remote = format!("docker://{host}/s3/app:v1");
    skopeo.copy(&format!("oci:{}:v1", layout.display()), &remote);

    // The layers are objects in the bucket, not files in the data dir; no upload is left.
    for (digest, size, _, _) in &layers {
        let object = s3.root.join("berth/registry/blobs/sha256").join(&digest[7..]);
        assert_eq!(std::fs::metadata(&object).map(|m| m.len()).ok(), Some(*size), "{digest}");
    }
    assert!(!dir.path().join("data/blobs/sha256").join(&layers[0].0[7..9]).exists());
    assert_eq!(s3.objects_under("registry/uploads"), 0, "no upload parts are left");

    let out = dir.path().join("out");
    skopeo.copy(&remote, &format!("oci:{}:v1", out.display()));
    for (digest, _, _, _) in &layers {
        let path = out.join("blobs/sha256").join(&digest[7..]);
        assert_eq!(sha256_file(&path).0, *digest, "{digest} came back byte for byte");
    }
    let raw = skopeo.inspect_raw(&remote);
    assert_eq!(digest_of(raw.as_bytes()), manifest, "the manifest keeps its digest");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_upload_checks_its_digest_and_survives_kill_9_with_ranges_served_from_s3() {
    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let berth = start_berth(&s3, &data);
    let ecr = default_client(&berth);
    create_repository(&ecr, "s3/chunks").await;
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);

    // A wrong digest stores nothing: no blob object under either digest, no upload left.
    let blob = pseudo_random((7 << 20) + 4321, 3);
    let digest = digest_of(&blob);
    let wrong = digest_of(b"something else");
    let refused = raw
        .request(Method::POST, &format!("/v2/s3/chunks/blobs/uploads/?digest={wrong}"))
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    let (status, code, _) = oci_error_code(refused).await;
    assert_eq!((status, code.as_str()), (400, "DIGEST_INVALID"));
    assert_eq!(s3.objects_under("registry/blobs"), 0, "a wrong digest makes no blob");
    assert_eq!(s3.objects_under("registry/uploads"), 0, "nor leaves its upload");

    // Chunks far below S3's 5 MiB part minimum, then one above it.
    let chunks = [1000, 70_000, 5, blob.len() - 71_005];
    let done = chunked_upload(&raw, "s3/chunks", &blob, &chunks).await;
    assert_eq!(done.status(), 201);
    assert_eq!(s3.objects_under("registry/blobs"), 1);
    assert_eq!(s3.objects_under("registry/uploads"), 0, "the staged parts are removed");

    // The 201 was the acknowledgement: a crash right after it loses nothing.
    berth.kill9();
    let berth = start_berth(&s3, &data);
    let raw = RawRegistry::new(&berth, &registry_password(&default_client(&berth)).await);
    let path = format!("/v2/s3/chunks/blobs/{digest}");
    let head = raw.request(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], blob.len().to_string().as_str());
    let start = (5 << 20) - 10;
    let ranged = raw
        .request(Method::GET, &path)
        .header("Range", format!("bytes={start}-{}", start + 99))
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert!(ranged.bytes().await.unwrap() == blob[start..start + 100], "the range's bytes");
    let whole = raw.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(digest_of(&whole.bytes().await.unwrap()), digest);
}

#[tokio::test(flavor = "multi_thread")]
async fn blob_redirect_sends_gets_to_presigned_s3_urls_that_skopeo_follows() {
    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut flags = s3.flags("registry");
    flags.extend(["--blob-redirect", "--s3-region", "eu-west-3"].map(String::from));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let berth = Berth::start_with_env(&dir.path().join("data"), &flags, &s3.env());
    let ecr = default_client(&berth);
    create_repository(&ecr, "s3/redirect").await;
    let password = registry_password(&ecr).await;
    let raw = RawRegistry::new(&berth, &password);
    let blob = pseudo_random(300_000, 9);
    let digest = digest_of(&blob);
    let pushed = raw
        .request(Method::POST, &format!("/v2/s3/redirect/blobs/uploads/?digest={digest}"))
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 201);

    // A GET answers 307 to the object in S3, presigned; HEAD answers itself.
    let path = format!("/v2/s3/redirect/blobs/{digest}");
    let not_following =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = not_following
        .get(format!("{}{path}", berth.endpoint))
        .header("Authorization", raw.authorization.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 307);
    assert_eq!(answer.headers()["docker-content-digest"], digest.as_str());
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{}/berth/registry/blobs/sha256/", s3.endpoint)));
    assert!(location.contains("X-Amz-Signature="), "{location}");
    assert!(location.contains("%2Feu-west-3%2Fs3%2Faws4_request"), "--s3-region: {location}");
    let head = raw.request(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], blob.len().to_string().as_str());

    // The URL works without credentials, Range included; a tampered one does not.
    let fetched = reqwest::get(&location).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(digest_of(&fetched.bytes().await.unwrap()), digest);
    let ranged = not_following.get(&location).header("Range", "bytes=1000-1999").send().await;
    let ranged = ranged.unwrap();
    assert_eq!(ranged.status(), 206);
    assert!(ranged.bytes().await.unwrap() == blob[1000..2000]);
    let at = location.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &location[at..at + 1] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &location[..at], &location[at + 1..]);
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403, "the URL is signed");
    // Without a valid login there is no redirect.
    let stranger = not_following.get(format!("{}{path}", berth.endpoint)).send().await.unwrap();
    assert_eq!(stranger.status(), 401);

    // skopeo follows the redirects of a whole image's layers.
    let layout = dir.path().join("layout");
    let (layer, size) = add_blob(&layout, &blob);
    let (manifest, manifest_size) =
        add_layered_image(&layout, &[(layer.clone(), size, layer.clone(), TAR)], "amd64");
    write_tagged_index(&layout, &manifest, manifest_size, "v1");
    let host = registry_host(&berth);
    let skopeo = Skopeo::login(dir.path(), &host, &password);
    let remote = format!("docker://{host}/s3/redirect:v1");
    skopeo.copy(&format!("oci:{}:v1", layout.display()), &remote);
    let out = dir.path().join("out");
    skopeo.copy(&remote, &format!("oci:{}:v1", out.display()));
    let copied = out.join("blobs/sha256").join(&layer[7..]);
    assert_eq!(sha256_file(&copied).0, layer, "the layer came from S3 whole");

    // Blob files have no URL to send clients to: the flag alone is refused at start.
    let refused = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--listen", "127.0.0.1:0", "--ephemeral", "--blob-redirect"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--blob-redirect sends clients to S3: it needs --blobs"), "{stderr}");
}
