//! Every registry error on /v2 (OCI error bodies), and upload sessions' ownership and
//! ranges, against the real binary. The ECR face's errors and durability are in
//! ecr_errors.rs.

mod support;

use aws_sdk_ecr::types::ImageTagMutability;
use reqwest::Method;
use support::images::*;
use support::*;

#[tokio::test]
async fn oci_error_codes() {
    let (_dir, berth, ecr, raw) = setup().await;
    let config = upload(&raw, "app", b"{}").await;
    let layer = upload(&raw, "app", b"layer").await;
    let image = manifest(&config, &layer);
    let missing = digest_of(b"missing");

    // Authentication.
    let anonymous = RawRegistry { authorization: None, ..RawRegistry::new(&berth, "x") };
    let r = anonymous.request(Method::GET, "/v2/").send().await.unwrap();
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic realm="));
    assert_eq!(r.headers()["docker-distribution-api-version"], "registry/2.0");
    assert_eq!(oci_error_code(r).await.1, "UNAUTHORIZED");
    let forged = RawRegistry::new(&berth, "berth1.AAAA.BBBB");
    let r = forged.request(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(
        oci_error_code(r).await,
        (401, "UNAUTHORIZED".into(), "Not Authorized: the token is not valid".into())
    );
    let signer = berth.token_signer();
    let expired = RawRegistry::new(
        &berth,
        &signer.issue("000000000000", "us-east-1", 1, "arn:aws:iam::000000000000:root"),
    );
    let r = expired.request(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(
        oci_error_code(r).await,
        (
            401,
            "DENIED".into(),
            "Your authorization token has expired. Reauthenticate and try again.".into()
        )
    );
    let other_account = RawRegistry::new(
        &berth,
        &signer.issue("111111111111", "us-east-1", u64::MAX / 2, "arn:aws:iam::111111111111:root"),
    );
    let r = other_account.request(Method::GET, "/v2/app/tags/list").send().await.unwrap();
    assert_eq!(
        oci_error_code(r).await.1,
        "NAME_UNKNOWN",
        "another account sees its own registry only"
    );

    // (method, path, body, status, code); an empty code: a HEAD, whose answer has no body.
    let no_body = "";
    let requests = [
        (Method::GET, "/v2/nope/tags/list".to_string(), no_body, 404, "NAME_UNKNOWN"),
        (Method::GET, "/v2/Bad_Name/tags/list".into(), no_body, 400, "NAME_INVALID"),
        (Method::HEAD, format!("/v2/app/blobs/{missing}"), no_body, 404, ""),
        (Method::GET, format!("/v2/other/blobs/{layer}"), no_body, 404, "BLOB_UNKNOWN"),
        (Method::GET, "/v2/app/blobs/sha256:xyz".into(), no_body, 400, "DIGEST_INVALID"),
        (Method::DELETE, format!("/v2/app/blobs/{layer}"), no_body, 405, "UNSUPPORTED"),
        (Method::GET, "/v2/app/manifests/none".into(), no_body, 404, "MANIFEST_UNKNOWN"),
        (
            Method::POST,
            format!("/v2/app/blobs/uploads/?digest={missing}"),
            "other bytes",
            400,
            "DIGEST_INVALID",
        ),
        (Method::GET, "/v2/app/tags/list?n=0".into(), no_body, 400, "UNSUPPORTED"),
    ];
    let mut answers = Vec::new();
    for (method, path, body, status, code) in requests {
        let response = raw.request(method, &path).body(body).send().await.unwrap();
        answers.push((path, response, status, code));
    }
    // (reference, manifest, content type, status, code)
    let too_large = " ".repeat(4 * 1024 * 1024 + 1);
    let docker_v2 = "application/vnd.docker.distribution.manifest.v2+json";
    let unknown_blob = manifest(&config, &missing);
    let unknown_child = index(&[&missing]);
    let pushes = [
        ("v1", "{not json", OCI_MANIFEST, 400, "MANIFEST_INVALID"),
        ("v1", image.as_str(), docker_v2, 400, "MANIFEST_INVALID"),
        ("v1", unknown_blob.as_str(), OCI_MANIFEST, 400, "MANIFEST_BLOB_UNKNOWN"),
        ("v1", unknown_child.as_str(), OCI_INDEX, 400, "MANIFEST_BLOB_UNKNOWN"),
        (missing.as_str(), image.as_str(), OCI_MANIFEST, 400, "DIGEST_INVALID"),
        ("bad+tag", image.as_str(), OCI_MANIFEST, 400, "TAG_INVALID"),
        ("v1", too_large.as_str(), OCI_MANIFEST, 413, "MANIFEST_INVALID"),
    ];
    for (reference, body, content_type, status, code) in pushes {
        let response = put_manifest(&raw, "app", reference, body, content_type).await;
        answers.push((format!("PUT manifest {reference}"), response, status, code));
    }
    for (what, response, status, code) in answers {
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_eq!(response.headers()["docker-distribution-api-version"], "registry/2.0", "{what}");
        if !code.is_empty() {
            assert_eq!(oci_error_code(response).await.1, code, "{what}");
        }
    }
    let r = put_manifest(&raw, "app", "v1", &index(&[&missing]), OCI_INDEX).await;
    assert_eq!(
        oci_error_code(r).await.2,
        format!("Images with digests '[{missing}]' required for pushing image into repository with name 'app' in the registry with id '000000000000' do not exist")
    );
    let r = raw.request(Method::GET, "/v2/nope/tags/list").send().await.unwrap();
    assert_eq!(
        oci_error_code(r).await.2,
        "The repository with name 'nope' does not exist in the registry with id '000000000000'"
    );
    let other_missing = digest_of(b"also missing");
    let r =
        put_manifest(&raw, "app", "v1", &manifest(&missing, &other_missing), OCI_MANIFEST).await;
    assert_eq!(
        oci_error_code(r).await.2,
        format!("Layers with digests '[{missing}, {other_missing}]' required for pushing image into repository with name 'app' in the registry with id '000000000000' do not exist"),
        "every missing blob is named, once"
    );

    // None of that stored anything.
    assert!(ecr
        .describe_images()
        .repository_name("app")
        .send()
        .await
        .unwrap()
        .image_details()
        .is_empty());

    // Immutable tags refuse to move, even to the same digest (as ECR's /v2 does).
    assert_eq!(put_manifest(&raw, "app", "v1", &image, OCI_MANIFEST).await.status(), 201);
    ecr.put_image_tag_mutability()
        .repository_name("app")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    let r = put_manifest(&raw, "app", "v1", &image, OCI_MANIFEST).await;
    assert_eq!(
        oci_error_code(r).await,
        (
            400,
            "TAG_INVALID".into(),
            "The image tag 'v1' already exists in the 'app' repository and cannot be overwritten because the repository is immutable.".into()
        )
    );
    assert_eq!(
        put_manifest(&raw, "app", "v2", &image, OCI_MANIFEST).await.status(),
        201,
        "new tags are fine"
    );

    // An index keeps its children: deleting a child is refused.
    let image_digest = digest_of(image.as_bytes());
    assert_eq!(
        put_manifest(&raw, "app", "multi", &index(&[&image_digest]), OCI_INDEX).await.status(),
        201
    );
    let r = raw
        .request(Method::DELETE, &format!("/v2/app/manifests/{image_digest}"))
        .send()
        .await
        .unwrap();
    let (status, code, message) = oci_error_code(r).await;
    assert_eq!((status, code.as_str()), (405, "UNSUPPORTED"));
    assert!(
        message.starts_with("Requested image referenced by manifest list: [sha256:"),
        "{message}"
    );
}

#[tokio::test]
async fn upload_sessions_belong_to_their_repository_and_check_ranges() {
    let (_dir, _berth, ecr, raw) = setup().await;
    let r = raw.request(Method::POST, "/v2/app/blobs/uploads/").send().await.unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(r.headers()["range"], "0-0");
    let id = location.rsplit('/').next().unwrap().to_string();

    // The same session through another repository's path is unknown and untouched.
    for method in [Method::GET, Method::PATCH, Method::PUT, Method::DELETE] {
        let r = raw
            .request(
                method.clone(),
                &format!("/v2/other/blobs/uploads/{id}?digest={}", digest_of(b"")),
            )
            .body("xx")
            .send()
            .await
            .unwrap();
        assert_eq!(oci_error_code(r).await.1, "BLOB_UPLOAD_UNKNOWN", "{method}");
    }
    let r = raw.request(Method::GET, "/v2/app/blobs/uploads/not-a-session").send().await.unwrap();
    assert_eq!(oci_error_code(r).await.1, "BLOB_UPLOAD_UNKNOWN");

    let r = raw
        .request(Method::PATCH, &location)
        .header("Content-Range", "0-4")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-4");
    // A chunk that does not start at the end is 416 with the current range.
    let r = raw
        .request(Method::PATCH, &location)
        .header("Content-Range", "3-7")
        .body("lo wo")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["range"], "0-4");
    assert!(
        location.ends_with(r.headers()["location"].to_str().unwrap()),
        "the 416 says where the upload is, to resume there"
    );
    let r = raw
        .request(Method::PATCH, &location)
        .header("Content-Range", "5-10")
        .body(" world")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = raw.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-10");
    let r = raw
        .request(Method::PUT, &format!("{location}?digest={}", digest_of(b"hello world!")))
        .body("!")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = raw
        .request(Method::GET, &format!("/v2/app/blobs/{}", digest_of(b"hello world!")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello world!");

    // Range GETs: 206 and 416.
    let digest = digest_of(b"hello world!");
    let r = raw
        .request(Method::GET, &format!("/v2/app/blobs/{digest}"))
        .header("Range", "bytes=6-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 6-11/12");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"world!");
    let r = raw
        .request(Method::GET, &format!("/v2/app/blobs/{digest}"))
        .header("Range", "bytes=20-30")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */12");

    // A cancelled session is gone.
    let r = raw.request(Method::POST, "/v2/app/blobs/uploads/").send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(raw.request(Method::DELETE, &location).send().await.unwrap().status(), 204);
    let r = raw.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(oci_error_code(r).await.1, "BLOB_UPLOAD_UNKNOWN");

    // Mount from a repository without the blob opens a session instead.
    let r = raw
        .request(
            Method::POST,
            &format!("/v2/other/blobs/uploads/?mount={}&from=app", digest_of(b"absent")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // As in ECR, a mount links the blob only with BLOB_MOUNTING enabled (off by default)
    // and a manifest of the source repository referencing it; otherwise 202, an upload.
    let mount = || async {
        raw.request(Method::POST, &format!("/v2/other/blobs/uploads/?mount={digest}&from=app"))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(mount().await.status(), 202, "mounting is off");
    ecr.put_account_setting().name("BLOB_MOUNTING").value("ENABLED").send().await.unwrap();
    assert_eq!(mount().await.status(), 202, "no manifest of app references it");
    let config = upload(&raw, "app", b"{}").await;
    let body = manifest(&config, &digest);
    assert_eq!(put_manifest(&raw, "app", "v1", &body, OCI_MANIFEST).await.status(), 201);
    let r = mount().await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], digest.as_str());
}
