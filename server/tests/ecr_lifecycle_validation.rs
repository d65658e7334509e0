//! Every refusal of a lifecycle policy, through aws-sdk-ecr against the real binary:
//! PutLifecyclePolicy and StartLifecyclePolicyPreview answer InvalidParameterException
//! with ECR's wording, and a refused policy changes nothing.

mod support;

use support::{berth_with_app, code_and_message};

const PREFIX: &str = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ";

/// A policy of one rule with this selection and action.
fn one(selection: &str, action: &str) -> String {
    format!(r#"{{"rules":[{{"rulePriority":1,"selection":{selection},"action":{action}}}]}}"#)
}

/// Two rules with these selections, priorities 1 and 2, both expiring.
fn two(first: &str, second: &str) -> String {
    format!(
        r#"{{"rules":[{{"rulePriority":1,"selection":{first},"action":{{"type":"expire"}}}},{{"rulePriority":2,"selection":{second},"action":{{"type":"expire"}}}}]}}"#
    )
}

#[tokio::test]
async fn every_refusal_has_ecr_wording_and_changes_nothing() {
    let (_dir, _berth, ecr) = berth_with_app(&[]).await;
    let expire = r#"{"type":"expire"}"#;
    let any = r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}"#;
    let untagged = r#"{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1}"#;
    let null_list =
        "instance type (null) does not match any allowed primitive type (allowed: [\"array\"])";
    let cases: Vec<(String, String)> = vec![
        ("{not json".into(), "Could not map policyString into LifecyclePolicy.".into()),
        ("{}".into(), r#"object has missing required properties (["rules"])"#.into()),
        (r#"{"rules":null}"#.into(), format!("{null_list}\n{null_list}")),
        (
            r#"{"rules":"all"}"#.into(),
            r#"instance type (string) does not match any allowed primitive type (allowed: ["array"])"#.into(),
        ),
        (
            r#"{"rules":[]}"#.into(),
            "array is too short: must have at least 1 elements but instance has 0 elements".into(),
        ),
        (
            r#"{"rules":[{"rulePriority":1}]}"#.into(),
            r#"object has missing required properties (["action","selection"])"#.into(),
        ),
        (
            one(r#"{"tagStatus":"all","countType":"imageCountMoreThan","countNumber":1}"#, expire),
            r#"instance value ("all") not found in enum (possible values: ["tagged","untagged","any"])"#.into(),
        ),
        (
            one(r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0}"#, expire),
            "numeric instance is lower than the required minimum (minimum: 1, found: 0)".into(),
        ),
        (
            one(r#"{"tagStatus":"any","countType":"sinceImagePushed","countUnit":null,"countNumber":1}"#, expire),
            "instance failed to match exactly one schema (matched 0 out of 2)".into(),
        ),
        (
            one(any, r#"{"type":"transition","targetStorageClass":null}"#),
            "instance failed to match exactly one schema (matched 0 out of 2)".into(),
        ),
        (
            one(any, r#"{"type":"transition"}"#),
            "targetStorageClass must be specified when action type=transition.".into(),
        ),
        (
            two(untagged, untagged).replace(r#""rulePriority":2"#, r#""rulePriority":1"#),
            "rulePriority 1 is used by more than one rule".into(),
        ),
        (two(any, untagged), "Rule for tagStatus=ANY must have the lowest priority per storage class".into()),
        (two(untagged, untagged), "Only one rule can select Untagged images per storage class".into()),
        (
            one(r#"{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1}"#, expire),
            "Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.".into(),
        ),
        (
            one(r#"{"tagStatus":"tagged","tagPrefixList":["v"],"tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":1}"#, expire),
            "Cannot specify both tagPrefixList and tagPatternList in one rule.".into(),
        ),
        (
            one(r#"{"tagStatus":"untagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1}"#, expire),
            "tagPrefixList and tagPatternList can only be specified when tagStatus=TAGGED.".into(),
        ),
        (
            one(r#"{"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*f"],"countType":"imageCountMoreThan","countNumber":1}"#, expire),
            "tagPatternList value 'a*b*c*d*e*f' has more than 4 wildcards.".into(),
        ),
        (
            one(r#"{"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}"#, expire),
            "countUnit cannot be specified when countType=imageCountMoreThan.".into(),
        ),
        (
            one(r#"{"tagStatus":"any","countType":"sinceImagePushed","countNumber":1}"#, expire),
            "countUnit must be specified when countType=sinceImagePushed.".into(),
        ),
        (
            one(r#"{"tagStatus":"any","countType":"sinceImageTransitioned","countUnit":"days","countNumber":1}"#, expire),
            "countType=sinceImageTransitioned can only be used with storageClass=archive.".into(),
        ),
    ];
    for (text, detail) in cases {
        // Padded past the model's 100-character minimum with whitespace, which JSON ignores.
        let text = format!("{text:<100}");
        let put = ecr
            .put_lifecycle_policy()
            .repository_name("app")
            .lifecycle_policy_text(&text)
            .send()
            .await
            .map_err(code_and_message);
        let expected = ("InvalidParameterException".to_string(), format!("{PREFIX}{detail}'"));
        assert_eq!(put.map(drop), Err(expected.clone()), "{text}");
        let preview = ecr
            .start_lifecycle_policy_preview()
            .repository_name("app")
            .lifecycle_policy_text(&text)
            .send()
            .await
            .map_err(code_and_message);
        assert_eq!(preview.map(drop), Err(expected), "preview of {text}");
    }
    // Lengths are the model's constraint, in its own words.
    let long = format!("{:<30721}", one(any, expire));
    let err = ecr
        .put_lifecycle_policy()
        .repository_name("app")
        .lifecycle_policy_text(long)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_message(err),
        (
            "InvalidParameterException".to_string(),
            "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'must have length less than or equal to 30720'".to_string()
        )
    );
    // Nothing was stored by any of them.
    let err = ecr.get_lifecycle_policy().repository_name("app").send().await.unwrap_err();
    assert_eq!(code_and_message(err).0, "LifecyclePolicyNotFoundException");
}
