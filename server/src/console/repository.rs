//! A repository's images: tags, digest, size, pushed and pulled times, storage class and
//! scan, with links to each image, its findings, its deletion and the lifecycle policy.

use super::image::{manifests, platform};
use super::page::{escape, size, table, time};
use super::repositories::images_of;
use super::{failed, image_link, link, query, show, to_sign_in, viewer};
use crate::app::AppState;
use axum::extract::{Request, State};
use axum::response::Response;
use berth_generated::ecr::{
    DescribeImageScanFindings, DescribeImageScanFindingsRequest, GetLifecyclePolicy,
    GetLifecyclePolicyRequest, ImageDetail, ImageIdentifier, ImageStatus,
};
use berth_handlers::Caller;
use std::collections::HashMap;
use std::sync::Arc;

/// Scans are read for this many images of a page at most (one call each).
const SCANS_SHOWN: usize = 100;

/// The repository page.
pub async fn page(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return to_sign_in();
    };
    let name = query(&request).remove("name").unwrap_or_default();
    let mut images = match images_of(&state, &caller, &name).await {
        Ok(images) => images,
        Err(e) => return failed(&caller, &name, e),
    };
    let pushed = |i: &ImageDetail| i.image_pushed_at.map_or(0.0, |t| t.0);
    images.sort_by(|a, b| pushed(b).total_cmp(&pushed(a)));
    let platforms = platforms(&state, &caller, &name, &images).await;
    let mut rows = Vec::new();
    for (at, image) in images.iter().enumerate() {
        let digest = image.image_digest.clone().unwrap_or_default();
        let scan = if at < SCANS_SHOWN {
            scan(&state, &caller, &name, &digest).await
        } else {
            "—".into()
        };
        let pairs = [("repository", name.as_str()), ("digest", digest.as_str())];
        rows.push(vec![
            escape(&image.image_tags.clone().unwrap_or_default().join(", ")),
            image_link(&caller, &name, &digest),
            size(image.image_size_in_bytes.unwrap_or(0)),
            time(image.image_pushed_at.map(|t| t.0)),
            time(image.last_recorded_pull_time.map(|t| t.0)),
            escape(platforms.get(&digest).map_or("", String::as_str)),
            storage_class(image.image_status.as_ref()).into(),
            scan,
            link(&caller, "/ui/delete", &pairs, "delete…"),
        ]);
    }
    let images = if rows.is_empty() {
        "<p>No images.</p>".to_string()
    } else {
        let headings = [
            "tags",
            "digest",
            "size",
            "pushed",
            "last pulled",
            "platforms",
            "storage class",
            "scan",
            "",
        ];
        table(&headings, &rows)
    };
    let request = GetLifecyclePolicyRequest { repository_name: name.clone(), registry_id: None };
    let policy = match state.ecr.get_lifecycle_policy(&caller, request).await {
        Ok(_) => "set",
        Err(_) => "none",
    };
    let lifecycle = link(&caller, "/ui/lifecycle", &[("repository", &name)], "policy and preview");
    let body = format!("{images}<h2>Lifecycle</h2><p>Policy: {policy} · {lifecycle}</p>");
    show(&caller, &name, &body)
}

/// Where the image's bytes live, in the words of ECR's storage classes.
fn storage_class(status: Option<&ImageStatus>) -> &'static str {
    match status {
        None | Some(ImageStatus::Active) => "standard",
        Some(ImageStatus::Archived) => "archive",
        Some(ImageStatus::Activating) => "archive (restoring)",
    }
}

/// The platforms of each index among `images` ("linux/amd64, linux/arm64"), read with
/// one BatchGetImage.
async fn platforms(
    state: &AppState, caller: &Caller, repository: &str, images: &[ImageDetail],
) -> HashMap<String, String> {
    let indexes: Vec<String> = images
        .iter()
        .filter(|i| {
            i.image_manifest_media_type
                .as_deref()
                .is_some_and(|t| t.contains("index") || t.contains("manifest.list"))
        })
        .filter_map(|i| i.image_digest.clone())
        .take(SCANS_SHOWN)
        .collect();
    if indexes.is_empty() {
        return HashMap::new();
    }
    let found = manifests(state, caller, repository, indexes).await.unwrap_or_default();
    found
        .into_iter()
        .map(|(digest, manifest)| {
            let parsed: serde_json::Value = serde_json::from_str(&manifest).unwrap_or_default();
            let platforms: Vec<String> = parsed["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| platform(&m["platform"]))
                .collect();
            (digest, platforms.join(", "))
        })
        .collect()
}

/// An image's scan as a cell: its status and the findings by severity, as
/// DescribeImageScanFindings answers, linked to the findings ("—" when never scanned).
async fn scan(state: &AppState, caller: &Caller, repository: &str, digest: &str) -> String {
    let request = DescribeImageScanFindingsRequest {
        repository_name: repository.to_string(),
        image_id: ImageIdentifier { image_digest: Some(digest.to_string()), ..Default::default() },
        max_results: Some(1),
        ..Default::default()
    };
    let Ok(found) = state.ecr.describe_image_scan_findings(caller, request).await else {
        return "—".into();
    };
    let status = found.image_scan_status.and_then(|s| s.status).map_or("—", |s| s.as_str());
    let counts =
        found.image_scan_findings.and_then(|f| f.finding_severity_counts).unwrap_or_default();
    let findings = if counts.is_empty() {
        "no findings".to_string()
    } else {
        counts
            .iter()
            .map(|(severity, n)| format!("{} {n}", severity.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let pairs = [("repository", repository), ("digest", digest)];
    let text = escape(&format!("{status} · {findings}"));
    link(caller, "/ui/findings", &pairs, &text)
}
