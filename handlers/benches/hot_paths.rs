//! Micro-benchmarks of the functions on the hot paths: route parsing, digests, manifest
//! validation, names. `cargo bench -p berth-handlers`.

use berth_generated::oci::OciRoute;
use berth_handlers::digest::Digest;
use berth_handlers::manifest::parse_manifest;
use berth_handlers::reference::{Reference, RepositoryName};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn routes(c: &mut Criterion) {
    let digest = format!("sha256:{}", "a".repeat(64));
    let paths = [
        "/v2/".to_string(),
        "/v2/team/app/manifests/latest".to_string(),
        format!("/v2/team/app/blobs/{digest}"),
        "/v2/a/b/c/blobs/uploads/0b5e5a6c-7a1d-4a4c-9a59-3f1b7c1e2d3f".to_string(),
    ];
    c.bench_function("OciRoute::parse (4 paths)", |b| {
        b.iter(|| {
            for p in &paths {
                black_box(OciRoute::parse(black_box(p)));
            }
        })
    });
    c.bench_function("RepositoryName + Reference parse", |b| {
        b.iter(|| {
            black_box(RepositoryName::parse(black_box("team/app-server_x")));
            black_box(Reference::parse(black_box("v1.2.3")));
            black_box(Reference::parse(black_box(&digest)));
        })
    });
}

fn digests(c: &mut Criterion) {
    let data = vec![7u8; 1 << 20];
    let mut group = c.benchmark_group("sha256");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group
        .bench_function("Digest::of 1 MiB", |b| b.iter(|| black_box(Digest::of(black_box(&data)))));
    group.finish();
}

fn manifests(c: &mut Criterion) {
    let layers: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}"#,
                Digest::of(&[i as u8]),
                1000 + i
            )
        })
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":100}},"layers":[{}]}}"#,
        Digest::of(b"config"),
        layers.join(",")
    );
    c.bench_function("parse_manifest (20 layers)", |b| {
        b.iter(|| {
            black_box(parse_manifest(
                black_box(manifest.as_bytes()),
                Some("application/vnd.oci.image.manifest.v1+json"),
            ))
        })
    });
}

criterion_group!(hot_paths, routes, digests, manifests);
criterion_main!(hot_paths);
