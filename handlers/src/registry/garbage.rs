//! Garbage collection: the bytes of blobs that no manifest references any more, in any
//! repository, are deleted once the grace period has passed, online, while pushes go on.
//!
//! Safety against the classic race (a blob uploaded, its manifest not pushed yet): a blob
//! is collected only when it was seen unreferenced, and last linked by an upload or a
//! mount, more than the grace ago, and the store checks both again in the transaction
//! that forgets it, which serialises with the manifest push that would reference it. The
//! record goes before the bytes, under the blob's lock, which an upload commit and a mount
//! of the same digest also hold: a commit never lands between the check and the delete,
//! and a crash between the two leaves bytes without a record, which the next pass deletes.
//! When several processes share the stores, the blob's lease (`blob_leases`) extends that
//! lock across them; a blob another process is committing is left to the next pass.

use super::Registry;
use crate::error::RegistryError;
use crate::metadata::MetadataStore;

/// What one collection did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GarbageReport {
    /// Blobs whose record and bytes were deleted.
    pub blobs_deleted: usize,
    /// Their bytes.
    pub bytes_freed: u64,
    /// Bytes without a record (left by a crash) deleted.
    pub leftovers_deleted: usize,
}

impl std::fmt::Display for GarbageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} blobs deleted ({} bytes freed), {} leftovers deleted",
            self.blobs_deleted, self.bytes_freed, self.leftovers_deleted
        )
    }
}

impl<M: MetadataStore> Registry<M> {
    /// One collection now, with a grace of `grace` seconds.
    pub async fn collect_garbage(&self, grace: f64) -> Result<GarbageReport, RegistryError> {
        let now = self.clock.now();
        let cutoff = now - grace;
        let mut report = GarbageReport::default();
        self.store.note_unreferenced_blobs(now).await?;
        for digest in self.store.collectable_blobs(cutoff).await? {
            let Some(_held) = self.hold_blob_to_collect(&digest).await? else { continue };
            if self.store.forget_blob(&digest, cutoff).await? {
                report.bytes_freed += self.blobs.stat(&digest).await?.unwrap_or(0);
                self.blobs.delete(&digest).await?;
                report.blobs_deleted += 1;
            }
        }
        for digest in self.blobs.blobs().await? {
            // Most bytes have their record: only the others need the lock and a second look.
            if self.store.blob_recorded(&digest).await? {
                continue;
            }
            let Some(_held) = self.hold_blob_to_collect(&digest).await? else { continue };
            if !self.store.blob_recorded(&digest).await? {
                self.blobs.delete(&digest).await?;
                report.leftovers_deleted += 1;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::digest::Digest;
    use crate::reference::{Reference, RepositoryName, Tag};
    use crate::test_fixtures::{repository, scope};
    use bytes::Bytes;
    use futures_util::StreamExt;
    use http_body_util::Full;
    use std::sync::Arc;

    const GRACE: f64 = 3600.0;

    async fn open(dir: &std::path::Path, clock: &Clock) -> Arc<Registry> {
        let registry = Registry::open(dir, clock.clone()).await.unwrap();
        registry.create_repository(&scope(), &repository("app", clock.now()), &[]).await.unwrap();
        Arc::new(registry)
    }

    fn app() -> RepositoryName {
        RepositoryName::parse("app").unwrap()
    }

    async fn upload(registry: &Registry, data: &[u8]) -> Result<Digest, RegistryError> {
        let digest = Digest::of(data);
        let body = Full::new(Bytes::copy_from_slice(data));
        registry.upload_blob(&scope(), &app(), &digest, body).await?;
        Ok(digest)
    }

    fn manifest(config: &Digest, layer: &Digest) -> Vec<u8> {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":1}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":1}}]}}"#
        )
        .into_bytes()
    }

    async fn push(registry: &Registry, tag: &str, body: Vec<u8>) -> Result<Digest, RegistryError> {
        let tag = Tag::parse(tag).unwrap();
        let pushed = registry.push_manifest(&scope(), &app(), Some(&tag), None, None, body).await?;
        Ok(pushed.digest)
    }

    /// The blob's bytes, read back and hashed; `None` when it is not readable.
    async fn verified(registry: &Registry, digest: &Digest) -> Option<bool> {
        let size = registry.blob_size(&scope(), &app(), digest).await.ok()?;
        let mut stream = registry.read_blob(digest, 0, size).await.ok()?;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.ok()?);
        }
        Some(Digest::of(&bytes) == *digest)
    }

    fn blob_file(dir: &std::path::Path, digest: &Digest) -> std::path::PathBuf {
        let hex = digest.hex();
        dir.join("blobs/sha256").join(&hex[..2]).join(hex)
    }

    #[tokio::test]
    async fn unreferenced_blobs_go_after_the_grace_and_referenced_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::fixed(1_000_000.0);
        let registry = open(dir.path(), &clock).await;
        let config = upload(&registry, b"c").await.unwrap();
        let kept = upload(&registry, b"kept").await.unwrap();
        let dropped = upload(&registry, b"dropped").await.unwrap();
        let pending = upload(&registry, b"pending").await.unwrap();
        push(&registry, "kept", manifest(&config, &kept)).await.unwrap();
        let gone = push(&registry, "gone", manifest(&config, &dropped)).await.unwrap();
        registry.delete_manifest(&scope(), &app(), &Reference::Digest(gone)).await.unwrap();

        // Seen unreferenced now: nothing goes before the grace has passed.
        let report = registry.collect_garbage(GRACE).await.unwrap();
        assert_eq!(report, GarbageReport::default());
        clock.advance(GRACE - 1.0);
        assert_eq!(registry.collect_garbage(GRACE).await.unwrap().blobs_deleted, 0);
        // Referenced again within the grace: `pending` gets its manifest at last.
        push(&registry, "late", manifest(&config, &pending)).await.unwrap();
        clock.advance(2.0);
        let report = registry.collect_garbage(GRACE).await.unwrap();
        assert_eq!(report.blobs_deleted, 1, "{report}");
        assert_eq!(report.bytes_freed, 7);
        assert!(!blob_file(dir.path(), &dropped).exists(), "disk space is freed");
        assert!(matches!(
            registry.blob_size(&scope(), &app(), &dropped).await,
            Err(RegistryError::BlobUnknown { .. })
        ));
        clock.advance(100.0 * GRACE);
        assert_eq!(registry.collect_garbage(GRACE).await.unwrap().blobs_deleted, 0);
        for digest in [&config, &kept, &pending] {
            assert_eq!(verified(&registry, digest).await, Some(true));
        }
        // Uploaded again, the blob is back and is kept for a grace of its own.
        assert_eq!(upload(&registry, b"dropped").await.unwrap(), dropped);
        assert_eq!(registry.collect_garbage(GRACE).await.unwrap().blobs_deleted, 0);
        assert_eq!(verified(&registry, &dropped).await, Some(true));
    }

    #[tokio::test]
    async fn bytes_without_a_record_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::fixed(1_000_000.0);
        let registry = open(dir.path(), &clock).await;
        let recorded = upload(&registry, b"recorded").await.unwrap();
        // A crash after the commit and before the link leaves bytes and no record.
        let leftover = Digest::of(b"leftover");
        registry.blobs.create_upload("crashed").await.unwrap();
        let body = futures_util::stream::iter([Ok(Bytes::from_static(b"leftover"))]).boxed();
        registry.blobs.append("crashed", body).await.unwrap();
        registry.blobs.commit("crashed", &leftover).await.unwrap();

        let report = registry.collect_garbage(GRACE).await.unwrap();
        assert_eq!(report.leftovers_deleted, 1, "{report}");
        assert!(!blob_file(dir.path(), &leftover).exists());
        assert!(blob_file(dir.path(), &recorded).exists());
    }

    /// The classic race, forced: collection with no grace at all runs in a loop while
    /// pushes re-upload the same layers and reference them. A push may then be refused
    /// (its layer was collected before its manifest came), but whatever a push stored
    /// must stay whole: every manifest left references blobs that read back and verify.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn collection_racing_pushes_never_leaves_a_manifest_without_its_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::fixed(1_000_000.0);
        let registry = open(dir.path(), &clock).await;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let collector = {
            let (registry, done) = (registry.clone(), done.clone());
            tokio::spawn(async move {
                let mut deleted = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    deleted += registry.collect_garbage(0.0).await.unwrap().blobs_deleted;
                    clock.advance(1.0);
                }
                deleted
            })
        };
        let mut pushers = Vec::new();
        for worker in 0..8u32 {
            let registry = registry.clone();
            pushers.push(tokio::spawn(async move {
                let mut stored = Vec::new();
                for round in 0..40u32 {
                    // Two layers shared by every worker, so digests are uploaded again
                    // while collection deletes them.
                    let layer = format!("layer {}", round % 2);
                    let config = format!("config {worker} {round}");
                    let (Ok(layer), Ok(config)) = (
                        upload(&registry, layer.as_bytes()).await,
                        upload(&registry, config.as_bytes()).await,
                    ) else {
                        continue;
                    };
                    let tag = format!("w{worker}-r{round}");
                    match push(&registry, &tag, manifest(&config, &layer)).await {
                        Ok(_) => {
                            // Referenced now, so nothing may take the bytes away.
                            for digest in [&config, &layer] {
                                let whole = verified(&registry, digest).await;
                                assert_eq!(whole, Some(true), "{tag}: {digest}");
                            }
                            stored.push((tag, config, layer));
                        }
                        Err(RegistryError::LayersNotFound { .. }) => {}
                        Err(e) => panic!("push {tag}: {e}"),
                    }
                    // Most images go again at once, so that the shared layers are often
                    // unreferenced, collected and uploaded again, all at the same time.
                    if round % 8 != 0 {
                        if let Some((tag, ..)) = stored.pop() {
                            let tag = Reference::Tag(Tag::parse(&tag).unwrap());
                            registry.delete_manifest(&scope(), &app(), &tag).await.unwrap();
                        }
                    }
                }
                stored
            }));
        }
        let mut stored = Vec::new();
        for pusher in pushers {
            stored.extend(pusher.await.unwrap());
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let deleted = collector.await.unwrap();
        assert!(deleted > 0, "collection ran against the pushes");
        assert!(stored.len() >= 8, "pushes landed: {}", stored.len());
        for (tag, config, layer) in &stored {
            let tag = Reference::Tag(Tag::parse(tag).unwrap());
            registry.manifest(&scope(), &app(), &tag).await.unwrap();
            for digest in [config, layer] {
                assert_eq!(verified(&registry, digest).await, Some(true), "{tag:?}");
            }
        }
    }
}
