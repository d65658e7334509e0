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
    berth: &Berth,
    target: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}/", berth.endpoint))
        .body(body);
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
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Answer {
        status,
        headers,
        body,
    }
}

fn op(name: &str) -> String {
    format!("{TARGET}.{name}")
}

const AMZ_JSON: &str = "application/x-amz-json-1.1";

fn assert_error(answer: &Answer, status: u16, type_name: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["__type"], type_name, "{}", answer.body);
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        answer.body
    );
    assert_eq!(answer.headers["content-type"], AMZ_JSON);
    assert_eq!(answer.headers["x-amzn-errortype"], type_name);
    assert!(answer.headers.contains_key("x-amzn-requestid"));
}

#[tokio::test]
async fn protocol_edges() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &[]);

    let unknown = post(
        &berth,
        Some(&op("MakeCoffee")),
        Some(AMZ_JSON),
        b"{}".to_vec(),
    )
    .await;
    assert_error(&unknown, 400, "UnknownOperationException");
    assert!(unknown.body["message"]
        .as_str()
        .unwrap()
        .contains("MakeCoffee"));
    let other_service = post(
        &berth,
        Some("DynamoDB_20120810.ListTables"),
        Some(AMZ_JSON),
        b"{}".to_vec(),
    )
    .await;
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

    let wrong_type = post(
        &berth,
        Some(&create),
        Some("text/plain"),
        br#"{"repositoryName":"ok"}"#.to_vec(),
    )
    .await;
    assert_error(&wrong_type, 415, "UnsupportedMediaTypeException");
    let no_type = post(
        &berth,
        Some(&create),
        None,
        br#"{"repositoryName":"ok"}"#.to_vec(),
    )
    .await;
    assert_error(&no_type, 415, "UnsupportedMediaTypeException");

    // A missing body is an empty input: required members are then missing.
    let empty = post(&berth, Some(&create), Some(AMZ_JSON), Vec::new()).await;
    assert_error(&empty, 400, "InvalidParameterException");
    assert_eq!(
        empty.body["message"],
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Member must not be null'"
    );
    let describe = post(
        &berth,
        Some(&op("DescribeRepositories")),
        Some(AMZ_JSON),
        Vec::new(),
    )
    .await;
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
    let describe = post(
        &berth,
        Some(&op("DescribeRepositories")),
        Some(AMZ_JSON),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(describe.body["repositories"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_operation_is_wired() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &[]);
    for operation in berth_generated::ecr::Operation::ALL {
        let answer = post(
            &berth,
            Some(&op(operation.name())),
            Some(AMZ_JSON),
            b"{}".to_vec(),
        )
        .await;
        assert_ne!(
            answer.body["__type"],
            "UnknownOperationException",
            "{}",
            operation.name()
        );
        assert_ne!(
            answer.body["__type"],
            "SerializationException",
            "{}",
            operation.name()
        );
        assert!(
            answer.status < 500 || answer.status == 501,
            "{}: {}",
            operation.name(),
            answer.body
        );
        if answer.status == 501 {
            assert_eq!(
                answer.body["message"],
                format!(
                    "berth does not implement the ECR operation {} yet",
                    operation.name()
                )
            );
        }
    }
}

#[tokio::test]
async fn ephemeral_data_is_removed_at_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let unused = tmp.path().join("not-used");
    let berth = Berth::start_with_env(&unused, &["--ephemeral"], &[("TMPDIR", tmp.path())]);
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
