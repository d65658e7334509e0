//! The registry driven by oci-client (/v2) and aws-sdk-ecr (API) against the real binary:
//! both faces see the same store.

mod support;

use aws_sdk_ecr::primitives::Blob;
use aws_sdk_ecr::types::{ImageIdentifier, LayerAvailability, SubjectIdentifier, TagStatus};
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use support::*;

struct Fixture {
    _dir: tempfile::TempDir,
    berth: Berth,
    ecr: aws_sdk_ecr::Client,
    oci: oci_client::Client,
    auth: RegistryAuth,
}

async fn fixture(repositories: &[&str]) -> Fixture {
    let (dir, berth, ecr) = started(&[]);
    for r in repositories {
        ecr.create_repository().repository_name(*r).send().await.unwrap();
    }
    let auth = RegistryAuth::Basic("AWS".into(), registry_password(&ecr).await);
    Fixture { _dir: dir, berth, ecr, oci: oci_client(), auth }
}

impl Fixture {
    fn reference(&self, repo_and_tag: &str) -> Reference {
        format!("{}/{repo_and_tag}", registry_host(&self.berth)).parse().unwrap()
    }
}

fn layers() -> Vec<ImageLayer> {
    vec![
        ImageLayer::oci_v1(b"first layer".to_vec(), None),
        ImageLayer::oci_v1((0..200_000u32).flat_map(|i| i.to_le_bytes()).collect(), None),
    ]
}

#[tokio::test]
async fn push_via_v2_is_seen_by_the_api() {
    let f = fixture(&["app"]).await;
    let image = f.reference("app:v1");
    let pushed = f
        .oci
        .push(&image, &layers(), Config::oci_v1(b"{}".to_vec(), None), &f.auth, None)
        .await
        .unwrap();
    let digest = f.oci.fetch_manifest_digest(&image, &f.auth).await.unwrap();
    assert!(pushed.manifest_url.ends_with(&digest));

    let described = f.ecr.describe_images().repository_name("app").send().await.unwrap();
    let detail = &described.image_details()[0];
    assert_eq!(detail.image_digest(), Some(digest.as_str()));
    assert_eq!(detail.image_tags(), ["v1"]);
    assert_eq!(
        detail.image_manifest_media_type(),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    assert_eq!(detail.artifact_media_type(), Some("application/vnd.oci.image.config.v1+json"));
    let expected_size: usize = layers().iter().map(|l| l.data.len()).sum::<usize>() + 2;
    assert_eq!(detail.image_size_in_bytes(), Some(expected_size as i64));
    assert!(detail.image_pushed_at().is_some());
    assert!(detail.last_recorded_pull_time().is_none(), "a HEAD is not a pull");

    let got = get_tagged_image(&f.ecr, "app", "v1").await;
    let manifest = got.images()[0].image_manifest().unwrap();
    assert_eq!(digest_of(manifest.as_bytes()), digest);
    let described = f.ecr.describe_images().repository_name("app").send().await.unwrap();
    assert!(
        described.image_details()[0].last_recorded_pull_time().is_some(),
        "BatchGetImage is a pull"
    );

    let check = f
        .ecr
        .batch_check_layer_availability()
        .repository_name("app")
        .layer_digests(layers()[0].sha256_digest())
        .layer_digests(digest_of(b"never pushed"))
        .layer_digests("not-a-digest")
        .send()
        .await
        .unwrap();
    assert_eq!(check.layers()[0].layer_availability(), Some(&LayerAvailability::Available));
    assert_eq!(check.layers()[0].layer_size(), Some(11));
    assert_eq!(check.layers()[1].layer_availability(), Some(&LayerAvailability::Unavailable));
    assert_eq!(check.failures().len(), 1);

    let listed = f.ecr.list_images().repository_name("app").send().await.unwrap();
    assert_eq!(
        listed.image_ids(),
        [ImageIdentifier::builder().image_digest(&digest).image_tag("v1").build()]
    );

    // A pull through /v2 gets every byte back.
    let pulled =
        f.oci.pull(&image, &f.auth, vec!["application/vnd.oci.image.layer.v1.tar"]).await.unwrap();
    let mut got: Vec<String> = pulled.layers.iter().map(|l| digest_of(&l.data)).collect();
    let mut sent: Vec<String> = layers().iter().map(|l| l.sha256_digest()).collect();
    got.sort();
    sent.sort();
    assert_eq!(got, sent, "every layer comes back byte for byte");
}

/// Uploads `data` with the ECR layer operations, in parts of `part` bytes.
async fn api_upload(
    ecr: &aws_sdk_ecr::Client, repository: &str, data: &[u8], part: usize,
) -> String {
    let upload = ecr.initiate_layer_upload().repository_name(repository).send().await.unwrap();
    let id = upload.upload_id().unwrap();
    assert_eq!(upload.part_size(), Some(10 * 1024 * 1024));
    for (i, chunk) in data.chunks(part).enumerate() {
        let first = (i * part) as i64;
        let sent = ecr
            .upload_layer_part()
            .repository_name(repository)
            .upload_id(id)
            .part_first_byte(first)
            .part_last_byte(first + chunk.len() as i64 - 1)
            .layer_part_blob(Blob::new(chunk))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.last_byte_received(), Some(first + chunk.len() as i64 - 1));
    }
    let digest = digest_of(data);
    let done = ecr
        .complete_layer_upload()
        .repository_name(repository)
        .upload_id(id)
        .layer_digests(&digest)
        .send()
        .await
        .unwrap();
    assert_eq!(done.layer_digest(), Some(digest.as_str()));
    digest
}

fn manifest_json(config: &str, config_size: usize, layer: &str, layer_size: usize) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    )
}

#[tokio::test]
async fn put_image_via_the_api_is_pulled_via_v2() {
    let f = fixture(&["api"]).await;
    let layer: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let layer_digest = api_upload(&f.ecr, "api", &layer, 30_000).await;
    let config_digest = api_upload(&f.ecr, "api", b"{}", 1024).await;
    let manifest = manifest_json(&config_digest, 2, &layer_digest, layer.len());
    let put = f
        .ecr
        .put_image()
        .repository_name("api")
        .image_manifest(&manifest)
        .image_tag("v1")
        .send()
        .await
        .unwrap();
    let image = put.image().unwrap();
    assert_eq!(
        image.image_id().unwrap().image_digest(),
        Some(digest_of(manifest.as_bytes()).as_str())
    );

    let pulled = f
        .oci
        .pull(&f.reference("api:v1"), &f.auth, vec!["application/vnd.oci.image.layer.v1.tar"])
        .await
        .unwrap();
    assert!(pulled.layers[0].data == layer, "the layer comes back byte for byte");
    assert_eq!(pulled.digest.as_deref(), Some(digest_of(manifest.as_bytes()).as_str()));

    // GetDownloadUrlForLayer hands out a URL berth serves itself.
    let url = f
        .ecr
        .get_download_url_for_layer()
        .repository_name("api")
        .layer_digest(&layer_digest)
        .send()
        .await
        .unwrap();
    let body = reqwest::get(url.download_url().unwrap()).await.unwrap();
    assert_eq!(body.status(), 200);
    assert!(
        body.bytes().await.unwrap().as_ref() == layer.as_slice(),
        "the download URL serves the layer"
    );
    let forged = format!("{}x", url.download_url().unwrap());
    assert_eq!(reqwest::get(forged).await.unwrap().status(), 403);
}

#[tokio::test]
async fn mount_range_and_tag_pagination() {
    let f = fixture(&["source", "target"]).await;
    let image = f.reference("source:v1");
    f.oci
        .push(&image, &layers(), Config::oci_v1(b"{}".to_vec(), None), &f.auth, None)
        .await
        .unwrap();
    // Mounting is an account setting in ECR, off until enabled.
    f.ecr.put_account_setting().name("BLOB_MOUNTING").value("ENABLED").send().await.unwrap();
    let layer = &layers()[1];
    let target = f.reference("target:v1");
    f.oci.auth(&target, &f.auth, oci_client::RegistryOperation::Push).await.unwrap();
    f.oci.mount_blob(&target, &image, &layer.sha256_digest()).await.unwrap();
    let check = f
        .ecr
        .batch_check_layer_availability()
        .repository_name("target")
        .layer_digests(layer.sha256_digest())
        .send()
        .await
        .unwrap();
    assert_eq!(check.layers()[0].layer_availability(), Some(&LayerAvailability::Available));

    // Range GET through oci-client's partial pull.
    f.oci.auth(&target, &f.auth, oci_client::RegistryOperation::Pull).await.unwrap();
    let descriptor = OciDescriptor {
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        digest: layer.sha256_digest(),
        size: layer.data.len() as i64,
        ..Default::default()
    };
    let partial =
        f.oci.pull_blob_stream_partial(&target, &descriptor, 1000, Some(500)).await.unwrap();
    let mut bytes = Vec::new();
    match partial {
        oci_client::client::BlobResponse::Partial(mut stream) => {
            use futures_util::StreamExt;
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk.unwrap());
            }
        }
        oci_client::client::BlobResponse::Full(_) => {
            panic!("a Range request must get a partial answer")
        }
    }
    assert!(bytes == layer.data[1000..1500], "the Range answer is bytes 1000..1500");

    for tag in ["a", "b", "c", "d", "e"] {
        let manifest = f
            .oci
            .pull_manifest_raw(&image, &f.auth, &["application/vnd.oci.image.manifest.v1+json"])
            .await
            .unwrap()
            .0;
        f.oci
            .push_manifest_raw(
                &f.reference(&format!("source:{tag}")),
                manifest,
                "application/vnd.oci.image.manifest.v1+json".parse().unwrap(),
            )
            .await
            .unwrap();
    }
    let page = f.oci.list_tags(&image, &f.auth, Some(2), None).await.unwrap();
    assert_eq!(page.tags, ["a", "b"]);
    let page = f.oci.list_tags(&image, &f.auth, Some(2), Some("b")).await.unwrap();
    assert_eq!(page.tags, ["c", "d"]);
    let page = f.oci.list_tags(&image, &f.auth, Some(10), Some("d")).await.unwrap();
    assert_eq!(page.tags, ["e", "v1"]);
    let listed = f.ecr.list_images().repository_name("source").max_results(4).send().await.unwrap();
    assert_eq!(listed.image_ids().len(), 4);
    let rest = f
        .ecr
        .list_images()
        .repository_name("source")
        .next_token(listed.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.image_ids().len(), 2);
    assert!(rest.next_token().is_none());
    let untagged = f
        .ecr
        .list_images()
        .repository_name("source")
        .filter(
            aws_sdk_ecr::types::ListImagesFilter::builder().tag_status(TagStatus::Untagged).build(),
        )
        .send()
        .await
        .unwrap();
    assert!(untagged.image_ids().is_empty());
}

/// The media type of a plain image's config.
const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

#[tokio::test]
async fn referrers_on_both_faces() {
    let f = fixture(&["signed"]).await;
    let image = f.reference("signed:v1");
    f.oci
        .push(&image, &layers(), Config::oci_v1(b"{}".to_vec(), None), &f.auth, None)
        .await
        .unwrap();
    let subject_digest = f.oci.fetch_manifest_digest(&image, &f.auth).await.unwrap();
    let subject_size = f
        .oci
        .pull_manifest_raw(&image, &f.auth, &["application/vnd.oci.image.manifest.v1+json"])
        .await
        .unwrap()
        .0
        .len();
    let empty = b"{}".to_vec();
    f.oci.push_blob(&image, &empty, &digest_of(&empty)).await.unwrap();
    // Two artifacts, and a plain image (no artifactType: the referrers API reports its
    // config's media type instead, as the OCI specification says).
    for (kind, config_type, note) in [
        (Some("application/vnd.example.sig"), "application/vnd.oci.empty.v1+json", "signature"),
        (Some("application/vnd.example.sbom"), "application/vnd.oci.empty.v1+json", "sbom"),
        (None, IMAGE_CONFIG, "image"),
    ] {
        let mut referrer = OciImageManifest {
            artifact_type: kind.map(str::to_string),
            config: OciDescriptor {
                media_type: config_type.into(),
                digest: digest_of(&empty),
                size: 2,
                ..Default::default()
            },
            layers: vec![],
            subject: Some(OciDescriptor {
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                digest: subject_digest.clone(),
                size: subject_size as i64,
                ..Default::default()
            }),
            ..Default::default()
        };
        referrer.annotations = Some([("note".to_string(), note.to_string())].into());
        let at = f.reference(&format!("signed:{note}"));
        f.oci.push_manifest(&at, &OciManifest::Image(referrer)).await.unwrap();
    }
    let all =
        f.oci.pull_referrers(&image.clone_with_digest(subject_digest.clone()), None).await.unwrap();
    assert_eq!(all.manifests.len(), 3);
    let images = f
        .oci
        .pull_referrers(&image.clone_with_digest(subject_digest.clone()), Some(IMAGE_CONFIG))
        .await
        .unwrap();
    assert_eq!(images.manifests.len(), 1);
    assert_eq!(images.manifests[0].annotations.as_ref().unwrap()["note"], "image");
    let sigs = f
        .oci
        .pull_referrers(
            &image.clone_with_digest(subject_digest.clone()),
            Some("application/vnd.example.sig"),
        )
        .await
        .unwrap();
    assert_eq!(sigs.manifests.len(), 1);
    assert_eq!(sigs.manifests[0].annotations.as_ref().unwrap()["note"], "signature");

    let api = f
        .ecr
        .list_image_referrers()
        .repository_name("signed")
        .subject_id(SubjectIdentifier::builder().image_digest(&subject_digest).build().unwrap())
        .send()
        .await
        .unwrap();
    let mut types: Vec<_> =
        api.referrers().iter().map(|r| r.artifact_type().unwrap().to_string()).collect();
    types.sort();
    assert_eq!(
        types,
        ["application/vnd.example.sbom", "application/vnd.example.sig", IMAGE_CONFIG]
    );
    let described = f.ecr.describe_images().repository_name("signed").send().await.unwrap();
    let with_subject = described
        .image_details()
        .iter()
        .filter(|d| d.subject_manifest_digest() == Some(subject_digest.as_str()))
        .count();
    assert_eq!(with_subject, 3);
}
