//! An image's files as a scanner needs them: the layers' tar streams read in order
//! (plain, gzip or zstd, told apart by their first bytes), whiteouts applied, and only
//! the few files that say what is installed kept, in memory. Nothing is unpacked to
//! disk and no layer is held whole.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

/// The largest file kept (a package database); bigger ones are skipped.
const MAX_FILE_BYTES: u64 = 32 << 20;

/// The files the scanner reads, by path without a leading `/` or `./`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImageFiles {
    files: BTreeMap<String, Vec<u8>>,
}

/// Why a layer could not be read.
#[derive(Debug, thiserror::Error)]
#[error("layer {layer}: {reason}")]
pub struct LayerError {
    pub layer: usize,
    pub reason: String,
}

/// True for the files package databases and the distribution are read from: the OS's,
/// and the language package manifests enhanced scanning reads (`Cargo.lock`,
/// `package-lock.json`, Python's `*.dist-info/METADATA`).
pub fn wanted(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    matches!(
        path,
        "etc/os-release" | "usr/lib/os-release" | "var/lib/dpkg/status" | "lib/apk/db/installed"
    ) || path
        .strip_prefix("var/lib/dpkg/status.d/")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
        || matches!(file, "Cargo.lock" | "package-lock.json")
        || (file == "METADATA"
            && path.rsplit('/').nth(1).is_some_and(|dir| dir.ends_with(".dist-info")))
}

fn normalize(path: &str) -> String {
    path.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/').to_string()
}

impl ImageFiles {
    /// A file's bytes, if the image has it.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Every kept file, in path order.
    pub fn all(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(p, b)| (p.as_str(), b.as_slice()))
    }

    /// The kept files under a directory (`var/lib/dpkg/status.d`), in path order.
    pub fn under<'a>(&'a self, directory: &'a str) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        let prefix = format!("{directory}/");
        self.files
            .iter()
            .filter(move |(path, _)| path.starts_with(&prefix))
            .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
    }

    /// True when a kept file is `path` or lies under it (only those removals are noted,
    /// so that a layer of many files costs no memory).
    fn holds(&self, path: &str) -> bool {
        self.files.range(path.to_string()..).next().is_some_and(|(kept, _)| {
            kept == path || kept.strip_prefix(path).is_some_and(|r| r.starts_with('/'))
        })
    }

    /// Reads one more layer (lowest first) over what the layers below left.
    pub fn apply_layer(&mut self, index: usize, layer: impl Read) -> Result<(), LayerError> {
        let fail = |reason: String| LayerError { layer: index, reason };
        let mut buffered = BufReader::with_capacity(64 << 10, layer);
        let magic = buffered.fill_buf().map_err(|e| fail(format!("cannot read: {e}")))?.to_vec();
        let tar: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Box::new(
                ruzstd::decoding::StreamingDecoder::new(buffered)
                    .map_err(|e| fail(format!("not a zstd stream: {e}")))?,
            )
        } else {
            Box::new(buffered)
        };
        // This layer's own files, and what it removes from the layers below.
        let mut added: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut removed: Vec<String> = Vec::new();
        let mut opaque: Vec<String> = Vec::new();
        let mut archive = tar::Archive::new(tar);
        let entries = archive.entries().map_err(|e| fail(format!("not a tar stream: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| fail(format!("broken tar entry: {e}")))?;
            let path = entry
                .path()
                .map_err(|e| fail(format!("bad path: {e}")))?
                .to_string_lossy()
                .into_owned();
            let path = normalize(&path);
            let (directory, file) = match path.rsplit_once('/') {
                Some((d, f)) => (d.to_string(), f.to_string()),
                None => (String::new(), path.clone()),
            };
            if file == ".wh..wh..opq" {
                opaque.push(directory);
                continue;
            }
            if let Some(hidden) = file.strip_prefix(".wh.") {
                let hidden = if directory.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{directory}/{hidden}")
                };
                if self.holds(&hidden) {
                    removed.push(hidden);
                }
                continue;
            }
            // A path written again by this layer replaces what was there, whatever it was.
            let kind = entry.header().entry_type();
            if !kind.is_file() || !wanted(&path) || entry.size() > MAX_FILE_BYTES {
                added.remove(&path);
                if self.holds(&path) {
                    removed.push(path);
                }
                continue;
            }
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(|e| fail(format!("cannot read {path}: {e}")))?;
            added.insert(path, bytes);
        }
        for directory in opaque {
            let prefix = format!("{directory}/");
            self.files.retain(|path, _| !path.starts_with(&prefix));
        }
        for path in removed {
            let prefix = format!("{path}/");
            self.files.retain(|kept, _| kept != &path && !kept.starts_with(&prefix));
        }
        self.files.extend(added);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A tar stream of (path, contents); `None` contents make a directory.
    pub fn tarball(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in entries {
            let mut header = tar::Header::new_gnu();
            match contents {
                Some(bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(bytes.len() as u64);
                    header.set_mode(0o644);
                    builder.append_data(&mut header, path, *bytes).unwrap();
                }
                None => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    header.set_mode(0o755);
                    builder.append_data(&mut header, path, &[][..]).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn layers_stack_with_whiteouts_and_opaque_directories() {
        let mut files = ImageFiles::default();
        let base = tarball(&[
            ("etc/", None),
            ("etc/os-release", Some(b"ID=debian\n")),
            ("./var/lib/dpkg/status", Some(b"Package: a\n")),
            ("var/lib/dpkg/status.d/one", Some(b"Package: one\n")),
            ("var/lib/dpkg/status.d/two", Some(b"Package: two\n")),
            ("usr/bin/tool", Some(b"not kept")),
        ]);
        files.apply_layer(0, gzip(&base).as_slice()).unwrap();
        assert_eq!(files.get("etc/os-release"), Some(&b"ID=debian\n"[..]));
        assert_eq!(files.get("usr/bin/tool"), None, "only package files are kept");
        assert_eq!(files.under("var/lib/dpkg/status.d").count(), 2);

        let upper = tarball(&[
            ("var/lib/dpkg/.wh.status", Some(b"")),
            ("var/lib/dpkg/status.d/.wh..wh..opq", Some(b"")),
            ("var/lib/dpkg/status.d/three", Some(b"Package: three\n")),
            ("etc/os-release", Some(b"ID=alpine\n")),
        ]);
        files.apply_layer(1, upper.as_slice()).unwrap();
        assert_eq!(files.get("var/lib/dpkg/status"), None, "whited out");
        let left: Vec<&str> = files.under("var/lib/dpkg/status.d").map(|(p, _)| p).collect();
        assert_eq!(left, ["var/lib/dpkg/status.d/three"], "opaque hides the lower files");
        assert_eq!(files.get("etc/os-release"), Some(&b"ID=alpine\n"[..]));

        let zstd = ruzstd::encoding::compress_to_vec(
            tarball(&[("lib/apk/db/installed", Some(b"P:musl\n"))]).as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        files.apply_layer(2, zstd.as_slice()).unwrap();
        assert_eq!(files.get("lib/apk/db/installed"), Some(&b"P:musl\n"[..]));

        // A wanted file after a big unwanted one: the reader goes through the big one.
        let big = vec![7u8; 5 << 20];
        let layer = tarball(&[("opt/big.bin", Some(&big)), ("etc/os-release", Some(b"ID=late\n"))]);
        files.apply_layer(3, layer.as_slice()).unwrap();
        assert_eq!(files.get("etc/os-release"), Some(&b"ID=late\n"[..]));

        let garbage = files.apply_layer(4, &b"\x1f\x8bnot gzip at all"[..]);
        assert!(garbage.is_err());
    }
}
