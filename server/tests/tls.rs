//! HTTPS with the certificates of `berth certs init`: a client that trusts the CA reaches
//! both faces by `localhost` and by the ECR-shaped host names that repository URIs and
//! proxy endpoints then carry; a name the certificate does not cover is refused.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use support::*;

fn certs_init(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["certs", "init", "--region", "us-east-1", "--region", "eu-west-1"])
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A client trusting only `ca`, with `names` resolving to berth.
fn client(ca: &Path, address: SocketAddr, names: &[&str]) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let mut builder =
        reqwest::Client::builder().tls_built_in_root_certs(false).add_root_certificate(ca);
    for name in names {
        builder = builder.resolve(name, address);
    }
    builder.build().unwrap()
}

async fn ecr(
    client: &reqwest::Client, base: &str, operation: &str, body: &str,
) -> serde_json::Value {
    let answer = client
        .post(format!("{base}/"))
        .header("X-Amz-Target", format!("AmazonEC2ContainerRegistry_V20150921.{operation}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{operation}");
    answer.json().await.unwrap()
}

#[tokio::test]
async fn https_with_ecr_shaped_host_names() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let said = certs_init(&certs);
    for hint in ["docker:", "podman:", "skopeo:", "AWS_CA_BUNDLE", "--tls-cert"] {
        assert!(said.contains(hint), "{hint} in:\n{said}");
    }
    // A second init keeps the CA that clients already trust.
    let ca = std::fs::read(certs.join("ca.pem")).unwrap();
    certs_init(&certs);
    assert_eq!(std::fs::read(certs.join("ca.pem")).unwrap(), ca);

    let (cert, key) = (certs.join("server.pem"), certs.join("server.key"));
    let berth = Berth::start(
        &dir.path().join("data"),
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    );
    assert!(berth.endpoint.starts_with("https://"), "{}", berth.endpoint);
    let address: SocketAddr = berth.endpoint.trim_start_matches("https://").parse().unwrap();
    let port = address.port();
    let shaped = "000000000000.dkr.ecr.us-east-1.localhost";
    let https = client(&certs.join("ca.pem"), address, &["localhost", shaped, "berth.example"]);
    let base = format!("https://localhost:{port}");

    let token = ecr(&https, &base, "GetAuthorizationToken", "{}").await;
    let data = &token["authorizationData"][0];
    assert_eq!(data["proxyEndpoint"], format!("https://{shaped}:{port}"));
    let created = ecr(&https, &base, "CreateRepository", r#"{"repositoryName":"app"}"#).await;
    assert_eq!(created["repository"]["repositoryUri"], format!("{shaped}:{port}/app"));

    // /v2 by the ECR-shaped name, as docker would after `docker login <proxyEndpoint>`.
    let basic = format!("Basic {}", data["authorizationToken"].as_str().unwrap());
    let v2 = https
        .get(format!("https://{shaped}:{port}/v2/app/tags/list"))
        .header("Authorization", &basic)
        .send()
        .await
        .unwrap();
    assert_eq!(v2.status(), 200);

    // A name outside the certificate, and plain HTTP on the TLS port, get nowhere.
    let unknown = https.get(format!("https://berth.example:{port}/v2/")).send().await;
    assert!(unknown.is_err(), "berth.example is not in the certificate");
    let plain = reqwest::get(format!("http://localhost:{port}/v2/")).await;
    assert!(
        plain.map_or(true, |r| r.status() != 200 && r.status() != 401),
        "plain HTTP is not served on the TLS port"
    );
}
