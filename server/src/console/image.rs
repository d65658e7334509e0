//! An image: its manifest, the config and layers it names with their sizes and which other
//! images of the repository share them, what refers to it, and where it is replicated.

use super::page::{escape, size, table};
use super::repositories::images_of;
use super::{failed, image_in_query, image_link, link, show, to_sign_in, viewer};
use crate::app::AppState;
use axum::extract::{Request, State};
use axum::response::Response;
use berth_generated::ecr::{
    BatchGetImage, BatchGetImageRequest, DescribeImageReplicationStatus,
    DescribeImageReplicationStatusRequest, ImageIdentifier, ListImageReferrers,
    ListImageReferrersRequest, SubjectIdentifier,
};
use berth_handlers::digest::Digest;
use berth_handlers::reference::RepositoryName;
use berth_handlers::{Caller, RegistryError, RegistryScope};
use std::collections::HashMap;
use std::sync::Arc;

/// Other images whose manifests are read to find shared blobs (one BatchGetImage).
const SHARING_IMAGES: usize = 100;

/// The image page.
pub async fn page(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return to_sign_in();
    };
    let (repository, digest) = image_in_query(&request);
    let manifest = match manifests(&state, &caller, &repository, vec![digest.clone()]).await {
        Ok(mut found) => found.pop().map(|(_, manifest)| manifest),
        Err(e) => return failed(&caller, &repository, e),
    };
    let Some(manifest) = manifest else {
        return failed(&caller, &repository, RegistryError::ImageNotFound);
    };
    let parsed: serde_json::Value = serde_json::from_str(&manifest).unwrap_or_default();
    let pretty = serde_json::to_string_pretty(&parsed).unwrap_or(manifest);
    let kinds = [("config", "config"), ("layers", "layer"), ("manifests", "manifest")];
    let mut described: Vec<(&str, &serde_json::Value)> = Vec::new();
    for (member, kind) in kinds {
        let one = std::slice::from_ref(&parsed[member]);
        let many = parsed[member].as_array().map_or(one, Vec::as_slice);
        described.extend(many.iter().map(|d| (kind, d)));
    }
    let sharing = sharing(&state, &caller, &repository, &digest).await;
    let mut rows = Vec::new();
    for (kind, descriptor) in described {
        let Some(child) = descriptor["digest"].as_str() else {
            continue;
        };
        let shared: Vec<String> = sharing
            .get(child)
            .into_iter()
            .flatten()
            .map(|(other, label)| {
                let pairs = [("repository", repository.as_str()), ("digest", other)];
                link(&caller, "/ui/image", &pairs, &escape(label))
            })
            .collect();
        let platform = &descriptor["platform"];
        let platform = [&platform["os"], &platform["architecture"], &platform["variant"]]
            .iter()
            .filter_map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join("/");
        let child = if kind == "manifest" {
            image_link(&caller, &repository, child)
        } else {
            format!("<code>{}</code>", escape(child))
        };
        rows.push(vec![
            escape(kind),
            child,
            escape(descriptor["mediaType"].as_str().unwrap_or("")),
            escape(&platform),
            size(descriptor["size"].as_i64().unwrap_or(0)),
            shared.join(", "),
        ]);
    }
    let headings = ["", "digest", "media type", "platform", "size", "shared with"];
    let config = match parsed["config"]["digest"].as_str() {
        Some(config) => config_of(&state, &caller, &repository, config).await,
        None => "<p>An index has no config; its images do.</p>".into(),
    };
    let body = format!(
        "<p><code>{}</code> in {}</p>{}<h2>Referrers</h2>{}<h2>Replication</h2>{}\
         <h2>Config</h2>{config}<h2>Manifest</h2><pre>{}</pre>",
        escape(&digest),
        link(&caller, "/ui/repository", &[("name", &repository)], &escape(&repository)),
        table(&headings, &rows),
        referrers(&state, &caller, &repository, &digest).await,
        replication(&state, &caller, &repository, &digest).await,
        escape(&pretty)
    );
    show(&caller, "Image", &body)
}

/// Config blobs larger than this are not shown.
const CONFIG_SHOWN: u64 = 256 * 1024;

/// The image's config blob, pretty-printed, or a sentence saying why not.
async fn config_of(state: &AppState, caller: &Caller, repository: &str, digest: &str) -> String {
    let (Some(name), Ok(digest)) = (RepositoryName::parse(repository), Digest::parse(digest))
    else {
        return "<p>Not a valid config descriptor.</p>".into();
    };
    let scope = RegistryScope::for_request(caller, None);
    let size = match state.registry.linked_blob_size(&scope, &name, &digest).await {
        Ok(Some(size)) if size <= CONFIG_SHOWN => size,
        Ok(Some(size)) => {
            return format!("<p>{} (not shown).</p>", escape(&super::page::size(size as i64)))
        }
        Ok(None) => return "<p>The config blob is not in this repository.</p>".into(),
        Err(e) => return format!("<p>{}</p>", escape(&e.to_string())),
    };
    let read = match state.registry.read_blob(&digest, 0, size).await {
        Ok(stream) => {
            axum::body::to_bytes(axum::body::Body::from_stream(stream), size as usize).await
        }
        Err(e) => return format!("<p>{}</p>", escape(&e.to_string())),
    };
    let Ok(bytes) = read else {
        return "<p>The config blob could not be read.</p>".into();
    };
    let text = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(parsed) => serde_json::to_string_pretty(&parsed).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    format!("<pre>{}</pre>", escape(&text))
}

/// An index entry's platform as `os/architecture[/variant]`.
pub(super) fn platform(platform: &serde_json::Value) -> Option<String> {
    let parts: Vec<&str> = [&platform["os"], &platform["architecture"], &platform["variant"]]
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The manifests of `digests` in `repository`, as BatchGetImage answers: (digest, manifest).
pub(super) async fn manifests(
    state: &AppState, caller: &Caller, repository: &str, digests: Vec<String>,
) -> Result<Vec<(String, String)>, RegistryError> {
    let request = BatchGetImageRequest {
        repository_name: repository.to_string(),
        image_ids: digests
            .into_iter()
            .map(|digest| ImageIdentifier { image_digest: Some(digest), ..Default::default() })
            .collect(),
        accepted_media_types: None,
        registry_id: None,
    };
    let got = state.ecr.batch_get_image(caller, request).await?;
    Ok(got
        .images
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| Some((i.image_id?.image_digest?, i.image_manifest?)))
        .collect())
}

/// For each blob the repository's other images reference (the newest 100 images):
/// those images' digests and a label (their tags, or a short digest).
async fn sharing(
    state: &AppState, caller: &Caller, repository: &str, except: &str,
) -> HashMap<String, Vec<(String, String)>> {
    let mut shared: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let Ok(images) = images_of(state, caller, repository).await else {
        return shared;
    };
    let labels: HashMap<String, String> = images
        .into_iter()
        .filter_map(|i| {
            let digest = i.image_digest?;
            let label = match i.image_tags.unwrap_or_default() {
                tags if tags.is_empty() => digest.chars().take(19).collect(),
                tags => tags.join(", "),
            };
            Some((digest, label))
        })
        .filter(|(digest, _)| digest != except)
        .take(SHARING_IMAGES)
        .collect();
    let digests = labels.keys().cloned().collect();
    let Ok(found) = manifests(state, caller, repository, digests).await else {
        return shared;
    };
    for (digest, manifest) in found {
        let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap_or_default();
        let blobs = std::iter::once(&manifest["config"])
            .chain(manifest["layers"].as_array().into_iter().flatten())
            .filter_map(|d| d["digest"].as_str());
        for blob in blobs {
            let label = labels.get(&digest).cloned().unwrap_or_default();
            shared.entry(blob.to_string()).or_default().push((digest.clone(), label));
        }
    }
    shared
}

/// What refers to the image (signatures, SBOMs, attestations), as ListImageReferrers
/// answers, as a table or a sentence.
async fn referrers(state: &AppState, caller: &Caller, repository: &str, digest: &str) -> String {
    let request = ListImageReferrersRequest {
        repository_name: repository.to_string(),
        subject_id: SubjectIdentifier { image_digest: digest.to_string() },
        max_results: Some(100),
        filter: None,
        next_token: None,
        registry_id: None,
    };
    let listed = state.ecr.list_image_referrers(caller, request).await.map(|l| {
        let rows = l.referrers.unwrap_or_default().into_iter().map(|r| {
            vec![
                escape(r.artifact_type.as_deref().unwrap_or("")),
                image_link(caller, repository, r.digest.as_deref().unwrap_or("")),
                size(r.size.unwrap_or(0)),
            ]
        });
        rows.collect()
    });
    table_or(listed, "None.", &["artifact type", "digest", "size"])
}

/// The rows as a table, `empty` when there are none, or the error, each as HTML.
fn table_or(
    rows: Result<Vec<Vec<String>>, RegistryError>, empty: &str, headings: &[&str],
) -> String {
    match rows {
        Err(e) => format!("<p>{}</p>", escape(&e.to_string())),
        Ok(rows) if rows.is_empty() => format!("<p>{}</p>", escape(empty)),
        Ok(rows) => table(headings, &rows),
    }
}

/// Where the image is replicated to, as DescribeImageReplicationStatus answers.
async fn replication(state: &AppState, caller: &Caller, repository: &str, digest: &str) -> String {
    let request = DescribeImageReplicationStatusRequest {
        repository_name: repository.to_string(),
        image_id: ImageIdentifier { image_digest: Some(digest.to_string()), ..Default::default() },
        registry_id: None,
    };
    let statuses = state.ecr.describe_image_replication_status(caller, request).await.map(|f| {
        let rows = f.replication_statuses.unwrap_or_default().into_iter().map(|s| {
            vec![
                escape(s.registry_id.as_deref().unwrap_or("")),
                escape(s.region.as_deref().unwrap_or("")),
                escape(s.status.as_ref().map_or("", |s| s.as_str())),
                escape(s.failure_code.as_deref().unwrap_or("")),
            ]
        });
        rows.collect()
    });
    table_or(statuses, "Not replicated.", &["registry", "region", "status", "failure"])
}
