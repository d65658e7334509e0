//! OCI image layouts written by the tests (blobs, manifests, `index.json`), for skopeo to
//! push from.

use super::digest_of;
use super::tools::{run, tool};
use std::path::Path;
use std::process::Command;

/// The digest and size of a file, read in pieces.
pub fn sha256_file(path: &Path) -> (String, u64) {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    (format!("sha256:{}", hex::encode(hasher.finalize())), size)
}

/// Writes a blob into an OCI layout; returns (digest, size).
pub fn add_blob(layout: &Path, bytes: &[u8]) -> (String, u64) {
    let digest = digest_of(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(digest.trim_start_matches("sha256:")), bytes).unwrap();
    (digest, bytes.len() as u64)
}

/// Moves a file into an OCI layout as a blob.
pub fn add_blob_file(layout: &Path, file: &Path) -> (String, u64) {
    let (digest, size) = sha256_file(file);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::rename(file, dir.join(digest.trim_start_matches("sha256:"))).unwrap();
    (digest, size)
}

/// Writes the layout's `oci-layout` and `index.json` with `entries`.
pub fn write_index(layout: &Path, entries: Vec<serde_json::Value>) {
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
}

/// Writes the layout's index with one OCI image manifest, tagged `tag`.
pub fn write_tagged_index(layout: &Path, manifest: &str, size: u64, tag: &str) {
    write_index(
        layout,
        vec![serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest,
            "size": size,
            "annotations": { "org.opencontainers.image.ref.name": tag },
        })],
    );
}

/// An image of the given layers (file in the layout's blobs, uncompressed digest as diff
/// id, layer media type) for `arch`; returns the manifest's (digest, size).
pub fn add_layered_image(
    layout: &Path, layers: &[(String, u64, String, &str)], arch: &str,
) -> (String, u64) {
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| &l.2).collect::<Vec<_>>() },
    });
    let (config_digest, config_size) = add_blob(layout, config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size },
        "layers": layers.iter().map(|(d, s, _, media_type)| serde_json::json!({
            "mediaType": media_type, "digest": d, "size": s
        })).collect::<Vec<_>>(),
    });
    add_blob(layout, manifest.to_string().as_bytes())
}

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A layer of `files` (path, contents) as a tar in the layout, gzipped when asked:
/// (digest, size, diff id, media type).
pub fn layer(
    layout: &Path, work: &Path, name: &str, files: &[(&str, &[u8])], gzip: bool,
) -> (String, u64, String, &'static str) {
    let root = work.join(name);
    for (path, contents) in files {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, contents).unwrap();
    }
    let tar_file = work.join(format!("{name}.tar"));
    run(Command::new(tool("tar")).arg("-cf").arg(&tar_file).arg("-C").arg(&root).arg("."));
    let diff_id = sha256_file(&tar_file).0;
    if !gzip {
        let (digest, size) = add_blob_file(layout, &tar_file);
        return (digest, size, diff_id, TAR);
    }
    run(Command::new(tool("gzip")).arg("-n").arg(&tar_file));
    let (digest, size) = add_blob_file(layout, &tar_file.with_extension("tar.gz"));
    (digest, size, diff_id, TAR_GZIP)
}

/// An OSV advisory of `package` in `ecosystem` with one ECOSYSTEM range of `events`.
pub fn advisory(
    id: &str, ecosystem: &str, package: &str, events: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "id": id, "modified": "2026-11-01T00:00:00Z", "summary": format!("{id} in {package}"),
        "affected": [{ "package": { "ecosystem": ecosystem, "name": package },
                       "ranges": [{ "type": "ECOSYSTEM", "events": events }] }],
    })
}
