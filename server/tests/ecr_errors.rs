//! Every registry error on the ECR API (AWS JSON) against the real binary; durability
//! across `kill -9`; registry host names and opt-in any credentials.

mod support;

use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::primitives::Blob;
use aws_sdk_ecr::types::{ImageFailureCode, ImageIdentifier, ImageTagMutability};
use reqwest::Method;
use support::images::*;
use support::*;

fn code<E: ProvideErrorMetadata>(e: E) -> (String, String) {
    (e.code().unwrap_or("").to_string(), e.message().unwrap_or("").to_string())
}

#[tokio::test]
async fn ecr_api_error_codes() {
    let (_dir, _berth, ecr, raw) = setup().await;
    let config = upload(&raw, "app", b"{}").await;
    let layer = upload(&raw, "app", b"layer").await;
    let image = manifest(&config, &layer);
    let digest = digest_of(image.as_bytes());
    let missing = digest_of(b"missing");
    let put = |body: String, tag: Option<&str>| {
        let ecr = ecr.clone();
        let tag = tag.map(str::to_string);
        async move {
            ecr.put_image()
                .repository_name("app")
                .image_manifest(body)
                .set_image_tag(tag)
                .send()
                .await
        }
    };

    put(image.clone(), Some("v1")).await.unwrap();
    assert_eq!(
        code(put(image.clone(), Some("v1")).await.unwrap_err()),
        (
            "ImageAlreadyExistsException".into(),
            format!("Image with digest '{digest}' and tag 'v1' already exists in the repository with name 'app' in registry with id '000000000000'")
        )
    );
    assert_eq!(
        code(put(manifest(&config, &missing), Some("v2")).await.unwrap_err()).0,
        "LayersNotFoundException"
    );
    assert_eq!(
        code(put(index(&[&missing]), Some("v2")).await.unwrap_err()).0,
        "ReferencedImagesNotFoundException"
    );
    assert_eq!(
        code(put("{}".into(), Some("v2")).await.unwrap_err()).0,
        "InvalidParameterException"
    );
    let mismatch = ecr
        .put_image()
        .repository_name("app")
        .image_manifest(&image)
        .image_digest(&missing)
        .send()
        .await;
    assert_eq!(code(mismatch.unwrap_err()).0, "ImageDigestDoesNotMatchException");
    ecr.put_image_tag_mutability()
        .repository_name("app")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    let other = format!("{} ", image.trim_end_matches('}')) + "}";
    assert_eq!(
        code(put(other, Some("v1")).await.unwrap_err()),
        (
            "ImageTagAlreadyExistsException".into(),
            "The image tag 'v1' already exists in the 'app' repository and cannot be overwritten because the repository is immutable.".into()
        )
    );

    let err = ecr
        .describe_images()
        .repository_name("app")
        .image_ids(ImageIdentifier::builder().image_tag("nope").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(err),
        (
            "ImageNotFoundException".into(),
            "The image with imageId {imageDigest:'null', imageTag:'nope'} does not exist within the repository with name 'app' in the registry with id '000000000000'".into()
        )
    );
    let err = ecr.describe_images().repository_name("nope").send().await.unwrap_err();
    assert_eq!(code(err).0, "RepositoryNotFoundException");

    // Layer uploads.
    let id = ecr
        .initiate_layer_upload()
        .repository_name("app")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let part = |first: i64, last: i64, bytes: &'static [u8]| {
        let ecr = ecr.clone();
        let id = id.clone();
        async move {
            ecr.upload_layer_part()
                .repository_name("app")
                .upload_id(id)
                .part_first_byte(first)
                .part_last_byte(last)
                .layer_part_blob(Blob::new(bytes))
                .send()
                .await
        }
    };
    assert_eq!(code(part(0, 9, b"short").await.unwrap_err()).0, "InvalidLayerPartException");
    assert_eq!(code(part(3, 7, b"hello").await.unwrap_err()).0, "InvalidLayerPartException");
    let complete = |digest: String| {
        let ecr = ecr.clone();
        let id = id.clone();
        async move {
            ecr.complete_layer_upload()
                .repository_name("app")
                .upload_id(id)
                .layer_digests(digest)
                .send()
                .await
        }
    };
    assert_eq!(code(complete(digest_of(b"hello")).await.unwrap_err()).0, "EmptyUploadException");
    part(0, 4, b"hello").await.unwrap();
    assert_eq!(code(complete(digest_of(b"other")).await.unwrap_err()).0, "InvalidLayerException");
    assert_eq!(code(complete(digest_of(b"hello")).await.unwrap_err()).0, "UploadNotFoundException");
    let err = ecr
        .upload_layer_part()
        .repository_name("app")
        .upload_id("00000000-0000-0000-0000-000000000000")
        .part_first_byte(0)
        .part_last_byte(0)
        .layer_part_blob(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(err),
        (
            "UploadNotFoundException".to_string(),
            "The upload with id '00000000-0000-0000-0000-000000000000' does not exist".to_string()
        )
    );
    let id2 = ecr
        .initiate_layer_upload()
        .repository_name("app")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    ecr.upload_layer_part()
        .repository_name("app")
        .upload_id(&id2)
        .part_first_byte(0)
        .part_last_byte(4)
        .layer_part_blob(Blob::new(b"layer".to_vec()))
        .send()
        .await
        .unwrap();
    let err = ecr
        .complete_layer_upload()
        .repository_name("app")
        .upload_id(&id2)
        .layer_digests(&layer)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err).0, "LayerAlreadyExistsException");
    let err = ecr
        .get_download_url_for_layer()
        .repository_name("app")
        .layer_digest(&missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(err),
        (
            "LayersNotFoundException".to_string(),
            format!("The layer with digest {missing} does not exist within the repository with name 'app' in the registry with id '000000000000'")
        )
    );

    // Batch failures.
    let got = ecr
        .batch_get_image()
        .repository_name("app")
        .image_ids(ImageIdentifier::builder().image_tag("nope").build())
        .image_ids(ImageIdentifier::builder().image_digest("bad").build())
        .image_ids(ImageIdentifier::builder().image_tag("v1").image_digest(&missing).build())
        .image_ids(ImageIdentifier::builder().build())
        .image_ids(ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap();
    let codes: Vec<_> = got.failures().iter().map(|f| f.failure_code().unwrap().clone()).collect();
    assert_eq!(
        codes,
        [
            ImageFailureCode::ImageNotFound,
            ImageFailureCode::InvalidImageDigest,
            ImageFailureCode::ImageTagDoesNotMatchDigest,
            ImageFailureCode::MissingDigestAndTag
        ]
    );
    assert_eq!(got.images().len(), 1);

    let child = digest.clone();
    ecr.put_image()
        .repository_name("app")
        .image_manifest(index(&[&child]))
        .image_tag("multi")
        .send()
        .await
        .unwrap();
    let deleted = ecr
        .batch_delete_image()
        .repository_name("app")
        .image_ids(ImageIdentifier::builder().image_digest(&child).build())
        .image_ids(ImageIdentifier::builder().image_tag("gone").build())
        .send()
        .await
        .unwrap();
    assert!(deleted.image_ids().is_empty());
    let codes: Vec<_> =
        deleted.failures().iter().map(|f| f.failure_code().unwrap().clone()).collect();
    assert_eq!(
        codes,
        [ImageFailureCode::ImageReferencedByManifestList, ImageFailureCode::ImageNotFound]
    );
    assert_eq!(
        deleted.failures()[0].failure_reason(),
        Some(
            format!(
                "Requested image referenced by manifest list: [{}]",
                digest_of(index(&[&child]).as_bytes())
            )
            .as_str()
        )
    );
    let deleted = ecr
        .batch_delete_image()
        .repository_name("app")
        .image_ids(ImageIdentifier::builder().image_tag("multi").build())
        .image_ids(ImageIdentifier::builder().image_digest(&child).build())
        .send()
        .await
        .unwrap();
    assert!(deleted.failures().is_empty(), "{:?}", deleted.failures());
    assert_eq!(deleted.image_ids().len(), 2);
    assert!(ecr
        .describe_images()
        .repository_name("app")
        .send()
        .await
        .unwrap()
        .image_details()
        .is_empty());
}

#[tokio::test]
async fn acknowledged_data_survives_kill_9() {
    let (dir, berth, ecr, raw) = setup().await;
    let config = upload(&raw, "app", b"{}").await;
    // A chunked upload, interrupted after its first acknowledged chunk.
    let r = raw.request(Method::POST, "/v2/app/blobs/uploads/").send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let r = raw
        .request(Method::PATCH, &location)
        .header("Content-Range", "0-2")
        .body("lay")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    drop(ecr);
    berth.kill9();

    let berth = Berth::start(dir.path(), &[]);
    let raw = RawRegistry { endpoint: berth.endpoint.clone(), ..raw };
    let r = raw.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(r.status(), 204, "the session survives the crash");
    assert_eq!(r.headers()["range"], "0-2");
    let r = raw
        .request(Method::PATCH, &location)
        .header("Content-Range", "3-4")
        .body("er")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let layer = digest_of(b"layer");
    let r = raw.request(Method::PUT, &format!("{location}?digest={layer}")).send().await.unwrap();
    assert_eq!(r.status(), 201, "the resumed upload hashes to the right digest");
    let image = manifest(&config, &layer);
    assert_eq!(put_manifest(&raw, "app", "v1", &image, OCI_MANIFEST).await.status(), 201);
    berth.kill9();

    let berth = Berth::start(dir.path(), &[]);
    let raw = RawRegistry { endpoint: berth.endpoint.clone(), ..raw };
    let r = raw.get_manifest("/v2/app/manifests/v1", OCI_MANIFEST).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], digest_of(image.as_bytes()).as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), image.as_bytes());
    for (digest, bytes) in [(&layer, &b"layer"[..]), (&config, &b"{}"[..])] {
        let r = raw.request(Method::GET, &format!("/v2/app/blobs/{digest}")).send().await.unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), bytes);
    }
    assert_eq!(berth.upload_leftovers(), 0, "no upload bytes are left behind");
}

#[tokio::test]
async fn host_names_select_the_registry_and_any_credentials_is_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &["--access-key", "AKIDTEAM=123456789012"]);
    let team = ecr_client(&berth.endpoint, "AKIDTEAM", "eu-west-1");
    create_repository(&team, "team-app").await;
    let raw = RawRegistry::new(&berth, &registry_password(&team).await);
    let r = raw
        .request(Method::GET, "/v2/team-app/tags/list")
        .header("Host", "123456789012.dkr.ecr.eu-west-1.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the host names the token's registry");
    let r = raw
        .request(Method::GET, "/v2/team-app/tags/list")
        .header("Host", "000000000000.dkr.ecr.eu-west-1.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(
        oci_error_code(r).await.1,
        "DENIED",
        "a token for one account does not open another's registry"
    );
    let any = RawRegistry::new(&berth, "test");
    let r = any.request(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), 401, "arbitrary credentials are refused by default");
    drop(berth);

    let berth = Berth::start(dir.path(), &["--accept-any-credentials"]);
    let any = RawRegistry::new(&berth, "test");
    assert_eq!(any.request(Method::GET, "/v2/").send().await.unwrap().status(), 200);
    let anonymous = RawRegistry { authorization: None, ..RawRegistry::new(&berth, "x") };
    assert_eq!(
        anonymous.request(Method::GET, "/v2/").send().await.unwrap().status(),
        401,
        "credentials are still required"
    );
}

#[tokio::test]
async fn positional_arrays_for_structures_are_serialization_errors_and_change_nothing() {
    let (_dir, berth, ecr) = started(&[]);
    let cases = [
        // A structure member given as serde's positional form.
        (
            "CreateRepository",
            serde_json::json!({"repositoryName": "x", "imageScanningConfiguration": [true]}),
        ),
        // A structure inside a list.
        (
            "PutRegistryScanningConfiguration",
            serde_json::json!({"scanType": "BASIC", "rules": [["SCAN_ON_PUSH", []]]}),
        ),
        // A structure inside a structure.
        (
            "PutReplicationConfiguration",
            serde_json::json!({"replicationConfiguration": {"rules": [{"destinations": [["us-west-2", "000000000000"]]}]}}),
        ),
        // A structure given as a scalar.
        (
            "CreateRepository",
            serde_json::json!({"repositoryName": "y", "encryptionConfiguration": "AES256"}),
        ),
    ];
    for (operation, body) in cases {
        let (status, answer) =
            support::ecr_json(&berth, "AKIDEXAMPLE", "us-east-1", operation, body.clone()).await;
        assert_eq!(
            (status, answer["__type"].as_str()),
            (400, Some("SerializationException")),
            "{operation} {body}: {answer}"
        );
    }
    let repositories = ecr.describe_repositories().send().await.unwrap();
    assert!(repositories.repositories().is_empty(), "nothing was created");
    let scanning = ecr.get_registry_scanning_configuration().send().await.unwrap();
    assert!(scanning.scanning_configuration().unwrap().rules().is_empty());
}
