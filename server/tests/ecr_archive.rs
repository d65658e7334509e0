//! Storage classes driven by aws-sdk-ecr and raw /v2 requests against the real binary:
//! UpdateImageStorageClass to ARCHIVE and back (ACTIVATING until the restore delay has
//! passed on berth's clock), pulls of an archived image refused on both faces, listings by
//! `imageStatus`, a re-push restoring at once, and lifecycle transitions that archive and
//! later expire.

mod support;

use aws_sdk_ecr::types::{
    DescribeImagesFilter, ImageIdentifier, ImageStatus, ImageStatusFilter, ListImagesFilter,
    TargetStorageClass,
};
use reqwest::Method;
use support::images::{manifest, put_index, put_manifest, upload, OCI_MANIFEST};
use support::*;

/// UpdateImageStorageClass of the image tagged `tag`: its status, or the error.
async fn move_image(
    ecr: &aws_sdk_ecr::Client, tag: &str, target: TargetStorageClass,
) -> Result<ImageStatus, (String, String)> {
    ecr.update_image_storage_class()
        .repository_name("app")
        .image_id(ImageIdentifier::builder().image_tag(tag).build())
        .target_storage_class(target)
        .send()
        .await
        .map(|moved| moved.image_status().cloned().expect("a status"))
        .map_err(code_and_message)
}

/// The HTTP status of a /v2 manifest request.
async fn pull_status(raw: &RawRegistry, method: Method, reference: &str) -> u16 {
    raw.request(method, &format!("/v2/app/manifests/{reference}"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The digests ListImages gives with this `imageStatus` filter (none: ECR's default).
async fn listed(ecr: &aws_sdk_ecr::Client, status: Option<ImageStatusFilter>) -> Vec<String> {
    let filter = ListImagesFilter::builder().set_image_status(status).build();
    let listed = ecr.list_images().repository_name("app").filter(filter).send().await.unwrap();
    let mut digests: Vec<String> =
        listed.image_ids().iter().filter_map(|id| id.image_digest().map(str::to_string)).collect();
    digests.dedup();
    digests
}

/// The one image's detail, whatever its status.
async fn detail(ecr: &aws_sdk_ecr::Client) -> aws_sdk_ecr::types::ImageDetail {
    let described = ecr
        .describe_images()
        .repository_name("app")
        .filter(DescribeImagesFilter::builder().image_status(ImageStatusFilter::Any).build())
        .send()
        .await
        .unwrap();
    assert_eq!(described.image_details().len(), 1);
    described.image_details()[0].clone()
}

#[tokio::test]
async fn an_archived_image_is_listed_not_pulled_and_comes_back_by_restore_or_re_push() {
    let flags = ["--admin-api", "--archive-restore-delay", "60"];
    let (dir, berth, ecr) = berth_with_app(&flags).await;
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    let config = upload(&raw, "app", b"{}").await;
    let layer = upload(&raw, "app", b"hello").await;
    let body = manifest(&config, &layer);
    let pushed = put_manifest(&raw, "app", "v1", &body, OCI_MANIFEST).await;
    assert_eq!(pushed.status(), 201);
    let digest = support::digest_of(body.as_bytes());
    assert_eq!(pull_status(&raw, Method::GET, "v1").await, 200);

    assert_eq!(
        move_image(&ecr, "v1", TargetStorageClass::Archive).await,
        Ok(ImageStatus::Archived)
    );
    for (method, reference) in
        [(Method::GET, "v1"), (Method::HEAD, "v1"), (Method::GET, digest.as_str())]
    {
        assert_eq!(pull_status(&raw, method, reference).await, 404);
    }
    let refused = raw.request(Method::GET, "/v2/app/manifests/v1").send().await.unwrap();
    assert_eq!(oci_error_code(refused).await.1, "MANIFEST_UNKNOWN");
    let got = get_tagged_image(&ecr, "app", "v1").await;
    assert!(got.images().is_empty());
    assert_eq!(got.failures()[0].failure_code().map(|c| c.as_str()), Some("ImageNotFound"));
    // Listed only when archived images are asked for.
    assert!(listed(&ecr, None).await.is_empty());
    assert!(listed(&ecr, Some(ImageStatusFilter::Active)).await.is_empty());
    assert_eq!(listed(&ecr, Some(ImageStatusFilter::Archived)).await, vec![digest.clone()]);
    let archived = detail(&ecr).await;
    assert_eq!(archived.image_status(), Some(&ImageStatus::Archived));
    assert!(archived.last_archived_at().is_some());
    assert!(archived.last_activated_at().is_none());

    // Archived is acknowledged, so it survives kill -9.
    berth.kill9();
    let berth = Berth::start(dir.path(), &flags);
    let ecr = default_client(&berth);
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    assert_eq!(pull_status(&raw, Method::GET, "v1").await, 404);
    assert_eq!(
        move_image(&ecr, "v1", TargetStorageClass::Archive).await,
        Ok(ImageStatus::Archived)
    );

    // Restored: ACTIVATING (still not pulled) until the delay has passed on berth's clock.
    assert_eq!(
        move_image(&ecr, "v1", TargetStorageClass::Standard).await,
        Ok(ImageStatus::Activating)
    );
    assert_eq!(pull_status(&raw, Method::GET, "v1").await, 404);
    assert_eq!(listed(&ecr, Some(ImageStatusFilter::Activating)).await, vec![digest.clone()]);
    let (code, _) = move_image(&ecr, "v1", TargetStorageClass::Archive).await.unwrap_err();
    assert_eq!(code, "ImageStorageClassUpdateNotSupportedException");
    advance_clock(&berth, 61).await;
    assert_eq!(pull_status(&raw, Method::GET, "v1").await, 200);
    assert_eq!(listed(&ecr, None).await, vec![digest.clone()]);
    let active = detail(&ecr).await;
    assert_eq!(active.image_status(), Some(&ImageStatus::Active));
    assert!(active.last_activated_at().is_some());

    // Archived again, then pushed again: active at once.
    move_image(&ecr, "v1", TargetStorageClass::Archive).await.unwrap();
    let again = put_manifest(&raw, "app", "v1", &body, OCI_MANIFEST).await;
    assert_eq!(again.status(), 201);
    assert_eq!(pull_status(&raw, Method::GET, "v1").await, 200);
    assert_eq!(detail(&ecr).await.image_status(), Some(&ImageStatus::Active));

    // ECR's errors.
    let (code, message) =
        move_image(&ecr, "missing", TargetStorageClass::Archive).await.unwrap_err();
    assert_eq!(code, "ImageNotFoundException");
    assert_eq!(
        message,
        "The image with imageId {imageDigest:'null', imageTag:'missing'} does not exist within the repository with name 'app' in the registry with id '000000000000'"
    );
    let err = ecr
        .update_image_storage_class()
        .repository_name("nope")
        .image_id(ImageIdentifier::builder().image_tag("v1").build())
        .target_storage_class(TargetStorageClass::Archive)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(err).0, "RepositoryNotFoundException");
}

#[tokio::test]
async fn lifecycle_archives_what_a_transition_rule_selects_and_expires_it_later() {
    let (_dir, berth, ecr) = berth_with_app(&["--admin-api"]).await;
    let mut digests = Vec::new();
    for n in 1..=3u32 {
        digests.push(put_index(&ecr, n, &format!("v{n}")).await);
        advance_clock(&berth, 1).await;
    }
    let policy = r#"{"rules":[
        {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"transition","targetStorageClass":"archive"}},
        {"rulePriority":2,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":100},"action":{"type":"expire"}}
    ]}"#;
    put_lifecycle_policy(&ecr, "app", policy).await;
    let preview = run_preview(&ecr, "app").await;
    let mut previewed: Vec<(String, String)> = preview
        .preview_results()
        .iter()
        .map(|r| {
            let action = r.action().and_then(|a| a.r#type()).unwrap();
            (r.image_tags().join(","), action.as_str().to_string())
        })
        .collect();
    previewed.sort();
    assert_eq!(
        previewed,
        vec![
            ("v1".to_string(), "TRANSITION".to_string()),
            ("v2".to_string(), "TRANSITION".to_string())
        ]
    );

    run_job(&berth, "lifecycle").await;
    let mut older = digests[..2].to_vec();
    older.sort();
    assert_eq!(listed(&ecr, Some(ImageStatusFilter::Archived)).await, older);
    assert_eq!(listed(&ecr, None).await, vec![digests[2].clone()]);

    // 99 days on, the archived images are kept; past 100 days they expire.
    advance_clock(&berth, 99 * 86_400).await;
    run_job(&berth, "lifecycle").await;
    assert_eq!(listed(&ecr, Some(ImageStatusFilter::Archived)).await, older);
    advance_clock(&berth, 2 * 86_400).await;
    run_job(&berth, "lifecycle").await;
    assert!(listed(&ecr, Some(ImageStatusFilter::Archived)).await.is_empty());
    assert_eq!(listed(&ecr, Some(ImageStatusFilter::Any)).await, vec![digests[2].clone()]);
}
