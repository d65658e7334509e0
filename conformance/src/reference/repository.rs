//! The model of one repository: its blobs, manifests and tags, and what each write does
//! to them.

use super::Expected;
use crate::fixtures::{digest_of, image_manifest, index_manifest, ImageSpec, TAGS};
use crate::transitions::ManifestRef;
use std::collections::{BTreeMap, BTreeSet};

/// A stored manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// How a request names it by digest.
    pub reference: ManifestRef,
    pub body: String,
    /// Digests of the children, for an index.
    pub children: Vec<String>,
    /// Blob indexes it references, for an image.
    pub blobs: Vec<usize>,
    /// Its place in the repository's push order (a re-push of a stored manifest keeps it).
    pub pushed: u64,
    /// In the archive storage class: listed only when asked for, never pulled.
    pub archived: bool,
    /// Restored from the archive, not pullable until berth's restore delay has passed
    /// (every `Tick` is longer than the delay the conformance berth runs with).
    pub activating: bool,
}

impl Manifest {
    /// Neither archived nor on its way back: pulls and default listings see it.
    pub fn active(&self) -> bool {
        !self.archived && !self.activating
    }
}

/// One repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repo {
    pub blobs: BTreeSet<usize>,
    pub manifests: BTreeMap<String, Manifest>,
    /// Tag index -> manifest digest.
    pub tags: BTreeMap<usize, String>,
    pub immutable: bool,
    /// Pushes so far, for `Manifest::pushed`.
    pub pushes: u64,
    /// Whether its policy lets account B pull.
    pub b_may_pull: bool,
}

fn manifest_digest(reference: &ManifestRef) -> Option<String> {
    match reference {
        ManifestRef::Tag(_) => None,
        ManifestRef::Image(spec) => Some(digest_of(&image_manifest(spec))),
        ManifestRef::Index(children) => Some(digest_of(&index_manifest(children))),
    }
}

impl Repo {
    pub(super) fn resolve(&self, reference: &ManifestRef) -> Option<String> {
        match reference {
            ManifestRef::Tag(t) => self.tags.get(t).cloned(),
            other => manifest_digest(other).filter(|d| self.manifests.contains_key(d)),
        }
    }

    pub(super) fn parents_of(&self, digest: &str) -> bool {
        self.manifests.values().any(|m| m.children.iter().any(|c| c == digest))
    }

    /// Removes a tag; the manifest too when untagged and no index lists it.
    pub(super) fn delete_tag(&mut self, tag: usize) {
        let Some(digest) = self.tags.remove(&tag) else {
            return;
        };
        if !self.tags.values().any(|d| *d == digest) && !self.parents_of(&digest) {
            self.manifests.remove(&digest);
        }
    }

    /// Removes a manifest and its tags; returns how many ids ECR reports.
    pub(super) fn delete_manifest(&mut self, digest: &str) -> usize {
        let before = self.tags.len();
        self.tags.retain(|_, d| d != digest);
        self.manifests.remove(digest);
        (before - self.tags.len()).max(1)
    }

    /// The digest a reference names, if that image can be pulled now.
    pub(super) fn pullable(&self, reference: &ManifestRef) -> Option<String> {
        self.resolve(reference).filter(|d| self.manifests[d].active())
    }

    /// The tag's digest as a pull by tag sees it (`None` when archived or activating).
    pub fn pulled_tag(&self, tag: usize) -> Option<String> {
        self.pullable(&ManifestRef::Tag(tag))
    }

    /// What DescribeImages lists by default (active images only): digest -> sorted tags.
    pub(super) fn images(&self) -> Expected {
        Expected::Images(
            self.manifests
                .iter()
                .filter(|(_, m)| m.active())
                .map(|(d, _)| {
                    let mut tags: Vec<String> = self
                        .tags
                        .iter()
                        .filter(|(_, v)| *v == d)
                        .map(|(t, _)| TAGS[*t].to_string())
                        .collect();
                    tags.sort();
                    (d.clone(), tags)
                })
                .collect(),
        )
    }

    /// A policy keeping the newest `keep` images of the standard class: every other one
    /// goes, oldest first, unless an index still lists it when its turn comes. Archived
    /// images are neither counted nor expired by it.
    pub(super) fn keep_newest(&mut self, keep: usize) {
        let mut by_age: Vec<(u64, String)> = self
            .manifests
            .iter()
            .filter(|(_, m)| !m.archived)
            .map(|(digest, m)| (m.pushed, digest.clone()))
            .collect();
        by_age.sort_by(|a, b| b.cmp(a));
        let mut doomed = by_age.split_off(keep.min(by_age.len()));
        doomed.sort();
        for (_, digest) in doomed {
            if !self.parents_of(&digest) {
                self.delete_manifest(&digest);
            }
        }
    }

    /// What storing a manifest under `tag` meets: Ok(previous digest) or the refusal.
    pub(super) fn tag_check(&self, tag: Option<usize>) -> Result<Option<String>, ()> {
        match tag.and_then(|t| self.tags.get(&t)) {
            Some(_) if self.immutable => Err(()),
            previous => Ok(previous.cloned()),
        }
    }

    pub(super) fn store(
        &mut self, reference: ManifestRef, children: Vec<String>, blobs: Vec<usize>,
        tag: Option<usize>,
    ) {
        let body = match &reference {
            ManifestRef::Index(c) => index_manifest(c),
            ManifestRef::Image(spec) => image_manifest(spec),
            ManifestRef::Tag(_) => return,
        };
        let digest = digest_of(&body);
        let pushed = self.pushes;
        self.pushes += 1;
        self.manifests.entry(digest.clone()).and_modify(|m| m.restore_now()).or_insert(Manifest {
            reference,
            body,
            children,
            blobs,
            pushed,
            archived: false,
            activating: false,
        });
        if let Some(t) = tag {
            self.tags.insert(t, digest);
        }
    }
}

impl Repo {
    /// UpdateImageStorageClass: to the archive, or (`archive: false`) back through
    /// ACTIVATING. Moving to the class it is in changes nothing; archiving an image still
    /// on its way back is refused.
    pub(super) fn set_storage_class(&mut self, reference: &ManifestRef, archive: bool) -> Expected {
        let Some(digest) = self.resolve(reference) else {
            return Expected::ecr("ImageNotFoundException");
        };
        let m = self.manifests.get_mut(&digest).expect("resolved");
        match (archive, m.archived, m.activating) {
            (true, _, true) => {
                return Expected::ecr("ImageStorageClassUpdateNotSupportedException")
            }
            (true, false, false) => m.archived = true,
            (false, true, _) => {
                m.archived = false;
                m.activating = true;
            }
            _ => {}
        }
        Expected::ok(200)
    }

    /// Time has passed beyond the restore delay: every restore is complete.
    pub(super) fn finish_restores(&mut self) {
        for m in self.manifests.values_mut() {
            m.activating = false;
        }
    }
}

impl Repo {
    /// Copies the image (its index children first) with the tags it has here into
    /// `replica`, as the replication job does.
    pub(super) fn replicate_into(&self, digest: &str, replica: &mut Repo) {
        let Some(m) = self.manifests.get(digest) else {
            return;
        };
        for child in &m.children {
            self.replicate_into(child, replica);
        }
        replica.manifests.entry(digest.to_string()).or_insert_with(|| Manifest {
            archived: false,
            activating: false,
            ..m.clone()
        });
        for (tag, d) in &self.tags {
            if d == digest {
                replica.tags.insert(*tag, digest.to_string());
            }
        }
    }
}

impl Manifest {
    /// A push of the same bytes: back in the standard class at once.
    pub(super) fn restore_now(&mut self) {
        self.archived = false;
        self.activating = false;
    }
}

pub(super) fn image_blob_indexes(spec: &ImageSpec) -> Vec<usize> {
    std::iter::once(0).chain(spec.layers.iter().copied()).collect()
}
