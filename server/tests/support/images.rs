//! Test images pushed over /v2: manifests, indexes, blob uploads, and a berth with the
//! repositories `app` and `other`, for the error and durability tests.

use super::{default_client, digest_of, registry_password, Berth, RawRegistry};
use reqwest::Method;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn manifest(config: &str, layer: &str) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":5}}]}}"#
    )
}

pub fn index(children: &[&str]) -> String {
    let list: Vec<String> = children
        .iter()
        .map(|c| format!(r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{c}","size":300}}"#))
        .collect();
    format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#, list.join(","))
}

pub async fn upload(raw: &RawRegistry, repo: &str, data: &[u8]) -> String {
    let digest = digest_of(data);
    let r = raw
        .request(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={digest}"))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    digest
}

pub async fn put_manifest(
    raw: &RawRegistry, repo: &str, reference: &str, body: &str, media_type: &str,
) -> reqwest::Response {
    raw.request(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
        .header("Content-Type", media_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

pub async fn setup() -> (tempfile::TempDir, Berth, aws_sdk_ecr::Client, RawRegistry) {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &[]);
    let ecr = default_client(&berth);
    for r in ["app", "other"] {
        ecr.create_repository().repository_name(r).send().await.unwrap();
    }
    let raw = RawRegistry::new(&berth, &registry_password(&ecr).await);
    (dir, berth, ecr, raw)
}

/// An empty index made distinct by `n`: an image that needs no blobs.
pub fn empty_index(n: u32) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[],"annotations":{{"n":"{n}"}}}}"#
    )
}

/// PutImage of `empty_index(n)` into `app`, tagged when `tag` is not empty; its digest.
pub async fn put_index(ecr: &aws_sdk_ecr::Client, n: u32, tag: &str) -> String {
    let body = empty_index(n);
    let put = ecr
        .put_image()
        .repository_name("app")
        .image_manifest(&body)
        .image_manifest_media_type(OCI_INDEX);
    let put = if tag.is_empty() { put } else { put.image_tag(tag) };
    put.send().await.unwrap_or_else(|e| panic!("PutImage {tag}: {e}"));
    digest_of(body.as_bytes())
}

/// Uploads `blob` to `repo` in PATCHes of the given sizes (which add up to its length),
/// each to the Location the previous answer gave, then PUTs its digest; the PUT's answer.
pub async fn chunked_upload(
    raw: &RawRegistry, repo: &str, blob: &[u8], chunks: &[usize],
) -> reqwest::Response {
    chunked_upload_with(raw, repo, blob, chunks, |_| {}).await
}

/// As [`chunked_upload`], calling `before_chunk(n)` before the `n`th PATCH (from 0): to
/// crash or restart something in the middle of an upload.
pub async fn chunked_upload_with(
    raw: &RawRegistry, repo: &str, blob: &[u8], chunks: &[usize],
    mut before_chunk: impl FnMut(usize),
) -> reqwest::Response {
    assert_eq!(chunks.iter().sum::<usize>(), blob.len(), "the chunks cover the blob");
    let started =
        raw.request(Method::POST, &format!("/v2/{repo}/blobs/uploads/")).send().await.unwrap();
    assert_eq!(started.status(), 202);
    let mut location = started.headers()["location"].to_str().unwrap().to_string();
    let mut offset = 0;
    for (n, &size) in chunks.iter().enumerate() {
        before_chunk(n);
        let patched = raw
            .request(Method::PATCH, &location)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", format!("{}-{}", offset, offset + size - 1))
            .body(blob[offset..offset + size].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 202, "PATCH of {size} bytes at {offset}");
        location = patched.headers()["location"].to_str().unwrap().to_string();
        offset += size;
    }
    let separator = if location.contains('?') { '&' } else { '?' };
    raw.request(Method::PUT, &format!("{location}{separator}digest={}", digest_of(blob)))
        .send()
        .await
        .unwrap()
}
