//! `/metrics` parses as Prometheus text and moves with traffic; the health endpoints.

mod support;

use support::{create_repository, default_client, push_one_layer, registry_host, Berth};

async fn scrape(berth: &Berth) -> prometheus_parse::Scrape {
    let text =
        reqwest::get(format!("{}/metrics", berth.endpoint)).await.unwrap().text().await.unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not the Prometheus text format ({e}):\n{text}"))
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_move_with_traffic_and_health_answers() {
    let dir = tempfile::tempdir().unwrap();
    // One process's counters (behind a load balancer each replica counts its own share).
    let berth = Berth::start_local(dir.path(), &["--admin-api"]);
    for path in ["/_berth/health", "/_berth/ready"] {
        let answer = reqwest::get(format!("{}{path}", berth.endpoint)).await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }
    let before = scrape(&berth).await;
    let ecr = default_client(&berth);
    create_repository(&ecr, "app").await;
    push_one_layer(&ecr, &format!("{}/app:v1", registry_host(&berth)), b"layer").await;
    let missing = ecr.describe_repositories().repository_names("nope").send().await;
    assert!(missing.is_err());
    support::run_job(&berth, "gc").await;

    let after = scrape(&berth).await;
    let created = [("face", "ecr"), ("operation", "CreateRepository"), ("status", "200")];
    assert_eq!(
        value(&after, "berth_requests_total", &created)
            - value(&before, "berth_requests_total", &created),
        1.0
    );
    let refused = [("face", "ecr"), ("operation", "DescribeRepositories"), ("status", "400")];
    assert_eq!(value(&after, "berth_requests_total", &refused), 1.0);
    let manifest_put = [("face", "oci"), ("route", "PUT manifest"), ("status", "201")];
    assert_eq!(value(&after, "berth_requests_total", &manifest_put), 1.0);
    assert!(value(&after, "berth_received_bytes_total", &[("face", "oci")]) >= 5.0);
    assert_eq!(
        value(&after, "berth_request_duration_seconds_count", &created),
        1.0,
        "a latency histogram per series"
    );
    assert_eq!(value(&after, "berth_job_runs_total", &[("job", "gc")]), 1.0);
    assert_eq!(value(&after, "berth_job_failures_total", &[("job", "gc")]), 0.0);
    assert_eq!(value(&after, "berth_uploads_in_progress", &[]), 0.0);
    assert_eq!(value(&after, "berth_blobs", &[]), 2.0, "a config and a layer");
    // The same layer pushed to a second repository is stored once.
    create_repository(&ecr, "copy").await;
    push_one_layer(&ecr, &format!("{}/copy:v1", registry_host(&berth)), b"layer").await;
    let shared = scrape(&berth).await;
    assert_eq!(value(&shared, "berth_blobs", &[]), 2.0);
    assert_eq!(
        value(&shared, "berth_deduplicated_bytes", &[]),
        value(&shared, "berth_blob_bytes", &[])
    );
}
