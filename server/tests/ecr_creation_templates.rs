//! Repository creation templates through aws-sdk-ecr against the real binary: create,
//! describe (paged), update, delete with ECR's errors, and PutImage creating a repository
//! under a CREATE_ON_PUSH template (and only then).

mod support;

use aws_sdk_ecr::types::{ImageTagMutability, RctAppliedFor};
use support::images::{empty_index, OCI_INDEX};
use support::*;

#[tokio::test]
async fn templates_round_trip_and_put_image_creates_on_push() {
    let (_dir, _berth, ecr) = started(&[]);
    for prefix in ["ROOT", "prod", "prod/team"] {
        let created = ecr
            .create_repository_creation_template()
            .prefix(prefix)
            .applied_for(RctAppliedFor::CreateOnPush)
            .send()
            .await
            .unwrap();
        let template = created.repository_creation_template().unwrap();
        assert_eq!(template.prefix(), Some(prefix));
        assert_eq!(template.image_tag_mutability(), Some(&ImageTagMutability::Mutable));
        assert!(template.created_at().is_some());
    }
    let again = ecr
        .create_repository_creation_template()
        .prefix("prod")
        .applied_for(RctAppliedFor::Replication)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(again).0, "TemplateAlreadyExistsException");
    let bad = ecr
        .create_repository_creation_template()
        .prefix("dev")
        .applied_for(RctAppliedFor::CreateOnPush)
        .repository_policy("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(bad).0, "InvalidParameterException");

    let page = ecr.describe_repository_creation_templates().max_results(2).send().await.unwrap();
    let first: Vec<&str> =
        page.repository_creation_templates().iter().filter_map(|t| t.prefix()).collect();
    assert_eq!(first, vec!["ROOT", "prod"]);
    let rest = ecr
        .describe_repository_creation_templates()
        .set_next_token(page.next_token().map(str::to_string))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.repository_creation_templates()[0].prefix(), Some("prod/team"));
    assert!(rest.next_token().is_none());

    let updated = ecr
        .update_repository_creation_template()
        .prefix("prod/team")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated.repository_creation_template().unwrap().image_tag_mutability(),
        Some(&ImageTagMutability::Immutable)
    );

    // PutImage into a name nobody created: the most specific template makes it.
    ecr.put_image()
        .repository_name("prod/team/app")
        .image_manifest(empty_index(1))
        .image_manifest_media_type(OCI_INDEX)
        .image_tag("v1")
        .send()
        .await
        .unwrap();
    let created =
        ecr.describe_repositories().repository_names("prod/team/app").send().await.unwrap();
    assert_eq!(
        created.repositories()[0].image_tag_mutability(),
        Some(&ImageTagMutability::Immutable)
    );

    for prefix in ["ROOT", "prod", "prod/team"] {
        let deleted =
            ecr.delete_repository_creation_template().prefix(prefix).send().await.unwrap();
        assert_eq!(deleted.repository_creation_template().unwrap().prefix(), Some(prefix));
    }
    let gone = ecr.delete_repository_creation_template().prefix("prod").send().await.unwrap_err();
    assert_eq!(code_and_message(gone).0, "TemplateNotFoundException");
    let refused = ecr
        .put_image()
        .repository_name("prod/other")
        .image_manifest(empty_index(2))
        .image_manifest_media_type(OCI_INDEX)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(refused).0, "RepositoryNotFoundException");
}
