//! Invalid repository requests driven by aws-sdk-ecr against the real berth binary: ECR's
//! error codes and messages, and nothing changed.

mod support;

use aws_sdk_ecr::types::{
    ImageTagMutability, ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType,
    Tag,
};
use support::*;

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

#[tokio::test]
async fn invalid_requests_get_ecr_errors_and_change_nothing() {
    let (_dir, _berth, ecr) = started(&[]);
    create_repository(&ecr, "exists").await;

    let cases: Vec<(Result<(), aws_sdk_ecr::Error>, &str, &str)> = vec![
        (
            ecr.create_repository().repository_name("exists").send().await.map(drop).map_err(Into::into),
            "RepositoryAlreadyExistsException",
            "The repository with name 'exists' already exists in the registry with id '000000000000'",
        ),
        (
            ecr.create_repository().repository_name("Bad_Name").send().await.map(drop).map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''",
        ),
        (
            ecr.create_repository().repository_name("a").send().await.map(drop).map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have length greater than or equal to 2'",
        ),
        (
            ecr.create_repository()
                .repository_name("enum-bad")
                .image_tag_mutability(ImageTagMutability::from("SOMETIMES"))
                .send()
                .await
                .map(drop)
                .map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE, MUTABLE_WITH_EXCLUSION]'",
        ),
        (
            ecr.create_repository()
                .repository_name("filters-bad")
                .image_tag_mutability(ImageTagMutability::Mutable)
                .image_tag_mutability_exclusion_filters(
                    ImageTagMutabilityExclusionFilter::builder()
                        .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                        .filter("x*")
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .map(drop)
                .map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'can only be specified when imageTagMutability is IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION'",
        ),
        (
            ecr.create_repository()
                .repository_name("tags-bad")
                .tags(tag("aws:reserved", "x"))
                .send()
                .await
                .map(drop)
                .map_err(Into::into),
            "InvalidTagParameterException",
            "Invalid tag 'aws:reserved': the 'aws:' prefix is reserved for AWS use",
        ),
        (
            ecr.describe_repositories().max_results(1001).send().await.map(drop).map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'maxResults' failed to satisfy constraint: 'must have value less than or equal to 1000'",
        ),
        (
            ecr.describe_repositories()
                .repository_names("exists")
                .max_results(5)
                .send()
                .await
                .map(drop)
                .map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'maxResults' failed to satisfy constraint: 'cannot be specified together with repositoryNames'",
        ),
        (
            ecr.describe_repositories().next_token("garbage").send().await.map(drop).map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'nextToken' failed to satisfy constraint: 'must be a nextToken returned by a previous call'",
        ),
        (
            ecr.describe_repositories().registry_id("12").send().await.map(drop).map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{12}''",
        ),
        (
            ecr.get_repository_policy().repository_name("exists").send().await.map(drop).map_err(Into::into),
            "RepositoryPolicyNotFoundException",
            "Repository policy does not exist for the repository with name 'exists' in the registry with id '000000000000'",
        ),
        (
            ecr.delete_repository_policy().repository_name("exists").send().await.map(drop).map_err(Into::into),
            "RepositoryPolicyNotFoundException",
            "Repository policy does not exist for the repository with name 'exists' in the registry with id '000000000000'",
        ),
        (
            ecr.set_repository_policy()
                .repository_name("exists")
                .policy_text("{not json")
                .send()
                .await
                .map(drop)
                .map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'",
        ),
        (
            ecr.set_repository_policy()
                .repository_name("exists")
                .policy_text(format!("{{\"Statement\":[{{\"Effect\":\"Allow\",\"Sid\":\"{}\"}}]}}", "x".repeat(10_240)))
                .send()
                .await
                .map(drop)
                .map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'policyText' failed to satisfy constraint: 'must have length less than or equal to 10240'",
        ),
        (
            ecr.set_repository_policy()
                .repository_name("missing")
                .policy_text(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"}]}"#)
                .send()
                .await
                .map(drop)
                .map_err(Into::into),
            "RepositoryNotFoundException",
            "The repository with name 'missing' does not exist in the registry with id '000000000000'",
        ),
        (
            ecr.put_image_tag_mutability()
                .repository_name("missing")
                .image_tag_mutability(ImageTagMutability::Immutable)
                .send()
                .await
                .map(drop)
                .map_err(Into::into),
            "RepositoryNotFoundException",
            "The repository with name 'missing' does not exist in the registry with id '000000000000'",
        ),
        (
            ecr.list_tags_for_resource().resource_arn("arn:aws:s3:::bucket").send().await.map(drop).map_err(Into::into),
            "InvalidParameterException",
            "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'must be a repository ARN of the form arn:aws:ecr:<region>:<account>:repository/<name>'",
        ),
        (
            ecr.get_signing_configuration().send().await.map(drop).map_err(Into::into),
            "SigningConfigurationNotFoundException",
            "The signing configuration does not exist in the registry with id '000000000000'",
        ),
    ];
    for (i, (result, code, message)) in cases.into_iter().enumerate() {
        let err = result.expect_err(&format!("case {i} should fail"));
        assert_eq!(code_and_message(err), (code.to_string(), message.to_string()), "case {i}");
    }

    // Nothing the refused calls named was created or changed.
    let all = ecr.describe_repositories().send().await.unwrap();
    let names: Vec<_> = all.repositories().iter().map(|r| r.repository_name().unwrap()).collect();
    assert_eq!(names, ["exists"]);
    let err = ecr.get_repository_policy().repository_name("exists").send().await.unwrap_err();
    assert_eq!(code_and_message(err).0, "RepositoryPolicyNotFoundException");
}
