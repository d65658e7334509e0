//! Blob leases across processes: what orders an upload's commit and link, or a mount,
//! against garbage collection of the same digest when several berth processes share one
//! metadata store and blob store. Within a process the registry's blob locks do that; a
//! store that only one process opens (SQLite) needs nothing more.
//!
//! A commit or mount shares the digest's lease; a collection takes it alone, and only if
//! nobody shares it (it never waits: a blob being pushed is skipped until the next pass).

use crate::digest::Digest;
use crate::error::RegistryError;
use futures_util::future::BoxFuture;

/// Leases on digests, shared by every process of one registry.
pub trait BlobLeases: Send + Sync + std::fmt::Debug {
    /// Shares `digest`'s lease (waiting while a collection holds it) until the lease drops.
    fn share<'a>(&'a self, digest: &'a Digest) -> BoxFuture<'a, Result<BlobLease, RegistryError>>;

    /// Takes `digest`'s lease alone if no process holds it; `None` when one does.
    fn try_take<'a>(
        &'a self, digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<BlobLease>, RegistryError>>;
}

/// A held lease; given back when dropped.
pub struct BlobLease {
    give_back: Option<Box<dyn FnOnce() + Send>>,
}

impl BlobLease {
    /// A lease that `give_back` ends.
    pub fn new(give_back: impl FnOnce() + Send + 'static) -> Self {
        BlobLease { give_back: Some(Box::new(give_back)) }
    }
}

impl Drop for BlobLease {
    fn drop(&mut self) {
        if let Some(give_back) = self.give_back.take() {
            give_back();
        }
    }
}

impl std::fmt::Debug for BlobLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobLease")
    }
}
