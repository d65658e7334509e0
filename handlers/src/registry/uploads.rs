//! Upload sessions: open, append (streamed), status, finish (digest check), cancel.

use super::Registry;
use crate::blob_store::ByteStream;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::metadata::{MetadataStore, UploadKind, UploadRecord};
use crate::reference::RepositoryName;
use crate::scope::RegistryScope;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http_body::Body;
use http_body_util::BodyExt;

/// What an upload takes as its bytes: any request body (hyper's, axum's, a test's).
pub trait UploadBody: Body<Data = Bytes, Error: std::fmt::Display> + Send + 'static {}

impl<B: Body<Data = Bytes, Error: std::fmt::Display> + Send + 'static> UploadBody for B {}

/// A request body as the stream a blob store takes.
fn byte_stream(body: impl UploadBody) -> ByteStream {
    body.into_data_stream().map_err(|e| std::io::Error::other(e.to_string())).boxed()
}

impl<M: MetadataStore> Registry<M> {
    /// Waits for the upload's turn: requests on one upload run one at a time.
    pub(super) async fn hold_upload(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks =
                self.upload_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.entry(id.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    fn forget_upload_lock(&self, id: &str) {
        let mut locks = self.upload_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.remove(id);
    }

    /// The session, if it belongs to this repository and face; else UploadUnknown.
    async fn session(
        &self, scope: &RegistryScope, repository: &RepositoryName, id: &str, kind: UploadKind,
    ) -> Result<UploadRecord, RegistryError> {
        self.repository(scope, repository).await?;
        self.store
            .upload(scope, repository.as_str(), id, kind)
            .await?
            .ok_or_else(|| RegistryError::UploadUnknown { id: id.to_string() })
    }

    /// Opens an upload session in the repository; returns its id.
    pub async fn start_upload(
        &self, scope: &RegistryScope, repository: &RepositoryName, kind: UploadKind,
    ) -> Result<String, RegistryError> {
        self.repository_for_push(scope, repository).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let record = UploadRecord {
            id: id.clone(),
            scope: scope.clone(),
            repository: repository.to_string(),
            kind,
        };
        // The session first, then the bytes: upload bytes then always have a session
        // recorded before them, so the sweep of bytes no session owns (`with_stores`, in any
        // replica sharing the stores) never takes a live upload. A crash between the two
        // leaves a session without bytes, which answers UploadUnknown and expires.
        self.store.create_upload(&record, self.clock.now()).await?;
        if let Err(e) = self.blobs.create_upload(&id).await {
            self.store.delete_upload(&id).await?;
            return Err(e);
        }
        Ok(id)
    }

    /// Blobs stored, their bytes, and the bytes sharing saves (for `/metrics`).
    pub async fn storage_totals(&self) -> Result<crate::metadata::StorageTotals, RegistryError> {
        self.store.storage_totals().await
    }

    /// How many upload sessions are open (for `/metrics`; also shows the store answers).
    pub async fn upload_sessions(&self) -> Result<usize, RegistryError> {
        Ok(self.store.upload_ids().await?.len())
    }

    /// Bytes received so far.
    pub async fn upload_status(
        &self, scope: &RegistryScope, repository: &RepositoryName, id: &str, kind: UploadKind,
    ) -> Result<u64, RegistryError> {
        self.session(scope, repository, id, kind).await?;
        self.blobs
            .upload_size(id)
            .await?
            .ok_or_else(|| RegistryError::UploadUnknown { id: id.to_string() })
    }

    /// Streams a chunk onto the upload. With `start`, the chunk must begin where the upload
    /// ends (else RangeInvalid with the current size). Returns the new size.
    pub async fn append_upload<B: UploadBody>(
        &self, scope: &RegistryScope, repository: &RepositoryName, id: &str, kind: UploadKind,
        start: Option<u64>, body: B,
    ) -> Result<u64, RegistryError> {
        self.session(scope, repository, id, kind).await?;
        let _held = self.hold_upload(id).await;
        if let Some(start) = start {
            let size = self
                .blobs
                .upload_size(id)
                .await?
                .ok_or_else(|| RegistryError::UploadUnknown { id: id.to_string() })?;
            if start != size {
                return Err(RegistryError::RangeInvalid { size });
            }
        }
        self.blobs.append(id, byte_stream(body)).await
    }

    /// Appends the last chunk (if any), checks the digest, commits the blob, links it into
    /// the repository and closes the session. On a digest mismatch the session is closed
    /// and nothing is stored. Returns the blob size.
    pub async fn finish_upload<B: UploadBody>(
        &self, scope: &RegistryScope, repository: &RepositoryName, id: &str, kind: UploadKind,
        digest: &Digest, body: Option<B>,
    ) -> Result<u64, RegistryError> {
        self.session(scope, repository, id, kind).await?;
        let _held = self.hold_upload(id).await;
        if let Some(body) = body {
            self.blobs.append(id, byte_stream(body)).await?;
        }
        // Commit and link under the blob's lock, so that garbage collection never deletes
        // bytes between the two or a record between its check and its delete.
        let _blob = self.hold_blob(digest).await?;
        let committed = self.blobs.commit(id, digest).await;
        let size = match committed {
            Ok(size) => size,
            Err(e) => {
                if matches!(e, RegistryError::DigestInvalid(_)) {
                    self.close_session(id).await?;
                }
                return Err(e);
            }
        };
        self.store.link_blob(scope, repository.as_str(), digest, size, self.clock.now()).await?;
        self.close_session(id).await?;
        Ok(size)
    }

    /// Uploads a whole blob in one request.
    pub async fn upload_blob<B: UploadBody>(
        &self, scope: &RegistryScope, repository: &RepositoryName, digest: &Digest, body: B,
    ) -> Result<u64, RegistryError> {
        let id = self.start_upload(scope, repository, UploadKind::Oci).await?;
        self.finish_upload(scope, repository, &id, UploadKind::Oci, digest, Some(body)).await
    }

    /// Abandons a session.
    pub async fn cancel_upload(
        &self, scope: &RegistryScope, repository: &RepositoryName, id: &str, kind: UploadKind,
    ) -> Result<(), RegistryError> {
        self.session(scope, repository, id, kind).await?;
        self.close_when_idle(id).await
    }

    /// Removes every session created before `cutoff` (epoch seconds), with its file;
    /// returns how many. A session in the middle of a request waits for it to end.
    pub async fn expire_uploads(&self, cutoff: f64) -> Result<usize, RegistryError> {
        let ids = self.store.uploads_created_before(cutoff).await?;
        for id in &ids {
            self.close_when_idle(id).await?;
        }
        Ok(ids.len())
    }

    /// Closes a session once no request is writing to it.
    async fn close_when_idle(&self, id: &str) -> Result<(), RegistryError> {
        let _held = self.hold_upload(id).await;
        self.close_session(id).await
    }

    async fn close_session(&self, id: &str) -> Result<(), RegistryError> {
        self.store.delete_upload(id).await?;
        self.blobs.remove_upload(id).await?;
        self.forget_upload_lock(id);
        Ok(())
    }

    /// Stores a blob from a stream berth itself produces (an upstream's bytes, a
    /// signature) as an upload would: the digest is checked before it becomes visible, and
    /// a mismatch stores nothing (DigestInvalid).
    pub async fn store_blob(
        &self, scope: &RegistryScope, name: &RepositoryName, digest: &Digest, bytes: ByteStream,
    ) -> Result<u64, RegistryError> {
        let id = self.start_upload(scope, name, UploadKind::Oci).await?;
        let appended = {
            let _held = self.hold_upload(&id).await;
            self.blobs.append(&id, bytes).await
        };
        if let Err(e) = appended {
            self.cancel_upload(scope, name, &id, UploadKind::Oci).await?;
            return Err(e);
        }
        self.finish_upload::<http_body_util::Empty<bytes::Bytes>>(
            scope,
            name,
            &id,
            UploadKind::Oci,
            digest,
            None,
        )
        .await
    }
}
