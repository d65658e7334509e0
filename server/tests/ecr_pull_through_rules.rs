//! Pull-through cache rules through aws-sdk-ecr against the real binary: the upstream
//! kind inferred from the URL, credentials required where ECR requires them and resolved
//! from `--secrets-file`, ECR's errors, paging, update and delete.

mod support;

use aws_sdk_ecr::types::UpstreamRegistry;
use support::{code_and_message, default_client, Berth};

const SECRET: &str =
    "arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/docker-hub-AbCdEf";

#[tokio::test]
async fn rules_are_checked_kept_paged_updated_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.json");
    std::fs::write(
        &secrets,
        r#"{"ecr-pullthroughcache/docker-hub":{"username":"me","accessToken":"token"}}"#,
    )
    .unwrap();
    let berth =
        Berth::start(&dir.path().join("data"), &["--secrets-file", secrets.to_str().unwrap()]);
    let ecr = default_client(&berth);
    let create = |prefix: &str, url: &str, credential: Option<&str>| {
        ecr.create_pull_through_cache_rule()
            .ecr_repository_prefix(prefix)
            .upstream_registry_url(url)
            .set_credential_arn(credential.map(str::to_string))
            .send()
    };

    let quay = create("quay", "quay.io", None).await.unwrap();
    assert_eq!(quay.upstream_registry(), Some(&UpstreamRegistry::Quay), "inferred from the URL");
    assert_eq!(quay.upstream_repository_prefix(), Some("ROOT"));
    let hub = create("docker-hub", "registry-1.docker.io", Some(SECRET)).await.unwrap();
    assert_eq!(hub.upstream_registry(), Some(&UpstreamRegistry::DockerHub));
    assert_eq!(hub.credential_arn(), Some(SECRET));

    let refusals = [
        (
            create("harbor", "harbor.example.com", None).await.unwrap_err(),
            "UnsupportedUpstreamRegistryException",
            "The upstream registry URL harbor.example.com is invalid. Specify a valid upstream registry URL and try again",
        ),
        (
            create("ghcr", "ghcr.io", None).await.unwrap_err(),
            "UnsupportedUpstreamRegistryException",
            "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN and try again",
        ),
        (
            create("quay", "quay.io", None).await.unwrap_err(),
            "PullThroughCacheRuleAlreadyExistsException",
            "A pull through cache rule with prefix 'quay' already exists in the registry with id '000000000000'",
        ),
    ];
    for (err, code, message) in refusals {
        assert_eq!(code_and_message(err), (code.to_string(), message.to_string()));
    }
    let unknown_secret = SECRET.replace("docker-hub", "nobody");
    let err = create("gitlab", "registry.gitlab.com", Some(&unknown_secret)).await.unwrap_err();
    assert_eq!(code_and_message(err).0, "SecretNotFoundException");

    // Paged in prefix order; an unknown prefix asked for is an error.
    let page = ecr.describe_pull_through_cache_rules().max_results(1).send().await.unwrap();
    assert_eq!(page.pull_through_cache_rules()[0].ecr_repository_prefix(), Some("docker-hub"));
    let rest = ecr
        .describe_pull_through_cache_rules()
        .set_next_token(page.next_token().map(str::to_string))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.pull_through_cache_rules()[0].ecr_repository_prefix(), Some("quay"));
    assert!(rest.next_token().is_none());
    let err = ecr
        .describe_pull_through_cache_rules()
        .ecr_repository_prefixes("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(err).0, "PullThroughCacheRuleNotFoundException");

    let err = ecr
        .update_pull_through_cache_rule()
        .ecr_repository_prefix("docker-hub")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_message(err),
        (
            "InvalidParameterException".to_string(),
            "Invalid input: Please set either credential arn or role arn to update the credentials"
                .to_string()
        )
    );
    let updated = ecr
        .update_pull_through_cache_rule()
        .ecr_repository_prefix("docker-hub")
        .credential_arn(SECRET.trim_end_matches("-AbCdEf"))
        .send()
        .await
        .unwrap();
    assert!(updated.updated_at().is_some());

    let deleted =
        ecr.delete_pull_through_cache_rule().ecr_repository_prefix("quay").send().await.unwrap();
    assert_eq!(deleted.upstream_registry_url(), Some("quay.io"));
    let err = ecr
        .delete_pull_through_cache_rule()
        .ecr_repository_prefix("quay")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(err).0, "PullThroughCacheRuleNotFoundException");
}

#[tokio::test]
async fn validate_logs_in_upstream_with_the_rule_credentials() {
    // The upstream: another berth, which asks for Basic credentials as ECR does.
    let upstream_dir = tempfile::tempdir().unwrap();
    let upstream = Berth::start(upstream_dir.path(), &[]);
    let password = support::registry_password(&default_client(&upstream)).await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.json");
    std::fs::write(
        &secrets,
        serde_json::json!({
            "ecr-pullthroughcache/good": { "username": "AWS", "accessToken": password },
            "ecr-pullthroughcache/bad": { "username": "AWS", "accessToken": "wrong" },
        })
        .to_string(),
    )
    .unwrap();
    let endpoints = format!("registry-1.docker.io={0},ghcr.io={0},quay.io={0}", upstream.endpoint);
    let berth = Berth::start(
        &dir.path().join("data"),
        &["--secrets-file", secrets.to_str().unwrap(), "--upstream-endpoint", &endpoints],
    );
    let ecr = default_client(&berth);
    let arn = |name: &str| {
        format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/{name}")
    };
    for (prefix, url, secret) in [
        ("hub", "registry-1.docker.io", Some("good")),
        ("gh", "ghcr.io", Some("bad")),
        ("quay", "quay.io", None),
    ] {
        ecr.create_pull_through_cache_rule()
            .ecr_repository_prefix(prefix)
            .upstream_registry_url(url)
            .set_credential_arn(secret.map(arn))
            .send()
            .await
            .unwrap();
    }
    let validate = |prefix: &'static str| {
        let ecr = ecr.clone();
        async move {
            let v = ecr
                .validate_pull_through_cache_rule()
                .ecr_repository_prefix(prefix)
                .send()
                .await
                .unwrap();
            (v.is_valid(), v.failure().map(str::to_string))
        }
    };
    assert_eq!(validate("hub").await, (true, None));
    let (valid, failure) = validate("gh").await;
    assert!(!valid);
    assert!(failure.unwrap().contains("authentication to the upstream registry ghcr.io failed"));
    let (valid, failure) = validate("quay").await;
    assert!(!valid, "anonymous is refused by an upstream that wants credentials");
    assert!(failure.is_some());
    let err = ecr
        .validate_pull_through_cache_rule()
        .ecr_repository_prefix("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(err).0, "PullThroughCacheRuleNotFoundException");
}
