//! Writers moving and deleting a tag while many readers HEAD it, against the real binary:
//! once the last write has answered, every face agrees with ListImages (issue 18: a
//! reader's late cache fill used to keep the old digest, or a deleted tag, served).
//!
//! `BERTH_TAG_RACE_STORMS` sets the number of storms (default [`DEFAULT_STORMS`]; half move
//! the tag between manifests, half put and then delete it).

mod support;

use aws_sdk_ecr::types::{ImageIdentifier, TagStatus};
use reqwest::Method;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use support::*;

const DEFAULT_STORMS: usize = 1000;
const READERS: usize = 32;
const WRITERS: usize = 4;
const REPOSITORY: &str = "race";
const TAG: &str = "race";

fn manifest(config: &str, layer: &str, layer_size: usize) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    )
}

/// Pushes a config and one layer per writer, and returns one manifest per writer.
async fn manifests(registry: &RawRegistry) -> Vec<String> {
    let config = b"{}".to_vec();
    let mut blobs = vec![config.clone()];
    blobs.extend((0..WRITERS).map(|i| format!("layer {i}").into_bytes()));
    for blob in &blobs {
        let pushed = registry
            .request(
                Method::POST,
                &format!("/v2/{REPOSITORY}/blobs/uploads/?digest={}", digest_of(blob)),
            )
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status(), 201, "blob upload");
    }
    blobs[1..]
        .iter()
        .map(|layer| manifest(&digest_of(&config), &digest_of(layer), layer.len()))
        .collect()
}

/// Readers HEAD the tag until stopped; `started` counts readers that answered once.
fn start_readers(
    registry: &Arc<RawRegistry>, stop: &Arc<AtomicBool>, started: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..READERS)
        .map(|_| {
            let (registry, stop, started) = (registry.clone(), stop.clone(), started.clone());
            tokio::spawn(async move {
                let mut first = true;
                while first || !stop.load(Ordering::SeqCst) {
                    let answer = registry
                        .request(Method::HEAD, &format!("/v2/{REPOSITORY}/manifests/{TAG}"))
                        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                        .send()
                        .await
                        .expect("berth answers a HEAD");
                    assert!(
                        [200, 404].contains(&answer.status().as_u16()),
                        "HEAD answered {}",
                        answer.status()
                    );
                    if first {
                        started.fetch_add(1, Ordering::SeqCst);
                        first = false;
                    }
                }
            })
        })
        .collect()
}

/// Runs `writes` while the readers hammer the tag, then stops and joins the readers.
async fn storm<F: std::future::Future<Output = ()>>(registry: &Arc<RawRegistry>, writes: F) {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let readers = start_readers(registry, &stop, &started);
    while started.load(Ordering::SeqCst) < READERS {
        tokio::task::yield_now().await;
    }
    writes.await;
    stop.store(true, Ordering::SeqCst);
    for reader in readers {
        reader.await.expect("a reader panicked");
    }
}

/// Points the tag at `manifest` with PutImage; ECR answers ImageAlreadyExistsException
/// when the tag already points there, which is a write that answered too.
async fn put_tag(ecr: &aws_sdk_ecr::Client, manifest: &str) {
    let put = ecr
        .put_image()
        .repository_name(REPOSITORY)
        .image_manifest(manifest)
        .image_tag(TAG)
        .send()
        .await;
    if let Err(e) = put {
        let e = e.into_service_error();
        assert!(e.is_image_already_exists_exception(), "PutImage moves a mutable tag: {e:?}");
    }
}

/// The digest the tag points at according to ListImages, or None.
async fn listed(ecr: &aws_sdk_ecr::Client) -> Option<String> {
    let images = ecr
        .list_images()
        .repository_name(REPOSITORY)
        .filter(
            aws_sdk_ecr::types::ListImagesFilter::builder().tag_status(TagStatus::Tagged).build(),
        )
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let mut found: Vec<String> = images
        .image_ids()
        .iter()
        .filter(|id| id.image_tag() == Some(TAG))
        .filter_map(|id| id.image_digest().map(str::to_string))
        .collect();
    assert!(found.len() <= 1, "ListImages tags {TAG} twice: {found:?}");
    found.pop()
}

/// Every face answers for the tag what ListImages says.
async fn faces_agree(ecr: &aws_sdk_ecr::Client, registry: &RawRegistry, storm: usize) {
    let expected = listed(ecr).await;
    let path = format!("/v2/{REPOSITORY}/manifests/{TAG}");
    for method in [Method::HEAD, Method::GET] {
        let answer = registry
            .request(method.clone(), &path)
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        let served = (answer.status() == 200)
            .then(|| answer.headers()["docker-content-digest"].to_str().unwrap().to_string());
        assert_eq!(
            served, expected,
            "storm {storm}: /v2 {method} serves a digest ListImages does not tag"
        );
    }
    let tag_id = ImageIdentifier::builder().image_tag(TAG).build();
    let got = ecr
        .batch_get_image()
        .repository_name(REPOSITORY)
        .image_ids(tag_id.clone())
        .send()
        .await
        .unwrap();
    let batch: Option<String> = got
        .images()
        .first()
        .and_then(|i| i.image_id())
        .and_then(|id| id.image_digest())
        .map(str::to_string);
    assert_eq!(batch, expected, "storm {storm}: BatchGetImage disagrees");
    let described =
        ecr.describe_images().repository_name(REPOSITORY).max_results(1000).send().await.unwrap();
    let tagged: Vec<String> = described
        .image_details()
        .iter()
        .filter(|d| d.image_tags().iter().any(|t| t == TAG))
        .filter_map(|d| d.image_digest().map(str::to_string))
        .collect();
    assert_eq!(
        tagged,
        expected.into_iter().collect::<Vec<_>>(),
        "storm {storm}: DescribeImages disagrees"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_face_agrees_with_list_images_after_racing_writes() {
    let storms: usize = std::env::var("BERTH_TAG_RACE_STORMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_STORMS);
    let (_dir, berth, ecr) = started(&[]);
    ecr.create_repository().repository_name(REPOSITORY).send().await.unwrap();
    let registry = Arc::new(RawRegistry::new(&berth, &registry_password(&ecr).await));
    let manifests = manifests(&registry).await;

    for n in 0..storms {
        if n % 2 == 0 {
            // Four writers move the tag, each to its own manifest.
            storm(&registry, async {
                let writes: Vec<_> = manifests
                    .iter()
                    .map(|m| {
                        let (ecr, m) = (ecr.clone(), m.clone());
                        tokio::spawn(async move { put_tag(&ecr, &m).await })
                    })
                    .collect();
                for w in writes {
                    w.await.unwrap();
                }
            })
            .await;
        } else {
            // The tag is put, read by everyone, then deleted under the readers.
            put_tag(&ecr, &manifests[n % WRITERS]).await;
            storm(&registry, async {
                let deleted = ecr
                    .batch_delete_image()
                    .repository_name(REPOSITORY)
                    .image_ids(ImageIdentifier::builder().image_tag(TAG).build())
                    .send()
                    .await
                    .unwrap();
                assert!(deleted.failures().is_empty(), "{:?}", deleted.failures());
            })
            .await;
            assert_eq!(listed(&ecr).await, None, "storm {n}: the tag was deleted");
        }
        faces_agree(&ecr, &registry, n).await;
    }
}
