//! The AWS JSON 1.1 protocol edges, with raw HTTP requests against the real binary.

mod support;

use support::Berth;

const TARGET: &str = "AmazonEC2ContainerRegistry_V20150921";

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: serde_json::Value,
}

async fn post(
    berth: &Berth, target: Option<&str>, content_type: Option<&str>, body: Vec<u8>,
) -> Answer {
    let mut request = reqwest::Client::new().post(format!("{}/", berth.endpoint)).body(body);
    if let Some(t) = target {
        request = request.header("X-Amz-Target", t);
    }
    if let Some(c) = content_type {
        request = request.header("Content-Type", c);
    }
    let response = request.send().await.expect("berth answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    Answer { status, headers, body }
}

fn op(name: &str) -> String {
    format!("{TARGET}.{name}")
}

const AMZ_JSON: &str = "application/x-amz-json-1.1";

fn assert_error(answer: &Answer, status: u16, type_name: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["__type"], type_name, "{}", answer.body);
    assert!(answer.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", answer.body);
    assert_eq!(answer.headers["content-type"], AMZ_JSON);
    assert_eq!(answer.headers["x-amzn-errortype"], type_name);
    assert!(answer.headers.contains_key("x-amzn-requestid"));
}

#[tokio::test]
async fn protocol_edges() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &[]);

    let unknown = post(&berth, Some(&op("MakeCoffee")), Some(AMZ_JSON), b"{}".to_vec()).await;
    assert_error(&unknown, 400, "UnknownOperationException");
    assert!(unknown.body["message"].as_str().unwrap().contains("MakeCoffee"));
    let other_service =
        post(&berth, Some("DynamoDB_20120810.ListTables"), Some(AMZ_JSON), b"{}".to_vec()).await;
    assert_error(&other_service, 400, "UnknownOperationException");
    let no_target = post(&berth, None, Some(AMZ_JSON), b"{}".to_vec()).await;
    assert_error(&no_target, 400, "UnknownOperationException");

    let create = op("CreateRepository");
    for bad in [
        &b"{"[..],
        b"not json",
        b"[1,2]",
        b"{\"repositoryName\": 5}",
        b"{\"repositoryName\":\"ok\"} trailing",
    ] {
        let answer = post(&berth, Some(&create), Some(AMZ_JSON), bad.to_vec()).await;
        assert_error(&answer, 400, "SerializationException");
    }

    let wrong_type =
        post(&berth, Some(&create), Some("text/plain"), br#"{"repositoryName":"ok"}"#.to_vec())
            .await;
    assert_error(&wrong_type, 415, "UnsupportedMediaTypeException");
    let no_type = post(&berth, Some(&create), None, br#"{"repositoryName":"ok"}"#.to_vec()).await;
    assert_error(&no_type, 415, "UnsupportedMediaTypeException");

    // A missing body is an empty input: required members are then missing.
    let empty = post(&berth, Some(&create), Some(AMZ_JSON), Vec::new()).await;
    assert_error(&empty, 400, "InvalidParameterException");
    assert_eq!(
        empty.body["message"],
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Member must not be null'"
    );
    let describe =
        post(&berth, Some(&op("DescribeRepositories")), Some(AMZ_JSON), Vec::new()).await;
    assert_eq!(describe.status, 200);
    assert_eq!(describe.body["repositories"], serde_json::json!([]));

    let huge = vec![b' '; 33 * 1024 * 1024];
    let answer = post(&berth, Some(&create), Some(AMZ_JSON), huge).await;
    assert_error(&answer, 413, "RequestEntityTooLargeException");

    // None of the refused requests created anything; a good one still works.
    let ok = post(
        &berth,
        Some(&create),
        Some("application/x-amz-json-1.1; charset=utf-8"),
        br#"{"repositoryName":"ok"}"#.to_vec(),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["repository"]["repositoryName"], "ok");
    assert!(ok.headers.contains_key("x-amzn-requestid"));
    let describe =
        post(&berth, Some(&op("DescribeRepositories")), Some(AMZ_JSON), b"{}".to_vec()).await;
    assert_eq!(describe.body["repositories"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_operation_is_wired() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &[]);
    for operation in berth_generated::ecr::Operation::ALL {
        let answer =
            post(&berth, Some(&op(operation.name())), Some(AMZ_JSON), b"{}".to_vec()).await;
        assert_ne!(answer.body["__type"], "UnknownOperationException", "{}", operation.name());
        assert_ne!(answer.body["__type"], "SerializationException", "{}", operation.name());
        assert!(
            answer.status < 500 || answer.status == 501,
            "{}: {}",
            operation.name(),
            answer.body
        );
        if answer.status == 501 {
            assert_eq!(
                answer.body["message"],
                format!("berth does not implement the ECR operation {} yet", operation.name())
            );
        }
    }
}

#[tokio::test]
async fn ephemeral_data_is_removed_at_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let unused = tmp.path().join("not-used");
    // One process's temporary data dir.
    let berth = Berth::start_local_with_env(&unused, &["--ephemeral"], &[("TMPDIR", tmp.path())]);
    let ok = post(
        &berth,
        Some(&op("CreateRepository")),
        Some(AMZ_JSON),
        br#"{"repositoryName":"gone"}"#.to_vec(),
    )
    .await;
    assert_eq!(ok.status, 200);
    let during: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(during.len(), 1, "one temporary data dir while running");
    assert!(berth.terminate());
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the temporary data dir is removed at exit"
    );
    assert!(!unused.exists(), "--data-dir is not used with --ephemeral");
}

#[tokio::test]
async fn body_limits_follow_the_operation_and_large_bodies_do_not_block_small_calls() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    // The smallest budget: one largest body.
    let berth = Berth::start(dir.path(), &["--ecr-bodies-in-flight", "0", "--ecr-body-wait", "1"]);
    let create = op("CreateRepository");

    // An operation without documents takes 1 MiB; a larger declared body is refused.
    let padded = format!(r#"{{"repositoryName":"x"{}}}"#, " ".repeat(2 << 20));
    let answer = post(&berth, Some(&create), Some(AMZ_JSON), padded.clone().into_bytes()).await;
    assert_error(&answer, 413, "RequestEntityTooLargeException");
    assert!(
        answer.body["message"].as_str().unwrap().contains("limit of 1048576 bytes"),
        "{}",
        answer.body
    );
    // The same without Content-Length (chunked): refused while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        padded.into_bytes().chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = reqwest::Client::new()
        .post(format!("{}/", berth.endpoint))
        .header("X-Amz-Target", &create)
        .header("Content-Type", AMZ_JSON)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 413);

    // A slow sender of a 32 MiB UploadLayerPart holds the whole budget...
    let address = berth.endpoint.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: {}\r\nContent-Type: {AMZ_JSON}\r\nContent-Length: {}\r\n\r\n{{\"repositoryName\":\"x\",",
        op("UploadLayerPart"),
        32 * 1024 * 1024
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // ...and an ordinary call still answers (had it waited for the budget, it would get
    // a 503 after the wait)...
    let describe =
        post(&berth, Some(&op("DescribeRepositories")), Some(AMZ_JSON), b"{}".to_vec()).await;
    assert_eq!(describe.status, 200);
    // ...while another large body waits, then gets a 503 that SDKs retry.
    let manifest =
        format!(r#"{{"repositoryName":"x","imageManifest":"{}"}}"#, "x".repeat(100 * 1024));
    let waited = post(&berth, Some(&op("PutImage")), Some(AMZ_JSON), manifest.into_bytes()).await;
    assert_error(&waited, 503, "ServiceUnavailableException");
    drop(slow);
}
