//! sha512 on /v2, as the OCI specification lets a registry accept it: blobs (monolithic and
//! chunked, announced or not), missing blobs, manifests addressed by a sha512 digest, and
//! oci-client round-tripping a sha512 blob; the ECR face keeps ECR's sha256 rule.

mod support;

use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use reqwest::Method;
use sha2::{Digest as _, Sha512};
use support::images::{setup, OCI_MANIFEST};
use support::{oci_client, oci_error_code, registry_host, registry_password, RawRegistry};

fn sha512(bytes: &[u8]) -> String {
    format!("sha512:{}", hex::encode(Sha512::digest(bytes)))
}

async fn status_of(raw: &RawRegistry, method: Method, path: &str, body: &[u8]) -> u16 {
    raw.request(method, path).body(body.to_vec()).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn sha512_blobs_and_manifests_on_v2() {
    let (_dir, berth, ecr, raw) = setup().await;

    // Monolithic, then readable by HEAD and GET under its sha512 digest.
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = sha512(config);
    let post = format!("/v2/app/blobs/uploads/?digest={config_digest}");
    assert_eq!(status_of(&raw, Method::POST, &post, config).await, 201);
    let got =
        raw.request(Method::GET, &format!("/v2/app/blobs/{config_digest}")).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["docker-content-digest"], config_digest.as_str());
    assert_eq!(got.bytes().await.unwrap().as_ref(), config);

    // Chunked, announced with digest-algorithm.
    let layer = vec![42u8; 300_000];
    let layer_digest = sha512(&layer);
    let started = raw
        .request(Method::POST, "/v2/app/blobs/uploads/?digest-algorithm=sha512")
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let patched = raw
        .request(Method::PATCH, &location)
        .header("Content-Range", format!("0-{}", layer.len() - 1))
        .body(layer.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 202);
    let location = patched.headers()["location"].to_str().unwrap().to_string();
    let separator = if location.contains('?') { '&' } else { '?' };
    // A wrong sha512 is refused and stores nothing.
    let wrong = sha512(b"other");
    let refused = raw
        .request(Method::PUT, &format!("{location}{separator}digest={wrong}"))
        .send()
        .await
        .unwrap();
    assert_eq!(oci_error_code(refused).await.1, "DIGEST_INVALID");
    let missing =
        raw.request(Method::HEAD, &format!("/v2/app/blobs/{wrong}")).send().await.unwrap();
    assert_eq!(missing.status(), 404, "a missing sha512 blob is unknown, not invalid");
    let missing = raw.request(Method::GET, &format!("/v2/app/blobs/{wrong}")).send().await.unwrap();
    let (status, code, _) = oci_error_code(missing).await;
    assert_eq!((status, code.as_str()), (404, "BLOB_UNKNOWN"));

    // The same upload of the same bytes again, unannounced, finished with the right digest.
    let started = raw.request(Method::POST, "/v2/app/blobs/uploads/").send().await.unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let separator = if location.contains('?') { '&' } else { '?' };
    let put = raw
        .request(Method::PUT, &format!("{location}{separator}digest={layer_digest}"))
        .body(layer.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(put.headers()["docker-content-digest"], layer_digest.as_str());

    // A manifest of sha512 blobs, put and got by its sha512 digest.
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let manifest_digest = sha512(manifest.as_bytes());
    let put = raw
        .request(Method::PUT, &format!("/v2/app/manifests/{manifest_digest}"))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(put.headers()["docker-content-digest"], manifest_digest.as_str());
    let got = raw.get_manifest(&format!("/v2/app/manifests/{manifest_digest}"), OCI_MANIFEST).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), manifest);

    let unknown = raw
        .request(Method::POST, "/v2/app/blobs/uploads/?digest-algorithm=md5")
        .send()
        .await
        .unwrap();
    assert_eq!(oci_error_code(unknown).await.1, "DIGEST_INVALID");

    // The ECR face keeps ECR's rule: sha256 only.
    let availability = ecr
        .batch_check_layer_availability()
        .repository_name("app")
        .layer_digests(&layer_digest)
        .send()
        .await
        .unwrap();
    assert_eq!(
        availability.failures()[0].failure_code(),
        Some(&aws_sdk_ecr::types::LayerFailureCode::InvalidLayerDigest)
    );

    // oci-client round-trips a sha512 blob (it checks the digest as it pulls).
    let reference: Reference = format!("{}/app:x", registry_host(&berth)).parse().unwrap();
    let auth = RegistryAuth::Basic("AWS".into(), registry_password(&ecr).await);
    let oci = oci_client();
    oci.auth(&reference, &auth, oci_client::RegistryOperation::Push).await.unwrap();
    let data = b"a sha512 blob through oci-client".to_vec();
    let digest = sha512(&data);
    oci.push_blob(&reference, &data, &digest).await.unwrap();
    let descriptor = oci_client::manifest::OciDescriptor {
        media_type: "application/octet-stream".into(),
        digest: digest.clone(),
        size: data.len() as i64,
        ..Default::default()
    };
    let mut pulled = Vec::new();
    oci.pull_blob(&reference, &descriptor, &mut pulled).await.unwrap();
    assert_eq!(pulled, data);
}
