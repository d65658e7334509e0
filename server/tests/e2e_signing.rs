//! Managed signing end to end (run by `cargo xtask e2e`): a signing rule, a push, the
//! signing job, then the Notary Project signature found through the referrers API and
//! verified with openssl against the profile's certificate, as a verifier outside berth
//! would.

mod support;

use aws_sdk_ecr::types::{
    ImageIdentifier, SigningConfiguration, SigningRepositoryFilter, SigningRepositoryFilterType,
    SigningRule, SigningStatus,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::Method;
use std::process::Command;
use support::tools::{run, tool};
use support::{
    code_and_message, create_repository, default_client, push_one_layer, registry_host,
    registry_password, run_job, Berth, RawRegistry,
};

const PROFILE: &str = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/release";
const FOREIGN: &str = "arn:aws:signer:us-east-1:111122223333:/signing-profiles/theirs";

fn rule(profile: &str, filter: &str) -> SigningRule {
    SigningRule::builder()
        .signing_profile_arn(profile)
        .repository_filters(
            SigningRepositoryFilter::builder()
                .filter(filter)
                .filter_type(SigningRepositoryFilterType::WildcardMatch)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// An ES256 JWS signature (r || s) as the DER openssl verifies.
fn der_signature(raw: &[u8]) -> Vec<u8> {
    let integer = |bytes: &[u8]| {
        let mut value: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if value.first().is_none_or(|b| b & 0x80 != 0) {
            value.insert(0, 0);
        }
        let mut out = vec![0x02, value.len() as u8];
        out.extend(value);
        out
    };
    let (r, s) = (integer(&raw[..32]), integer(&raw[32..]));
    let mut out = vec![0x30, (r.len() + s.len()) as u8];
    out.extend(r);
    out.extend(s);
    out
}

#[tokio::test]
async fn pushed_images_carry_a_signature_that_verifies_with_the_profile_certificate() {
    let openssl = tool("openssl");
    let dir = tempfile::tempdir().unwrap();
    let berth =
        Berth::start(&dir.path().join("data"), &["--admin-api", "--signing-interval", "3600"]);
    let ecr = default_client(&berth);
    let none = ecr.get_signing_configuration().send().await.unwrap_err();
    assert_eq!(code_and_message(none).0, "SigningConfigurationNotFoundException");
    ecr.put_signing_configuration()
        .signing_configuration(
            SigningConfiguration::builder()
                .rules(rule(PROFILE, "signed/*"))
                .rules(rule(FOREIGN, "*"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for name in ["signed/app", "plain"] {
        create_repository(&ecr, name).await;
    }
    let host = registry_host(&berth);
    push_one_layer(&ecr, &format!("{host}/signed/app:v1"), b"signed layer").await;
    push_one_layer(&ecr, &format!("{host}/plain:v1"), b"plain layer").await;

    let statuses = |repository: &'static str| {
        let ecr = ecr.clone();
        async move {
            let answer = ecr
                .describe_image_signing_status()
                .repository_name(repository)
                .image_id(ImageIdentifier::builder().image_tag("v1").build())
                .send()
                .await
                .unwrap();
            let digest = answer.image_id().unwrap().image_tag().map(str::to_string);
            let states: Vec<(String, SigningStatus, Option<String>)> = answer
                .signing_statuses()
                .iter()
                .map(|s| {
                    (
                        s.signing_profile_arn().unwrap().to_string(),
                        s.status().unwrap().clone(),
                        s.failure_code().map(str::to_string),
                    )
                })
                .collect();
            (digest, states)
        }
    };
    let (_, queued) = statuses("signed/app").await;
    assert_eq!(
        queued.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
        [SigningStatus::InProgress, SigningStatus::InProgress],
        "one status per matching profile"
    );
    run_job(&berth, "signing").await;
    let (_, done) = statuses("signed/app").await;
    assert_eq!(
        done,
        [
            (PROFILE.to_string(), SigningStatus::Complete, None),
            (
                FOREIGN.to_string(),
                SigningStatus::Failed,
                Some("SigningProfileAccessDenied".to_string())
            ),
        ]
    );
    let (_, plain) = statuses("plain").await;
    assert_eq!(plain.len(), 1, "only the every-repository rule covers it");

    // The signature, through the referrers API.
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    let image = raw
        .request(Method::HEAD, "/v2/signed/app/manifests/v1")
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    let image_digest = image.headers()["docker-content-digest"].to_str().unwrap().to_string();
    let referrers: serde_json::Value = raw
        .request(
            Method::GET,
            &format!(
                "/v2/signed/app/referrers/{image_digest}?artifactType=application/vnd.cncf.notary.signature"
            ),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signatures = referrers["manifests"].as_array().unwrap();
    assert_eq!(signatures.len(), 1, "{referrers}");
    let manifest: serde_json::Value = raw
        .request(
            Method::GET,
            &format!("/v2/signed/app/manifests/{}", signatures[0]["digest"].as_str().unwrap()),
        )
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["layers"][0]["mediaType"], "application/jose+json");
    let envelope: serde_json::Value = raw
        .request(
            Method::GET,
            &format!("/v2/signed/app/blobs/{}", manifest["layers"][0]["digest"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let protected = envelope["protected"].as_str().unwrap();
    let payload = envelope["payload"].as_str().unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["targetArtifact"]["digest"], image_digest.as_str());
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(protected).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["io.cncf.notary.signingScheme"], "notary.x509");

    // The profile's certificate is the one in the envelope, and it verifies the signature.
    let pem =
        reqwest::get(format!("{}/_berth/signing/certificate?profile={PROFILE}", berth.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    let pem_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(envelope["header"]["x5c"][0].as_str(), Some(pem_body.as_str()));
    let work = dir.path();
    std::fs::write(work.join("cert.pem"), &pem).unwrap();
    let public_key = run(Command::new(&openssl)
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(work.join("cert.pem")))
    .stdout;
    std::fs::write(work.join("key.pem"), public_key).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(envelope["signature"].as_str().unwrap()).unwrap();
    std::fs::write(work.join("sig.der"), der_signature(&signature)).unwrap();
    let verify = |input: &str| {
        std::fs::write(work.join("input"), input).unwrap();
        Command::new(&openssl)
            .args(["dgst", "-sha256", "-verify"])
            .arg(work.join("key.pem"))
            .arg("-signature")
            .arg(work.join("sig.der"))
            .arg(work.join("input"))
            .output()
            .unwrap()
    };
    let good = verify(&format!("{protected}.{payload}"));
    assert!(
        good.status.success() && String::from_utf8_lossy(&good.stdout).contains("Verified OK"),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let forged = STANDARD.encode(b"{\"targetArtifact\":{}}");
    assert!(
        !verify(&format!("{protected}.{forged}")).status.success(),
        "another payload does not verify"
    );

    // Deleting the configuration keeps the signatures; new pushes are not signed.
    let deleted = ecr.delete_signing_configuration().send().await.unwrap();
    assert_eq!(deleted.signing_configuration().unwrap().rules().len(), 2);
    assert_eq!(
        code_and_message(ecr.delete_signing_configuration().send().await.unwrap_err()).0,
        "SigningConfigurationNotFoundException"
    );
}
