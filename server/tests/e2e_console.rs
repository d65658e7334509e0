//! The web console in a real browser: headless Chromium driven through chromedriver
//! (WebDriver, by fantoccini) against the real binary, with images pushed by skopeo. Each
//! page shows what the ECR API says, the links lead where they say, a delete asks and then
//! deletes, and another account's password sees nothing of the first.
//!
//! Screenshots of the main pages are taken on every run; with
//! `BERTH_UPDATE_SCREENSHOTS=1` they replace the ones under docs/console/ that the README
//! shows.

mod support;

use fantoccini::{Client, ClientBuilder, Locator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::layout::{add_layered_image, advisory, layer, write_index};
use support::tools::{run, tool};
use support::*;

/// chromedriver on a free port and a headless Chromium session through it.
struct Browser {
    driver: Child,
    client: Client,
}

impl Browser {
    async fn start() -> Browser {
        let chromium = tool("chromium");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(tool("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1360,860",
                         "--hide-scrollbars", "--force-device-scale-factor=1"],
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!() };
        let mut last = String::new();
        for _ in 0..100 {
            let mut builder =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
            match builder
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => return Browser { driver, client },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no Chromium session through chromedriver: {last}");
    }

    /// Opens a console page of `berth`.
    async fn open(&self, berth: &Berth, path: &str) {
        self.client.goto(&format!("{}{path}", berth.endpoint)).await.unwrap();
    }

    /// The page's HTML as the browser has it.
    async fn html(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Follows the link with exactly this text, to the next page.
    async fn follow(&self, text: &str) {
        let html = self.html().await;
        let link = self
            .client
            .find(Locator::LinkText(text))
            .await
            .unwrap_or_else(|e| panic!("no link {text:?} ({e}) on {html}"));
        self.click_through(link).await;
    }

    /// Follows the link to the image page of `digest` (its title), to the next page.
    async fn follow_image(&self, digest: &str) {
        let html = self.html().await;
        let link = self
            .client
            .find(Locator::Css(&format!("a[title='{digest}']")))
            .await
            .unwrap_or_else(|e| panic!("no link to {digest} ({e}) on {html}"));
        self.click_through(link).await;
    }

    /// Clicks the element with this id, to the next page.
    async fn press(&self, id: &str) {
        let element =
            self.client.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("no #{id}: {e}"));
        self.click_through(element).await;
    }

    /// Clicks and waits until the page it was on is gone and the next one has loaded (a
    /// click returns before the navigation it starts; a POST may come back to the same
    /// address, so the old document going stale is the sign).
    async fn click_through(&self, element: fantoccini::elements::Element) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        element.click().await.unwrap();
        for _ in 0..200 {
            if old.tag_name().await.is_err() {
                let state =
                    self.client.execute("return document.readyState", vec![]).await.unwrap();
                if state == "complete" {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the click led nowhere: {}", self.html().await);
    }

    /// Signs in with a registry password through the form.
    async fn sign_in(&self, berth: &Berth, password: &str) {
        self.open(berth, "/ui/login").await;
        let form = self.client.form(Locator::Css("form")).await.unwrap();
        form.set_by_name("password", password).await.unwrap();
        self.press("sign-in").await;
    }

    /// A screenshot of the page, kept under docs/console/ when asked.
    async fn screenshot(&self, name: &str, out: &Path) {
        let png = self.client.screenshot().await.unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
            "{name}: not a screenshot ({} bytes)",
            png.len()
        );
        std::fs::write(out.join(format!("{name}.png")), &png).unwrap();
        let committed = docs().join(format!("{name}.png"));
        if std::env::var_os("BERTH_UPDATE_SCREENSHOTS").is_some() {
            std::fs::write(&committed, &png).unwrap();
        }
        assert!(
            committed.is_file(),
            "{} is missing: run this test with BERTH_UPDATE_SCREENSHOTS=1",
            committed.display()
        );
    }

    async fn close(mut self) {
        self.client.clone().close().await.unwrap();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where the README's screenshots live.
fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console")
}

/// The text of the table row that contains `needle` (tags stripped), for assertions.
fn row_with<'a>(html: &'a str, needle: &str) -> &'a str {
    let at = html.find(needle).unwrap_or_else(|| panic!("{needle:?} is not on the page: {html}"));
    let start = html[..at].rfind("<tr>").unwrap_or(0);
    let end = at + html[at..].find("</tr>").unwrap_or(html.len() - at);
    &html[start..end]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_a_browser() {
    let skopeo = tool("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let (work, layout) = (dir.path().join("work"), dir.path().join("layout"));
    let shots = dir.path().join("shots");
    for d in [&work, &shots] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::create_dir_all(docs()).unwrap();

    // An Alpine base with a vulnerable openssl, two apps on it, and an index of two
    // platforms.
    let base = layer(
        &layout,
        &work,
        "base",
        &[
            ("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.3\n"),
            (
                "lib/apk/db/installed",
                b"P:musl\nV:1.2.5-r0\no:musl\n\nP:libcrypto3\nV:3.3.1-r0\no:openssl\n",
            ),
        ],
        true,
    );
    let app1 = layer(&layout, &work, "app1", &[("app/v", b"1")], true);
    let app2 = layer(&layout, &work, "app2", &[("app/v", b"2")], true);
    let arm = layer(&layout, &work, "arm", &[("app/arm", b"arm")], true);
    let v1 = add_layered_image(&layout, &[base.clone(), app1], "amd64");
    let v2 = add_layered_image(&layout, &[base.clone(), app2], "amd64");
    let arm64 = add_layered_image(&layout, &[arm], "arm64");
    let platform = |(digest, size): &(String, u64), arch: &str| {
        serde_json::json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": digest, "size": size,
                            "platform": { "os": "linux", "architecture": arch } })
    };
    let index = serde_json::json!({ "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [platform(&v1, "amd64"), platform(&arm64, "arm64")] });
    let index = support::layout::add_blob(&layout, index.to_string().as_bytes());
    let entry = |(digest, size): &(String, u64), tag: &str, media_type: &str| {
        serde_json::json!({ "mediaType": media_type, "digest": digest, "size": size,
                            "annotations": { "org.opencontainers.image.ref.name": tag } })
    };
    let manifest = "application/vnd.oci.image.manifest.v1+json";
    write_index(
        &layout,
        vec![
            entry(&v1, "v1", manifest),
            entry(&v2, "v2", manifest),
            entry(&index, "multi", "application/vnd.oci.image.index.v1+json"),
        ],
    );
    let feed = dir.path().join("feed");
    std::fs::create_dir_all(&feed).unwrap();
    let mut openssl = advisory(
        "CVE-2026-4242",
        "Alpine:v3.20",
        "openssl",
        serde_json::json!([{"introduced": "0"}, {"fixed": "3.3.2-r0"}]),
    );
    openssl["database_specific"] = serde_json::json!({"severity": "high"});
    std::fs::write(feed.join("openssl.json"), openssl.to_string()).unwrap();

    let berth = Berth::start(
        &dir.path().join("data"),
        &[
            "--admin-api",
            "--scan-interval",
            "3600",
            "--vulnerability-db",
            feed.to_str().unwrap(),
            "--access-key",
            "AKIDOTHER=111111111111",
        ],
    );
    let ecr = default_client(&berth);
    create_repository(&ecr, "team/app").await;
    scan_on_push(&ecr, "team/app").await;
    create_repository(&ecr_client(&berth.endpoint, "AKIDDEFAULT", "eu-west-1"), "mirror").await;
    let host = registry_host(&berth);
    let password = registry_password(&ecr).await;
    for tag in ["v1", "v2", "multi"] {
        run(Command::new(&skopeo)
            .args(["copy", "--all", "--dest-tls-verify=false", "--dest-creds"])
            .arg(format!("AWS:{password}"))
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{host}/team/app:{tag}")));
    }
    run_job(&berth, "scan").await;
    let policy = r#"{"rules":[{"rulePriority":1,"description":"keep two","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]}"#;
    put_lifecycle_policy(&ecr, "team/app", policy).await;

    let browser = Browser::start().await;
    // Signing in comes first.
    browser.open(&berth, "/ui/").await;
    assert!(
        browser.client.current_url().await.unwrap().path() == "/ui/login",
        "{}",
        browser.html().await
    );
    browser.sign_in(&berth, &password).await;
    let home = browser.html().await;
    assert!(
        home.contains("Registry 000000000000 in us-east-1") && home.contains(">team/app</a>"),
        "{home}"
    );
    let row = row_with(&home, ">team/app</a>");
    // v1, v2, the index and its arm64 image.
    assert!(row.contains("<td>4</td>") && row.contains("on push"), "{row}");
    browser.screenshot("repositories", &shots).await;

    // The registries: both regions of the account; the other region's repository.
    browser.follow("registries").await;
    let registries = browser.html().await;
    assert!(
        registries.contains(">us-east-1</a>") && registries.contains(">eu-west-1</a>"),
        "{registries}"
    );
    browser.screenshot("registries", &shots).await;
    browser.follow("eu-west-1").await;
    let europe = browser.html().await;
    assert!(
        europe.contains("in eu-west-1")
            && europe.contains(">mirror</a>")
            && !europe.contains("team/app"),
        "{europe}"
    );
    browser.follow("registries").await;
    browser.follow("us-east-1").await;

    // The repository: tags, scans, links.
    browser.follow("team/app").await;
    let repository = browser.html().await;
    let v1_row = row_with(&repository, "<td>v1</td>");
    assert!(v1_row.contains(&v1.0), "{v1_row}");
    assert!(v1_row.contains("COMPLETE · HIGH 1"), "{v1_row}");
    let multi_row = row_with(&repository, "<td>multi</td>");
    assert!(
        multi_row.contains(&index.0) && multi_row.contains("linux/amd64, linux/arm64"),
        "{multi_row}"
    );
    assert!(v1_row.contains("<td>standard</td>"), "{v1_row}");
    browser.screenshot("repository", &shots).await;

    // An image: its layers, and which other image shares the base.
    browser.follow_image(&v1.0).await;
    let image = browser.html().await;
    let base_row = row_with(&image, &base.0);
    assert!(base_row.contains(">v2</a>") && base_row.contains("tar+gzip"), "{base_row}");
    browser.screenshot("image", &shots).await;

    // The index: its platforms, each a link to its image.
    browser.follow("team/app").await;
    browser.follow_image(&index.0).await;
    let multi = browser.html().await;
    assert!(
        row_with(&multi, &arm64.0).contains("linux/arm64")
            && row_with(&multi, "linux/amd64").contains(&v1.0),
        "{multi}"
    );
    browser.follow_image(&arm64.0).await;
    assert!(browser.html().await.contains("application/vnd.oci.image.layer.v1.tar+gzip"));

    // The findings of v1's scan.
    browser.follow("team/app").await;
    browser.follow("COMPLETE · HIGH 1").await;
    let findings = browser.html().await;
    let finding = row_with(&findings, "CVE-2026-4242");
    assert!(
        finding.contains("HIGH") && (finding.contains("openssl") || finding.contains("libcrypto3")),
        "{finding}"
    );
    browser.screenshot("findings", &shots).await;

    // The lifecycle policy and its preview: the oldest two of four images expire.
    browser.follow("team/app").await;
    browser.follow("policy and preview").await;
    assert!(browser.html().await.contains("No preview yet"));
    browser.press("preview").await;
    let lifecycle = browser.html().await;
    assert!(
        lifecycle.contains("COMPLETE · 2 to expire")
            && lifecycle.matches("<td>EXPIRE</td>").count() == 2,
        "{lifecycle}"
    );
    browser.screenshot("lifecycle", &shots).await;

    // A delete asks, then does what BatchDeleteImage does.
    browser.follow("team/app").await;
    let repository = browser.html().await;
    let v2_row = row_with(&repository, "<td>v2</td>");
    assert!(v2_row.contains("delete…"), "{v2_row}");
    browser
        .client
        .goto(&format!(
            "{}/ui/delete?region=us-east-1&repository=team%2Fapp&digest={}",
            berth.endpoint, v2.0
        ))
        .await
        .unwrap();
    assert!(browser.html().await.contains("cannot be undone"));
    let listed = |ecr: aws_sdk_ecr::Client| async move {
        let images = ecr.list_images().repository_name("team/app").send().await.unwrap();
        images
            .image_ids()
            .iter()
            .filter_map(|id| id.image_tag().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert!(listed(ecr.clone()).await.contains(&"v2".to_string()), "asking deletes nothing");
    browser.press("delete").await;
    let after = browser.html().await;
    assert!(after.contains("<td>v1</td>") && !after.contains("<td>v2</td>"), "{after}");
    assert!(!listed(ecr.clone()).await.contains(&"v2".to_string()));

    // Another account's password sees its own registry only.
    browser.follow("registries").await;
    browser.press("sign-out").await;
    let other = registry_password(&ecr_client(&berth.endpoint, "AKIDOTHER", "us-east-1")).await;
    browser.sign_in(&berth, &other).await;
    let theirs = browser.html().await;
    assert!(
        theirs.contains("Registry 111111111111") && theirs.contains("No repositories yet"),
        "{theirs}"
    );
    browser.open(&berth, "/ui/repository?name=team%2Fapp").await;
    let denied = browser.html().await;
    assert!(!denied.contains(&v1.0) && denied.contains("does not exist"), "{denied}");
    browser.open(&berth, &format!("/ui/image?repository=team%2Fapp&digest={}", v1.0)).await;
    assert!(!browser.html().await.contains(&base.0));
    browser.follow("registries").await;
    let registries = browser.html().await;
    assert!(
        !registries.contains("000000000000") && !registries.contains("eu-west-1"),
        "{registries}"
    );
    browser.close().await;
}
