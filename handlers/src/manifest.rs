//! Reading a pushed manifest: its media type, what it references, its subject.
//!
//! ECR's set of manifest types: OCI image manifest and index, Docker schema 2 manifest and
//! manifest list. The bytes are stored exactly as pushed; this only reads them.

use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::ManifestReferences;
use berth_generated::oci::media_types::*;
use serde::Deserialize;
use std::collections::BTreeMap;

/// ECR's largest manifest.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// The kinds of manifest berth stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// An image (or artifact) manifest: config plus layers.
    Image,
    /// An index or manifest list: child manifests.
    Index,
}

/// The media type strings berth accepts, with their kind.
pub fn manifest_kind(media_type: &str) -> Option<ManifestKind> {
    match media_type {
        OCI_IMAGE_MANIFEST | DOCKER_MANIFEST_V2 => Some(ManifestKind::Image),
        OCI_IMAGE_INDEX | DOCKER_MANIFEST_LIST_V2 => Some(ManifestKind::Index),
        _ => None,
    }
}

/// What a manifest says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedManifest {
    pub media_type: String,
    pub kind: ManifestKind,
    /// `artifactType`, or for an image manifest the config media type when that is not a
    /// plain image config (as the referrers API reports it).
    pub artifact_type: Option<String>,
    /// The config media type (ECR's artifactMediaType).
    pub config_media_type: Option<String>,
    pub subject: Option<Digest>,
    /// JSON object text of `annotations`.
    pub annotations: Option<String>,
    pub references: ManifestReferences,
    /// Config plus layers for an image; 0 for an index (the caller takes the largest child).
    pub size: u64,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    digest: String,
    size: i64,
    #[serde(default)]
    urls: Vec<String>,
}

fn invalid(why: impl Into<String>) -> RegistryError {
    RegistryError::ManifestInvalid(why.into())
}

fn descriptor_digest(d: &Descriptor, field: &str) -> Result<Digest, RegistryError> {
    if d.size < 0 {
        return Err(invalid(format!("{field} has a negative size")));
    }
    Digest::parse(&d.digest)
        .map_err(|_| invalid(format!("{field} has an invalid digest '{}'", d.digest)))
}

/// Layers that live elsewhere (`urls`) are not uploaded to the registry.
fn is_foreign(d: &Descriptor) -> bool {
    !d.urls.is_empty()
        || d.media_type
            .as_deref()
            .is_some_and(|m| m.contains("foreign") || m.contains("nondistributable"))
}

/// Parses manifest bytes pushed with `content_type` (may be absent).
pub fn parse_manifest(
    body: &[u8], content_type: Option<&str>,
) -> Result<ParsedManifest, RegistryError> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(RegistryError::ManifestTooLarge { limit: MAX_MANIFEST_BYTES });
    }
    let raw: RawManifest = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the manifest is not valid JSON: {e}")))?;
    let content_type =
        content_type.map(|c| c.split(';').next().unwrap_or("").trim()).filter(|c| !c.is_empty());
    let media_type = match (&raw.media_type, content_type) {
        (Some(declared), Some(given)) if declared != given => {
            return Err(invalid(format!(
                "the Content-Type {given} does not match the manifest's mediaType {declared}"
            )))
        }
        (Some(declared), _) => declared.clone(),
        (None, Some(given)) => given.to_string(),
        (None, None) => {
            return Err(invalid("the manifest has no mediaType and the request no Content-Type"))
        }
    };
    let kind = manifest_kind(&media_type)
        .ok_or_else(|| invalid(format!("the manifest media type {media_type} is not supported")))?;
    if raw.schema_version != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let subject = raw.subject.as_ref().map(|s| descriptor_digest(s, "subject")).transpose()?;
    let annotations = raw
        .annotations
        .as_ref()
        .map(|a| {
            serde_json::to_string(a)
                .map_err(|e| RegistryError::Internal(format!("annotations: {e}")))
        })
        .transpose()?;
    let mut references = ManifestReferences::default();
    let mut size = 0u64;
    let mut config_media_type = None;
    match kind {
        ManifestKind::Image => {
            if raw.manifests.is_some() {
                return Err(invalid("an image manifest cannot list manifests"));
            }
            let config =
                raw.config.as_ref().ok_or_else(|| invalid("the manifest has no config"))?;
            let layers = raw.layers.as_deref().unwrap_or_default();
            references.blobs.push(descriptor_digest(config, "config")?);
            size += config.size as u64;
            config_media_type = config.media_type.clone();
            for layer in layers {
                let digest = descriptor_digest(layer, "layer")?;
                size += layer.size as u64;
                if !is_foreign(layer) {
                    references.blobs.push(digest);
                }
            }
        }
        ManifestKind::Index => {
            if raw.config.is_some() || raw.layers.is_some() {
                return Err(invalid("an index cannot have a config or layers"));
            }
            let children =
                raw.manifests.as_deref().ok_or_else(|| invalid("the index has no manifests"))?;
            for child in children {
                references.manifests.push(descriptor_digest(child, "manifests")?);
            }
        }
    }
    let artifact_type = raw.artifact_type.clone().or_else(|| {
        config_media_type
            .clone()
            .filter(|m| m != OCI_IMAGE_CONFIG && m != DOCKER_CONTAINER_CONFIG && m != OCI_EMPTY)
    });
    Ok(ParsedManifest {
        media_type,
        kind,
        artifact_type,
        config_media_type,
        subject,
        annotations,
        references,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(config: &Digest, layer: &Digest) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_IMAGE_MANIFEST}","config":{{"mediaType":"{OCI_IMAGE_CONFIG}","digest":"{config}","size":10}},"layers":[{{"mediaType":"{OCI_LAYER_TAR_GZIP}","digest":"{layer}","size":32}}]}}"#
        )
    }

    #[test]
    fn image_manifest_references_config_and_layers() {
        let (c, l) = (Digest::of(b"c"), Digest::of(b"l"));
        let m = parse_manifest(image(&c, &l).as_bytes(), Some(OCI_IMAGE_MANIFEST)).unwrap();
        assert_eq!(m.kind, ManifestKind::Image);
        assert_eq!(m.references.blobs, vec![c, l]);
        assert_eq!(m.size, 42);
        assert_eq!(m.artifact_type, None);
    }

    #[test]
    fn refusals() {
        let (c, l) = (Digest::of(b"c"), Digest::of(b"l"));
        let body = image(&c, &l);
        let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
            (b"not json".to_vec(), None),
            (body.clone().into_bytes(), Some(DOCKER_MANIFEST_V2)),
            (body.replace(OCI_IMAGE_MANIFEST, "application/x-other").into_bytes(), None),
            (body.replace("\"schemaVersion\":2", "\"schemaVersion\":1").into_bytes(), None),
            (body.replace(c.as_str(), "sha256:nothex").into_bytes(), None),
            (
                format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_IMAGE_INDEX}"}}"#).into_bytes(),
                None,
            ),
        ];
        for (i, (body, content_type)) in cases.into_iter().enumerate() {
            assert!(
                matches!(
                    parse_manifest(&body, content_type),
                    Err(RegistryError::ManifestInvalid(_))
                ),
                "case {i}"
            );
        }
        let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(matches!(parse_manifest(&huge, None), Err(RegistryError::ManifestTooLarge { .. })));
    }

    #[test]
    fn index_with_subject_and_media_type_from_content_type() {
        let child = Digest::of(b"child");
        let subject = Digest::of(b"subject");
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_IMAGE_MANIFEST}","digest":"{child}","size":5}}],"subject":{{"mediaType":"{OCI_IMAGE_MANIFEST}","digest":"{subject}","size":7}},"artifactType":"application/x-sig"}}"#
        );
        let m = parse_manifest(body.as_bytes(), Some(OCI_IMAGE_INDEX)).unwrap();
        assert_eq!(m.kind, ManifestKind::Index);
        assert_eq!(m.references.manifests, vec![child]);
        assert_eq!(m.subject, Some(subject));
        assert_eq!(m.artifact_type.as_deref(), Some("application/x-sig"));
    }
}
