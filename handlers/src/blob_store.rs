//! Content-addressed blob files under the data dir, and the upload files they are made from.
//!
//! Layout (every path comes from [`BlobStore::path`]):
//! `blobs/sha256/<2 hex>/<hex>` for committed blobs, `uploads/<id>` for sessions.
//! Uploads stream to disk while a SHA-256 is updated incrementally; a commit checks the
//! digest, fsyncs, and renames into place. A blob is never held whole in memory.

use crate::block_writer::{BlockWriter, BLOCK};
use crate::digest::Digest;
use crate::error::RegistryError;
use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use tokio::fs::{self, File};
use tokio::io::AsyncReadExt;

/// A place in the store.
#[derive(Debug, Clone, Copy)]
pub enum StorePath<'a> {
    Blob(&'a Digest),
    Upload(&'a str),
}

/// The blob files of the whole data dir.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// How far an upload file has been hashed.
#[derive(Debug, Clone)]
pub struct HashCursor {
    pub hashed: u64,
    pub hasher: Sha256,
}

impl Default for HashCursor {
    fn default() -> Self {
        HashCursor {
            hashed: 0,
            hasher: Sha256::new(),
        }
    }
}

fn io(context: &str, path: &Path, e: std::io::Error) -> RegistryError {
    RegistryError::Internal(format!("{context} {}: {e}", path.display()))
}

impl BlobStore {
    /// The store under `data_dir`, creating its folders.
    pub fn open(data_dir: &Path) -> Result<Self, RegistryError> {
        let store = BlobStore {
            root: data_dir.to_path_buf(),
        };
        for dir in ["blobs/sha256", "uploads"] {
            let path = store.root.join(dir);
            std::fs::create_dir_all(&path).map_err(|e| io("cannot create", &path, e))?;
        }
        Ok(store)
    }

    /// The one function that maps store places to files.
    pub fn path(&self, place: StorePath) -> PathBuf {
        match place {
            StorePath::Blob(d) => self
                .root
                .join("blobs/sha256")
                .join(&d.hex()[..2])
                .join(d.hex()),
            StorePath::Upload(id) => self.root.join("uploads").join(id),
        }
    }

    /// Creates the empty file of a new upload.
    pub async fn create_upload(&self, id: &str) -> Result<(), RegistryError> {
        let path = self.path(StorePath::Upload(id));
        File::create(&path)
            .await
            .map_err(|e| io("cannot create", &path, e))?;
        Ok(())
    }

    /// Bytes received so far by an upload; `None` when its file is gone.
    pub async fn upload_size(&self, id: &str) -> Result<Option<u64>, RegistryError> {
        let path = self.path(StorePath::Upload(id));
        match fs::metadata(&path).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot stat", &path, e)),
        }
    }

    /// Brings `cursor` up to the end of the upload file (after a restart it starts at 0).
    pub async fn catch_up(&self, id: &str, cursor: &mut HashCursor) -> Result<(), RegistryError> {
        let path = self.path(StorePath::Upload(id));
        let size = self
            .upload_size(id)
            .await?
            .ok_or_else(|| RegistryError::UploadUnknown { id: id.into() })?;
        if cursor.hashed == size {
            return Ok(());
        }
        if cursor.hashed > size {
            *cursor = HashCursor::default();
        }
        let mut file = File::open(&path)
            .await
            .map_err(|e| io("cannot open", &path, e))?;
        if cursor.hashed > 0 {
            use tokio::io::AsyncSeekExt;
            file.seek(std::io::SeekFrom::Start(cursor.hashed))
                .await
                .map_err(|e| io("cannot seek", &path, e))?;
        }
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut buffer)
                .await
                .map_err(|e| io("cannot read", &path, e))?;
            if n == 0 {
                break;
            }
            cursor.hasher.update(&buffer[..n]);
            cursor.hashed += n as u64;
        }
        Ok(())
    }

    /// Streams `body` onto the end of the upload, hashing as it goes. `cursor` must be
    /// caught up. The bytes are flushed to the OS before this returns. Returns the new size.
    pub async fn append<B>(
        &self,
        id: &str,
        cursor: &mut HashCursor,
        mut body: B,
    ) -> Result<u64, RegistryError>
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let path = self.path(StorePath::Upload(id));
        let mut writer = BlockWriter::open_append(&path).await?;
        let mut block = Vec::with_capacity(BLOCK);
        let mut result = Ok(());
        while let Some(frame) = body.frame().await {
            let data = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
                Err(e) => {
                    result = Err(RegistryError::SizeInvalid(format!(
                        "the request body ended early: {e}"
                    )));
                    break;
                }
            };
            cursor.hasher.update(&data);
            cursor.hashed += data.len() as u64;
            block.extend_from_slice(&data);
            if block.len() >= BLOCK {
                block = writer.write(block).await?;
            }
        }
        // What was received and hashed is written even when the body broke off, so the
        // file and the hash cursor stay in step.
        if !block.is_empty() {
            writer.write(block).await?;
        }
        writer.finish().await?;
        result.map(|()| cursor.hashed)
    }

    /// Turns a finished upload into the blob `digest`: checks the hash, fsyncs, renames.
    /// When the blob already exists the upload file is just removed.
    pub async fn commit(
        &self,
        id: &str,
        cursor: HashCursor,
        expected: &Digest,
    ) -> Result<u64, RegistryError> {
        let size = cursor.hashed;
        let actual = Digest::from_hasher(cursor.hasher);
        if &actual != expected {
            return Err(RegistryError::DigestInvalid(format!(
                "The digest of the uploaded content is {actual}, not {expected}"
            )));
        }
        let upload = self.path(StorePath::Upload(id));
        let blob = self.path(StorePath::Blob(expected));
        if fs::try_exists(&blob).await.unwrap_or(false) {
            self.remove_upload(id).await?;
            return Ok(size);
        }
        let file = File::open(&upload)
            .await
            .map_err(|e| io("cannot open", &upload, e))?;
        file.sync_all()
            .await
            .map_err(|e| io("cannot fsync", &upload, e))?;
        let dir = blob.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir)
            .await
            .map_err(|e| io("cannot create", &dir, e))?;
        fs::rename(&upload, &blob)
            .await
            .map_err(|e| io("cannot rename into", &blob, e))?;
        sync_dir(&dir).await?;
        Ok(size)
    }

    /// Removes an upload's file (missing is fine).
    pub async fn remove_upload(&self, id: &str) -> Result<(), RegistryError> {
        let path = self.path(StorePath::Upload(id));
        match fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("cannot remove", &path, e)),
        }
    }

    /// Opens a committed blob for reading.
    pub async fn open_blob(&self, digest: &Digest) -> Result<File, RegistryError> {
        let path = self.path(StorePath::Blob(digest));
        File::open(&path)
            .await
            .map_err(|e| io("cannot open", &path, e))
    }

    /// Upload files without a session (left by a crash between the two), for cleanup.
    pub async fn upload_files(&self) -> Result<Vec<String>, RegistryError> {
        let dir = self.root.join("uploads");
        let mut entries = fs::read_dir(&dir)
            .await
            .map_err(|e| io("cannot list", &dir, e))?;
        let mut ids = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io("cannot list", &dir, e))?
        {
            if let Some(name) = entry.file_name().to_str() {
                ids.push(name.to_string());
            }
        }
        Ok(ids)
    }
}

async fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    let d = File::open(dir)
        .await
        .map_err(|e| io("cannot open", dir, e))?;
    d.sync_all().await.map_err(|e| io("cannot fsync", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[tokio::test]
    async fn upload_append_resume_and_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        store.create_upload("u1").await.unwrap();
        let mut cursor = HashCursor::default();
        store
            .append("u1", &mut cursor, Full::new(Bytes::from_static(b"hello ")))
            .await
            .unwrap();
        // A restart loses the cursor: catching up rehashes what is on disk.
        let mut cursor = HashCursor::default();
        store.catch_up("u1", &mut cursor).await.unwrap();
        let size = store
            .append("u1", &mut cursor, Full::new(Bytes::from_static(b"world")))
            .await
            .unwrap();
        assert_eq!(size, 11);
        let digest = Digest::of(b"hello world");
        let wrong = Digest::of(b"other");
        assert!(matches!(
            store.commit("u1", cursor.clone(), &wrong).await,
            Err(RegistryError::DigestInvalid(_))
        ));
        assert_eq!(store.commit("u1", cursor, &digest).await.unwrap(), 11);
        let mut text = String::new();
        store
            .open_blob(&digest)
            .await
            .unwrap()
            .read_to_string(&mut text)
            .await
            .unwrap();
        assert_eq!(text, "hello world");
        assert_eq!(store.upload_size("u1").await.unwrap(), None);
        assert!(store.path(StorePath::Blob(&digest)).ends_with(format!(
            "blobs/sha256/{}/{}",
            &digest.hex()[..2],
            digest.hex()
        )));
    }
}
