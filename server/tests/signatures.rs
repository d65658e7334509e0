//! `--verify-signatures` with aws-sdk-ecr signing as it does against AWS: the right
//! secret works, and each kind of bad request gets AWS's exact error and changes nothing.

mod support;

use aws_sdk_ecr::config::Credentials;
use aws_smithy_async::time::StaticTimeSource;
use std::time::{Duration, SystemTime};
use support::*;

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const TOKEN_INVALID: &str = "The security token included in the request is invalid.";

struct Signed {
    _dir: tempfile::TempDir,
    berth: Berth,
}

/// berth checking signatures: AKIDGOOD (account 123456789012) by flag, ASIATEMP (a role,
/// with a session token) from a credentials file.
fn start() -> Signed {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[temp]\naws_access_key_id = ASIATEMP\naws_secret_access_key = tempsecret\n\
         aws_session_token = the-session-token\nberth_principal = arn:aws:iam::444455556666:role/ci\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let berth = Berth::start(
        &data,
        &[
            "--verify-signatures",
            "--access-key",
            "AKIDGOOD=123456789012:good/secret+1",
            "--credentials-file",
            credentials.to_str().unwrap(),
        ],
    );
    Signed { _dir: dir, berth }
}

fn client(berth: &Berth, key: &str, secret: &str, token: Option<&str>) -> aws_sdk_ecr::Client {
    let credentials = Credentials::new(key, secret, token.map(str::to_string), None, "test");
    aws_sdk_ecr::Client::from_conf(ecr_config(&berth.endpoint, "eu-west-1", credentials).build())
}

/// Whether `name` exists, asked with the right secret.
async fn exists(berth: &Berth, name: &str) -> bool {
    client(berth, "AKIDGOOD", "good/secret+1", None)
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn the_right_secret_works_and_names_the_account() {
    let s = start();
    let ecr = client(&s.berth, "AKIDGOOD", "good/secret+1", None);
    let created = ecr.create_repository().repository_name("signed").send().await.unwrap();
    let arn = created.repository().unwrap().repository_arn().unwrap();
    assert_eq!(arn, "arn:aws:ecr:eu-west-1:123456789012:repository/signed");
    // The /v2 password from a signed GetAuthorizationToken logs in.
    let password = registry_password(&ecr).await;
    let status = RawRegistry::new(&s.berth, &password)
        .request(reqwest::Method::GET, "/v2/")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    // Temporary credentials with their session token.
    let temp = client(&s.berth, "ASIATEMP", "tempsecret", Some("the-session-token"));
    let listed = temp.describe_repositories().send().await.unwrap();
    assert!(listed.repositories().is_empty(), "account 444455556666 has none");
}

#[tokio::test]
async fn bad_signatures_get_aws_errors_and_change_nothing() {
    let s = start();
    let cases = [
        (
            client(&s.berth, "AKIDGOOD", "wrong", None),
            "InvalidSignatureException",
            SIGNATURE_MISMATCH,
        ),
        (
            client(&s.berth, "AKIDUNKNOWN", "good/secret+1", None),
            "UnrecognizedClientException",
            TOKEN_INVALID,
        ),
        (
            client(&s.berth, "ASIATEMP", "tempsecret", None),
            "UnrecognizedClientException",
            TOKEN_INVALID,
        ),
        (
            client(&s.berth, "ASIATEMP", "tempsecret", Some("another-token")),
            "UnrecognizedClientException",
            TOKEN_INVALID,
        ),
    ];
    for (ecr, code, message) in cases {
        let err = ecr.create_repository().repository_name("refused").send().await.unwrap_err();
        assert_eq!(code_and_message(err), (code.into(), message.into()));
    }
    assert!(!exists(&s.berth, "refused").await);
}

#[tokio::test]
async fn signatures_older_or_newer_than_five_minutes_are_refused() {
    let s = start();
    for (offset_secs, later, start_of_text, end_of_text) in [
        (600, false, "Signature expired: ", " - 5 min.)"),
        (600, true, "Signature not yet current: ", " + 5 min.)"),
    ] {
        let now = SystemTime::now();
        let at = if later {
            now + Duration::from_secs(offset_secs)
        } else {
            now - Duration::from_secs(offset_secs)
        };
        let credentials = Credentials::new("AKIDGOOD", "good/secret+1", None, None, "test");
        let config = ecr_config(&s.berth.endpoint, "eu-west-1", credentials)
            .time_source(StaticTimeSource::new(at))
            .build();
        let err = aws_sdk_ecr::Client::from_conf(config)
            .create_repository()
            .repository_name("skewed")
            .send()
            .await
            .unwrap_err();
        let (code, message) = code_and_message(err);
        assert_eq!(code, "InvalidSignatureException");
        assert!(message.starts_with(start_of_text) && message.ends_with(end_of_text), "{message}");
    }
    assert!(!exists(&s.berth, "skewed").await);
}

#[tokio::test]
async fn an_unsigned_request_is_missing_its_token() {
    let s = start();
    let response = ecr_request(&s.berth, "CreateRepository", r#"{"repositoryName":"unsigned"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "__type": "MissingAuthenticationTokenException",
            "message": "Missing Authentication Token"
        })
    );
    assert!(!exists(&s.berth, "unsigned").await);
}

#[test]
fn verify_signatures_without_a_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--listen", "127.0.0.1:0", "--verify-signatures"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--verify-signatures needs at least one secret"), "{stderr}");
}
