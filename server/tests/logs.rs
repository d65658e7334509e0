//! `--log-format json` and request ids: every response carries `X-Request-Id` (the ECR
//! face's `x-amzn-RequestId` is the same), and the JSON log lines a request writes carry it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[tokio::test]
async fn json_logs_carry_the_request_id_that_responses_echo() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("BERTH_LOG", "berth_server=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let endpoint = first.trim().strip_prefix("berth listening on ").unwrap().to_string();
    let (lines, received) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let answer = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(r#"{"repositoryNames":["missing"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let id = answer.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(answer.headers()["x-amzn-requestid"].to_str().unwrap(), id);
    let v2 = reqwest::get(format!("{endpoint}/v2/")).await.unwrap();
    assert!(v2.headers().contains_key("x-request-id"), "every face echoes an id");

    let mut found = None;
    while let Ok(line) = received.recv_timeout(Duration::from_secs(10)) {
        let log: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if log.to_string().contains("RepositoryNotFoundException") {
            found = Some(log);
            break;
        }
    }
    let log = found.expect("the request's log line");
    assert_eq!(log["span"]["request_id"], id.as_str(), "{log}");
    let _ = child.kill();
    let _ = child.wait();
}
