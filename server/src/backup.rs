//! `berth export` and `berth import`: a data dir as one tar file and back.
//!
//! Export works while a server runs on the data dir: the metadata is a consistent SQLite
//! snapshot (`VACUUM INTO`), and blobs are immutable files named by their digest, so every
//! blob the snapshot references is there to copy (GC removes a blob only after its grace
//! period, an hour by default, without references). The archive holds `metadata.sqlite`,
//! `auth.key` (so that issued tokens stay valid), `signing/` (the signing profiles' keys)
//! and `blobs/`; upload sessions in progress are not kept. Blobs are streamed, never held.
//!
//! Import writes into a data dir that does not exist yet (or is empty): every blob's bytes
//! are hashed as they are unpacked and must match its name, paths must be ones export
//! writes, and the result appears under its name only when all of it was verified.

use anyhow::{bail, Context};
use berth_handlers::digest::{Digest, DigestAlgorithm};
use sha2::Digest as _;
use std::io::{IsTerminal, Read, Write};
use std::path::{Component, Path, PathBuf};

/// What an export or import moved.
#[derive(Debug, Default)]
pub struct Moved {
    pub blobs: u64,
    pub bytes: u64,
}

/// Progress on stderr when it is a terminal: one line, rewritten.
struct Progress {
    shown: bool,
    total: u64,
}

impl Progress {
    fn new(total: u64) -> Self {
        Progress { shown: std::io::stderr().is_terminal(), total }
    }

    fn update(&self, what: &str, moved: &Moved) {
        if self.shown {
            let total = if self.total > 0 { format!(" of {}", self.total) } else { String::new() };
            eprint!(
                "\r{what} {}{total} blobs, {:.1} MiB   ",
                moved.blobs,
                moved.bytes as f64 / (1 << 20) as f64
            );
        }
    }

    fn finish(&self) {
        if self.shown {
            eprintln!();
        }
    }
}

/// Writes the data dir `data_dir` to the tar file `out`.
pub async fn export(data_dir: &Path, out: &Path) -> anyhow::Result<Moved> {
    let store = berth_handlers::SqlMetadataStore::open(data_dir)
        .await
        .with_context(|| format!("cannot open the metadata in {}", data_dir.display()))?;
    let snapshot = out.with_extension("metadata-snapshot");
    let _ = std::fs::remove_file(&snapshot);
    store.snapshot_into(&snapshot).await.context("cannot snapshot the metadata")?;
    berth_handlers::MetadataStore::close(&store).await;
    let blobs = berth_handlers::blob_store::FileBlobStore::open(data_dir)
        .with_context(|| format!("cannot open the blobs in {}", data_dir.display()))?;
    let digests = berth_handlers::blob_store::BlobStore::blobs(&blobs)
        .await
        .context("cannot list the blobs")?;
    let data_dir = data_dir.to_path_buf();
    let out = out.to_path_buf();
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<Moved> {
        let partial = out.with_extension("partial");
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
        tar.append_path_with_name(&snapshot, "metadata.sqlite")?;
        std::fs::remove_file(&snapshot)?;
        let key = data_dir.join(berth_handlers::auth::KEY_FILE);
        if key.exists() {
            tar.append_path_with_name(&key, berth_handlers::auth::KEY_FILE)?;
        }
        let signing = data_dir.join("signing");
        if signing.is_dir() {
            tar.append_dir_all("signing", &signing)?;
        }
        let progress = Progress::new(digests.len() as u64);
        let mut moved = Moved::default();
        for digest in &digests {
            let path = blobs.path(berth_handlers::blob_store::StorePath::Blob(digest));
            let name = blob_entry(digest);
            match std::fs::File::open(&path) {
                Ok(mut file) => {
                    let size = file.metadata()?.len();
                    tar.append_file(&name, &mut file)?;
                    moved.blobs += 1;
                    moved.bytes += size;
                }
                // Collected since it was listed: nothing referenced it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {name}")),
            }
            progress.update("exported", &moved);
        }
        progress.finish();
        let mut writer = tar.into_inner()?;
        writer.flush()?;
        writer.get_ref().sync_all()?;
        std::fs::rename(&partial, &out)?;
        Ok(moved)
    })
    .await??;
    Ok(written)
}

/// The archive name of a blob.
fn blob_entry(digest: &Digest) -> String {
    let algorithm = match digest.algorithm() {
        DigestAlgorithm::Sha256 => "sha256",
        DigestAlgorithm::Sha512 => "sha512",
    };
    let hex = digest.hex();
    format!("blobs/{algorithm}/{}/{hex}", &hex[..2])
}

/// The digest a blob entry names, if the path is one export writes.
fn entry_digest(path: &Path) -> Option<Digest> {
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    let ["blobs", algorithm, prefix, hex] = parts[..] else {
        return None;
    };
    let digest = Digest::parse(&format!("{algorithm}:{hex}")).ok()?;
    (hex.starts_with(prefix) && prefix.len() == 2).then_some(digest)
}

/// Unpacks `archive` into the new data dir `data_dir`, verifying every blob.
pub fn import(archive: &Path, data_dir: &Path) -> anyhow::Result<Moved> {
    if data_dir.exists()
        && std::fs::read_dir(data_dir).map(|mut d| d.next().is_some()).unwrap_or(true)
    {
        bail!("{} is not empty: import writes a new data dir, never over one", data_dir.display());
    }
    let staging = staging_dir(data_dir);
    let _ = std::fs::remove_dir_all(&staging);
    let result = unpack(archive, &staging);
    match result {
        Ok(moved) => {
            let _ = std::fs::remove_dir(data_dir);
            std::fs::rename(&staging, data_dir).with_context(|| {
                format!("cannot move the import into place at {}", data_dir.display())
            })?;
            Ok(moved)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn staging_dir(data_dir: &Path) -> PathBuf {
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    data_dir.with_file_name(format!(".{name}.importing"))
}

fn unpack(archive: &Path, staging: &Path) -> anyhow::Result<Moved> {
    let file = std::fs::File::open(archive)
        .with_context(|| format!("cannot open {}", archive.display()))?;
    let mut tar = tar::Archive::new(std::io::BufReader::new(file));
    std::fs::create_dir_all(staging.join("uploads"))?;
    for algorithm in ["sha256", "sha512"] {
        std::fs::create_dir_all(staging.join("blobs").join(algorithm))?;
    }
    let progress = Progress::new(0);
    let mut moved = Moved::default();
    let mut has_metadata = false;
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        if path.components().any(|c| !matches!(c, Component::Normal(_))) {
            bail!("the archive holds the unsafe path {}", path.display());
        }
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let target = staging.join(&path);
        if let Some(digest) = entry_digest(&path) {
            let size = copy_verified(&mut entry, &target, &digest)?;
            moved.blobs += 1;
            moved.bytes += size;
            progress.update("imported", &moved);
        } else if path == Path::new("metadata.sqlite")
            || path == Path::new(berth_handlers::auth::KEY_FILE)
            || path.starts_with("signing")
        {
            has_metadata |= path == Path::new("metadata.sqlite");
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut out = std::fs::File::create(&target)?;
            std::io::copy(&mut entry, &mut out)?;
            out.sync_all()?;
        } else {
            bail!("the archive holds {}, which berth export never writes", path.display());
        }
    }
    progress.finish();
    if !has_metadata {
        bail!("the archive holds no metadata.sqlite: it is not a berth export");
    }
    Ok(moved)
}

/// Streams one blob to `target`, hashing it; refuses it when its bytes are not its name.
fn copy_verified(entry: &mut impl Read, target: &Path, digest: &Digest) -> anyhow::Result<u64> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = std::fs::File::create(target)?;
    let (mut sha256, mut sha512) = (sha2::Sha256::new(), sha2::Sha512::new());
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = entry.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        match digest.algorithm() {
            DigestAlgorithm::Sha256 => sha256.update(&buffer[..n]),
            DigestAlgorithm::Sha512 => sha512.update(&buffer[..n]),
        }
        out.write_all(&buffer[..n])?;
        size += n as u64;
    }
    let actual = match digest.algorithm() {
        DigestAlgorithm::Sha256 => Digest::from_hasher(sha256),
        DigestAlgorithm::Sha512 => Digest::from_sha512(sha512),
    };
    if &actual != digest {
        bail!("the blob {digest} in the archive is corrupt: its bytes hash to {actual}");
    }
    out.sync_all()?;
    Ok(size)
}
