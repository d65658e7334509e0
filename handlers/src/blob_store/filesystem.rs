//! Blob files under the data dir, and the upload files they are made from.
//!
//! Layout (every path comes from [`FileBlobStore::path`]):
//! `blobs/sha256/<2 hex>/<hex>` for committed blobs, `uploads/<id>` for sessions.
//! Uploads stream to disk while a SHA-256 is updated incrementally; a commit checks the
//! digest, fsyncs, and renames into place. A blob is never held whole in memory.

use super::{BlobStore, ByteStream, StoreResult};
use crate::block_writer::{BlockWriter, BLOCK};
use crate::digest::{Digest, DigestAlgorithm};
use crate::error::RegistryError;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::fs::{self, File};
use tokio::io::AsyncReadExt;

/// Size of each mapped piece when streaming a blob out: small enough that a slow reader
/// pins little (READ_AHEAD of them), large enough to keep the channel quiet. Mapped pieces
/// (Linux) pulled at 3.4-3.5 GB/s where 256 KiB read into buffers gave 1.6-2.2 and 1 MiB
/// buffers 1.2-1.8 (a buffer is one more copy, and out of the CPU's cache when sent).
const READ_CHUNK: usize = 256 * 1024;

/// Chunks read ahead of the consumer.
const READ_AHEAD: usize = 8;

/// A place in the store.
#[derive(Debug, Clone, Copy)]
pub enum StorePath<'a> {
    Blob(&'a Digest),
    Upload(&'a str),
}

/// The blob files of the whole data dir.
#[derive(Debug)]
pub struct FileBlobStore {
    root: PathBuf,
    /// Incremental SHA-256 of each open upload; lost on restart and rebuilt from its file.
    cursors: Mutex<HashMap<String, HashCursor>>,
    /// Appends streaming now; they share [`BUFFERED_BYTES`] between them.
    appending: std::sync::atomic::AtomicUsize,
}

/// Bytes all running appends may hold in their blocks together (twice this, counting the
/// block being written while the next fills): a thousand uploads at once then cost tens
/// of MiB, not a block each. A few uploads still get whole [`BLOCK`]s.
const BUFFERED_BYTES: usize = 32 * 1024 * 1024;

/// How long a body may send nothing before its append writes out and frees its buffers.
const QUIET: std::time::Duration = std::time::Duration::from_millis(100);

/// The smallest block, so that many uploads at once still write in sizeable pieces.
const MIN_BLOCK: usize = 32 * 1024;

/// Counts one running append while held.
struct Appending<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Appending<'a> {
    fn start(count: &'a std::sync::atomic::AtomicUsize) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Appending(count)
    }

    /// This append's share of the buffer budget.
    fn block_size(&self) -> usize {
        let running = self.0.load(std::sync::atomic::Ordering::Relaxed).max(1);
        (BUFFERED_BYTES / running).clamp(MIN_BLOCK, BLOCK)
    }
}

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How far an upload file has been hashed.
#[derive(Debug, Clone)]
struct HashCursor {
    hashed: u64,
    hasher: Sha256,
}

impl Default for HashCursor {
    fn default() -> Self {
        HashCursor { hashed: 0, hasher: Sha256::new() }
    }
}

fn io(context: &str, path: &Path, e: std::io::Error) -> RegistryError {
    RegistryError::from_io(format!("{context} {}", path.display()), &e)
}

impl FileBlobStore {
    /// The store under `data_dir`, creating its folders.
    pub fn open(data_dir: &Path) -> Result<Self, RegistryError> {
        let store = FileBlobStore {
            root: data_dir.to_path_buf(),
            cursors: Mutex::new(HashMap::new()),
            appending: Default::default(),
        };
        for dir in ["blobs/sha256", "blobs/sha512", "uploads"] {
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
                .join("blobs")
                .join(d.algorithm().as_str())
                .join(&d.hex()[..2])
                .join(d.hex()),
            StorePath::Upload(id) => self.root.join("uploads").join(id),
        }
    }

    /// The upload's cursor, taken out of the map while a call works with it.
    fn take_cursor(&self, id: &str) -> HashCursor {
        let mut cursors = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        cursors.remove(id).unwrap_or_default()
    }

    fn put_cursor(&self, id: &str, cursor: HashCursor) {
        let mut cursors = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        cursors.insert(id.to_string(), cursor);
    }

    async fn size_of_upload(&self, id: &str) -> Result<Option<u64>, RegistryError> {
        file_size(&self.path(StorePath::Upload(id))).await
    }

    /// Brings `cursor` up to the end of the upload file (after a restart it starts at 0).
    async fn catch_up(&self, id: &str, cursor: &mut HashCursor) -> Result<(), RegistryError> {
        let path = self.path(StorePath::Upload(id));
        let size = self
            .size_of_upload(id)
            .await?
            .ok_or_else(|| RegistryError::UploadUnknown { id: id.into() })?;
        if cursor.hashed == size {
            return Ok(());
        }
        if cursor.hashed > size {
            *cursor = HashCursor::default();
        }
        let hasher = &mut cursor.hasher;
        cursor.hashed += read_from(&path, cursor.hashed, |chunk| hasher.update(chunk)).await?;
        Ok(())
    }

    /// Streams `body` onto the end of the upload, hashing as it goes. `cursor` must be
    /// caught up. The bytes are flushed to the OS before this returns.
    async fn append_caught_up(
        &self, id: &str, cursor: &mut HashCursor, mut body: ByteStream,
    ) -> Result<u64, RegistryError> {
        let path = self.path(StorePath::Upload(id));
        let mut writer = BlockWriter::open_append(&path).await?;
        let appending = Appending::start(&self.appending);
        let mut block = Vec::with_capacity(appending.block_size());
        let mut result = Ok(());
        loop {
            let next = match tokio::time::timeout(QUIET, body.next()).await {
                Ok(next) => next,
                Err(_) => {
                    // A slow or stalled client: write what is held and free the buffers
                    // while it is quiet (a thousand of them must not hold a block each).
                    writer.write_and_release(std::mem::take(&mut block)).await?;
                    body.next().await
                }
            };
            let Some(data) = next else { break };
            let data = match data {
                Ok(data) => data,
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
            let block_size = appending.block_size();
            if block.len() >= block_size {
                block = writer.write(block).await?;
                if block.capacity() > 2 * block_size {
                    // More uploads started since: give the large buffer back.
                    block = Vec::with_capacity(block_size);
                }
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

    async fn append_upload(&self, id: &str, body: ByteStream) -> Result<u64, RegistryError> {
        let mut cursor = self.take_cursor(id);
        self.catch_up(id, &mut cursor).await?;
        let result = self.append_caught_up(id, &mut cursor, body).await;
        self.put_cursor(id, cursor);
        result
    }

    /// Turns a finished upload into the blob `expected`: checks the hash, fsyncs, renames.
    /// When the blob already exists the upload file is just removed.
    async fn commit_upload(&self, id: &str, expected: &Digest) -> Result<u64, RegistryError> {
        let mut cursor = self.take_cursor(id);
        self.catch_up(id, &mut cursor).await?;
        let size = cursor.hashed;
        let actual = match expected.algorithm() {
            DigestAlgorithm::Sha256 => Digest::from_hasher(cursor.hasher.clone()),
            DigestAlgorithm::Sha512 => match self.sha512_of_upload(id).await {
                Ok(digest) => digest,
                Err(e) => {
                    self.put_cursor(id, cursor);
                    return Err(e);
                }
            },
        };
        if &actual != expected {
            self.put_cursor(id, cursor);
            return Err(RegistryError::DigestInvalid(format!(
                "The digest of the uploaded content is {actual}, not {expected}"
            )));
        }
        let upload = self.path(StorePath::Upload(id));
        let blob = self.path(StorePath::Blob(expected));
        if fs::try_exists(&blob).await.unwrap_or(false) {
            self.delete_upload(id).await?;
            return Ok(size);
        }
        let file = File::open(&upload).await.map_err(|e| io("cannot open", &upload, e))?;
        file.sync_all().await.map_err(|e| io("cannot fsync", &upload, e))?;
        let dir = blob.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).await.map_err(|e| io("cannot create", &dir, e))?;
        fs::rename(&upload, &blob).await.map_err(|e| io("cannot rename into", &blob, e))?;
        sync_dir(&dir).await?;
        Ok(size)
    }

    /// Removes an upload's file (missing is fine) and its cursor.
    async fn delete_upload(&self, id: &str) -> Result<(), RegistryError> {
        self.take_cursor(id);
        remove_file(&self.path(StorePath::Upload(id))).await
    }

    async fn upload_files(&self) -> Result<Vec<String>, RegistryError> {
        list_dir(&self.root.join("uploads")).await
    }

    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        file_size(&self.path(StorePath::Blob(digest))).await
    }

    /// Every file under `blobs/<algorithm>/<2 hex>/` whose name is a digest, sorted.
    async fn blob_files(&self) -> Result<Vec<Digest>, RegistryError> {
        let mut digests = Vec::new();
        for algorithm in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
            let root = self.root.join("blobs").join(algorithm.as_str());
            if !fs::try_exists(&root).await.unwrap_or(false) {
                continue;
            }
            for dir in list_dir(&root).await? {
                for name in list_dir(&root.join(&dir)).await? {
                    if let Ok(digest) = Digest::parse(&format!("{}:{name}", algorithm.as_str())) {
                        digests.push(digest);
                    }
                }
            }
        }
        digests.sort();
        Ok(digests)
    }

    /// The sha512 of an upload's file, read in pieces (uploads hash sha256 as they grow;
    /// a sha512 blob, rare, is hashed once more at its commit).
    async fn sha512_of_upload(&self, id: &str) -> Result<Digest, RegistryError> {
        let mut hasher = sha2::Sha512::new();
        read_from(&self.path(StorePath::Upload(id)), 0, |chunk| hasher.update(chunk)).await?;
        Ok(Digest::from_sha512(hasher))
    }

    async fn delete_blob(&self, digest: &Digest) -> Result<(), RegistryError> {
        remove_file(&self.path(StorePath::Blob(digest))).await
    }

    async fn read_blob(
        &self, digest: &Digest, start: u64, length: u64,
    ) -> Result<ByteStream, RegistryError> {
        let path = self.path(StorePath::Blob(digest));
        let file = File::open(&path).await.map_err(|e| io("cannot open", &path, e))?;
        Ok(stream_file(file.into_std().await, start, length))
    }
}

impl BlobStore for FileBlobStore {
    fn create_upload<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()> {
        async move {
            let path = self.path(StorePath::Upload(id));
            File::create(&path).await.map_err(|e| io("cannot create", &path, e))?;
            Ok(())
        }
        .boxed()
    }

    fn upload_size<'a>(&'a self, id: &'a str) -> StoreResult<'a, Option<u64>> {
        self.size_of_upload(id).boxed()
    }

    fn append<'a>(&'a self, id: &'a str, body: ByteStream) -> StoreResult<'a, u64> {
        self.append_upload(id, body).boxed()
    }

    fn commit<'a>(&'a self, id: &'a str, expected: &'a Digest) -> StoreResult<'a, u64> {
        self.commit_upload(id, expected).boxed()
    }

    fn remove_upload<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()> {
        self.delete_upload(id).boxed()
    }

    fn uploads(&self) -> StoreResult<'_, Vec<String>> {
        self.upload_files().boxed()
    }

    fn stat<'a>(&'a self, digest: &'a Digest) -> StoreResult<'a, Option<u64>> {
        self.blob_size(digest).boxed()
    }

    fn blobs(&self) -> StoreResult<'_, Vec<Digest>> {
        self.blob_files().boxed()
    }

    fn delete<'a>(&'a self, digest: &'a Digest) -> StoreResult<'a, ()> {
        self.delete_blob(digest).boxed()
    }

    fn read<'a>(
        &'a self, digest: &'a Digest, start: u64, length: u64,
    ) -> StoreResult<'a, ByteStream> {
        self.read_blob(digest, start, length).boxed()
    }
}

/// The size of a file, `None` when there is none.
async fn file_size(path: &Path) -> Result<Option<u64>, RegistryError> {
    match fs::metadata(path).await {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("cannot stat", path, e)),
    }
}

/// Removes a file; one that is already gone is fine.
async fn remove_file(path: &Path) -> Result<(), RegistryError> {
    match fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("cannot remove", path, e)),
    }
}

/// The names in a folder (UTF-8 ones; berth writes no others).
async fn list_dir(dir: &Path) -> Result<Vec<String>, RegistryError> {
    let mut entries = fs::read_dir(dir).await.map_err(|e| io("cannot list", dir, e))?;
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(|e| io("cannot list", dir, e))? {
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// Streams `length` bytes from `start`: a blocking task maps (Linux) or reads ahead in
/// chunks while the consumer sends the previous ones (disk reads and socket writes overlap).
fn stream_file(file: std::fs::File, start: u64, length: u64) -> ByteStream {
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut reader = ChunkReader::new(file, start, length);
        let mut left = length;
        while left > 0 {
            let n = left.min(READ_CHUNK as u64) as usize;
            let read = reader.next(n);
            let failed = read.is_err();
            // A closed channel means the consumer went away: stop reading.
            if sender.blocking_send(read).is_err() || failed {
                return;
            }
            left -= n as u64;
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
    .boxed()
}

/// Hands out a blob file's bytes chunk by chunk, in order.
struct ChunkReader {
    file: std::fs::File,
    position: u64,
    /// The file is known to hold every byte asked for (checked once, up front).
    complete: std::io::Result<()>,
}

impl ChunkReader {
    fn new(file: std::fs::File, start: u64, length: u64) -> Self {
        let complete = match file.metadata() {
            Ok(m) if m.len() >= start.saturating_add(length) => Ok(()),
            Ok(m) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the blob file holds {} bytes, {} were asked for", m.len(), start + length),
            )),
            Err(e) => Err(e),
        };
        ChunkReader { file, position: start, complete }
    }

    /// The next `n` bytes.
    fn next(&mut self, n: usize) -> std::io::Result<Bytes> {
        if let Err(e) = &self.complete {
            return Err(std::io::Error::new(e.kind(), e.to_string()));
        }
        let chunk = self.chunk(n)?;
        self.position += n as u64;
        Ok(chunk)
    }

    /// Mapped: the socket write is then the only copy of the bytes.
    #[cfg(target_os = "linux")]
    fn chunk(&mut self, n: usize) -> std::io::Result<Bytes> {
        super::mapped_chunk::MappedChunk::map(&self.file, self.position, n).map(Bytes::from_owner)
    }

    #[cfg(not(target_os = "linux"))]
    fn chunk(&mut self, n: usize) -> std::io::Result<Bytes> {
        self.file.seek(std::io::SeekFrom::Start(self.position))?;
        let mut chunk = Vec::with_capacity(n);
        (&mut self.file).take(n as u64).read_to_end(&mut chunk)?;
        if chunk.len() < n {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Bytes::from(chunk))
    }
}

async fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    let d = File::open(dir).await.map_err(|e| io("cannot open", dir, e))?;
    d.sync_all().await.map_err(|e| io("cannot fsync", dir, e))
}

/// Reads `path` from `start` to its end in pieces, handing each to `each`; the bytes read.
async fn read_from(
    path: &Path, start: u64, mut each: impl FnMut(&[u8]),
) -> Result<u64, RegistryError> {
    let mut file = File::open(path).await.map_err(|e| io("cannot open", path, e))?;
    if start > 0 {
        use tokio::io::AsyncSeekExt;
        file.seek(std::io::SeekFrom::Start(start)).await.map_err(|e| io("cannot seek", path, e))?;
    }
    let mut buffer = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buffer).await.map_err(|e| io("cannot read", path, e))?;
        if n == 0 {
            return Ok(read);
        }
        each(&buffer[..n]);
        read += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn body(bytes: &'static [u8]) -> ByteStream {
        stream::iter(vec![Ok(Bytes::from_static(bytes))]).boxed()
    }

    #[tokio::test]
    async fn a_restart_rehashes_the_upload_file_and_blobs_land_at_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::open(dir.path()).unwrap();
        store.create_upload("u1").await.unwrap();
        store.append("u1", body(b"hello ")).await.unwrap();
        // A restart loses the cursor: the next call rehashes what is on disk.
        let store = FileBlobStore::open(dir.path()).unwrap();
        assert_eq!(store.append("u1", body(b"world")).await.unwrap(), 11);
        let digest = Digest::of(b"hello world");
        assert_eq!(store.commit("u1", &digest).await.unwrap(), 11);
        let path = store.path(StorePath::Blob(&digest));
        assert!(path.ends_with(format!("blobs/sha256/{}/{}", &digest.hex()[..2], digest.hex())));
        assert_eq!(std::fs::read(path).unwrap(), b"hello world");
    }

    /// A committed blob of `size` pseudo-random bytes, spanning several read chunks.
    async fn committed(store: &FileBlobStore, size: usize) -> (Digest, Vec<u8>) {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 7919 % 251) as u8).collect();
        store.create_upload("big").await.unwrap();
        let stream = stream::iter(vec![Ok(Bytes::from(bytes.clone()))]).boxed();
        store.append("big", stream).await.unwrap();
        let digest = Digest::of(&bytes);
        store.commit("big", &digest).await.unwrap();
        (digest, bytes)
    }

    async fn read_all(stream: ByteStream) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut stream = stream;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn ranges_that_start_off_a_page_and_cross_chunks_read_exactly_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::open(dir.path()).unwrap();
        let (digest, bytes) = committed(&store, 3 * READ_CHUNK + 12345).await;
        for (start, length) in [(0, bytes.len()), (4097, 2 * READ_CHUNK + 3), (bytes.len() - 1, 1)]
        {
            let read = store.read(&digest, start as u64, length as u64).await.unwrap();
            assert_eq!(read_all(read).await.unwrap(), &bytes[start..start + length], "{start}");
        }
    }

    #[tokio::test]
    async fn a_blob_deleted_during_a_read_is_still_read_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::open(dir.path()).unwrap();
        let (digest, bytes) = committed(&store, (READ_AHEAD + 4) * READ_CHUNK).await;
        let mut read = store.read(&digest, 0, bytes.len() as u64).await.unwrap();
        let first = read.next().await.unwrap().unwrap();
        store.delete(&digest).await.unwrap();
        assert_eq!(store.stat(&digest).await.unwrap(), None);
        let mut got = first.to_vec();
        got.extend(read_all(read).await.unwrap());
        assert!(got == bytes, "the read after the delete differs");
    }

    #[tokio::test]
    async fn a_blob_file_shorter_than_its_record_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::open(dir.path()).unwrap();
        let (digest, bytes) = committed(&store, 2 * READ_CHUNK).await;
        // What a damaged disk could leave; berth itself never shortens a blob file.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(store.path(StorePath::Blob(&digest)))
            .unwrap();
        file.set_len(READ_CHUNK as u64 + 5).unwrap();
        let read = store.read(&digest, 0, bytes.len() as u64).await.unwrap();
        let error = read_all(read).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
    }
}
