//! An image's scan findings, worst first, as DescribeImageScanFindings answers (basic
//! scans' findings and enhanced scans' findings alike).

use super::page::{escape, table, time};
use super::{failed, image_in_query, image_link, link, show, to_sign_in, viewer};
use crate::app::AppState;
use axum::extract::{Request, State};
use axum::response::Response;
use berth_generated::ecr::{
    DescribeImageScanFindings, DescribeImageScanFindingsRequest, EnhancedImageScanFinding,
    ImageIdentifier, ImageScanFinding, ImageScanFindings,
};
use std::sync::Arc;

/// Pages of findings read at most (1,000 findings each).
const PAGES: usize = 10;

/// The findings page.
pub async fn page(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return to_sign_in();
    };
    let (repository, digest) = image_in_query(&request);
    let mut status = String::new();
    let mut summary = ImageScanFindings::default();
    let mut rows: Vec<(u8, Vec<String>)> = Vec::new();
    let mut next_token = None;
    for _ in 0..PAGES {
        let request = DescribeImageScanFindingsRequest {
            repository_name: repository.clone(),
            image_id: ImageIdentifier { image_digest: Some(digest.clone()), ..Default::default() },
            max_results: Some(1000),
            next_token: next_token.take(),
            ..Default::default()
        };
        let found = match state.ecr.describe_image_scan_findings(&caller, request).await {
            Ok(found) => found,
            Err(e) => return failed(&caller, "Scan findings", e),
        };
        if let Some(scan) = found.image_scan_status {
            let description = scan.description.unwrap_or_default();
            let state = scan.status.map_or("", |s| s.as_str());
            status = format!("{state} {description}");
        }
        if let Some(findings) = found.image_scan_findings {
            rows.extend(findings.findings.iter().flatten().map(basic_row));
            rows.extend(findings.enhanced_findings.iter().flatten().map(enhanced_row));
            summary = findings;
        }
        next_token = found.next_token;
        if next_token.is_none() {
            break;
        }
    }
    rows.sort_by_key(|row| row.0);
    let counts: Vec<String> = summary
        .finding_severity_counts
        .iter()
        .flatten()
        .map(|(severity, n)| format!("{} {n}", severity.as_str()))
        .collect();
    let findings = if rows.is_empty() {
        "<p>No findings.</p>".to_string()
    } else {
        let headings = ["severity", "vulnerability", "package", "fixed in", "description"];
        table(&headings, &rows.into_iter().map(|(_, r)| r).collect::<Vec<_>>())
    };
    let body = format!(
        "<p>{} in {}</p><p>Status: {} · completed {} · advisories of {}</p>\
         <p>By severity: {}</p>{findings}",
        image_link(&caller, &repository, &digest),
        link(&caller, "/ui/repository", &[("name", &repository)], &escape(&repository)),
        escape(status.trim()),
        time(summary.image_scan_completed_at.map(|t| t.0)),
        time(summary.vulnerability_source_updated_at.map(|t| t.0)),
        escape(&if counts.is_empty() { "none".into() } else { counts.join(", ") }),
    );
    show(&caller, "Scan findings", &body)
}

/// Severities worst first, for sorting.
fn rank(severity: &str) -> u8 {
    match severity {
        "CRITICAL" => 0,
        "HIGH" => 1,
        "MEDIUM" => 2,
        "LOW" => 3,
        "INFORMATIONAL" => 4,
        _ => 5,
    }
}

/// A vulnerability name, linked to its advisory when there is one.
fn named(name: &str, uri: Option<&str>) -> String {
    match uri.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
        Some(uri) => format!("<a href=\"{}\">{}</a>", escape(uri), escape(name)),
        None => escape(name),
    }
}

/// A basic scan's finding: the package is in its attributes.
fn basic_row(finding: &ImageScanFinding) -> (u8, Vec<String>) {
    let attribute = |key: &str| {
        finding
            .attributes
            .iter()
            .flatten()
            .find(|a| a.key.as_deref() == Some(key))
            .and_then(|a| a.value.clone())
            .unwrap_or_default()
    };
    let severity = finding.severity.as_ref().map_or("", |s| s.as_str());
    let package = format!("{} {}", attribute("package_name"), attribute("package_version"));
    (
        rank(severity),
        vec![
            escape(severity),
            named(finding.name.as_deref().unwrap_or(""), finding.uri.as_deref()),
            escape(package.trim()),
            "—".into(),
            escape(finding.description.as_deref().unwrap_or("")),
        ],
    )
}

/// An enhanced scan's finding: the packages are in its vulnerability details.
fn enhanced_row(finding: &EnhancedImageScanFinding) -> (u8, Vec<String>) {
    let details = finding.package_vulnerability_details.as_ref();
    let packages = details.and_then(|d| d.vulnerable_packages.as_ref()).into_iter().flatten();
    let (mut names, mut fixes) = (Vec::new(), Vec::new());
    for package in packages {
        names.push(format!(
            "{} {}",
            package.name.as_deref().unwrap_or(""),
            package.version.as_deref().unwrap_or("")
        ));
        if let Some(fixed) = &package.fixed_in_version {
            fixes.push(fixed.clone());
        }
    }
    let id = details
        .and_then(|d| d.vulnerability_id.clone())
        .or_else(|| finding.title.clone())
        .unwrap_or_default();
    let severity = finding.severity.as_deref().unwrap_or("");
    (
        rank(severity),
        vec![
            escape(severity),
            named(&id, details.and_then(|d| d.source_url.as_deref())),
            escape(&names.join(", ")),
            escape(&if fixes.is_empty() { "—".into() } else { fixes.join(", ") }),
            escape(finding.description.as_deref().unwrap_or("")),
        ],
    )
}
