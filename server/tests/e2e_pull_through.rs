//! The pull-through cache against a real upstream (run by `cargo xtask e2e`): CNCF distribution (Debian's
//! `docker-registry`, htpasswd logins) on loopback, reached through `--upstream-endpoint`,
//! and this berth itself as an `ecr` upstream. Upstream's access log shows what reached it.

mod support;

use reqwest::Method;
use sha2::{Digest as _, Sha256};
use std::process::Command;
use support::images::{OCI_INDEX, OCI_MANIFEST};
use support::tools::{run, stdout, tool};
use support::upstream::{push_image, put, Upstream, PASSWORD, USER};
use support::*;

const ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

fn secret(name: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/{name}")
}

struct Setup {
    upstream: Upstream,
    berth: Berth,
    ecr: aws_sdk_ecr::Client,
    raw: RawRegistry,
    _dir: tempfile::TempDir,
}

/// A berth whose `docker-hub` rule reaches the upstream with the right login, and whose
/// `ghcr` rule reaches it with a wrong one.
async fn setup() -> Setup {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.json");
    std::fs::write(
        &secrets,
        serde_json::json!({
            "ecr-pullthroughcache/hub": { "username": USER, "accessToken": PASSWORD },
            "ecr-pullthroughcache/wrong": { "username": USER, "accessToken": "not-it" },
        })
        .to_string(),
    )
    .unwrap();
    let endpoints = format!("registry-1.docker.io={0},ghcr.io={0}", upstream.endpoint);
    let berth = Berth::start(
        &dir.path().join("data"),
        &[
            "--admin-api",
            "--secrets-file",
            secrets.to_str().unwrap(),
            "--upstream-endpoint",
            &endpoints,
        ],
    );
    let ecr = default_client(&berth);
    for (prefix, url, credential) in
        [("docker-hub", "registry-1.docker.io", "hub"), ("ghcr", "ghcr.io", "wrong")]
    {
        ecr.create_pull_through_cache_rule()
            .ecr_repository_prefix(prefix)
            .upstream_registry_url(url)
            .credential_arn(secret(credential))
            .send()
            .await
            .unwrap();
    }
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    Setup { upstream, berth, ecr, raw, _dir: dir }
}

async fn get(raw: &RawRegistry, path: &str) -> reqwest::Response {
    raw.request(Method::GET, path).header("Accept", ACCEPT).send().await.unwrap()
}

async fn get_bytes(raw: &RawRegistry, path: &str) -> (u16, Vec<u8>) {
    let r = get(raw, path).await;
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn pulls_through_once_then_serves_what_it_keeps() {
    let s = setup().await;
    let layer = pseudo_random(3 << 20, 1);
    let image = push_image(&s.upstream.client(), "library/app", "v1", &layer, "amd64").await;
    let name = "/v2/docker-hub/library/app";

    for round in 0..2 {
        let r = get(&s.raw, &format!("{name}/manifests/v1")).await;
        assert_eq!(r.status(), 200, "round {round}");
        assert_eq!(r.headers()["docker-content-digest"], image.digest.as_str());
        assert_eq!(r.headers()["content-type"], OCI_MANIFEST);
        assert_eq!(r.text().await.unwrap(), image.manifest);
        let (status, bytes) = get_bytes(&s.raw, &format!("{name}/blobs/{}", image.layer)).await;
        assert_eq!((status, bytes.len()), (200, layer.len()), "round {round}");
        assert!(bytes == layer, "round {round}: the layer's bytes");
        let (status, config) = get_bytes(&s.raw, &format!("{name}/blobs/{}", image.config)).await;
        assert_eq!((status, digest_of(&config)), (200, image.config.clone()));
    }
    // One fetch each; the second round never reached upstream.
    for path in [
        "/v2/library/app/manifests/v1".to_string(),
        format!("/v2/library/app/blobs/{}", image.layer),
        format!("/v2/library/app/blobs/{}", image.config),
    ] {
        assert_eq!(s.upstream.served(&format!("GET {path} ")), 1, "{path}");
    }
    // A range of the cached layer, and the ECR face's view of the new repository.
    let r = s
        .raw
        .request(Method::GET, &format!("{name}/blobs/{}", image.layer))
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &layer[10..20]);
    let images =
        s.ecr.describe_images().repository_name("docker-hub/library/app").send().await.unwrap();
    let details = &images.image_details()[0];
    assert_eq!(details.image_digest(), Some(image.digest.as_str()));
    assert_eq!(details.image_tags(), ["v1"]);
    let repository = s
        .ecr
        .describe_repositories()
        .repository_names("docker-hub/library/app")
        .send()
        .await
        .unwrap();
    assert_eq!(
        repository.repositories()[0].image_tag_mutability(),
        Some(&aws_sdk_ecr::types::ImageTagMutability::Mutable),
        "ECR's defaults without a PULL_THROUGH_CACHE template"
    );
    // ECR never mounts from a cached repository, even with BLOB_MOUNTING enabled.
    s.ecr.put_account_setting().name("BLOB_MOUNTING").value("ENABLED").send().await.unwrap();
    support::create_repository(&s.ecr, "mine").await;
    let mount = s
        .raw
        .request(
            Method::POST,
            &format!("/v2/mine/blobs/uploads/?mount={}&from=docker-hub/library/app", image.layer),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(mount.status(), 202, "an upload session, not a mount");
}

#[tokio::test]
async fn missing_images_wrong_logins_and_uncovered_names_answer_as_ecr() {
    let s = setup().await;
    push_image(&s.upstream.client(), "library/app", "v1", b"layer", "amd64").await;

    let r = get(&s.raw, "/v2/docker-hub/library/app/manifests/nope").await;
    let (status, code, message) = oci_error_code(r).await;
    assert_eq!((status, code.as_str()), (404, "MANIFEST_UNKNOWN"));
    assert_eq!(message, "Requested image not found");
    // Docker Hub's official images need `library/`, as on ECR: nothing is guessed.
    let r = get(&s.raw, "/v2/docker-hub/app/manifests/v1").await;
    assert_eq!(oci_error_code(r).await.1, "MANIFEST_UNKNOWN");
    let none = s.ecr.describe_repositories().repository_names("docker-hub/app").send().await;
    assert!(none.is_err(), "no repository for an image upstream lacks");

    let r = get(&s.raw, "/v2/ghcr/library/app/manifests/v1").await;
    let (status, code, message) = oci_error_code(r).await;
    assert_eq!((status, code.as_str()), (403, "DENIED"));
    assert!(
        message.contains("The authentication to the upstream registry ghcr.io failed"),
        "{message}"
    );
    let r = get(&s.raw, "/v2/elsewhere/app/manifests/v1").await;
    assert_eq!(oci_error_code(r).await.1, "NAME_UNKNOWN", "no rule covers it");
}

#[tokio::test]
async fn an_index_pulls_with_every_child() {
    let s = setup().await;
    let upstream = s.upstream.client();
    let amd = push_image(&upstream, "library/multi", "amd64", b"amd layer", "amd64").await;
    let arm = push_image(&upstream, "library/multi", "arm64", b"arm layer", "arm64").await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#,
        amd.digest,
        amd.manifest.len(),
        arm.digest,
        arm.manifest.len()
    );
    put(&upstream, "library/multi", "latest", &index, OCI_INDEX).await;

    let name = "/v2/docker-hub/library/multi";
    let r = get(&s.raw, &format!("{name}/manifests/latest")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), index);
    for child in [&amd, &arm] {
        let (status, body) = get_bytes(&s.raw, &format!("{name}/manifests/{}", child.digest)).await;
        assert_eq!((status, String::from_utf8(body).unwrap()), (200, child.manifest.clone()));
        let (status, _) = get_bytes(&s.raw, &format!("{name}/blobs/{}", child.layer)).await;
        assert_eq!(status, 200);
        assert_eq!(
            s.upstream.served(&format!("GET /v2/library/multi/manifests/{} ", child.digest)),
            1,
            "each child fetched once, with the index"
        );
    }
    let images =
        s.ecr.list_images().repository_name("docker-hub/library/multi").send().await.unwrap();
    assert_eq!(images.image_ids().len(), 3, "the index and both children");
}

#[tokio::test]
async fn a_corrupted_upstream_blob_is_refused_and_not_cached() {
    let s = setup().await;
    let layer = pseudo_random(256 << 10, 2);
    let image = push_image(&s.upstream.client(), "library/app", "v1", &layer, "amd64").await;
    let file = s.upstream.blob_file(&image.layer);
    let mut corrupted = layer.clone();
    corrupted[1000] ^= 0xff;
    std::fs::write(&file, &corrupted).unwrap();

    let name = "/v2/docker-hub/library/app";
    assert_eq!(get(&s.raw, &format!("{name}/manifests/v1")).await.status(), 200);
    let r = get(&s.raw, &format!("{name}/blobs/{}", image.layer)).await;
    let received = r.bytes().await;
    assert!(
        received.is_err(),
        "the client's download breaks off instead of completing with wrong bytes"
    );
    let availability = s
        .ecr
        .batch_check_layer_availability()
        .repository_name("docker-hub/library/app")
        .layer_digests(&image.layer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        availability.layers()[0].layer_availability(),
        Some(&aws_sdk_ecr::types::LayerAvailability::Unavailable),
        "nothing was stored"
    );

    std::fs::write(&file, &layer).unwrap();
    let (status, bytes) = get_bytes(&s.raw, &format!("{name}/blobs/{}", image.layer)).await;
    assert_eq!(status, 200);
    assert!(bytes == layer, "fetched again once upstream is whole");
    let blob = format!("GET /v2/library/app/blobs/{} ", image.layer);
    assert_eq!(s.upstream.served(&blob), 2);
}

#[tokio::test]
async fn a_moved_tag_is_refreshed_after_the_interval_and_digests_never() {
    let s = setup().await;
    let upstream = s.upstream.client();
    let first = push_image(&upstream, "library/app", "v1", b"first", "amd64").await;
    let name = "/v2/docker-hub/library/app";
    // Registry passwords last 12 hours: a new one after each move of the clock.
    let mut raw = s.raw;
    let digest_of_v1 = |r: reqwest::Response| {
        assert_eq!(r.status(), 200);
        r.headers()["docker-content-digest"].to_str().unwrap().to_string()
    };
    assert_eq!(digest_of_v1(get(&raw, &format!("{name}/manifests/v1")).await), first.digest);
    let second = push_image(&upstream, "library/app", "v1", b"second", "amd64").await;

    advance_clock(&s.berth, 11 * 3600).await;
    advance_clock(&s.berth, 12 * 3600).await;
    raw = RawRegistry::new(&s.berth, &registry_password(&s.ecr).await);
    assert_eq!(
        digest_of_v1(get(&raw, &format!("{name}/manifests/v1")).await),
        first.digest,
        "within 24 hours the cached tag is served without asking upstream"
    );
    advance_clock(&s.berth, 3600 + 1).await;
    raw = RawRegistry::new(&s.berth, &registry_password(&s.ecr).await);
    assert_eq!(
        digest_of_v1(get(&raw, &format!("{name}/manifests/v1")).await),
        second.digest,
        "after 24 hours the tag follows upstream"
    );
    // The first image stays pullable by digest, from the cache.
    let by_digest = format!("{name}/manifests/{}", first.digest);
    assert_eq!(digest_of_v1(get(&raw, &by_digest).await), first.digest);
    assert_eq!(s.upstream.served(&format!("GET /v2/library/app/manifests/{} ", first.digest)), 0);
    // Unmoved, a tag is only checked (HEAD), not fetched again.
    advance_clock(&s.berth, 24 * 3600 + 1).await;
    raw = RawRegistry::new(&s.berth, &registry_password(&s.ecr).await);
    assert_eq!(digest_of_v1(get(&raw, &format!("{name}/manifests/v1")).await), second.digest);
    assert_eq!(s.upstream.served("GET /v2/library/app/manifests/v1 "), 2);
    assert_eq!(s.upstream.served("HEAD /v2/library/app/manifests/v1 "), 2);
}

#[tokio::test]
async fn sixteen_concurrent_pulls_of_an_uncached_layer_fetch_it_once() {
    let s = setup().await;
    let layer = pseudo_random(200 << 20, 3);
    let expected = digest_of(&layer);
    let image = push_image(&s.upstream.client(), "library/big", "v1", &layer, "amd64").await;
    drop(layer);
    let name = "/v2/docker-hub/library/big";
    assert_eq!(get(&s.raw, &format!("{name}/manifests/v1")).await.status(), 200);

    let path = format!("{name}/blobs/{}", image.layer);
    let pulls = (0..16).map(|_| {
        let request = s.raw.request(Method::GET, &path);
        tokio::spawn(async move {
            let mut r = request.send().await.unwrap();
            assert_eq!(r.status(), 200);
            // Hashed as it arrives: sixteen copies are never held.
            let mut hasher = Sha256::new();
            while let Some(chunk) = r.chunk().await.unwrap() {
                hasher.update(&chunk);
            }
            format!("sha256:{}", hex::encode(hasher.finalize()))
        })
    });
    for pull in futures_util::future::join_all(pulls).await {
        assert_eq!(pull.unwrap(), expected);
    }
    // One fetch per berth process (each replica behind a load balancer fetches once).
    assert_eq!(
        s.upstream.served(&format!("GET /v2/library/big/blobs/{} ", image.layer)),
        s.berth.process_count(),
        "one upstream fetch per process for sixteen pulls"
    );
}

#[tokio::test]
async fn an_ecr_upstream_is_another_registry_of_this_berth() {
    let (_dir, berth, ecr) = started(&["--access-key", "AKIDOTHER=111111111111"]);
    // The upstream: the same account's eu-west-1 registry, and another account's.
    let west = ecr_client(&berth.endpoint, "AKIDEXAMPLE", "eu-west-1");
    let other = ecr_client(&berth.endpoint, "AKIDOTHER", "us-east-1");
    for client in [&west, &other] {
        support::create_repository(client, "team/app").await;
    }
    let host = support::registry_host(&berth);
    support::push_one_layer(&west, &format!("{host}/team/app:v1"), b"west layer").await;
    support::push_one_layer(&other, &format!("{host}/team/app:v1"), b"other layer").await;
    for (prefix, url) in [
        ("west", "000000000000.dkr.ecr.eu-west-1.amazonaws.com"),
        ("theirs", "111111111111.dkr.ecr.us-east-1.amazonaws.com"),
    ] {
        ecr.create_pull_through_cache_rule()
            .ecr_repository_prefix(prefix)
            .upstream_registry_url(url)
            .send()
            .await
            .unwrap();
    }
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);

    let r = get(&raw, "/v2/west/team/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    let manifest: serde_json::Value = r.json().await.unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let (status, bytes) = get_bytes(&raw, &format!("/v2/west/team/app/blobs/{layer}")).await;
    assert_eq!((status, bytes.as_slice()), (200, b"west layer".as_slice()));

    // Another account's registry, without a policy allowing this account: refused.
    let r = get(&raw, "/v2/theirs/team/app/manifests/v1").await;
    let (status, code, _) = oci_error_code(r).await;
    assert_eq!((status, code.as_str()), (403, "DENIED"));
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_and_docker_pull_through_berth() {
    let (skopeo, tar) = (tool("skopeo"), tool("tar"));
    let s = setup().await;
    let work = s._dir.path().join("work");
    std::fs::create_dir_all(work.join("rootfs/etc")).unwrap();
    std::fs::write(work.join("rootfs/etc/greeting"), "pulled through berth\n").unwrap();
    let layer_file = work.join("layer.tar");
    run(Command::new(tar).arg("-cf").arg(&layer_file).arg("-C").arg(work.join("rootfs")).arg("."));
    let layer = std::fs::read(&layer_file).unwrap();
    let image = push_image(&s.upstream.client(), "library/tool", "v1", &layer, "amd64").await;
    let host = support::registry_host(&s.berth);
    let password = registry_password(&s.ecr).await;
    let reference = format!("{host}/docker-hub/library/tool:v1");

    let layout = work.join("skopeo-out");
    run(Command::new(&skopeo)
        .args(["copy", "--src-tls-verify=false", "--src-creds"])
        .arg(format!("AWS:{password}"))
        .arg(format!("docker://{reference}"))
        .arg(format!("dir:{}", layout.display())));
    let layer_hex = image.layer.trim_start_matches("sha256:");
    assert!(layout.join(layer_hex).is_file(), "skopeo copied the layer as it is");
    let inspected: serde_json::Value = serde_json::from_str(&stdout(
        Command::new(&skopeo)
            .args(["inspect", "--tls-verify=false", "--creds"])
            .arg(format!("AWS:{password}"))
            .arg(format!("docker://{reference}")),
    ))
    .unwrap();
    assert_eq!(inspected["Digest"], image.digest.as_str());

    let daemon = support::dockerd::start_dockerd();
    let config = work.join("docker-config");
    daemon.log_in(&config, &host, &password);
    let pulled = stdout(&mut daemon.command(&config, &["pull", &reference]));
    assert!(pulled.contains(&image.digest), "{pulled}");
    let inspected = stdout(
        &mut daemon
            .command(&config, &["image", "inspect", "--format", "{{.Architecture}}", &reference]),
    );
    assert_eq!(inspected, "amd64");
    assert_eq!(
        s.upstream.served(&format!("GET /v2/library/tool/blobs/{} ", image.layer)),
        1,
        "skopeo fetched it through; docker was served from the cache"
    );
}

#[tokio::test]
async fn batch_get_image_and_download_urls_pull_through_on_the_ecr_face() {
    let s = setup().await;
    let layer = pseudo_random(1 << 20, 4);
    let image = push_image(&s.upstream.client(), "library/api", "v1", &layer, "amd64").await;
    let got = s
        .ecr
        .batch_get_image()
        .repository_name("docker-hub/library/api")
        .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap();
    assert_eq!(got.images().len(), 1, "{:?}", got.failures());
    assert_eq!(got.images()[0].image_manifest(), Some(image.manifest.as_str()));

    let url = s
        .ecr
        .get_download_url_for_layer()
        .repository_name("docker-hub/library/api")
        .layer_digest(&image.layer)
        .send()
        .await
        .unwrap();
    let bytes = reqwest::get(url.download_url().unwrap()).await.unwrap().bytes().await.unwrap();
    assert!(bytes.as_ref() == layer.as_slice(), "the URL pulls the layer through");
    assert_eq!(s.upstream.served(&format!("GET /v2/library/api/blobs/{} ", image.layer)), 1);

    let refused = s
        .ecr
        .batch_get_image()
        .repository_name("ghcr/library/api")
        .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await;
    // The refused login leaves no repository: ECR's exception for that.
    let (code, message) = support::code_and_message(refused.unwrap_err());
    assert_eq!(code, "UnableToGetUpstreamImageException");
    assert!(
        message.contains("The authentication to the upstream registry ghcr.io failed"),
        "{message}"
    );
}
