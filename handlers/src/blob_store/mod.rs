//! Where blob bytes live: the `BlobStore` seam, and its implementations.
//!
//! The registry core decides what is visible where (that is metadata); a `BlobStore` only
//! keeps bytes: uploads that grow by streamed appends while the store keeps their running
//! SHA-256, commits that verify that digest before the blob becomes readable, and ranged
//! reads. Blobs are content-addressed and shared by every repository and registry, so
//! linking a blob into a repository touches no bytes.
//!
//! [`FileBlobStore`] (files under the data dir) is the default; [`MemoryBlobStore`] keeps
//! bytes in memory for the in-process conformance runs, and shows that the core needs
//! nothing else from a store.

mod filesystem;
#[cfg(target_os = "linux")]
mod mapped_chunk;
mod memory;
mod s3;

pub use filesystem::{FileBlobStore, StorePath};
pub use memory::MemoryBlobStore;
pub use s3::S3BlobStore;

use crate::digest::Digest;
use crate::error::RegistryError;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

/// Bytes streamed into or out of a store. An error on the way in means the client's body
/// broke off; on the way out, that the store failed mid-read.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// What a store answers: a value, or berth's own fault (`RegistryError::Internal`), or
/// the few client-caused errors named on each method.
pub type StoreResult<'a, T> = BoxFuture<'a, Result<T, RegistryError>>;

/// Blob bytes behind the registry core. Calls for one upload id never overlap: the core
/// holds that upload's lock around each.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Starts an empty upload.
    fn create_upload<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()>;

    /// Bytes received so far; `None` when the upload is gone.
    fn upload_size<'a>(&'a self, id: &'a str) -> StoreResult<'a, Option<u64>>;

    /// Streams `body` onto the end of the upload, hashing as it goes; returns the new size.
    /// What arrived before a broken body is kept (SizeInvalid); UploadUnknown when gone.
    fn append<'a>(&'a self, id: &'a str, body: ByteStream) -> StoreResult<'a, u64>;

    /// Makes the upload the blob `expected` and returns its size, durably before it
    /// answers; DigestInvalid (upload kept) when the bytes hash to something else. When
    /// the blob already exists the upload is dropped.
    fn commit<'a>(&'a self, id: &'a str, expected: &'a Digest) -> StoreResult<'a, u64>;

    /// Drops an upload (a missing one is fine).
    fn remove_upload<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()>;

    /// Every upload the store holds, for removing those no session knows of.
    fn uploads(&self) -> StoreResult<'_, Vec<String>>;

    /// The size of a committed blob, `None` when the store does not have it.
    fn stat<'a>(&'a self, digest: &'a Digest) -> StoreResult<'a, Option<u64>>;

    /// Every committed blob, for garbage collection to compare with what is referenced.
    fn blobs(&self) -> StoreResult<'_, Vec<Digest>>;

    /// Removes a committed blob (a missing one is fine); garbage collection only.
    fn delete<'a>(&'a self, digest: &'a Digest) -> StoreResult<'a, ()>;

    /// `length` bytes of a committed blob from `start` (the caller checked both against
    /// the blob's recorded size).
    fn read<'a>(
        &'a self, digest: &'a Digest, start: u64, length: u64,
    ) -> StoreResult<'a, ByteStream>;

    /// A URL where anyone holding it can GET the committed blob for `valid_for` (a
    /// presigned object storage URL, which `--blob-redirect` sends clients to, as ECR sends
    /// them to S3); `None` when the store has no such URL (files, memory).
    fn download_url<'a>(
        &'a self, _digest: &'a Digest, _valid_for: std::time::Duration,
    ) -> StoreResult<'a, Option<String>> {
        Box::pin(async { Ok(None) })
    }
}

#[cfg(test)]
mod contract_tests {
    //! The same checks for every implementation.
    use super::*;
    use futures_util::{stream, StreamExt};

    fn body(parts: &[&'static [u8]]) -> ByteStream {
        let parts: Vec<std::io::Result<Bytes>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        stream::iter(parts).boxed()
    }

    async fn read_all(store: &dyn BlobStore, digest: &Digest, start: u64, length: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut reader = store.read(digest, start, length).await.unwrap();
        while let Some(chunk) = reader.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    async fn contract(store: &dyn BlobStore) {
        store.create_upload("u1").await.unwrap();
        assert_eq!(store.upload_size("u1").await.unwrap(), Some(0));
        assert_eq!(store.append("u1", body(&[b"hello "])).await.unwrap(), 6);
        assert_eq!(store.append("u1", body(&[b"wor", b"ld"])).await.unwrap(), 11);
        assert_eq!(store.uploads().await.unwrap(), vec!["u1".to_string()]);

        let wrong = Digest::of(b"other");
        assert!(matches!(store.commit("u1", &wrong).await, Err(RegistryError::DigestInvalid(_))));
        assert_eq!(store.upload_size("u1").await.unwrap(), Some(11));
        let digest = Digest::of(b"hello world");
        assert_eq!(store.commit("u1", &digest).await.unwrap(), 11);
        assert_eq!(store.upload_size("u1").await.unwrap(), None);
        assert_eq!(read_all(store, &digest, 0, 11).await, b"hello world");
        assert_eq!(read_all(store, &digest, 6, 3).await, b"wor");
        assert_eq!(store.stat(&digest).await.unwrap(), Some(11));
        assert_eq!(store.stat(&wrong).await.unwrap(), None);
        assert_eq!(store.blobs().await.unwrap(), vec![digest.clone()]);

        // A broken body keeps what arrived.
        store.create_upload("u2").await.unwrap();
        let broken: ByteStream =
            stream::iter(vec![Ok(Bytes::from_static(b"abc")), Err(std::io::Error::other("reset"))])
                .boxed();
        assert!(matches!(store.append("u2", broken).await, Err(RegistryError::SizeInvalid(_))));
        assert_eq!(store.upload_size("u2").await.unwrap(), Some(3));
        assert_eq!(store.append("u2", body(&[b"d"])).await.unwrap(), 4);
        store.remove_upload("u2").await.unwrap();
        store.remove_upload("u2").await.unwrap();
        assert_eq!(store.upload_size("u2").await.unwrap(), None);
        assert!(matches!(
            store.append("u2", body(&[b"x"])).await,
            Err(RegistryError::UploadUnknown { .. })
        ));

        store.delete(&digest).await.unwrap();
        store.delete(&digest).await.unwrap();
        assert_eq!(store.stat(&digest).await.unwrap(), None);
        assert_eq!(store.blobs().await.unwrap(), Vec::<Digest>::new());
    }

    #[tokio::test]
    async fn file_store_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        contract(&FileBlobStore::open(dir.path()).unwrap()).await;
    }

    #[tokio::test]
    async fn s3_store_keeps_the_contract() {
        // The object store's own in-memory implementation; server/tests/e2e_s3.rs runs
        // the same store against a real S3 server.
        let objects = std::sync::Arc::new(object_store::memory::InMemory::new());
        contract(&S3BlobStore::new(objects, "berth/")).await;
    }

    #[tokio::test]
    async fn memory_store_keeps_the_contract() {
        contract(&MemoryBlobStore::default()).await;
    }
}
