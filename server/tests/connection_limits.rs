//! Slow and numerous clients against the real binary: a client that never finishes its
//! headers, a body that stalls, and one connection more than `--max-connections`.

mod support;

use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most any of these waits may take before the test fails: far above the 1-second
/// timeouts berth is started with, so that a loaded machine does not fail it.
const PATIENCE: Duration = Duration::from_secs(30);

async fn connect(berth: &Berth) -> TcpStream {
    TcpStream::connect(registry_host(berth)).await.unwrap()
}

/// Everything the server sends until it closes the connection.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("berth closes the connection")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    // One process's connection handling: no load balancer in between.
    let berth = Berth::start_local(dir.path(), &["--header-read-timeout", "1"]);
    let mut slow = connect(&berth).await;
    slow.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let answer = until_closed(&mut slow).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // An idle kept-alive connection is closed the same way.
    let mut idle = connect(&berth).await;
    idle.write_all(b"GET /_berth/health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_stalled_upload_body_is_cut_and_its_session_kept() {
    let (_dir, berth, ecr) = started(&["--body-idle-timeout", "1"]);
    create_repository(&ecr, "stalled").await;
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    let started =
        raw.request(reqwest::Method::POST, "/v2/stalled/blobs/uploads/").send().await.unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let mut stream = connect(&berth).await;
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n",
        raw.authorization.as_deref().unwrap()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[7u8; 10]).await.unwrap();
    let answer = until_closed(&mut stream).await;
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("not received within"),
        "{answer}"
    );
    // The session is still there, to be resumed or cancelled.
    let status = raw.request(reqwest::Method::GET, &location).send().await.unwrap();
    assert_eq!(status.status(), 204);
}

#[tokio::test]
async fn one_connection_over_the_limit_gets_a_clear_answer_in_each_format() {
    let dir = tempfile::tempdir().unwrap();
    // One process's connection limit: no load balancer in between.
    let berth = Berth::start_local(dir.path(), &["--max-connections", "2"]);
    let held = [connect(&berth).await, connect(&berth).await];
    // Let berth take both before the next one comes.
    let mut refused = false;
    for _ in 0..100 {
        let mut over = connect(&berth).await;
        over.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let answer = until_closed(&mut over).await;
        if answer.starts_with("HTTP/1.1 429") {
            assert!(answer.contains(r#""code":"TOOMANYREQUESTS""#), "{answer}");
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the third connection is refused on /v2");
    let err = default_client(&berth).describe_repositories().send().await.unwrap_err();
    let (code, message) = code_and_message(err);
    assert_eq!(code, "ThrottlingException");
    assert!(message.contains("--max-connections"), "{message}");
    drop(held);
    // Once they close, requests are served again.
    let mut served = false;
    for _ in 0..100 {
        if default_client(&berth).describe_repositories().send().await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "berth serves again after the held connections close");
}
