//! Observability: `GET /metrics` in the Prometheus text format (requests by face,
//! operation or route and status; latency histograms; bytes received and sent; uploads in
//! progress; blobs, bytes stored and deduplicated; background job runs and failures), and
//! the health endpoints
//! `/_berth/health` (the process answers) and `/_berth/ready` (the store answers).

use crate::app::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_generated::oci::OciRoute;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0];

/// What a request is, as the metrics label it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Labels {
    face: &'static str,
    /// The ECR operation, or the /v2 route and method.
    name: String,
    status: u16,
}

#[derive(Debug, Default)]
struct Series {
    count: u64,
    seconds: f64,
    buckets: [u64; BUCKETS.len()],
    bytes_in: u64,
    bytes_out: u64,
}

/// Request counts, latencies and bytes since the process started.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<Labels, Series>>,
}

fn content_length(headers: &axum::http::HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The face and name of a request: the ECR operation from `X-Amz-Target`, the /v2 route.
fn classify(request: &Request) -> (&'static str, String) {
    let path = request.uri().path();
    let method = request.method().as_str();
    if path == "/" {
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown");
        return ("ecr", target.to_string());
    }
    if path == "/v2" || path.starts_with("/v2/") {
        let route = match OciRoute::parse(path) {
            Some(OciRoute::Base) => "base",
            Some(OciRoute::Catalog) => "catalog",
            Some(OciRoute::Blob { .. }) => "blob",
            Some(OciRoute::Uploads { .. }) => "uploads",
            Some(OciRoute::Upload { .. }) => "upload",
            Some(OciRoute::Manifest { .. }) => "manifest",
            Some(OciRoute::TagsList { .. }) => "tags",
            Some(OciRoute::Referrers { .. }) => "referrers",
            None => "unknown",
        };
        return ("oci", format!("{method} {route}"));
    }
    ("other", method.to_string())
}

impl Metrics {
    fn record(&self, labels: Labels, seconds: f64, bytes_in: u64, bytes_out: u64) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = series.entry(labels).or_default();
        s.count += 1;
        s.seconds += seconds;
        for (bucket, bound) in s.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        s.bytes_in += bytes_in;
        s.bytes_out += bytes_out;
    }

    fn render(&self, out: &mut String) {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let label = |l: &Labels| {
            let key = if l.face == "ecr" { "operation" } else { "route" };
            format!(
                "face=\"{}\",{key}=\"{}\",status=\"{}\"",
                l.face,
                l.name.replace('"', ""),
                l.status
            )
        };
        let _ = writeln!(out, "# HELP berth_requests_total Requests answered.");
        let _ = writeln!(out, "# TYPE berth_requests_total counter");
        for (l, s) in series.iter() {
            let _ = writeln!(out, "berth_requests_total{{{}}} {}", label(l), s.count);
        }
        let _ = writeln!(out, "# HELP berth_request_duration_seconds Time to the response head.");
        let _ = writeln!(out, "# TYPE berth_request_duration_seconds histogram");
        for (l, s) in series.iter() {
            let l = label(l);
            for (bound, count) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "berth_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "berth_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(out, "berth_request_duration_seconds_sum{{{l}}} {}", s.seconds);
            let _ = writeln!(out, "berth_request_duration_seconds_count{{{l}}} {}", s.count);
        }
        for (name, help, pick) in [
            (
                "berth_received_bytes_total",
                "Request body bytes (as declared by Content-Length).",
                (|s: &Series| s.bytes_in) as fn(&Series) -> u64,
            ),
            (
                "berth_sent_bytes_total",
                "Response body bytes (as declared by Content-Length).",
                |s: &Series| s.bytes_out,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (l, s) in series.iter() {
                let _ = writeln!(out, "{name}{{{}}} {}", label(l), pick(s));
            }
        }
    }
}

/// Counts every request (the middleware of the whole router).
pub async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let (face, name) = classify(&request);
    let bytes_in = content_length(request.headers());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = Labels { face, name, status: response.status().as_u16() };
    let bytes_out = content_length(response.headers());
    state.metrics.record(labels, started.elapsed().as_secs_f64(), bytes_in, bytes_out);
    response
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::new();
    state.metrics.render(&mut out);
    let _ = writeln!(out, "# HELP berth_job_runs_total Runs of each background job.");
    let _ = writeln!(out, "# TYPE berth_job_runs_total counter");
    let counts = state.jobs.counts();
    for (job, runs, _) in &counts {
        let _ = writeln!(out, "berth_job_runs_total{{job=\"{job}\"}} {runs}");
    }
    let _ = writeln!(out, "# HELP berth_job_failures_total Failed runs of each background job.");
    let _ = writeln!(out, "# TYPE berth_job_failures_total counter");
    for (job, _, failures) in &counts {
        let _ = writeln!(out, "berth_job_failures_total{{job=\"{job}\"}} {failures}");
    }
    if let Ok(uploads) = state.registry.upload_sessions().await {
        let _ = writeln!(out, "# HELP berth_uploads_in_progress Open upload sessions.");
        let _ = writeln!(out, "# TYPE berth_uploads_in_progress gauge");
        let _ = writeln!(out, "berth_uploads_in_progress {uploads}");
    }
    if let Ok(totals) = state.registry.storage_totals().await {
        for (name, help, value) in [
            ("berth_blobs", "Blobs stored.", totals.blobs),
            ("berth_blob_bytes", "Bytes of the blobs stored.", totals.bytes),
            (
                "berth_deduplicated_bytes",
                "Bytes that sharing blobs between repositories saves.",
                totals.linked_bytes.saturating_sub(totals.bytes),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
    }
    let mut response = out.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

/// `GET /_berth/health`: the process answers.
pub async fn health() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// `GET /_berth/ready`: the metadata store answers.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    match state.registry.upload_sessions().await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("the metadata store does not answer: {e}\n"))
                .into_response()
        }
    }
}
