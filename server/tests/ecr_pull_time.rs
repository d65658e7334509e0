//! Pull-time update exclusions driven by aws-sdk-ecr and raw /v2 pulls against the real
//! binary: access keys mapped to IAM principals, the exclusion list with ECR's errors and
//! quota, and lastRecordedPullTime left alone by an excluded principal's pulls on both
//! faces while anyone else's pulls update it.

mod support;

use aws_sdk_ecr::types::ImageIdentifier;
use support::images::put_index;
use support::*;

const CI_ROLE: &str = "arn:aws:iam::000000000000:role/ci";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// lastRecordedPullTime of the image tagged v1, in seconds, if any.
async fn last_pulled(ecr: &aws_sdk_ecr::Client) -> Option<i64> {
    let described = ecr
        .describe_images()
        .repository_name("app")
        .image_ids(ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap();
    described.image_details()[0].last_recorded_pull_time().map(|t| t.secs())
}

/// Pulls v1 on both faces as the owner of `ecr`'s access key.
async fn pull_both_ways(berth: &Berth, ecr: &aws_sdk_ecr::Client) {
    let got = get_tagged_image(ecr, "app", "v1").await;
    assert_eq!(got.images().len(), 1);
    let raw = RawRegistry::new(berth, &registry_password(ecr).await);
    let pulled = raw.get_manifest("/v2/app/manifests/v1", INDEX).await;
    assert_eq!(pulled.status(), 200);
}

#[tokio::test]
async fn an_excluded_principal_pulls_without_moving_the_pull_time() {
    let dir = tempfile::tempdir().unwrap();
    let ci_key = format!("AKIDCI={CI_ROLE}");
    let flags = ["--admin-api", "--access-key", &ci_key, "--access-key", "AKIDDEV=000000000000"];
    let berth = Berth::start(dir.path(), &flags);
    let dev = ecr_client(&berth.endpoint, "AKIDDEV", "us-east-1");
    let ci = ecr_client(&berth.endpoint, "AKIDCI", "us-east-1");
    create_repository(&dev, "app").await;
    put_index(&dev, 1, "v1").await;

    let registered =
        dev.register_pull_time_update_exclusion().principal_arn(CI_ROLE).send().await.unwrap();
    assert_eq!(registered.principal_arn(), Some(CI_ROLE));
    assert!(registered.created_at().is_some());
    let again =
        dev.register_pull_time_update_exclusion().principal_arn(CI_ROLE).send().await.unwrap_err();
    assert_eq!(code_and_message(again).0, "ExclusionAlreadyExistsException");

    // The CI role's pulls, on both faces, leave the pull time unset.
    pull_both_ways(&berth, &ci).await;
    assert_eq!(last_pulled(&dev).await, None);
    // Anyone else's pull sets it; the CI role's later pulls leave it where it was.
    pull_both_ways(&berth, &dev).await;
    let recorded = last_pulled(&dev).await.expect("the pull is recorded");
    advance_clock(&berth, 3 * 86_400).await;
    pull_both_ways(&berth, &ci).await;
    assert_eq!(last_pulled(&dev).await, Some(recorded));
    // Taken off the list, its pulls count again.
    let removed =
        dev.deregister_pull_time_update_exclusion().principal_arn(CI_ROLE).send().await.unwrap();
    assert_eq!(removed.principal_arn(), Some(CI_ROLE));
    // berth writes a principal's pull of an image at most once a minute (ECR refreshes the
    // pull time about daily): the next one comes a few minutes on.
    advance_clock(&berth, 300).await;
    pull_both_ways(&berth, &ci).await;
    let later = last_pulled(&dev).await.unwrap();
    assert!(later >= recorded + 3 * 86_400, "{later} after {recorded}");
    let gone = dev
        .deregister_pull_time_update_exclusion()
        .principal_arn(CI_ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(gone).0, "ExclusionNotFoundException");
}

#[tokio::test]
async fn the_list_pages_holds_100_and_checks_arns() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &[]);
    let ecr = ecr_client(&berth.endpoint, "AKIDANY", "us-east-1");
    for n in 0..100 {
        ecr.register_pull_time_update_exclusion()
            .principal_arn(format!("arn:aws:iam::123456789012:role/r{n:03}"))
            .send()
            .await
            .unwrap();
    }
    let over = ecr
        .register_pull_time_update_exclusion()
        .principal_arn("arn:aws:iam::123456789012:user/one-too-many")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(over).0, "LimitExceededException");
    let (code, message) = code_and_message(
        ecr.register_pull_time_update_exclusion()
            .principal_arn("arn:aws:iam::123456789012:group/admins")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
    assert!(message.contains("principalArn"), "{message}");

    let mut listed = Vec::new();
    let mut token = None;
    loop {
        let page = ecr
            .list_pull_time_update_exclusions()
            .max_results(30)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.pull_time_update_exclusions().len() <= 30);
        listed.extend(page.pull_time_update_exclusions().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let expected: Vec<String> =
        (0..100).map(|n| format!("arn:aws:iam::123456789012:role/r{n:03}")).collect();
    assert_eq!(listed, expected);
    // Another region is another registry, with a list of its own.
    let west = ecr_client(&berth.endpoint, "AKIDANY", "eu-west-1");
    let other = west.list_pull_time_update_exclusions().send().await.unwrap();
    assert!(other.pull_time_update_exclusions().is_empty());
}
