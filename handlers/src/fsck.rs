//! `berth fsck`: checks that the metadata and the blob store agree. Every blob a manifest
//! references is linked and present (a pull-through cache's repository may lack blobs not
//! pulled yet), every link has its bytes, every blob's bytes hash to its name, and every
//! upload has both its session and its bytes. Read-only unless asked to repair, which
//! removes only what nothing can reach or finish (upload bytes without a session, and
//! sessions whose bytes are gone, as a crash between an upload's commit and the removal of
//! its session leaves them).

use crate::blob_store::BlobStore;
use crate::digest::{Digest, DigestAlgorithm};
use crate::error::RegistryError;
use crate::metadata::MetadataStore;
use crate::pull_through::upstream_repository;
use futures_util::StreamExt;
use sha2::{Digest as _, Sha256, Sha512};
use std::collections::{BTreeMap, BTreeSet};

/// What a check found.
#[derive(Debug, Default, PartialEq)]
pub struct FsckReport {
    /// Blobs whose bytes were hashed.
    pub blobs_checked: usize,
    /// Blobs whose bytes do not hash to their name.
    pub corrupt: Vec<Digest>,
    /// `registry/region/repository@manifest -> blob` references to a blob that is not
    /// linked or not stored.
    pub missing_references: Vec<String>,
    /// `registry/region/repository -> blob` links whose bytes are gone.
    pub dangling_links: Vec<String>,
    /// Upload bytes that no session owns.
    pub orphaned_uploads: Vec<String>,
    /// Upload sessions whose bytes are gone.
    pub sessions_without_bytes: Vec<String>,
    /// What `--repair` removed.
    pub repaired: Vec<String>,
}

impl FsckReport {
    /// True when nothing is wrong (what was repaired no longer is).
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty()
            && self.missing_references.is_empty()
            && self.dangling_links.is_empty()
            && self.orphaned_uploads.len() + self.sessions_without_bytes.len()
                == self.repaired.len()
    }
}

impl std::fmt::Display for FsckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} blobs hashed", self.blobs_checked)?;
        let sections: [(&str, Vec<String>); 6] = [
            ("corrupt blob", self.corrupt.iter().map(|d| d.to_string()).collect()),
            ("missing blob of a manifest", self.missing_references.clone()),
            ("link without bytes", self.dangling_links.clone()),
            ("upload without a session", self.orphaned_uploads.clone()),
            ("upload session without bytes", self.sessions_without_bytes.clone()),
            ("repaired", self.repaired.clone()),
        ];
        for (what, items) in sections {
            for item in items {
                writeln!(f, "{what}: {item}")?;
            }
        }
        write!(f, "{}", if self.is_clean() { "clean" } else { "problems found" })
    }
}

/// The digest of a stored blob's bytes, read in pieces.
async fn hash(blobs: &dyn BlobStore, digest: &Digest, size: u64) -> Result<Digest, RegistryError> {
    let mut bytes = blobs.read(digest, 0, size).await?;
    let (mut sha256, mut sha512) = (Sha256::new(), Sha512::new());
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk.map_err(|e| RegistryError::Internal(format!("reading {digest}: {e}")))?;
        match digest.algorithm() {
            DigestAlgorithm::Sha256 => sha256.update(&chunk),
            DigestAlgorithm::Sha512 => sha512.update(&chunk),
        }
    }
    Ok(match digest.algorithm() {
        DigestAlgorithm::Sha256 => Digest::from_hasher(sha256),
        DigestAlgorithm::Sha512 => Digest::from_sha512(sha512),
    })
}

/// Checks `store` against `blobs`; with `repair`, removes upload bytes no session owns and
/// sessions that own no bytes.
pub async fn fsck<M: MetadataStore>(
    store: &M, blobs: &dyn BlobStore, repair: bool,
) -> Result<FsckReport, RegistryError> {
    let mut report = FsckReport::default();
    let stored: BTreeSet<Digest> = blobs.blobs().await?.into_iter().collect();
    for digest in &stored {
        let Some(size) = blobs.stat(digest).await? else {
            continue;
        };
        report.blobs_checked += 1;
        if &hash(blobs, digest, size).await? != digest {
            report.corrupt.push(digest.clone());
        }
    }
    let links: BTreeSet<(String, String, Digest)> = store
        .blob_links()
        .await?
        .into_iter()
        .map(|(scope, repository, digest)| {
            (format!("{}/{}", scope.registry_id, scope.region), repository, digest)
        })
        .collect();
    for (registry, repository, digest) in &links {
        if !stored.contains(digest) {
            report.dangling_links.push(format!("{registry}/{repository} -> {digest}"));
        }
    }
    let mut rules = BTreeMap::new();
    for (scope, repository, manifest, blob) in store.blob_references().await? {
        let registry = format!("{}/{}", scope.registry_id, scope.region);
        if links.contains(&(registry.clone(), repository.clone(), blob.clone()))
            && stored.contains(&blob)
        {
            continue;
        }
        // A pull-through cache fetches a cached image's blobs when they are first pulled.
        if !rules.contains_key(&registry) {
            let record = store.registry_record(&scope).await?;
            rules.insert(registry.clone(), record.pull_through_rules);
        }
        if upstream_repository(&rules[&registry], &repository).is_some() {
            continue;
        }
        report.missing_references.push(format!("{registry}/{repository}@{manifest} -> {blob}"));
    }
    let sessions: BTreeSet<String> = store.upload_ids().await?.into_iter().collect();
    let uploads: BTreeSet<String> = blobs.uploads().await?.into_iter().collect();
    report.orphaned_uploads = uploads.difference(&sessions).cloned().collect();
    report.sessions_without_bytes = sessions.difference(&uploads).cloned().collect();
    if repair {
        for upload in &report.orphaned_uploads {
            blobs.remove_upload(upload).await?;
            report.repaired.push(format!("removed upload bytes {upload}"));
        }
        for session in &report.sessions_without_bytes {
            store.delete_upload(session).await?;
            report.repaired.push(format!("removed upload session {session}"));
        }
    }
    Ok(report)
}
