//! Replication against the real binary, with two accounts and three regions: a push in
//! account A us-east-1 reaches A us-west-2 and account B (once B's registry policy allows
//! it), with its tags and referrers, as new links to the same blob files; statuses
//! through DescribeImageReplicationStatus; replicated images are not replicated again.

mod support;

use aws_sdk_ecr::types::{ImageIdentifier, ReplicationStatus};
use reqwest::Method;
use support::images::{manifest, put_manifest, upload, OCI_MANIFEST};
use support::{
    code_and_message, create_repository, ecr_client, ecr_json, registry_password, replicate_to,
    run_job, Berth, RawRegistry,
};

const A: &str = "111111111111";
const B: &str = "222222222222";

/// (account, region, status, failure code) of each replication of `app:tag`.
async fn statuses(
    ecr: &aws_sdk_ecr::Client, tag: &str,
) -> Vec<(String, String, ReplicationStatus, Option<String>)> {
    let described = ecr
        .describe_image_replication_status()
        .repository_name("app")
        .image_id(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await
        .unwrap();
    described
        .replication_statuses()
        .iter()
        .map(|s| {
            (
                s.registry_id().unwrap().to_string(),
                s.region().unwrap().to_string(),
                s.status().unwrap().clone(),
                s.failure_code().map(str::to_string),
            )
        })
        .collect()
}

/// Tags of each image in `app` (sorted), or the error code.
async fn images(ecr: &aws_sdk_ecr::Client) -> Result<Vec<String>, String> {
    let described = ecr
        .describe_images()
        .repository_name("app")
        .send()
        .await
        .map_err(|e| code_and_message(e).0)?;
    let mut tags: Vec<String> =
        described.image_details().iter().map(|d| d.image_tags().join(",")).collect();
    tags.sort();
    Ok(tags)
}

#[tokio::test]
async fn pushes_replicate_across_regions_and_to_an_account_that_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let flags =
        ["--admin-api", "--access-key", "AKIDA=111111111111", "--access-key", "AKIDB=222222222222"];
    let berth = Berth::start(dir.path(), &flags);
    let a = ecr_client(&berth.endpoint, "AKIDA", "us-east-1");
    let a_west = ecr_client(&berth.endpoint, "AKIDA", "us-west-2");
    let a_europe = ecr_client(&berth.endpoint, "AKIDA", "eu-west-1");
    let b = ecr_client(&berth.endpoint, "AKIDB", "us-east-1");
    replicate_to(&a, &[(A, "us-west-2"), (B, "us-east-1")]).await;
    // us-west-2 replicates on to Europe: a replicated image must not.
    replicate_to(&a_west, &[(A, "eu-west-1")]).await;
    let configured = a.describe_registry().send().await.unwrap();
    assert_eq!(configured.replication_configuration().unwrap().rules().len(), 1);

    create_repository(&a, "app").await;
    let raw_a = RawRegistry::new(&berth, &registry_password(&a).await);
    let config = upload(&raw_a, "app", b"{}").await;
    let layer = upload(&raw_a, "app", b"the layer of v1").await;
    let v1 = manifest(&config, &layer);
    assert_eq!(put_manifest(&raw_a, "app", "v1", &v1, OCI_MANIFEST).await.status(), 201);
    let v1_digest = support::digest_of(v1.as_bytes());
    // A referrer of v1 (a signature, say), untagged.
    let referrer = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/vnd.example.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config}","size":2}},"layers":[],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{v1_digest}","size":{}}}}}"#,
        v1.len()
    );
    let referrer_digest = support::digest_of(referrer.as_bytes());
    assert_eq!(
        put_manifest(&raw_a, "app", &referrer_digest, &referrer, OCI_MANIFEST).await.status(),
        201
    );
    let files_before = berth.blob_count();
    assert!(files_before > 0);

    // Queued at push, done by the job: us-west-2 gets it, B (no policy yet) does not.
    let queued = statuses(&a, "v1").await;
    assert!(queued.iter().all(|s| s.2 == ReplicationStatus::InProgress), "{queued:?}");
    run_job(&berth, "replication").await;
    assert_eq!(
        statuses(&a, "v1").await,
        vec![
            (
                B.to_string(),
                "us-east-1".to_string(),
                ReplicationStatus::Failed,
                Some("ReplicationAccessDenied".to_string())
            ),
            (A.to_string(), "us-west-2".to_string(), ReplicationStatus::Complete, None),
        ]
    );
    assert_eq!(images(&a_west).await, Ok(vec!["".to_string(), "v1".to_string()]));
    assert_eq!(images(&b).await, Err("RepositoryNotFoundException".to_string()));
    let raw_west = RawRegistry::new(&berth, &registry_password(&a_west).await);
    let pulled =
        raw_west.request(Method::GET, &format!("/v2/app/blobs/{layer}")).send().await.unwrap();
    assert_eq!(pulled.bytes().await.unwrap().as_ref(), b"the layer of v1");
    let referrers = raw_west
        .request(Method::GET, &format!("/v2/app/referrers/{v1_digest}"))
        .send()
        .await
        .unwrap();
    let referrers: serde_json::Value = referrers.json().await.unwrap();
    assert_eq!(referrers["manifests"][0]["digest"], referrer_digest.as_str());
    assert_eq!(berth.blob_count(), files_before, "no blob bytes are copied");
    // Not chained: the us-west-2 copy does not go on to Europe.
    run_job(&berth, "replication").await;
    assert_eq!(images(&a_europe).await, Err("RepositoryNotFoundException".to_string()));

    // B allows A to replicate into it (and create the repository): the next push lands.
    b.put_registry_policy()
        .policy_text(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":["ecr:ReplicateImage","ecr:CreateRepository"],"Resource":"arn:aws:ecr:us-east-1:{B}:repository/*"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    let v2 = manifest(&config, &layer).replace(r#""size":2"#, r#""size":3"#);
    assert_eq!(put_manifest(&raw_a, "app", "v2", &v2, OCI_MANIFEST).await.status(), 201);
    run_job(&berth, "replication").await;
    let v2_statuses = statuses(&a, "v2").await;
    assert!(v2_statuses.iter().all(|s| s.2 == ReplicationStatus::Complete), "{v2_statuses:?}");
    assert_eq!(images(&b).await, Ok(vec!["v2".to_string()]));
    let raw_b = RawRegistry::new(&berth, &registry_password(&b).await);
    let r = raw_b.get_manifest("/v2/app/manifests/v2", OCI_MANIFEST).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), v2);
    assert_eq!(berth.blob_count(), files_before);
}

#[tokio::test]
async fn deletes_replicate_only_where_the_rule_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &["--admin-api", "--access-key", "AKIDA=111111111111"]);
    let a = ecr_client(&berth.endpoint, "AKIDA", "us-east-1");
    let west = ecr_client(&berth.endpoint, "AKIDA", "us-west-2");
    let europe = ecr_client(&berth.endpoint, "AKIDA", "eu-west-1");
    // deleteReplication is newer than the SDK in use: sent as AWS JSON.
    let configuration = serde_json::json!({ "replicationConfiguration": { "rules": [
        { "destinations": [{ "registryId": A, "region": "us-west-2" }], "deleteReplication": { "enabled": true } },
        { "destinations": [{ "registryId": A, "region": "eu-west-1" }] },
    ]}});
    let (status, answer) =
        ecr_json(&berth, "AKIDA", "us-east-1", "PutReplicationConfiguration", configuration).await;
    assert_eq!(status, 200, "{answer}");
    create_repository(&a, "app").await;
    for (n, tag) in [(1, "v1"), (2, "v2")] {
        support::images::put_index(&a, n, tag).await;
    }
    run_job(&berth, "replication").await;
    let both = Ok(vec!["v1".to_string(), "v2".to_string()]);
    assert_eq!(images(&west).await, both);
    assert_eq!(images(&europe).await, both);

    a.batch_delete_image()
        .repository_name("app")
        .image_ids(ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap();
    assert_eq!(images(&west).await, Ok(vec!["v2".to_string()]));
    assert_eq!(images(&europe).await, both, "no deleteReplication for Europe");
}

#[tokio::test]
async fn backfill_copies_the_images_pushed_before_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &["--admin-api", "--access-key", "AKIDA=111111111111"]);
    let a = ecr_client(&berth.endpoint, "AKIDA", "us-east-1");
    let west = ecr_client(&berth.endpoint, "AKIDA", "us-west-2");
    create_repository(&a, "app").await;
    for (n, tag) in [(1, "v1"), (2, "v2")] {
        support::images::put_index(&a, n, tag).await;
    }
    replicate_to(&a, &[(A, "us-west-2")]).await;
    run_job(&berth, "replication").await;
    assert_eq!(
        images(&west).await,
        Err("RepositoryNotFoundException".to_string()),
        "only later pushes replicate"
    );

    // The backfill operations are newer than the SDK in use: sent as AWS JSON.
    let call = |operation: &'static str, body: serde_json::Value| {
        let berth = &berth;
        async move { ecr_json(berth, "AKIDA", "us-east-1", operation, body).await }
    };
    let west_destination =
        serde_json::json!({ "destination": { "registryId": A, "region": "us-west-2" } });
    let (status, started) = call("StartReplicationBackfill", west_destination.clone()).await;
    assert_eq!((status, started["status"].as_str()), (200, Some("PREPARING")), "{started}");
    let id = started["replicationBackfillId"].as_str().unwrap().to_string();
    let (_, again) = call("StartReplicationBackfill", west_destination).await;
    assert_eq!(again["__type"], "ReplicationBackfillInProgressException");
    let (_, unconfigured) = call(
        "StartReplicationBackfill",
        serde_json::json!({ "destination": { "registryId": A, "region": "eu-west-1" } }),
    )
    .await;
    assert_eq!(unconfigured["__type"], "InvalidParameterException");
    let describe = || {
        call(
            "DescribeReplicationBackfillResults",
            serde_json::json!({ "replicationBackfillId": id }),
        )
    };
    let (_, preparing) = describe().await;
    assert_eq!(preparing["status"], "PREPARING");
    assert!(preparing.get("progress").is_none(), "{preparing}");

    run_job(&berth, "replication").await;
    assert_eq!(images(&west).await, Ok(vec!["v1".to_string(), "v2".to_string()]));
    let (_, done) = describe().await;
    assert_eq!(done["status"], "COMPLETE", "{done}");
    assert_eq!(done["progress"]["totalReplicationCount"], 2);
    assert_eq!(done["progress"]["completedReplicationCount"], 2);
    assert_eq!(done["results"].as_array().map(Vec::len), Some(2));
    let (_, listed) = call("ListReplicationBackfills", serde_json::json!({})).await;
    assert_eq!(listed["backfills"][0]["replicationBackfillId"], id.as_str());
    assert_eq!(listed["backfills"][0]["status"], "COMPLETE");
    let (_, stop) =
        call("StopReplicationBackfill", serde_json::json!({ "replicationBackfillId": id })).await;
    assert_eq!(stop["__type"], "ReplicationBackfillInvalidStatusException");
    let (_, unknown) = call(
        "StopReplicationBackfill",
        serde_json::json!({ "replicationBackfillId": "00000000-0000-0000-0000-000000000000" }),
    )
    .await;
    assert_eq!(unknown["__type"], "ReplicationBackfillNotFoundException");
}

#[tokio::test]
async fn an_acknowledged_push_replicates_even_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--admin-api", "--access-key", "AKIDA=111111111111"];
    let berth = Berth::start(dir.path(), &flags);
    let a = ecr_client(&berth.endpoint, "AKIDA", "us-east-1");
    replicate_to(&a, &[(A, "us-west-2")]).await;
    create_repository(&a, "app").await;
    support::images::put_index(&a, 1, "v1").await;
    // The queue entry was committed with the push: nothing is lost to a crash.
    berth.kill9();
    let berth = Berth::start(dir.path(), &flags);
    run_job(&berth, "replication").await;
    let west = ecr_client(&berth.endpoint, "AKIDA", "us-west-2");
    assert_eq!(images(&west).await, Ok(vec!["v1".to_string()]));
}
