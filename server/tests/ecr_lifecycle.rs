//! Lifecycle policies driven by aws-sdk-ecr against the real berth binary: put (checked
//! and compacted), get, delete, ECR's errors, the policy surviving kill -9, and its
//! evaluation with berth's clock moved through the admin API.

mod support;

use aws_sdk_ecr::types::TagStatus;
use support::images::put_index;
use support::*;

/// A policy with a rule of each selection kind, pretty-printed as a user would write it.
const POLICY: &str = r#"{
  "rules": [
    {
      "rulePriority": 1,
      "description": "keep the last 5 releases",
      "selection": {"tagStatus": "tagged", "tagPatternList": ["v*"], "countType": "imageCountMoreThan", "countNumber": 5},
      "action": {"type": "expire"}
    },
    {
      "rulePriority": 2,
      "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
      "action": {"type": "expire"}
    }
  ]
}"#;

/// `POLICY` as ECR echoes it: whitespace outside strings gone, keys in their order.
fn compacted() -> String {
    [
        r#"{"rules":[{"rulePriority":1,"description":"keep the last 5 releases","#,
        r#""selection":{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":5},"#,
        r#""action":{"type":"expire"}},{"rulePriority":2,"#,
        r#""selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"#,
        r#""action":{"type":"expire"}}]}"#,
    ]
    .concat()
}

/// PutLifecyclePolicy: the echoed text, or the error's code and message.
async fn put(
    ecr: &aws_sdk_ecr::Client, repository: &str, text: &str,
) -> Result<Option<String>, (String, String)> {
    ecr.put_lifecycle_policy()
        .repository_name(repository)
        .lifecycle_policy_text(text)
        .send()
        .await
        .map(|put| put.lifecycle_policy_text().map(str::to_string))
        .map_err(code_and_message)
}

/// GetLifecyclePolicy: the text and `lastEvaluatedAt` seconds, or the error.
async fn get(ecr: &aws_sdk_ecr::Client) -> Result<(Option<String>, Option<i64>), (String, String)> {
    ecr.get_lifecycle_policy()
        .repository_name("app")
        .send()
        .await
        .map(|got| {
            let text = got.lifecycle_policy_text().map(str::to_string);
            (text, got.last_evaluated_at().map(|t| t.secs()))
        })
        .map_err(code_and_message)
}

fn invalid(message: &str) -> Result<Option<String>, (String, String)> {
    Err(("InvalidParameterException".to_string(), message.to_string()))
}

#[tokio::test]
async fn put_get_delete_with_ecr_echo_and_errors() {
    let (dir, berth, ecr) = berth_with_app(&[]).await;

    let not_found = (
        "LifecyclePolicyNotFoundException".to_string(),
        "Lifecycle policy does not exist for the repository with name 'app' in the registry with id '000000000000'".to_string(),
    );
    assert_eq!(get(&ecr).await, Err(not_found.clone()));

    let put_answer = put_lifecycle_policy(&ecr, "app", POLICY).await;
    assert_eq!(put_answer.lifecycle_policy_text(), Some(compacted().as_str()));
    assert_eq!(put_answer.registry_id(), Some("000000000000"));
    assert_eq!(put_answer.repository_name(), Some("app"));
    assert_eq!(get(&ecr).await, Ok((Some(compacted()), Some(0))));

    // A refused policy changes nothing.
    let tagged_without_list = POLICY.replace(r#""tagPatternList": ["v*"], "#, "");
    assert_eq!(
        put(&ecr, "app", &tagged_without_list).await,
        invalid("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.'")
    );
    assert_eq!(
        put(&ecr, "app", r#"{"rules":[]}"#).await,
        invalid("Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'must have length greater than or equal to 100'")
    );
    assert_eq!(
        put(&ecr, "missing", POLICY).await.map_err(|e| e.0),
        Err("RepositoryNotFoundException".to_string())
    );
    assert_eq!(get(&ecr).await, Ok((Some(compacted()), Some(0))));

    // Acknowledged, so it survives kill -9.
    berth.kill9();
    let berth = Berth::start(dir.path(), &[]);
    let ecr = default_client(&berth);
    let deleted = ecr.delete_lifecycle_policy().repository_name("app").send().await.unwrap();
    assert_eq!(deleted.lifecycle_policy_text(), Some(compacted().as_str()));
    assert_eq!(deleted.last_evaluated_at().map(|t| t.secs()), Some(0));
    for err in [
        ecr.get_lifecycle_policy()
            .repository_name("app")
            .send()
            .await
            .map(drop)
            .map_err(code_and_message),
        ecr.delete_lifecycle_policy()
            .repository_name("app")
            .send()
            .await
            .map(drop)
            .map_err(code_and_message),
    ] {
        assert_eq!(err, Err(not_found.clone()));
    }
}

#[tokio::test]
async fn evaluation_expires_what_the_rules_select_when_the_clock_says_so() {
    let (_dir, berth, ecr) = berth_with_app(&["--admin-api"]).await;
    // v1, v2, v3 a second apart, then an untagged image.
    for n in 1..=4u32 {
        let tag = if n < 4 { format!("v{n}") } else { String::new() };
        put_index(&ecr, n, &tag).await;
        advance_clock(&berth, 1).await;
    }
    let policy = r#"{"rules":[
        {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
        {"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":2},"action":{"type":"expire"}}
    ]}"#;
    put_lifecycle_policy(&ecr, "app", policy).await;

    let tags_left = || async {
        let described = ecr.describe_images().repository_name("app").send().await.unwrap();
        let mut left: Vec<String> = described
            .image_details()
            .iter()
            .map(|d| d.image_tags().join(",").to_string())
            .collect();
        left.sort();
        left
    };
    // Never previewed, then a preview of the saved policy: the same images the run takes.
    let err = ecr.get_lifecycle_policy_preview().repository_name("app").send().await.unwrap_err();
    assert_eq!(code_and_message(err).0, "LifecyclePolicyPreviewNotFoundException");
    let started = ecr.start_lifecycle_policy_preview().repository_name("app").send().await.unwrap();
    assert_eq!(
        started.status(),
        Some(&aws_sdk_ecr::types::LifecyclePolicyPreviewStatus::InProgress)
    );
    let preview = ecr.get_lifecycle_policy_preview().repository_name("app").send().await.unwrap();
    assert_eq!(preview.status(), Some(&aws_sdk_ecr::types::LifecyclePolicyPreviewStatus::Complete));
    let mut previewed: Vec<(String, Option<i32>)> = preview
        .preview_results()
        .iter()
        .map(|r| (r.image_tags().join(","), r.applied_rule_priority()))
        .collect();
    previewed.sort();
    assert_eq!(previewed, vec![("v1".to_string(), Some(1)), ("v2".to_string(), Some(1))]);
    assert_eq!(preview.summary().and_then(|s| s.expiring_image_total_count()), Some(2));
    // A previewed text is checked, and echoed as sent.
    let err = ecr
        .start_lifecycle_policy_preview()
        .repository_name("app")
        .lifecycle_policy_text(policy.replace("\"untagged\"", "\"tagged\""))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(err).0, "InvalidParameterException");
    let echoed = ecr
        .start_lifecycle_policy_preview()
        .repository_name("app")
        .lifecycle_policy_text(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.lifecycle_policy_text(), Some(policy));

    run_job(&berth, "lifecycle").await;
    // The two older v* images go at once; the untagged one is too young.
    assert_eq!(tags_left().await, vec!["".to_string(), "v3".to_string()]);

    let now = advance_clock(&berth, 259_200).await;
    run_job(&berth, "lifecycle").await;
    assert_eq!(tags_left().await, vec!["v3".to_string()]);
    let untagged = ecr
        .list_images()
        .repository_name("app")
        .filter(
            aws_sdk_ecr::types::ListImagesFilter::builder().tag_status(TagStatus::Untagged).build(),
        )
        .send()
        .await
        .unwrap();
    assert!(untagged.image_ids().is_empty());

    let evaluated = get(&ecr).await.unwrap().1;
    assert_eq!(evaluated, Some(now.floor() as i64));
    // Nothing is archived: every image left is ACTIVE, and an ACTIVE listing is the default.
    assert_eq!(images_by_status(&ecr).await, vec![("v3".to_string(), "ACTIVE".to_string())]);
    let active = ecr
        .list_images()
        .repository_name("app")
        .filter(
            aws_sdk_ecr::types::ListImagesFilter::builder()
                .image_status(aws_sdk_ecr::types::ImageStatusFilter::Active)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(active.image_ids().len(), 1);
    let kept = get_tagged_image(&ecr, "app", "v3").await;
    assert_eq!(kept.images().len(), 1);
}

/// Every image's (tags, status), sorted: the repository as lifecycle left it.
async fn images_by_status(ecr: &aws_sdk_ecr::Client) -> Vec<(String, String)> {
    let described = ecr
        .describe_images()
        .repository_name("app")
        .filter(
            aws_sdk_ecr::types::DescribeImagesFilter::builder()
                .image_status(aws_sdk_ecr::types::ImageStatusFilter::Any)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut images: Vec<(String, String)> = described
        .image_details()
        .iter()
        .map(|d| {
            let status = d.image_status().map(|s| s.as_str().to_string());
            (d.image_tags().join(","), status.unwrap_or_default())
        })
        .collect();
    images.sort();
    images
}

fn expected(images: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut images: Vec<(String, String)> =
        images.iter().map(|(tags, status)| (tags.to_string(), status.to_string())).collect();
    images.sort();
    images
}

#[tokio::test]
async fn a_policy_with_every_rule_kind_expires_and_archives_what_ecr_says() {
    let (_dir, berth, ecr) = berth_with_app(&["--admin-api"]).await;
    let tags =
        ["release-1", "release-2", "release-3", "release-4", "dev-a", "dev-b", "", "keep-me"];
    for (n, tag) in tags.iter().enumerate() {
        put_index(&ecr, n as u32, tag).await;
        advance_clock(&berth, 1).await;
    }
    let policy = r#"{"rules":[
        {"rulePriority":1,"description":"two releases","selection":{"tagStatus":"tagged","tagPrefixList":["release-"],"countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}},
        {"rulePriority":2,"description":"idle dev builds to the archive","selection":{"tagStatus":"tagged","tagPatternList":["dev-*"],"countType":"sinceImagePulled","countUnit":"days","countNumber":7},"action":{"type":"transition","targetStorageClass":"archive"}},
        {"rulePriority":3,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3},"action":{"type":"expire"}},
        {"rulePriority":4,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":30},"action":{"type":"expire"}},
        {"rulePriority":5,"selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":365},"action":{"type":"expire"}}
    ]}"#;
    put_lifecycle_policy(&ecr, "app", policy).await;
    let day = |days: u64| advance_clock(&berth, days * 86_400);
    let run = || run_job(&berth, "lifecycle");

    // Ten days on, dev-a was pulled yesterday, dev-b never.
    day(9).await;
    get_tagged_image(&ecr, "app", "dev-a").await;
    day(1).await;
    let preview = run_preview(&ecr, "app").await;
    let mut previewed: Vec<(String, String, i32)> = preview
        .preview_results()
        .iter()
        .map(|r| {
            let action = r.action().and_then(|a| a.r#type()).unwrap().as_str();
            let priority = r.applied_rule_priority().unwrap();
            (r.image_tags().join(","), action.to_string(), priority)
        })
        .collect();
    previewed.sort();
    let row = |tags: &str, action: &str, priority| (tags.to_string(), action.to_string(), priority);
    assert_eq!(
        previewed,
        vec![
            row("", "EXPIRE", 3),
            row("dev-b", "TRANSITION", 2),
            row("release-1", "EXPIRE", 1),
            row("release-2", "EXPIRE", 1),
        ]
    );
    let summary = preview.summary().unwrap();
    assert_eq!(summary.expiring_image_total_count(), Some(3));
    assert_eq!(summary.transitioning_image_total_counts()[0].image_total_count(), Some(1));

    // The run does what the preview said.
    run().await;
    let after_run = [
        ("release-3", "ACTIVE"),
        ("release-4", "ACTIVE"),
        ("dev-a", "ACTIVE"),
        ("dev-b", "ARCHIVED"),
        ("keep-me", "ACTIVE"),
    ];
    assert_eq!(images_by_status(&ecr).await, expected(&after_run));
    // 31 days on, dev-a has been idle for a month and goes to the archive too; dev-b's
    // archive rule count is met, but ECR keeps archived images 90 days.
    day(31).await;
    run().await;
    let after_a_month = [
        ("release-3", "ACTIVE"),
        ("release-4", "ACTIVE"),
        ("dev-a", "ARCHIVED"),
        ("dev-b", "ARCHIVED"),
        ("keep-me", "ACTIVE"),
    ];
    assert_eq!(images_by_status(&ecr).await, expected(&after_a_month));
    // 91 days after its archive dev-b expires; dev-a, 60 days in, stays.
    day(60).await;
    run().await;
    let after_archive = [
        ("release-3", "ACTIVE"),
        ("release-4", "ACTIVE"),
        ("dev-a", "ARCHIVED"),
        ("keep-me", "ACTIVE"),
    ];
    assert_eq!(images_by_status(&ecr).await, expected(&after_archive));
    // A year on, dev-a expires from the archive, and the `any` rule expires what no earlier
    // rule's tag selection takes in; the releases stay under rule 1.
    day(365).await;
    run().await;
    let after_a_year = [("release-3", "ACTIVE"), ("release-4", "ACTIVE")];
    assert_eq!(images_by_status(&ecr).await, expected(&after_a_year));
}
