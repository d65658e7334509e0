//! Image scanning end to end (run by `cargo xtask e2e`): real layers built here (this
//! machine's own dpkg status file, an Alpine apk database), pushed with skopeo, scanned by
//! berth against a small OSV feed written here, read back through aws-sdk-ecr.

mod support;

use aws_sdk_ecr::types::{FindingSeverity, ImageIdentifier, ScanStatus};
use std::collections::HashMap;
use std::process::Command;
use support::layout::{add_layered_image, advisory, layer, write_index};
use support::tools::{run, tool};
use support::{
    advance_clock, code_and_message, create_repository, default_client, registry_host,
    registry_password, run_job, scan_on_push, Berth,
};

/// This machine's installed source packages and their versions, from its dpkg status.
fn installed_sources(status: &str) -> HashMap<String, String> {
    let mut sources = HashMap::new();
    for stanza in status.split("\n\n") {
        let field = |key: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string())
        };
        if !field("Status:").is_some_and(|s| s.ends_with(" installed")) {
            continue;
        }
        let (Some(name), Some(version)) = (field("Package:"), field("Version:")) else {
            continue;
        };
        let (source, source_version) = match field("Source:") {
            Some(s) => match s.split_once(" (") {
                Some((s, v)) => (s.to_string(), v.trim_end_matches(')').to_string()),
                None => (s, version),
            },
            None => (name, version),
        };
        sources.insert(source, source_version);
    }
    sources
}

#[tokio::test(flavor = "multi_thread")]
async fn scans_find_exactly_the_matching_advisories() {
    let skopeo = tool("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let layout = dir.path().join("layout");
    std::fs::create_dir_all(&work).unwrap();

    // A Debian image from this machine's own package database, over a base layer whose
    // stale status file a whiteout removes.
    let status = std::fs::read_to_string("/var/lib/dpkg/status")
        .expect("this test reads the machine's dpkg status (a Debian or Ubuntu machine)");
    let sources = installed_sources(&status);
    let version =
        |s: &str| sources.get(s).unwrap_or_else(|| panic!("{s} is not installed here")).clone();
    let base = layer(
        &layout,
        &work,
        "debian-base",
        &[
            ("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n"),
            ("var/lib/dpkg/status", b"Package: stale\nStatus: install ok installed\nVersion: 1\n"),
        ],
        true,
    );
    let top = layer(
        &layout,
        &work,
        "debian-top",
        &[("var/lib/dpkg/.wh.status", b""), ("var/lib/dpkg/status.d/machine", status.as_bytes())],
        false,
    );
    let debian = add_layered_image(&layout, &[base, top], "amd64");
    let alpine_layer = layer(
        &layout,
        &work,
        "alpine",
        &[
            ("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.3\n"),
            (
                "lib/apk/db/installed",
                b"P:musl\nV:1.2.5-r0\no:musl\n\nP:libcrypto3\nV:3.3.2-r0\no:openssl\n",
            ),
        ],
        true,
    );
    let alpine = add_layered_image(&layout, &[alpine_layer], "amd64");
    let scratch_layer = layer(&layout, &work, "scratch", &[("hello.txt", b"hi")], false);
    let scratch = add_layered_image(&layout, &[scratch_layer], "amd64");
    let entry = |(digest, size): &(String, u64), tag: &str| {
        serde_json::json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
                            "annotations": { "org.opencontainers.image.ref.name": tag } })
    };
    write_index(
        &layout,
        vec![entry(&debian, "debian"), entry(&alpine, "alpine"), entry(&scratch, "scratch")],
    );

    // The feed: what matches, and what must not (epochs, `~`, other releases, fixed).
    let feed = dir.path().join("feed");
    std::fs::create_dir_all(&feed).unwrap();
    let glibc = version("glibc");
    let critical = {
        let mut a = advisory(
            "DSA-9001-1",
            "Debian:12",
            "glibc",
            serde_json::json!([{"introduced": "0"}, {"fixed": format!("{glibc}+1")}]),
        );
        a["aliases"] = serde_json::json!(["CVE-2026-0001"]);
        a["severity"] = serde_json::json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]);
        a
    };
    let medium = {
        let mut a = advisory(
            "CVE-2026-0002",
            "Debian:12",
            "base-files",
            serde_json::json!([{"introduced": "0"}, {"last_affected": version("base-files")}]),
        );
        a["database_specific"] = serde_json::json!({"severity": "medium"});
        a
    };
    let advisories = [
        critical,
        medium,
        advisory(
            "CVE-2026-0003",
            "Debian:12",
            "dpkg",
            serde_json::json!([{"introduced": "0"}, {"fixed": version("dpkg")}]),
        ),
        advisory(
            "CVE-2026-0004",
            "Debian:12",
            "coreutils",
            serde_json::json!([{"introduced": "0"}, {"fixed": format!("{}~1", version("coreutils"))}]),
        ),
        advisory("CVE-2026-0005", "Debian:12", "tar", serde_json::json!([{"introduced": "1:0"}])),
        advisory("CVE-2026-0006", "Debian:11", "glibc", serde_json::json!([{"introduced": "0"}])),
        advisory("CVE-2026-0007", "Debian:12", "stale", serde_json::json!([{"introduced": "0"}])),
        {
            let mut a = advisory(
                "CVE-2026-0010",
                "Alpine:v3.20",
                "openssl",
                serde_json::json!([{"introduced": "0"}, {"fixed": "3.3.2-r1"}]),
            );
            a["severity"] = serde_json::json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}]);
            a
        },
        advisory(
            "CVE-2026-0011",
            "Alpine:v3.20",
            "musl",
            serde_json::json!([{"introduced": "0"}, {"fixed": "1.2.5-r0"}]),
        ),
        advisory(
            "CVE-2026-0012",
            "Alpine:v3.19",
            "openssl",
            serde_json::json!([{"introduced": "0"}]),
        ),
    ];
    for (i, a) in advisories.iter().enumerate() {
        std::fs::write(feed.join(format!("{i}.json")), a.to_string()).unwrap();
    }

    let berth = Berth::start(
        &dir.path().join("data"),
        &["--admin-api", "--scan-interval", "3600", "--vulnerability-db", feed.to_str().unwrap()],
    );
    let ecr = default_client(&berth);
    for name in ["debian-app", "alpine-app"] {
        create_repository(&ecr, name).await;
    }
    scan_on_push(&ecr, "debian-app").await;
    let host = registry_host(&berth);
    let password = registry_password(&ecr).await;
    for (tag, repository) in
        [("debian", "debian-app"), ("alpine", "alpine-app"), ("scratch", "alpine-app")]
    {
        run(Command::new(&skopeo)
            .args(["copy", "--dest-tls-verify=false", "--dest-creds"])
            .arg(format!("AWS:{password}"))
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{host}/{repository}:{tag}")));
    }

    let findings = |repository: &'static str, tag: &'static str| {
        let ecr = ecr.clone();
        async move {
            ecr.describe_image_scan_findings()
                .repository_name(repository)
                .image_id(ImageIdentifier::builder().image_tag(tag).build())
                .send()
                .await
        }
    };
    // Scan on push: queued at the push, run by the job.
    let queued = findings("debian-app", "debian").await.unwrap();
    assert_eq!(queued.image_scan_status().unwrap().status(), Some(&ScanStatus::InProgress));
    run_job(&berth, "scan").await;
    let debian_scan = findings("debian-app", "debian").await.unwrap();
    assert_eq!(
        debian_scan.image_scan_status().unwrap().status(),
        Some(&ScanStatus::Complete),
        "{:?}",
        debian_scan.image_scan_status()
    );
    let result = debian_scan.image_scan_findings().unwrap();
    let found: Vec<(&str, &FindingSeverity)> =
        result.findings().iter().map(|f| (f.name().unwrap(), f.severity().unwrap())).collect();
    assert_eq!(
        found,
        [
            ("CVE-2026-0001", &FindingSeverity::Critical),
            ("CVE-2026-0002", &FindingSeverity::Medium)
        ]
    );
    let counts = result.finding_severity_counts().unwrap();
    assert_eq!(counts.get(&FindingSeverity::Critical), Some(&1));
    assert_eq!(counts.get(&FindingSeverity::Medium), Some(&1));
    let glibc_finding = &result.findings()[0];
    let attribute = |key: &str| {
        glibc_finding
            .attributes()
            .iter()
            .find(|a| a.key() == key)
            .and_then(|a| a.value())
            .map(str::to_string)
    };
    assert_eq!(attribute("CVSS3_SCORE").as_deref(), Some("9.8"));
    assert!(attribute("package_name").is_some());
    assert!(result.vulnerability_source_updated_at().is_some());

    // DescribeImages shows scans only where ECR does: not for AWS_NATIVE basic scans, but
    // for the legacy CLAIR ones.
    let described = |ecr: aws_sdk_ecr::Client| async move {
        ecr.describe_images().repository_name("debian-app").send().await.unwrap().image_details()[0]
            .clone()
    };
    assert!(described(ecr.clone()).await.image_scan_status().is_none());
    ecr.put_account_setting().name("BASIC_SCAN_TYPE_VERSION").value("CLAIR").send().await.unwrap();
    let detail = described(ecr.clone()).await;
    assert_eq!(detail.image_scan_status().unwrap().status(), Some(&ScanStatus::Complete));
    let summary = detail.image_scan_findings_summary().unwrap();
    assert_eq!(
        summary.finding_severity_counts().unwrap().get(&FindingSeverity::Critical),
        Some(&1)
    );

    // No scan yet; then StartImageScan, once per 24 hours.
    let none = findings("alpine-app", "alpine").await.unwrap_err();
    let (code, message) = code_and_message(none);
    assert_eq!(code, "ScanNotFoundException");
    assert!(message.starts_with("Image scan does not exist for the image with"), "{message}");
    let start = |tag: &'static str| {
        let ecr = ecr.clone();
        async move {
            ecr.start_image_scan()
                .repository_name("alpine-app")
                .image_id(ImageIdentifier::builder().image_tag(tag).build())
                .send()
                .await
        }
    };
    let started = start("alpine").await.unwrap();
    assert_eq!(started.image_scan_status().unwrap().status(), Some(&ScanStatus::InProgress));
    start("scratch").await.unwrap();
    run_job(&berth, "scan").await;
    let alpine_scan = findings("alpine-app", "alpine").await.unwrap();
    let names: Vec<(&str, &FindingSeverity)> = alpine_scan
        .image_scan_findings()
        .unwrap()
        .findings()
        .iter()
        .map(|f| (f.name().unwrap(), f.severity().unwrap()))
        .collect();
    assert_eq!(names, [("CVE-2026-0010", &FindingSeverity::High)]);
    let scratch_scan = findings("alpine-app", "scratch").await.unwrap();
    let status = scratch_scan.image_scan_status().unwrap();
    assert_eq!(status.status(), Some(&ScanStatus::Failed));
    assert_eq!(
        status.description(),
        Some(
            "UnsupportedImageError: The operating system and/or package manager are not supported."
        )
    );

    let again = start("alpine").await.unwrap_err();
    assert_eq!(
        code_and_message(again),
        (
            "LimitExceededException".to_string(),
            "The scan quota per image has been exceeded. Wait and try again.".to_string()
        )
    );
    // Findings page.
    let first = ecr
        .describe_image_scan_findings()
        .repository_name("debian-app")
        .image_id(ImageIdentifier::builder().image_tag("debian").build())
        .max_results(1)
        .send()
        .await
        .unwrap();
    let token = first.next_token().expect("a second page").to_string();
    let second = ecr
        .describe_image_scan_findings()
        .repository_name("debian-app")
        .image_id(ImageIdentifier::builder().image_tag("debian").build())
        .max_results(1)
        .next_token(token)
        .send()
        .await
        .unwrap();
    let name = |r: &aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput| {
        r.image_scan_findings().unwrap().findings()[0].name().unwrap().to_string()
    };
    assert_eq!((name(&first), name(&second)), ("CVE-2026-0001".into(), "CVE-2026-0002".into()));
    assert!(second.next_token().is_none());

    advance_clock(&berth, 24 * 3600 + 1).await;
    let ecr = default_client(&berth);
    ecr.start_image_scan()
        .repository_name("alpine-app")
        .image_id(ImageIdentifier::builder().image_tag("alpine").build())
        .send()
        .await
        .expect("a day later the image may be scanned again");

    // An archived image is not scanned.
    ecr.update_image_storage_class()
        .repository_name("alpine-app")
        .image_id(ImageIdentifier::builder().image_tag("scratch").build())
        .target_storage_class(aws_sdk_ecr::types::TargetStorageClass::Archive)
        .send()
        .await
        .unwrap();
    let archived = ecr
        .start_image_scan()
        .repository_name("alpine-app")
        .image_id(ImageIdentifier::builder().image_tag("scratch").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(archived).0, "ImageArchivedException");
}

#[tokio::test(flavor = "multi_thread")]
async fn enhanced_scans_read_language_packages_and_answer_in_inspector_shape() {
    let skopeo = tool("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let layout = dir.path().join("layout");
    std::fs::create_dir_all(&work).unwrap();
    let files: [(&str, &[u8]); 5] = [
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.3\n"),
        ("lib/apk/db/installed", b"P:libcrypto3\nV:3.3.2-r0\no:openssl\n"),
        (
            "app/Cargo.lock",
            b"version = 3\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\n",
        ),
        (
            "srv/package-lock.json",
            br#"{"lockfileVersion":3,"packages":{"":{},"node_modules/lodash":{"version":"4.17.20"}}}"#,
        ),
        (
            "usr/lib/python3.12/site-packages/requests-2.25.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n",
        ),
    ];
    let image_layer = layer(&layout, &work, "enhanced", &files, true);
    let image = add_layered_image(&layout, &[image_layer], "amd64");
    write_index(
        &layout,
        vec![
            serde_json::json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image.0, "size": image.1,
            "annotations": { "org.opencontainers.image.ref.name": "v1" } }),
        ],
    );
    let feed = dir.path().join("feed");
    std::fs::create_dir_all(&feed).unwrap();
    let advisories = [
        advisory(
            "GHSA-smallvec",
            "crates.io",
            "smallvec",
            serde_json::json!([{"introduced": "1.0.0"}, {"fixed": "1.6.1"}]),
        ),
        advisory(
            "GHSA-lodash",
            "npm",
            "lodash",
            serde_json::json!([{"introduced": "0"}, {"fixed": "4.17.21"}]),
        ),
        // PEP 440: 2.25.0 is after 2.25.0rc1 and before 2.31.0.
        advisory(
            "PYSEC-requests",
            "PyPI",
            "requests",
            serde_json::json!([{"introduced": "2.25.0rc1"}, {"fixed": "2.31.0"}]),
        ),
        advisory(
            "PYSEC-old",
            "PyPI",
            "requests",
            serde_json::json!([{"introduced": "0"}, {"fixed": "2.25.0"}]),
        ),
        advisory(
            "CVE-2026-0020",
            "Alpine:v3.20",
            "openssl",
            serde_json::json!([{"introduced": "0"}, {"fixed": "3.3.2-r1"}]),
        ),
    ];
    for (i, a) in advisories.iter().enumerate() {
        std::fs::write(feed.join(format!("{i}.json")), a.to_string()).unwrap();
    }
    let berth = Berth::start(
        &dir.path().join("data"),
        &["--admin-api", "--scan-interval", "3600", "--vulnerability-db", feed.to_str().unwrap()],
    );
    let ecr = default_client(&berth);
    create_repository(&ecr, "team/prod").await;
    let rule = |frequency: aws_sdk_ecr::types::ScanFrequency| {
        aws_sdk_ecr::types::RegistryScanningRule::builder()
            .scan_frequency(frequency)
            .repository_filters(
                aws_sdk_ecr::types::ScanningRepositoryFilter::builder()
                    .filter("*prod")
                    .filter_type(aws_sdk_ecr::types::ScanningRepositoryFilterType::Wildcard)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    ecr.put_registry_scanning_configuration()
        .scan_type(aws_sdk_ecr::types::ScanType::Enhanced)
        .rules(rule(aws_sdk_ecr::types::ScanFrequency::ContinuousScan))
        .send()
        .await
        .unwrap();
    let host = registry_host(&berth);
    let password = registry_password(&ecr).await;
    run(Command::new(&skopeo)
        .args(["copy", "--dest-tls-verify=false", "--dest-creds"])
        .arg(format!("AWS:{password}"))
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker://{host}/team/prod:v1")));
    run_job(&berth, "scan").await;
    let scan = ecr
        .describe_image_scan_findings()
        .repository_name("team/prod")
        .image_id(ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        scan.image_scan_status().unwrap().status(),
        Some(&ScanStatus::Active),
        "continuous scanning reads ACTIVE"
    );
    let result = scan.image_scan_findings().unwrap();
    assert!(result.findings().is_empty(), "enhanced scans fill enhancedFindings instead");
    let mut found: Vec<(String, String, Option<String>)> = result
        .enhanced_findings()
        .iter()
        .map(|f| {
            let details = f.package_vulnerability_details().unwrap();
            let package = &details.vulnerable_packages()[0];
            (
                details.vulnerability_id().unwrap().to_string(),
                package.package_manager().unwrap().to_string(),
                package.fixed_in_version().map(str::to_string),
            )
        })
        .collect();
    found.sort();
    let expect = |id: &str, manager: &str, fixed: &str| {
        (id.to_string(), manager.to_string(), Some(fixed.to_string()))
    };
    assert_eq!(
        found,
        [
            expect("CVE-2026-0020", "OS", "3.3.2-r1"),
            expect("GHSA-lodash", "NPM", "4.17.21"),
            expect("GHSA-smallvec", "CARGO", "1.6.1"),
            expect("PYSEC-requests", "PYTHONPKG", "2.31.0"),
        ]
    );
    let detail =
        ecr.describe_images().repository_name("team/prod").send().await.unwrap().image_details()[0]
            .clone();
    assert_eq!(detail.image_scan_status().unwrap().status(), Some(&ScanStatus::Active));
    let counts = detail.image_scan_findings_summary().unwrap().finding_severity_counts().unwrap();
    assert_eq!(counts.values().sum::<i32>(), 4);
    let first = &result.enhanced_findings()[0];
    assert_eq!(first.r#type(), Some("PACKAGE_VULNERABILITY"));
    assert_eq!(first.status(), Some("ACTIVE"));
    let resource = &first.resources()[0];
    assert_eq!(
        resource.details().unwrap().aws_ecr_container_image().unwrap().repository_name(),
        Some("team/prod")
    );

    // A new advisory in the feed: continuous scanning rescans without being asked.
    let newer = advisory(
        "GHSA-lodash-2",
        "npm",
        "lodash",
        serde_json::json!([{"introduced": "4.0.0"}, {"fixed": "4.17.22"}]),
    );
    std::fs::write(feed.join("new.json"), newer.to_string()).unwrap();
    let report = run_job(&berth, "scan").await;
    assert!(report.contains("1 queued by a feed change"), "{report}");
    let rescanned = ecr
        .describe_image_scan_findings()
        .repository_name("team/prod")
        .image_id(ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = rescanned
        .image_scan_findings()
        .unwrap()
        .enhanced_findings()
        .iter()
        .filter_map(|f| f.package_vulnerability_details()?.vulnerability_id())
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.contains(&"GHSA-lodash-2"), "{ids:?}");
}
