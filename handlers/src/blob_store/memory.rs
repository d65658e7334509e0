//! Blobs in memory: for tests (the in-process conformance runs use it), never for data
//! anyone wants to keep. It holds whole blobs in RAM, which the file store never does.

use super::{BlobStore, ByteStream, StoreResult};
use crate::digest::Digest;
use crate::error::RegistryError;
use bytes::Bytes;
use futures_util::{stream, FutureExt, StreamExt};
use std::collections::HashMap;
use std::sync::Mutex;

/// Uploads and blobs in two maps.
#[derive(Debug, Default)]
pub struct MemoryBlobStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    uploads: HashMap<String, Vec<u8>>,
    blobs: HashMap<Digest, Bytes>,
}

impl MemoryBlobStore {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }

    fn unknown(id: &str) -> RegistryError {
        RegistryError::UploadUnknown { id: id.into() }
    }

    async fn append_upload(&self, id: &str, mut body: ByteStream) -> Result<u64, RegistryError> {
        if !self.with(|s| s.uploads.contains_key(id)) {
            return Err(Self::unknown(id));
        }
        let mut broke = None;
        let mut received = Vec::new();
        while let Some(data) = body.next().await {
            match data {
                Ok(data) => received.extend_from_slice(&data),
                Err(e) => {
                    broke = Some(e);
                    break;
                }
            }
        }
        let size = self.with(|s| {
            let upload = s.uploads.get_mut(id).ok_or_else(|| Self::unknown(id))?;
            upload.extend_from_slice(&received);
            Ok::<_, RegistryError>(upload.len() as u64)
        })?;
        match broke {
            Some(e) => {
                Err(RegistryError::SizeInvalid(format!("the request body ended early: {e}")))
            }
            None => Ok(size),
        }
    }

    fn commit_upload(&self, id: &str, expected: &Digest) -> Result<u64, RegistryError> {
        self.with(|s| {
            let upload = s.uploads.get(id).ok_or_else(|| Self::unknown(id))?;
            let actual = Digest::of_with(expected.algorithm(), upload);
            if &actual != expected {
                return Err(RegistryError::DigestInvalid(format!(
                    "The digest of the uploaded content is {actual}, not {expected}"
                )));
            }
            let bytes = s.uploads.remove(id).unwrap_or_default();
            let size = bytes.len() as u64;
            s.blobs.entry(actual).or_insert_with(|| Bytes::from(bytes));
            Ok(size)
        })
    }

    fn read_blob(
        &self, digest: &Digest, start: u64, length: u64,
    ) -> Result<ByteStream, RegistryError> {
        let bytes = self
            .with(|s| s.blobs.get(digest).cloned())
            .ok_or_else(|| RegistryError::Internal(format!("blob {digest} is not in memory")))?;
        let start = (start as usize).min(bytes.len());
        let end = start.saturating_add(length as usize).min(bytes.len());
        Ok(stream::iter(vec![Ok(bytes.slice(start..end))]).boxed())
    }
}

impl BlobStore for MemoryBlobStore {
    fn create_upload<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()> {
        self.with(|s| s.uploads.insert(id.to_string(), Vec::new()));
        futures_util::future::ready(Ok(())).boxed()
    }

    fn upload_size<'a>(&'a self, id: &'a str) -> StoreResult<'a, Option<u64>> {
        let size = self.with(|s| s.uploads.get(id).map(|u| u.len() as u64));
        futures_util::future::ready(Ok(size)).boxed()
    }

    fn append<'a>(&'a self, id: &'a str, body: ByteStream) -> StoreResult<'a, u64> {
        self.append_upload(id, body).boxed()
    }

    fn commit<'a>(&'a self, id: &'a str, expected: &'a Digest) -> StoreResult<'a, u64> {
        futures_util::future::ready(self.commit_upload(id, expected)).boxed()
    }

    fn remove_upload<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()> {
        self.with(|s| s.uploads.remove(id));
        futures_util::future::ready(Ok(())).boxed()
    }

    fn uploads(&self) -> StoreResult<'_, Vec<String>> {
        let ids = self.with(|s| s.uploads.keys().cloned().collect());
        futures_util::future::ready(Ok(ids)).boxed()
    }

    fn stat<'a>(&'a self, digest: &'a Digest) -> StoreResult<'a, Option<u64>> {
        let size = self.with(|s| s.blobs.get(digest).map(|b| b.len() as u64));
        futures_util::future::ready(Ok(size)).boxed()
    }

    fn blobs(&self) -> StoreResult<'_, Vec<Digest>> {
        let mut digests: Vec<Digest> = self.with(|s| s.blobs.keys().cloned().collect());
        digests.sort();
        futures_util::future::ready(Ok(digests)).boxed()
    }

    fn delete<'a>(&'a self, digest: &'a Digest) -> StoreResult<'a, ()> {
        self.with(|s| s.blobs.remove(digest));
        futures_util::future::ready(Ok(())).boxed()
    }

    fn read<'a>(
        &'a self, digest: &'a Digest, start: u64, length: u64,
    ) -> StoreResult<'a, ByteStream> {
        futures_util::future::ready(self.read_blob(digest, start, length)).boxed()
    }
}
