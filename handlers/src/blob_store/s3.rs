//! Blobs in an S3-compatible object store (`--blobs s3://bucket/prefix`), so that several
//! berth processes share one set of blob bytes.
//!
//! Layout under the prefix: `blobs/<algorithm>/<hex>` for committed blobs, and for each
//! upload `uploads/<id>/created` (an empty marker, so an empty upload exists) plus one
//! object per append, `uploads/<id>/part-<offset, 20 digits>`. OCI chunks can be far smaller
//! than S3's 5 MiB minimum multipart part, and any replica may receive the next PATCH, so an
//! upload is a list of staged objects, not an open multipart upload. An append streams its
//! body to S3 (one PUT when it is small, a multipart upload of [`PART`]-sized parts when
//! not), so nothing is held whole.
//!
//! A commit checks the digest before the blob becomes visible: with the running SHA-256 of
//! this process when it saw every append, else by reading the parts back. One part is then
//! copied inside S3; several are streamed into a multipart upload of the blob, which is
//! completed only once the digest matched (aborted otherwise), so a wrong digest never
//! makes an object under `blobs/`. S3 acknowledges a write once it is durable, so every
//! acknowledged commit survives `kill -9` of any berth process.

use super::{BlobStore, ByteStream, StoreResult};
use crate::digest::{Digest, DigestAlgorithm};
use crate::error::RegistryError;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest as _, Sha256, Sha512};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Size of each multipart part: S3's minimum (5 MiB) and a little more. A large append
/// holds one part being filled and up to [`PARTS_IN_FLIGHT`] being sent, about 18 MiB.
const PART: usize = 6 * 1024 * 1024;

/// Parts of one append sent at once, so that receiving the body and sending to S3 overlap.
const PARTS_IN_FLIGHT: usize = 2;

/// Blob bytes in a bucket, under a prefix.
#[derive(Debug)]
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    /// What presigns download URLs (the S3 client itself; none for other object stores).
    signer: Option<Arc<dyn Signer>>,
    prefix: String,
    /// The SHA-256 of each upload this process has seen every byte of; another replica's
    /// append makes it stale, and the commit then reads the parts back.
    cursors: Mutex<HashMap<String, Cursor>>,
}

#[derive(Debug, Clone)]
struct Cursor {
    hashed: u64,
    hasher: Sha256,
}

/// One staged piece of an upload.
#[derive(Debug)]
struct Part {
    location: Path,
    offset: u64,
    size: u64,
}

impl S3BlobStore {
    /// A store over `store` (an S3 client, or any object store), keeping everything under
    /// `prefix` (may be empty).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        S3BlobStore {
            store,
            signer: None,
            prefix: prefix.trim_matches('/').to_string(),
            cursors: Mutex::new(HashMap::new()),
        }
    }

    /// A store in `bucket` of an S3 service. Credentials come from the usual AWS
    /// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`...), the region
    /// from `region` (else `AWS_REGION`, `AWS_DEFAULT_REGION`); `endpoint` (else
    /// `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`) names an S3-compatible server, addressed
    /// path-style, over plain HTTP when its URL says so.
    pub fn connect(
        bucket: &str, prefix: &str, endpoint: Option<&str>, region: Option<&str>,
    ) -> Result<Self, RegistryError> {
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(false);
        if let Some(region) = region {
            builder = builder.with_region(region);
        }
        let endpoint = endpoint
            .map(str::to_string)
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        if let Some(endpoint) = endpoint {
            builder =
                builder.with_allow_http(endpoint.starts_with("http://")).with_endpoint(endpoint);
        }
        let client = Arc::new(builder.build().map_err(failed)?);
        Ok(S3BlobStore { signer: Some(client.clone()), ..S3BlobStore::new(client, prefix) })
    }

    fn key(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    fn blob_key(&self, digest: &Digest) -> Path {
        self.key(&format!("blobs/{}/{}", digest.algorithm().as_str(), digest.hex()))
    }

    fn upload_dir(&self, id: &str) -> Path {
        self.key(&format!("uploads/{id}"))
    }

    fn marker(&self, id: &str) -> Path {
        self.key(&format!("uploads/{id}/created"))
    }

    fn cursors(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cursor>> {
        self.cursors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The upload's parts in order, `None` when the upload is gone.
    async fn parts(&self, id: &str) -> Result<Option<Vec<Part>>, RegistryError> {
        let listed: Vec<_> =
            self.store.list(Some(&self.upload_dir(id))).try_collect().await.map_err(failed)?;
        let mut exists = false;
        let mut parts = Vec::new();
        for object in listed {
            match object.location.filename() {
                Some("created") => exists = true,
                Some(name) => {
                    if let Some(offset) = name.strip_prefix("part-").and_then(|o| o.parse().ok()) {
                        parts.push(Part { location: object.location, offset, size: object.size });
                    }
                }
                None => {}
            }
        }
        parts.sort_by_key(|p| p.offset);
        let mut end = 0;
        for part in &parts {
            if part.offset != end {
                return Err(RegistryError::Internal(format!(
                    "upload {id} has a gap or overlap at byte {end} in its staged parts"
                )));
            }
            end += part.size;
        }
        Ok(exists.then_some(parts))
    }

    async fn create(&self, id: &str) -> Result<(), RegistryError> {
        self.store.put(&self.marker(id), PutPayload::new()).await.map_err(failed)?;
        self.cursors().insert(id.to_string(), Cursor { hashed: 0, hasher: Sha256::new() });
        Ok(())
    }

    async fn size(&self, id: &str) -> Result<Option<u64>, RegistryError> {
        Ok(self.parts(id).await?.map(|parts| parts.iter().map(|p| p.size).sum()))
    }

    async fn append_body(&self, id: &str, mut body: ByteStream) -> Result<u64, RegistryError> {
        let start = self.size(id).await?.ok_or_else(|| unknown(id))?;
        // This process's running digest if it saw every byte so far; a fresh one when
        // there were none (an upload opened by another replica).
        let known = self.cursors().remove(id).filter(|c| c.hashed == start).map(|c| c.hasher);
        let mut cursor = known.or_else(|| (start == 0).then(Sha256::new));
        let location = self.key(&format!("uploads/{id}/part-{start:020}"));
        let mut writer = PartWriter::default();
        let mut broke = None;
        while let Some(data) = body.next().await {
            match data {
                Ok(data) => {
                    if let Some(hasher) = &mut cursor {
                        hasher.update(&data);
                    }
                    if let Err(e) = writer.push(&*self.store, &location, data).await {
                        writer.abort().await;
                        return Err(e);
                    }
                }
                Err(e) => {
                    broke = Some(e);
                    break;
                }
            }
        }
        // What arrived before a broken body is kept, as on the file store.
        let written = writer.finish(&*self.store, &location).await?;
        let size = start + written;
        if let Some(hasher) = cursor {
            self.cursors().insert(id.to_string(), Cursor { hashed: size, hasher });
        }
        match broke {
            Some(e) => {
                Err(RegistryError::SizeInvalid(format!("the request body ended early: {e}")))
            }
            None => Ok(size),
        }
    }

    async fn commit_upload(&self, id: &str, expected: &Digest) -> Result<u64, RegistryError> {
        let parts = self.parts(id).await?.ok_or_else(|| unknown(id))?;
        let size: u64 = parts.iter().map(|p| p.size).sum();
        let known = match expected.algorithm() {
            DigestAlgorithm::Sha256 => self
                .cursors()
                .get(id)
                .filter(|c| c.hashed == size)
                .map(|c| Digest::from_hasher(c.hasher.clone())),
            DigestAlgorithm::Sha512 => None,
        };
        let target = self.blob_key(expected);
        match (&known, parts.as_slice()) {
            // Checked as it arrived, and in at most one object: one request puts it in place
            // (the same bytes again when the blob exists, rather than a HEAD first).
            (Some(actual), [only]) => {
                check(actual, expected)?;
                self.store.copy(&only.location, &target).await.map_err(failed)?;
            }
            (Some(actual), []) => {
                check(actual, expected)?;
                self.store.put(&target, PutPayload::new()).await.map_err(failed)?;
            }
            _ => {
                let exists = self.stat_blob(expected).await?.is_some();
                match &known {
                    Some(actual) => check(actual, expected)?,
                    // Nothing will be written to check the bytes on the way: read them back.
                    None if exists => {
                        check(&self.hash_parts(&parts, expected.algorithm()).await?, expected)?
                    }
                    None => {}
                }
                if !exists {
                    self.concatenate(&parts, &target, expected, known.is_none()).await?;
                }
            }
        }
        self.remove_listed(id, parts).await?;
        Ok(size)
    }

    /// The digest of the parts' bytes, read back from the store.
    async fn hash_parts(
        &self, parts: &[Part], algorithm: DigestAlgorithm,
    ) -> Result<Digest, RegistryError> {
        let mut hasher = RunningDigest::new(algorithm);
        for part in parts {
            let mut bytes = self.store.get(&part.location).await.map_err(failed)?.into_stream();
            while let Some(data) = bytes.next().await {
                hasher.update(&data.map_err(failed)?);
            }
        }
        Ok(hasher.finish())
    }

    /// Streams the parts into one new object at `target`, hashing them when `verify`; the
    /// object appears only if the digest matched.
    async fn concatenate(
        &self, parts: &[Part], target: &Path, expected: &Digest, verify: bool,
    ) -> Result<(), RegistryError> {
        let mut hasher = RunningDigest::new(expected.algorithm());
        let mut writer = PartWriter::default();
        for part in parts {
            let mut bytes = self.store.get(&part.location).await.map_err(failed)?.into_stream();
            while let Some(data) = bytes.next().await {
                let data = data.map_err(failed)?;
                if verify {
                    hasher.update(&data);
                }
                if let Err(e) = writer.push(&*self.store, target, data).await {
                    writer.abort().await;
                    return Err(e);
                }
            }
        }
        if verify {
            if let Err(e) = check(&hasher.finish(), expected) {
                writer.abort().await;
                return Err(e);
            }
        }
        writer.finish(&*self.store, target).await?;
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<(), RegistryError> {
        self.cursors().remove(id);
        let listed: Vec<_> =
            self.store.list(Some(&self.upload_dir(id))).try_collect().await.map_err(failed)?;
        // The marker goes last: until then the upload still exists and can be removed again.
        let (markers, parts): (Vec<_>, Vec<_>) =
            listed.into_iter().partition(|o| o.location.filename() == Some("created"));
        for object in parts.into_iter().chain(markers) {
            delete_if_present(&*self.store, &object.location).await?;
        }
        Ok(())
    }

    /// Removes a committed upload whose parts were just listed, without listing again. A
    /// part another process appended since (a client that went on after its PUT) outlives
    /// the marker; the start-up sweep removes it, as bytes without a session.
    async fn remove_listed(&self, id: &str, parts: Vec<Part>) -> Result<(), RegistryError> {
        self.cursors().remove(id);
        for part in parts {
            delete_if_present(&*self.store, &part.location).await?;
        }
        delete_if_present(&*self.store, &self.marker(id)).await
    }

    async fn upload_ids(&self) -> Result<Vec<String>, RegistryError> {
        let listed =
            self.store.list_with_delimiter(Some(&self.key("uploads"))).await.map_err(failed)?;
        let mut ids: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn stat_blob(&self, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        match self.store.head(&self.blob_key(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    async fn blob_list(&self) -> Result<Vec<Digest>, RegistryError> {
        let listed: Vec<_> =
            self.store.list(Some(&self.key("blobs"))).try_collect().await.map_err(failed)?;
        let mut digests: Vec<Digest> = listed
            .iter()
            .filter_map(|o| {
                let mut parts: Vec<_> = o.location.parts().collect();
                let hex = parts.pop()?;
                let algorithm = parts.pop()?;
                Digest::parse(&format!("{}:{}", algorithm.as_ref(), hex.as_ref())).ok()
            })
            .collect();
        digests.sort();
        Ok(digests)
    }

    async fn read_blob(
        &self, digest: &Digest, start: u64, length: u64,
    ) -> Result<ByteStream, RegistryError> {
        if length == 0 {
            return Ok(futures_util::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..start + length)),
            ..GetOptions::default()
        };
        let found = self.store.get_opts(&self.blob_key(digest), options).await.map_err(failed)?;
        Ok(found.into_stream().map_err(std::io::Error::other).boxed())
    }
}

impl BlobStore for S3BlobStore {
    fn create_upload<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()> {
        self.create(id).boxed()
    }

    fn upload_size<'a>(&'a self, id: &'a str) -> StoreResult<'a, Option<u64>> {
        self.size(id).boxed()
    }

    fn append<'a>(&'a self, id: &'a str, body: ByteStream) -> StoreResult<'a, u64> {
        self.append_body(id, body).boxed()
    }

    fn commit<'a>(&'a self, id: &'a str, expected: &'a Digest) -> StoreResult<'a, u64> {
        self.commit_upload(id, expected).boxed()
    }

    fn remove_upload<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()> {
        self.remove(id).boxed()
    }

    fn uploads(&self) -> StoreResult<'_, Vec<String>> {
        self.upload_ids().boxed()
    }

    fn stat<'a>(&'a self, digest: &'a Digest) -> StoreResult<'a, Option<u64>> {
        self.stat_blob(digest).boxed()
    }

    fn blobs(&self) -> StoreResult<'_, Vec<Digest>> {
        self.blob_list().boxed()
    }

    fn delete<'a>(&'a self, digest: &'a Digest) -> StoreResult<'a, ()> {
        let key = self.blob_key(digest);
        async move { delete_if_present(&*self.store, &key).await }.boxed()
    }

    fn read<'a>(
        &'a self, digest: &'a Digest, start: u64, length: u64,
    ) -> StoreResult<'a, ByteStream> {
        self.read_blob(digest, start, length).boxed()
    }

    fn download_url<'a>(
        &'a self, digest: &'a Digest, valid_for: std::time::Duration,
    ) -> StoreResult<'a, Option<String>> {
        async move {
            let Some(signer) = &self.signer else { return Ok(None) };
            let url = signer
                .signed_url(reqwest::Method::GET, &self.blob_key(digest), valid_for)
                .await
                .map_err(failed)?;
            Ok(Some(url.to_string()))
        }
        .boxed()
    }
}

/// Writes one object from pieces of unknown total size: gathered into one PUT while they
/// fit in a [`PART`], a multipart upload from then on.
#[derive(Default)]
struct PartWriter {
    gathered: Vec<Bytes>,
    gathered_bytes: usize,
    multipart: Option<WriteMultipart>,
    written: u64,
}

impl PartWriter {
    async fn push(
        &mut self, store: &dyn ObjectStore, location: &Path, data: Bytes,
    ) -> Result<(), RegistryError> {
        self.written += data.len() as u64;
        if self.multipart.is_none() {
            self.gathered_bytes += data.len();
            self.gathered.push(data);
            if self.gathered_bytes < PART {
                return Ok(());
            }
            let upload = store.put_multipart(location).await.map_err(failed)?;
            let mut multipart = WriteMultipart::new_with_chunk_size(upload, PART);
            for piece in self.gathered.drain(..) {
                multipart.put(piece);
            }
            self.gathered_bytes = 0;
            self.multipart = Some(multipart);
        } else if let Some(multipart) = &mut self.multipart {
            multipart.put(data);
        }
        if let Some(multipart) = &mut self.multipart {
            multipart.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(failed)?;
        }
        Ok(())
    }

    /// Makes the object; returns its size. An empty object is written too only when
    /// something was pushed (an empty append leaves no part behind).
    async fn finish(self, store: &dyn ObjectStore, location: &Path) -> Result<u64, RegistryError> {
        match self.multipart {
            Some(multipart) => {
                multipart.finish().await.map_err(failed)?;
            }
            None if self.written > 0 => {
                let payload: PutPayload = self.gathered.into_iter().collect();
                store.put(location, payload).await.map_err(failed)?;
            }
            None => {}
        }
        Ok(self.written)
    }

    /// Drops what was sent: an unfinished multipart upload never becomes an object.
    async fn abort(self) {
        if let Some(multipart) = self.multipart {
            if let Err(e) = multipart.abort().await {
                tracing::warn!(error = %e, "cannot abort a multipart upload; S3 keeps its parts until a bucket lifecycle rule removes them");
            }
        }
    }
}

/// A SHA-256 or SHA-512 being computed.
enum RunningDigest {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl RunningDigest {
    fn new(algorithm: DigestAlgorithm) -> Self {
        match algorithm {
            DigestAlgorithm::Sha256 => RunningDigest::Sha256(Sha256::new()),
            DigestAlgorithm::Sha512 => RunningDigest::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            RunningDigest::Sha256(h) => h.update(data),
            RunningDigest::Sha512(h) => h.update(data),
        }
    }

    fn finish(self) -> Digest {
        match self {
            RunningDigest::Sha256(h) => Digest::from_hasher(h),
            RunningDigest::Sha512(h) => Digest::from_sha512(h),
        }
    }
}

fn check(actual: &Digest, expected: &Digest) -> Result<(), RegistryError> {
    if actual == expected {
        Ok(())
    } else {
        Err(RegistryError::DigestInvalid(format!(
            "The digest of the uploaded content is {actual}, not {expected}"
        )))
    }
}

async fn delete_if_present(store: &dyn ObjectStore, location: &Path) -> Result<(), RegistryError> {
    match store.delete(location).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

fn unknown(id: &str) -> RegistryError {
    RegistryError::UploadUnknown { id: id.into() }
}

fn failed(e: object_store::Error) -> RegistryError {
    RegistryError::Internal(format!("object store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn pieces(total: usize, piece: usize) -> (Vec<u8>, ByteStream) {
        let bytes: Vec<u8> = (0..total).map(|i| (i * 31 % 253) as u8).collect();
        let chunks: Vec<std::io::Result<Bytes>> =
            bytes.chunks(piece).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        (bytes, futures_util::stream::iter(chunks).boxed())
    }

    async fn read_all(store: &S3BlobStore, digest: &Digest, start: u64, length: u64) -> Vec<u8> {
        let chunks: Vec<Bytes> =
            store.read(digest, start, length).await.unwrap().try_collect().await.unwrap();
        chunks.concat()
    }

    /// Two replicas over one bucket: appends alternate, the second commits without the
    /// first's running digest, and a body larger than a part goes up as a multipart upload.
    #[tokio::test]
    async fn appends_on_two_replicas_commit_on_either_after_a_read_back() {
        let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let (one, two) = (S3BlobStore::new(objects.clone(), "p"), S3BlobStore::new(objects, "p"));
        let (first, body) = pieces(PART + PART / 2, 64 * 1024);
        one.create_upload("u").await.unwrap();
        assert_eq!(one.append("u", body).await.unwrap(), first.len() as u64);
        let (second, body) = pieces(1000, 7);
        let total = (first.len() + second.len()) as u64;
        assert_eq!(two.append("u", body).await.unwrap(), total);
        assert_eq!(one.upload_size("u").await.unwrap(), Some(total));

        let whole = [first, second].concat();
        let wrong = Digest::of(b"not these bytes");
        assert!(matches!(one.commit("u", &wrong).await, Err(RegistryError::DigestInvalid(_))));
        assert_eq!(one.stat(&wrong).await.unwrap(), None, "a wrong digest makes no blob");
        assert_eq!(one.blobs().await.unwrap(), Vec::<Digest>::new());
        assert_eq!(two.upload_size("u").await.unwrap(), Some(total), "the upload is kept");

        let digest = Digest::of(&whole);
        assert_eq!(one.commit("u", &digest).await.unwrap(), total);
        assert_eq!(two.stat(&digest).await.unwrap(), Some(total));
        assert_eq!(two.upload_size("u").await.unwrap(), None);
        assert_eq!(two.uploads().await.unwrap(), Vec::<String>::new());
        assert!(read_all(&two, &digest, 0, total).await == whole);
        let start = PART as u64 - 3;
        assert!(read_all(&two, &digest, start, 10).await == whole[start as usize..][..10]);

        // Other bytes claiming the digest of a blob that exists, appended on one replica and
        // committed on the other, are refused too (nothing is written to check them on).
        one.create_upload("v").await.unwrap();
        let (_, body) = pieces(2000, 3);
        one.append("v", body).await.unwrap();
        assert!(matches!(two.commit("v", &digest).await, Err(RegistryError::DigestInvalid(_))));
        assert!(read_all(&two, &digest, 0, total).await == whole, "the blob is untouched");
    }

    #[tokio::test]
    async fn a_sha512_blob_and_an_empty_blob_commit() {
        let store = S3BlobStore::new(Arc::new(InMemory::new()), "");
        store.create_upload("a").await.unwrap();
        let (bytes, body) = pieces(5000, 100);
        store.append("a", body).await.unwrap();
        let digest = Digest::of_with(DigestAlgorithm::Sha512, &bytes);
        assert_eq!(store.commit("a", &digest).await.unwrap(), 5000);
        assert!(read_all(&store, &digest, 0, 5000).await == bytes);

        store.create_upload("b").await.unwrap();
        let empty = Digest::of(b"");
        assert_eq!(store.commit("b", &empty).await.unwrap(), 0);
        assert_eq!(store.stat(&empty).await.unwrap(), Some(0));
        let mut all = vec![digest, empty];
        all.sort();
        assert_eq!(store.blobs().await.unwrap(), all);
    }
}
