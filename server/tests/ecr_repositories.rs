//! The repository operations driven by aws-sdk-ecr against the real berth binary.

mod support;

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType, Tag,
};
use support::*;

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

#[tokio::test]
async fn create_describe_paginate_delete() {
    let (_dir, berth, ecr) = started(&[]);

    let created = ecr.create_repository().repository_name("team/app").send().await.unwrap();
    let repo = created.repository().unwrap();
    assert_eq!(repo.repository_name(), Some("team/app"));
    assert_eq!(repo.registry_id(), Some("000000000000"));
    assert_eq!(
        repo.repository_arn(),
        Some("arn:aws:ecr:us-east-1:000000000000:repository/team/app")
    );
    let port = berth.endpoint.rsplit(':').next().unwrap();
    assert_eq!(repo.repository_uri(), Some(format!("localhost:{port}/team/app").as_str()));
    assert_eq!(repo.image_tag_mutability(), Some(&ImageTagMutability::Mutable));
    assert_eq!(repo.encryption_configuration().unwrap().encryption_type(), &EncryptionType::Aes256);
    assert!(!repo.image_scanning_configuration().unwrap().scan_on_push());
    assert!(repo.created_at().is_some());

    for i in 0..6 {
        ecr.create_repository().repository_name(format!("repo-{i}")).send().await.unwrap();
    }
    // Pages of 3 over 7 repositories: 3 + 3 + 1, each with a token but the last.
    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page =
            ecr.describe_repositories().max_results(3).set_next_token(token).send().await.unwrap();
        pages += 1;
        names.extend(page.repositories().iter().map(|r| r.repository_name().unwrap().to_string()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["repo-0", "repo-1", "repo-2", "repo-3", "repo-4", "repo-5", "team/app"]);
    // The SDK's own paginator walks the same pages.
    let all: Vec<_> = ecr
        .describe_repositories()
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 7);

    let by_name = ecr
        .describe_repositories()
        .repository_names("repo-4")
        .repository_names("team/app")
        .send()
        .await
        .unwrap();
    let got: Vec<_> = by_name.repositories().iter().map(|r| r.repository_name().unwrap()).collect();
    assert_eq!(got, ["repo-4", "team/app"]);
    assert!(by_name.next_token().is_none());

    let deleted = ecr.delete_repository().repository_name("repo-4").send().await.unwrap();
    assert_eq!(deleted.repository().unwrap().repository_name(), Some("repo-4"));
    let err = ecr.describe_repositories().repository_names("repo-4").send().await.unwrap_err();
    assert_eq!(
        code_and_message(err),
        (
            "RepositoryNotFoundException".into(),
            "The repository with name 'repo-4' does not exist in the registry with id '000000000000'".into()
        )
    );
    let err = ecr.delete_repository().repository_name("repo-4").send().await.unwrap_err();
    assert_eq!(code_and_message(err).0, "RepositoryNotFoundException");
}

#[tokio::test]
async fn create_with_every_option() {
    let (_dir, _berth, ecr) = started(&[]);
    let filter = ImageTagMutabilityExclusionFilter::builder()
        .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
        .filter("dev-*")
        .build()
        .unwrap();
    let created = ecr
        .create_repository()
        .repository_name("options")
        .image_tag_mutability(ImageTagMutability::ImmutableWithExclusion)
        .image_tag_mutability_exclusion_filters(filter.clone())
        .image_scanning_configuration(
            ImageScanningConfiguration::builder().scan_on_push(true).build(),
        )
        .encryption_configuration(
            EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Kms)
                .kms_key("arn:aws:kms:us-east-1:000000000000:key/abc")
                .build()
                .unwrap(),
        )
        .tags(tag("team", "core"))
        .send()
        .await
        .unwrap();
    let arn = created.repository().unwrap().repository_arn().unwrap().to_string();

    let described = ecr.describe_repositories().repository_names("options").send().await.unwrap();
    let repo = &described.repositories()[0];
    assert_eq!(repo.image_tag_mutability(), Some(&ImageTagMutability::ImmutableWithExclusion));
    assert_eq!(repo.image_tag_mutability_exclusion_filters(), [filter]);
    assert!(repo.image_scanning_configuration().unwrap().scan_on_push());
    let encryption = repo.encryption_configuration().unwrap();
    assert_eq!(encryption.encryption_type(), &EncryptionType::Kms);
    assert_eq!(encryption.kms_key(), Some("arn:aws:kms:us-east-1:000000000000:key/abc"));
    let tags = ecr.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags(), [tag("team", "core")]);

    let changed = ecr
        .put_image_tag_mutability()
        .repository_name("options")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.image_tag_mutability(), Some(&ImageTagMutability::Immutable));
    let scanning = ecr
        .put_image_scanning_configuration()
        .repository_name("options")
        .image_scanning_configuration(
            ImageScanningConfiguration::builder().scan_on_push(false).build(),
        )
        .send()
        .await
        .unwrap();
    assert!(!scanning.image_scanning_configuration().unwrap().scan_on_push());
    let repo = ecr.describe_repositories().repository_names("options").send().await.unwrap();
    let repo = &repo.repositories()[0];
    assert_eq!(repo.image_tag_mutability(), Some(&ImageTagMutability::Immutable));
    assert!(repo.image_tag_mutability_exclusion_filters().is_empty());
    assert!(!repo.image_scanning_configuration().unwrap().scan_on_push());
}

#[tokio::test]
async fn tags_round_trip_with_the_fifty_tag_limit() {
    let (_dir, _berth, ecr) = started(&[]);
    let arn = ecr
        .create_repository()
        .repository_name("tagged")
        .tags(tag("a", "1"))
        .send()
        .await
        .unwrap()
        .repository()
        .unwrap()
        .repository_arn()
        .unwrap()
        .to_string();
    ecr.tag_resource()
        .resource_arn(&arn)
        .tags(tag("b", "2"))
        .tags(tag("a", "one"))
        .send()
        .await
        .unwrap();
    let tags = ecr.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags(), [tag("a", "one"), tag("b", "2")]);
    ecr.untag_resource()
        .resource_arn(&arn)
        .tag_keys("a")
        .tag_keys("never-set")
        .send()
        .await
        .unwrap();
    let tags = ecr.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags(), [tag("b", "2")]);

    let mut too_many = ecr.tag_resource().resource_arn(&arn);
    for i in 0..50 {
        too_many = too_many.tags(tag(&format!("k{i}"), "v"));
    }
    let err = too_many.send().await.unwrap_err();
    assert_eq!(code_and_message(err).0, "TooManyTagsException");
    let tags = ecr.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags(), [tag("b", "2")], "a refused TagResource changes nothing");

    let missing = arn.replace("tagged", "missing");
    let err = ecr.list_tags_for_resource().resource_arn(&missing).send().await.unwrap_err();
    assert_eq!(code_and_message(err).0, "RepositoryNotFoundException");
}

#[tokio::test]
async fn policies_round_trip() {
    let (_dir, _berth, ecr) = started(&[]);
    create_repository(&ecr, "policed").await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage"]}]}"#;
    let set = ecr
        .set_repository_policy()
        .repository_name("policed")
        .policy_text(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(set.policy_text(), Some(policy));
    assert_eq!(set.registry_id(), Some("000000000000"));
    let got = ecr.get_repository_policy().repository_name("policed").send().await.unwrap();
    assert_eq!(got.policy_text(), Some(policy));
    assert_eq!(got.repository_name(), Some("policed"));
    let deleted = ecr.delete_repository_policy().repository_name("policed").send().await.unwrap();
    assert_eq!(deleted.policy_text(), Some(policy));
    let err = ecr.get_repository_policy().repository_name("policed").send().await.unwrap_err();
    assert_eq!(code_and_message(err).0, "RepositoryPolicyNotFoundException");
}

#[tokio::test]
async fn state_survives_kill_9_and_restart() {
    let (dir, berth, ecr) = started(&[]);
    ecr.create_repository().repository_name("durable").tags(tag("k", "v")).send().await.unwrap();
    ecr.set_repository_policy()
        .repository_name("durable")
        .policy_text(
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"ecr:DeleteRepository"}}"#,
        )
        .send()
        .await
        .unwrap();
    ecr.put_image_tag_mutability()
        .repository_name("durable")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    berth.kill9();

    let berth = Berth::start(dir.path(), &[]);
    let ecr = default_client(&berth);
    let repo = ecr.describe_repositories().repository_names("durable").send().await.unwrap();
    let repo = &repo.repositories()[0];
    assert_eq!(repo.image_tag_mutability(), Some(&ImageTagMutability::Immutable));
    let arn = repo.repository_arn().unwrap();
    let tags = ecr.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    assert_eq!(tags.tags(), [tag("k", "v")]);
    let policy = ecr.get_repository_policy().repository_name("durable").send().await.unwrap();
    assert_eq!(
        policy.policy_text(),
        Some(r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"ecr:DeleteRepository"}}"#)
    );
    assert!(berth.terminate(), "SIGTERM ends berth gracefully with success");
}

#[tokio::test]
async fn repository_with_images_needs_force() {
    let (_dir, _berth, ecr) = started(&[]);
    create_repository(&ecr, "full").await;
    // An empty index needs no layers: the smallest image there is.
    let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    ecr.put_image()
        .repository_name("full")
        .image_manifest(index)
        .image_tag("v1")
        .send()
        .await
        .unwrap();
    let err = ecr.delete_repository().repository_name("full").send().await.unwrap_err();
    assert_eq!(
        code_and_message(err),
        (
            "RepositoryNotEmptyException".into(),
            "The repository with name 'full' in registry with id '000000000000' cannot be deleted because it still contains images".into()
        )
    );
    assert_eq!(ecr.describe_repositories().send().await.unwrap().repositories().len(), 1);
    ecr.delete_repository().repository_name("full").force(true).send().await.unwrap();
    assert!(ecr.describe_repositories().send().await.unwrap().repositories().is_empty());
}

#[tokio::test]
async fn account_and_region_come_from_the_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &["--access-key", "AKIDTEAM=123456789012"]);
    let team = ecr_client(&berth.endpoint, "AKIDTEAM", "eu-west-1");
    let repo = team.create_repository().repository_name("shared").send().await.unwrap();
    let repo = repo.repository().unwrap();
    assert_eq!(repo.registry_id(), Some("123456789012"));
    assert_eq!(repo.repository_arn(), Some("arn:aws:ecr:eu-west-1:123456789012:repository/shared"));
    // Another account, and the same account in another region, see their own registries.
    let other = default_client(&berth);
    assert!(other.describe_repositories().send().await.unwrap().repositories().is_empty());
    other.create_repository().repository_name("shared").send().await.unwrap();
    let team_us = ecr_client(&berth.endpoint, "AKIDTEAM", "us-east-1");
    assert!(team_us.describe_repositories().send().await.unwrap().repositories().is_empty());
    assert_eq!(team.describe_registry().send().await.unwrap().registry_id(), Some("123456789012"));
}
