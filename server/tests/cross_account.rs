//! Cross-account access against the real binary, with two access keys mapped to two
//! accounts: account B reaches account A's repository, through aws-sdk-ecr (`registryId`)
//! and through /v2 on A's registry host (`111111111111.dkr.ecr.us-east-1.localhost`, which
//! the test resolves to berth), only while A's repository or registry policy allows it.

mod support;

use aws_sdk_ecr::types::ImageIdentifier;
use reqwest::Method;
use support::images::{manifest, put_manifest, upload, OCI_MANIFEST};
use support::{
    code_and_message, create_repository, ecr_client, registry_password, Berth, RawRegistry,
};

const A: &str = "111111111111";
const HOST_A: &str = "111111111111.dkr.ecr.us-east-1.localhost";

/// B's DescribeImages of A's `app`: Ok, or the error's code and message.
async fn describe(b: &aws_sdk_ecr::Client) -> Result<usize, (String, String)> {
    b.describe_images()
        .registry_id(A)
        .repository_name("app")
        .send()
        .await
        .map(|d| d.image_details().len())
        .map_err(code_and_message)
}

/// A /v2 client logged in with `ecr`'s password, sending to A's registry host.
async fn on_host_a(berth: &Berth, ecr: &aws_sdk_ecr::Client) -> RawRegistry {
    let address: std::net::SocketAddr =
        berth.endpoint.trim_start_matches("http://").parse().unwrap();
    let mut raw = RawRegistry::new(berth, &registry_password(ecr).await);
    raw.http = reqwest::Client::builder().resolve(HOST_A, address).build().unwrap();
    raw.endpoint = format!("http://{HOST_A}:{}", address.port());
    raw
}

/// Status and (for errors) OCI code of B pulling A's manifest v1 on A's host.
async fn pull(raw: &RawRegistry) -> (u16, String) {
    let r = raw.get_manifest("/v2/app/manifests/v1", OCI_MANIFEST).await;
    let status = r.status().as_u16();
    if status == 200 {
        return (200, String::new());
    }
    let (_, code, _) = support::oci_error_code(r).await;
    (status, code)
}

fn pull_policy(principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"pull","Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability","ecr:DescribeImages"]}}]}}"#
    )
}

#[tokio::test]
async fn another_account_reads_only_what_a_policy_allows() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--access-key", "AKIDA=111111111111", "--access-key", "AKIDB=222222222222"];
    let berth = Berth::start(dir.path(), &flags);
    let a = ecr_client(&berth.endpoint, "AKIDA", "us-east-1");
    let b = ecr_client(&berth.endpoint, "AKIDB", "us-east-1");
    create_repository(&a, "app").await;
    let raw_a = RawRegistry::new(&berth, &registry_password(&a).await);
    let config = upload(&raw_a, "app", b"{}").await;
    let layer = upload(&raw_a, "app", b"layer of A").await;
    let body = manifest(&config, &layer);
    assert_eq!(put_manifest(&raw_a, "app", "v1", &body, OCI_MANIFEST).await.status(), 201);
    let raw_b = on_host_a(&berth, &b).await;

    // No policy: denied on both faces, in ECR's words.
    let denied = (
        "AccessDeniedException".to_string(),
        "User: arn:aws:iam::222222222222:root is not authorized to perform: ecr:DescribeImages on resource: arn:aws:ecr:us-east-1:111111111111:repository/app because no resource-based policy allows the ecr:DescribeImages action".to_string(),
    );
    assert_eq!(describe(&b).await, Err(denied.clone()));
    assert_eq!(pull(&raw_b).await, (403, "DENIED".to_string()));
    // B's own registry is its own: the name means B's repository there.
    let own = b.describe_images().repository_name("app").send().await.unwrap_err();
    assert_eq!(code_and_message(own).0, "RepositoryNotFoundException");

    // A's repository policy allows B to pull: both faces let B read, not write.
    a.set_repository_policy()
        .repository_name("app")
        .policy_text(pull_policy("222222222222"))
        .send()
        .await
        .unwrap();
    assert_eq!(describe(&b).await, Ok(1));
    assert_eq!(pull(&raw_b).await, (200, String::new()));
    let blob = raw_b.request(Method::GET, &format!("/v2/app/blobs/{layer}")).send().await.unwrap();
    assert_eq!(blob.status(), 200);
    assert_eq!(blob.bytes().await.unwrap().as_ref(), b"layer of A");
    let got = b
        .batch_get_image()
        .registry_id(A)
        .repository_name("app")
        .image_ids(ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap();
    assert_eq!(got.images().len(), 1);
    let push = b
        .put_image()
        .registry_id(A)
        .repository_name("app")
        .image_manifest(&body)
        .image_tag("from-b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(push).0, "AccessDeniedException");
    let r = put_manifest(&raw_b, "app", "from-b", &body, OCI_MANIFEST).await;
    assert_eq!(r.status(), 403);

    // Taken away again.
    a.delete_repository_policy().repository_name("app").send().await.unwrap();
    assert_eq!(describe(&b).await, Err(denied));
    assert_eq!(pull(&raw_b).await, (403, "DENIED".to_string()));

    // A registry policy (V2 scope, the default) allows too, and an explicit Deny in the
    // repository policy wins over it.
    a.put_registry_policy()
        .policy_text(pull_policy("arn:aws:iam::222222222222:root"))
        .send()
        .await
        .unwrap();
    assert_eq!(describe(&b).await, Ok(1));
    a.set_repository_policy()
        .repository_name("app")
        .policy_text(r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":"222222222222"},"Action":"ecr:*"}]}"#)
        .send()
        .await
        .unwrap();
    let (code, message) = describe(&b).await.unwrap_err();
    assert_eq!(code, "AccessDeniedException");
    assert!(message.ends_with("with an explicit deny in a resource-based policy"), "{message}");
    assert_eq!(pull(&raw_b).await, (403, "DENIED".to_string()));
}
