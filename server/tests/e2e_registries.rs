//! End to end with skopeo against the real binary: repositories that berth creates itself
//! (create on push through a repository creation template), and replication to another
//! region and account. Run by `cargo xtask e2e`.

mod support;

use std::process::Command;
use support::tools::{run, stdout, tool};
use support::*;

const POLICY: &str = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_push_to_a_new_name_creates_it_from_a_template() {
    let skopeo = tool("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(&dir.path().join("data"), &[]);
    let ecr = default_client(&berth);
    let host = registry_host(&berth);
    create_repository(&ecr, "seed/app").await;
    let password = registry_password(&ecr).await;
    push_one_layer(&ecr, &format!("{host}/seed/app:v1"), b"a layer to copy").await;
    let auth = dir.path().join("auth.json");
    run(Command::new(&skopeo)
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(&auth)
        .args(["-u", "AWS", "-p", &password, &host]));
    let copy = |to: &str| {
        Command::new(&skopeo)
            .args([
                "copy",
                "--preserve-digests",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--authfile",
            ])
            .arg(&auth)
            .arg(format!("docker://{host}/seed/app:v1"))
            .arg(format!("docker://{host}/{to}"))
            .output()
            .unwrap()
    };

    // No template: the push meets NAME_UNKNOWN, as before create on push.
    let refused = copy("team/new:v1");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("name unknown"), "{stderr}");

    ecr.create_repository_creation_template()
        .prefix("team")
        .applied_for(aws_sdk_ecr::types::RctAppliedFor::CreateOnPush)
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
        .resource_tags(aws_sdk_ecr::types::Tag::builder().key("owner").value("ci").build().unwrap())
        .lifecycle_policy(POLICY)
        .send()
        .await
        .unwrap();
    let pushed = copy("team/new:v1");
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));
    let digest = |reference: &str| {
        stdout(
            Command::new(&skopeo)
                .args(["inspect", "--format", "{{.Digest}}", "--tls-verify=false", "--authfile"])
                .arg(&auth)
                .arg(format!("docker://{host}/{reference}")),
        )
    };
    assert_eq!(digest("team/new:v1"), digest("seed/app:v1"));

    // The repository has the template's settings, tags and lifecycle policy.
    let repository = ecr.describe_repositories().repository_names("team/new").send().await.unwrap();
    let repository = &repository.repositories()[0];
    assert_eq!(
        repository.image_tag_mutability(),
        Some(&aws_sdk_ecr::types::ImageTagMutability::Immutable)
    );
    let tags = ecr
        .list_tags_for_resource()
        .resource_arn(repository.repository_arn().unwrap())
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> =
        tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
    assert_eq!(tags, vec![("owner".to_string(), "ci".to_string())]);
    let lifecycle = ecr.get_lifecycle_policy().repository_name("team/new").send().await.unwrap();
    assert_eq!(lifecycle.lifecycle_policy_text(), Some(POLICY));
    // Outside the prefix, still no repository.
    assert!(!copy("other/new:v1").status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_push_replicates_to_another_region_and_account() {
    let skopeo = tool("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let flags =
        ["--admin-api", "--access-key", "AKIDA=111111111111", "--access-key", "AKIDB=222222222222"];
    let berth = Berth::start(&dir.path().join("data"), &flags);
    let host = registry_host(&berth);
    let a = ecr_client(&berth.endpoint, "AKIDA", "us-east-1");
    let a_west = ecr_client(&berth.endpoint, "AKIDA", "us-west-2");
    let b_west = ecr_client(&berth.endpoint, "AKIDB", "us-west-2");
    replicate_to(&a, &[("111111111111", "us-west-2"), ("222222222222", "us-west-2")]).await;
    b_west
        .put_registry_policy()
        .policy_text(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":["ecr:ReplicateImage","ecr:CreateRepository"]}]}"#)
        .send()
        .await
        .unwrap();
    create_repository(&a, "app").await;

    // oci-client pushes v1 to A; skopeo pushes it again as v2, which replicates...
    push_one_layer(&a, &format!("{host}/app:v1"), b"replicated layer").await;
    let login = |ecr: &aws_sdk_ecr::Client, file: &str| {
        let auth = dir.path().join(file);
        let ecr = ecr.clone();
        let (skopeo, host) = (skopeo.clone(), host.clone());
        async move {
            let password = registry_password(&ecr).await;
            run(Command::new(&skopeo)
                .args(["login", "--tls-verify=false", "--authfile"])
                .arg(&auth)
                .args(["-u", "AWS", "-p", &password, &host]));
            auth
        }
    };
    let auth_a = login(&a, "a.json").await;
    run(Command::new(&skopeo)
        .args([
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--authfile",
        ])
        .arg(&auth_a)
        .arg(format!("docker://{host}/app:v1"))
        .arg(format!("docker://{host}/app:v2")));
    run_job(&berth, "replication").await;

    // ...and both destinations serve it, with B's and A-west's own tokens.
    let digest = |auth: &std::path::Path, reference: &str| {
        stdout(
            Command::new(&skopeo)
                .args(["inspect", "--format", "{{.Digest}}", "--tls-verify=false", "--authfile"])
                .arg(auth)
                .arg(format!("docker://{host}/{reference}")),
        )
    };
    let source = digest(&auth_a, "app:v2");
    let auth_west = login(&a_west, "west.json").await;
    let auth_b = login(&b_west, "b.json").await;
    assert_eq!(digest(&auth_west, "app:v2"), source);
    assert_eq!(digest(&auth_b, "app:v2"), source);
    let statuses = a
        .describe_image_replication_status()
        .repository_name("app")
        .image_id(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag("v2").build())
        .send()
        .await
        .unwrap();
    assert_eq!(statuses.replication_statuses().len(), 2);
    assert!(statuses
        .replication_statuses()
        .iter()
        .all(|s| s.status() == Some(&aws_sdk_ecr::types::ReplicationStatus::Complete)));
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_of_account_b_reads_account_a_only_while_a_policy_allows() {
    let skopeo = tool("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--access-key", "AKIDA=111111111111", "--access-key", "AKIDB=222222222222"];
    let berth = Berth::start(&dir.path().join("data"), &flags);
    let port = registry_host(&berth).rsplit(':').next().unwrap().to_string();
    let a = ecr_client(&berth.endpoint, "AKIDA", "us-east-1");
    let b = ecr_client(&berth.endpoint, "AKIDB", "us-east-1");
    create_repository(&a, "app").await;
    push_one_layer(&a, &format!("{}/app:v1", registry_host(&berth)), b"a layer of A").await;
    // A's registry host. Nothing resolves it here, so skopeo reaches berth through berth
    // itself as its HTTP proxy: the request keeps A's host name, as on a real network.
    let host_a = format!("111111111111.dkr.ecr.us-east-1.localhost:{port}");
    let password_b = registry_password(&b).await;
    let inspect = || {
        Command::new(&skopeo)
            .env("HTTP_PROXY", &berth.endpoint)
            .env("http_proxy", &berth.endpoint)
            .env("NO_PROXY", "")
            .env("no_proxy", "")
            .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
            .arg(format!("AWS:{password_b}"))
            .arg(format!("docker://{host_a}/app:v1"))
            .output()
            .unwrap()
    };
    let denied = inspect();
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(stderr.contains("not authorized to perform: ecr:BatchGetImage"), "{stderr}");

    a.set_repository_policy()
        .repository_name("app")
        .policy_text(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#)
        .send()
        .await
        .unwrap();
    let allowed = inspect();
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);

    a.delete_repository_policy().repository_name("app").send().await.unwrap();
    assert!(!inspect().status.success(), "denied again once the policy is gone");
}
