//! Hostile input against the real binary: path traversal, absurd lengths, bad UTF-8,
//! duplicate JSON keys, huge numbers, digests of other algorithms, negative and
//! overflowing ranges. Each gets its 4xx in the face's own format, and nothing changes.

mod support;

use reqwest::Method;
use support::*;

/// An ECR API call with exactly these body bytes: (status, JSON answer).
async fn ecr_raw(berth: &Berth, operation: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let answer = ecr_request(berth, operation, body).send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or_default())
}

/// A GET of exactly this request target (clients normalize `..` away before sending):
/// (status, body).
async fn raw_get(berth: &Berth, target: &str, authorization: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(registry_host(berth)).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[tokio::test]
async fn hostile_ecr_bodies_get_client_errors_and_change_nothing() {
    let (_dir, berth, ecr) = started(&[]);
    create_repository(&ecr, "kept").await;
    let long_name = "a".repeat(10_000);
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "bad UTF-8 in a string",
            "CreateRepository",
            b"{\"repositoryName\":\"ab\xff\xfe\"}".to_vec(),
            "SerializationException",
        ),
        (
            "duplicate keys",
            "CreateRepository",
            br#"{"repositoryName":"one1","repositoryName":"two2"}"#.to_vec(),
            "SerializationException",
        ),
        (
            "a number larger than any integer",
            "DescribeRepositories",
            br#"{"maxResults":99999999999999999999999}"#.to_vec(),
            "SerializationException",
        ),
        (
            "a float where an integer goes",
            "DescribeRepositories",
            br#"{"maxResults":1e400}"#.to_vec(),
            "SerializationException",
        ),
        (
            "a negative count",
            "DescribeRepositories",
            br#"{"maxResults":-1}"#.to_vec(),
            "InvalidParameterException",
        ),
        (
            "an absurdly long name",
            "CreateRepository",
            format!(r#"{{"repositoryName":"{long_name}"}}"#).into_bytes(),
            "InvalidParameterException",
        ),
        (
            "path traversal in a name",
            "CreateRepository",
            br#"{"repositoryName":"../../etc"}"#.to_vec(),
            "InvalidParameterException",
        ),
        (
            "deep nesting",
            "CreateRepository",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            "SerializationException",
        ),
        ("not JSON at all", "PutImage", vec![0u8; 100], "SerializationException"),
    ];
    for (what, operation, body, expected) in cases {
        let (status, answer) = ecr_raw(&berth, operation, body).await;
        assert_eq!(
            (status, answer["__type"].as_str().unwrap_or_default()),
            (400, expected),
            "{what} ({operation}): {answer}"
        );
    }
    // Digests of other algorithms, or with a path in them: as ECR, a per-image failure.
    for digest in ["md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:../../x"] {
        let body =
            serde_json::json!({"repositoryName": "kept", "imageIds": [{"imageDigest": digest}]});
        let (status, answer) =
            ecr_raw(&berth, "BatchGetImage", body.to_string().into_bytes()).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["failures"][0]["failureCode"], "InvalidImageDigest", "{answer}");
    }
    let repositories = ecr.describe_repositories().send().await.unwrap();
    let names: Vec<&str> =
        repositories.repositories().iter().filter_map(|r| r.repository_name()).collect();
    assert_eq!(names, ["kept"], "nothing was created");
}

/// One hostile /v2 request: what it is, method, path, headers, status and OCI code.
struct Case(&'static str, Method, String, Vec<(&'static str, String)>, u16, &'static str);

#[tokio::test]
async fn hostile_registry_requests_get_client_errors_and_change_nothing() {
    let (_dir, berth, ecr) = started(&[]);
    create_repository(&ecr, "kept").await;
    let host = registry_host(&berth);
    push_one_layer(&ecr, &format!("{host}/kept:v1"), b"the only layer").await;
    let layer = digest_of(b"the only layer");
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    let long_tag = "t".repeat(1000);
    let long_name = "n".repeat(10_000);
    let cases: Vec<Case> = vec![
        Case(
            "traversal in a digest",
            Method::GET,
            "/v2/kept/blobs/sha256:..%2f..%2fmetadata.sqlite".into(),
            vec![],
            400,
            "DIGEST_INVALID",
        ),
        Case(
            "a digest of another algorithm",
            Method::GET,
            "/v2/kept/blobs/md5:d41d8cd98f00b204e9800998ecf8427e".into(),
            vec![],
            400,
            "DIGEST_INVALID",
        ),
        Case(
            "an absurdly long name",
            Method::GET,
            format!("/v2/{long_name}/tags/list"),
            vec![],
            400,
            "NAME_INVALID",
        ),
        Case(
            "an absurdly long tag",
            Method::PUT,
            format!("/v2/kept/manifests/{long_tag}"),
            vec![("Content-Type", "application/vnd.oci.image.manifest.v1+json".into())],
            400,
            "TAG_INVALID",
        ),
        Case(
            "bad UTF-8 in the path",
            Method::GET,
            "/v2/kept/manifests/%FF%FE".into(),
            vec![],
            400,
            "TAG_INVALID",
        ),
        Case(
            "an unsatisfiable suffix range",
            Method::GET,
            format!("/v2/kept/blobs/{layer}"),
            vec![("Range", "bytes=-0".into())],
            416,
            "",
        ),
        Case(
            "a range past 2^64",
            Method::GET,
            format!("/v2/kept/blobs/{layer}"),
            vec![("Range", "bytes=18446744073709551616-".into())],
            416,
            "",
        ),
        Case(
            "a negative range",
            Method::GET,
            format!("/v2/kept/blobs/{layer}"),
            vec![("Range", "bytes=-5-3".into())],
            416,
            "",
        ),
    ];
    for Case(what, method, path, headers, status, code) in cases {
        let mut request = raw.request(method.clone(), &path);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let answer = request.body(Vec::new()).send().await.unwrap();
        let (got_status, got_code, _) = oci_error_code(answer).await;
        assert_eq!(got_status, status, "{what}: {method} {path}");
        if !code.is_empty() {
            assert_eq!(got_code, code, "{what}: {method} {path}");
        }
    }
    // Traversal as sent on the wire (an HTTP client would normalize it away first).
    let authorization = raw.authorization.clone().unwrap();
    for target in [
        "/v2/../../etc/passwd/manifests/latest",
        "/v2/%2e%2e/kept/manifests/v1",
        "/v2/kept/../kept/manifests/v1",
        "/v2/kept/blobs/sha256:..%2f..%2fmetadata.sqlite",
    ] {
        let (status, body) = raw_get(&berth, target, &authorization).await;
        assert!((400..500).contains(&status), "{target}: {status} {body}");
        assert!(!body.contains("SQLite"), "{target}: {body}");
    }
    // An upload chunk whose Content-Range spans 2^64 bytes, and duplicate keys in a manifest.
    let started = raw.request(Method::POST, "/v2/kept/blobs/uploads/").send().await.unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let overflowing = raw
        .request(Method::PATCH, &location)
        .header("Content-Range", "0-18446744073709551615")
        .body(vec![1u8; 4])
        .send()
        .await
        .unwrap();
    assert_eq!(oci_error_code(overflowing).await.0, 416);
    let duplicate = format!(
        r#"{{"schemaVersion":2,"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{layer}","size":14}},"layers":[]}}"#
    );
    let refused = raw
        .request(Method::PUT, "/v2/kept/manifests/dup")
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(duplicate)
        .send()
        .await
        .unwrap();
    let (status, code, _) = oci_error_code(refused).await;
    assert_eq!((status, code.as_str()), (400, "MANIFEST_INVALID"));
    // Nothing changed: one image, one tag.
    let tags = raw
        .request(Method::GET, "/v2/kept/tags/list")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
    let images = ecr.list_images().repository_name("kept").send().await.unwrap();
    assert_eq!(images.image_ids().len(), 1);
}
