//! The small, fixed world sequences draw from: repositories, tags, blobs, images.
//!
//! Everything is deterministic, so a shrunk failing sequence names exact bytes.

use berth_handlers::digest::{Digest, DigestAlgorithm};

/// Repository names (one with a namespace).
pub const REPOSITORIES: &[&str] = &["r1", "r2", "ns/r3"];

/// Tags.
pub const TAGS: &[&str] = &["a", "b", "latest"];

/// Blob contents; blob 0 is the config every image uses; the last is addressed by its
/// sha512 digest (the OCI face accepts sha512; ECR, and so images here, use sha256).
pub const BLOBS: &[&[u8]] = &[
    b"{}",
    b"alpha layer",
    b"bravo bravo layer",
    b"charlie, the third layer",
    b"delta, a sha512 blob",
];

/// The blob addressed by sha512.
pub const SHA512_BLOB: usize = 4;

/// Blobs `0..IMAGE_BLOBS` are sha256: images use them, and the ECR face checks them.
pub const IMAGE_BLOBS: usize = SHA512_BLOB;

/// The digest of blob `i`.
pub fn blob_digest(i: usize) -> String {
    if i == SHA512_BLOB {
        return Digest::of_with(DigestAlgorithm::Sha512, BLOBS[i]).to_string();
    }
    Digest::of(BLOBS[i]).to_string()
}

/// An image: config blob 0 plus these layers (indexes into [`BLOBS`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageSpec {
    pub layers: Vec<usize>,
}

/// The manifest bytes of an image, stable for a given spec.
pub fn image_manifest(spec: &ImageSpec) -> String {
    let layers: Vec<String> = spec
        .layers
        .iter()
        .map(|&l| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}"#,
                blob_digest(l),
                BLOBS[l].len()
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{}]}}"#,
        blob_digest(0),
        BLOBS[0].len(),
        layers.join(",")
    )
}

/// The manifest bytes of an index over these images.
pub fn index_manifest(children: &[ImageSpec]) -> String {
    let entries: Vec<String> = children
        .iter()
        .map(|c| {
            let m = image_manifest(c);
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{}}}"#,
                Digest::of(m.as_bytes()),
                m.len()
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    )
}

/// The blobs an image references (config first).
pub fn image_blobs(spec: &ImageSpec) -> Vec<String> {
    std::iter::once(0).chain(spec.layers.iter().copied()).map(blob_digest).collect()
}

/// sha256 of text.
pub fn digest_of(text: &str) -> String {
    Digest::of(text.as_bytes()).to_string()
}
