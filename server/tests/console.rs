//! The web console over HTTP against the real binary: sign in with the registry password,
//! the pages show what the ECR API says, a delete asks and then deletes, another account's
//! password sees nothing of the first, and `--ui-open` opens it to loopback.

mod support;

use support::*;

/// A client that keeps cookies and does not follow redirects (to see them).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(client: &reqwest::Client, berth: &Berth, path: &str) -> (u16, String) {
    let answer = client.get(format!("{}{path}", berth.endpoint)).send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn sign_in(client: &reqwest::Client, berth: &Berth, password: &str) -> u16 {
    client
        .post(format!("{}/ui/login", berth.endpoint))
        .form(&[("password", password)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_console_shows_the_registry_and_deletes_after_asking() {
    let (_dir, berth, ecr) = started(&["--access-key", "AKIDOTHER=111111111111"]);
    create_repository(&ecr, "team/app").await;
    let host = registry_host(&berth);
    push_one_layer(&ecr, &format!("{host}/team/app:v1"), b"console layer").await;
    // Another image with the same config blob ("{}") and a layer of its own.
    push_one_layer(&ecr, &format!("{host}/team/app:v2"), b"other layer").await;
    let images = ecr.list_images().repository_name("team/app").send().await.unwrap();
    let digest = images
        .image_ids()
        .iter()
        .find(|id| id.image_tag() == Some("v1"))
        .and_then(|id| id.image_digest())
        .unwrap()
        .to_string();

    // An SBOM that refers to v1.
    let empty = r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#;
    let sbom = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sbom","config":{empty},"layers":[{empty}],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":1}}}}"#
    );
    let sbom_digest = digest_of(sbom.as_bytes());
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    let put = raw
        .request(reqwest::Method::PUT, &format!("/v2/team/app/manifests/{sbom_digest}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(sbom)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    let client = browser();
    let (status, _) = page(&client, &berth, "/ui/").await;
    assert_eq!(status, 303, "signing in comes first");
    assert_eq!(sign_in(&client, &berth, "not-a-token").await, 401);
    assert_eq!(sign_in(&client, &berth, &registry_password(&ecr).await).await, 303);

    let (status, home) = page(&client, &berth, "/ui/").await;
    assert_eq!(status, 200);
    assert!(home.contains("team/app") && home.contains("000000000000"), "{home}");
    let (_, repository) = page(&client, &berth, "/ui/repository?name=team%2Fapp").await;
    assert!(repository.contains("v1") && repository.contains(&digest), "{repository}");
    let image_path = format!("/ui/image?repository=team%2Fapp&digest={digest}");
    let (status, image) = page(&client, &berth, &image_path).await;
    assert_eq!(status, 200);
    assert!(
        image.contains(&digest_of(b"console layer"))
            && image.contains("application/vnd.oci.image.layer.v1.tar"),
        "{image}"
    );
    assert!(
        image.contains("application/vnd.example.sbom") && image.contains(&sbom_digest),
        "the referrer is listed: {image}"
    );
    // The config blob is shared with v2, the layer with nothing.
    assert!(image.contains(">v2</a>"), "{image}");
    assert_eq!(image.matches(">v2</a>").count(), 1, "{image}");

    // Another account's password sees its own (empty) registry.
    let other = browser();
    let other_ecr = ecr_client(&berth.endpoint, "AKIDOTHER", "us-east-1");
    assert_eq!(sign_in(&other, &berth, &registry_password(&other_ecr).await).await, 303);
    let (_, theirs) = page(&other, &berth, "/ui/").await;
    assert!(!theirs.contains("team/app") && theirs.contains("111111111111"), "{theirs}");
    let (status, _) = page(&other, &berth, "/ui/repository?name=team%2Fapp").await;
    assert_eq!(status, 404);

    // A delete asks first, then does what BatchDeleteImage does.
    let (_, question) =
        page(&client, &berth, &format!("/ui/delete?repository=team%2Fapp&digest={digest}")).await;
    assert!(
        question.contains("cannot be undone") && question.contains("method=\"post\""),
        "{question}"
    );
    assert_eq!(
        ecr.list_images().repository_name("team/app").send().await.unwrap().image_ids().len(),
        3,
        "asking deletes nothing"
    );
    let deleted = client
        .post(format!("{}/ui/delete", berth.endpoint))
        .form(&[("repository", "team/app"), ("digest", digest.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 303);
    let left = ecr.list_images().repository_name("team/app").send().await.unwrap();
    let tags: Vec<_> = left.image_ids().iter().filter_map(|id| id.image_tag()).collect();
    assert_eq!(tags, ["v2"], "v1 is gone, v2 stays");
}

#[tokio::test]
async fn ui_open_needs_no_sign_in_on_loopback() {
    let (_dir, berth, ecr) = started(&["--ui-open", "--admin-api"]);
    create_repository(&ecr, "open").await;
    let (status, home) = page(&browser(), &berth, "/ui/").await;
    assert_eq!(status, 200);
    assert!(home.contains("open"), "{home}");
    // A scanned image shows its scan.
    scan_on_push(&ecr, "open").await;
    replicate_to(&ecr, &[("000000000000", "eu-west-1")]).await;
    let policy = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    put_lifecycle_policy(&ecr, "open", policy).await;
    push_one_layer(&ecr, &format!("{}/open:v1", registry_host(&berth)), b"scanned").await;
    run_job(&berth, "scan").await;
    run_job(&berth, "replication").await;
    // The layer is no tar, so the scan fails: the page says what the API says.
    let images = ecr.list_images().repository_name("open").send().await.unwrap();
    let scanned = ecr
        .describe_image_scan_findings()
        .repository_name("open")
        .image_id(images.image_ids()[0].clone())
        .send()
        .await
        .unwrap();
    let digest = images.image_ids()[0].image_digest().unwrap().to_string();
    let (_, image) =
        page(&browser(), &berth, &format!("/ui/image?repository=open&digest={digest}")).await;
    assert!(image.contains("<td>eu-west-1</td><td>COMPLETE</td>"), "replication status: {image}");
    let status = scanned.image_scan_status().unwrap().status().unwrap().as_str().to_string();
    assert_eq!(status, "FAILED");
    let (_, repository) = page(&browser(), &berth, "/ui/repository?name=open").await;
    assert!(repository.contains(&format!(">{status} · no findings</a></td>")), "{repository}");
    assert!(repository.contains("Policy: set"), "{repository}");
    let (_, lifecycle) = page(&browser(), &berth, "/ui/lifecycle?repository=open").await;
    assert!(
        lifecycle.contains("imageCountMoreThan") && lifecycle.contains("No preview yet"),
        "{lifecycle}"
    );
}
