//! The reference model: what a registry that is obviously right would answer.
//!
//! Plain maps, no logic shared with handlers/. Every transition updates the model and
//! records what the system under test must answer ([`Expected`]).

use crate::fixtures::{
    blob_digest, digest_of, image_blobs, image_manifest, index_manifest, ImageSpec, BLOBS,
    IMAGE_BLOBS, TAGS,
};
use crate::transitions::{ChunkStart, ManifestRef, Transition};

mod repository;

use repository::image_blob_indexes;
pub use repository::{Manifest, Repo};
use std::collections::BTreeMap;

/// The answer a transition must get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// No request is made (restart).
    Nothing,
    /// One expectation per request of a step of several (`UnderReads`).
    Each(Vec<Expected>),
    /// Status, and for error bodies the OCI code or the ECR `__type`.
    Outcome { status: u16, code: Option<&'static str> },
    /// 200 with exactly these bytes.
    Bytes(Vec<u8>),
    /// 200 with this `tags/list` page, and a `Link` to the next page when more follow.
    Tags { tags: Vec<String>, next: bool },
    /// 200 DescribeImages: digest -> sorted tags.
    Images(BTreeMap<String, Vec<String>>),
    /// 200 BatchCheckLayerAvailability: available or not, per blob of the pool.
    Availability(Vec<bool>),
    /// 200 BatchDeleteImage: number of deleted ids and the failure codes.
    Deleted { ids: usize, failures: Vec<&'static str> },
}

impl Expected {
    /// One expectation per request the step makes, in order.
    pub fn per_request(&self) -> Vec<&Expected> {
        match self {
            Expected::Nothing => Vec::new(),
            Expected::Each(each) => each.iter().collect(),
            other => vec![other],
        }
    }

    fn ok(status: u16) -> Self {
        Expected::Outcome { status, code: None }
    }

    fn oci(status: u16, code: &'static str) -> Self {
        Expected::Outcome { status, code: Some(code) }
    }

    fn ecr(code: &'static str) -> Self {
        Expected::Outcome { status: 400, code: Some(code) }
    }
}

/// One upload session the sequence opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub repo: usize,
    /// The blob whose bytes the chunks carry.
    pub blob: usize,
    pub received: usize,
    pub open: bool,
    /// Model time (seconds since the sequence began) when it was opened.
    pub started_at: u64,
}

/// Upload sessions older than this are gone once the expiry job has run (README).
pub const UPLOAD_LIFETIME_SECS: u64 = 24 * 3600;

/// A registry token is valid this long after GetAuthorizationToken (ECR's 12 hours).
pub const TOKEN_LIFETIME_SECS: u64 = 12 * 3600;

/// The whole registry as the model sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    pub repos: BTreeMap<usize, Repo>,
    pub uploads: Vec<Upload>,
    /// Seconds of berth's clock moved by ticks since the sequence began.
    pub now: u64,
    /// The BLOB_MOUNTING account setting (off in a fresh registry, as in ECR).
    pub blob_mounting: bool,
    /// Whether pushes replicate to us-west-2.
    pub replication: bool,
    /// Pushes (repository, digest) waiting for the replication job.
    pub queued: Vec<(usize, String)>,
    /// The repositories of us-west-2, as replication made them.
    pub replicas: BTreeMap<usize, Repo>,
    /// What the last transition must get.
    pub last: Option<Expected>,
}

impl Model {
    /// Queues a stored push for replication, when replication is on.
    fn queue(&mut self, repo: usize, body: &str) {
        if self.replication {
            self.queued.push((repo, digest_of(body)));
        }
    }

    /// Applies one transition, recording the expected answer in `last`.
    pub fn apply(mut self, t: &Transition) -> Self {
        let expected = self.step(t);
        self.last = Some(expected);
        self
    }

    fn step(&mut self, t: &Transition) -> Expected {
        match t {
            Transition::Restart => Expected::Nothing,
            Transition::Tick { seconds } => {
                self.now += seconds;
                for r in self.repos.values_mut() {
                    r.finish_restores();
                }
                for (repo, digest) in std::mem::take(&mut self.queued) {
                    if let Some(source) = self.repos.get(&repo) {
                        if source.manifests.contains_key(&digest) {
                            source.replicate_into(&digest, self.replicas.entry(repo).or_default());
                        }
                    }
                }
                let now = self.now;
                for u in &mut self.uploads {
                    if now - u.started_at > UPLOAD_LIFETIME_SECS {
                        u.open = false;
                    }
                }
                // The client logged in at the previous tick (or the start); its token is
                // probed before it logs in again.
                if *seconds > TOKEN_LIFETIME_SECS {
                    Expected::oci(401, "DENIED")
                } else {
                    Expected::ok(200)
                }
            }
            Transition::UnderReads { writes } => {
                Expected::Each(writes.iter().map(|w| self.step(w)).collect())
            }
            Transition::CreateRepository { repo } => {
                if self.repos.contains_key(repo) {
                    return Expected::ecr("RepositoryAlreadyExistsException");
                }
                self.repos.insert(*repo, Repo::default());
                Expected::ok(200)
            }
            Transition::DeleteRepository { repo, force } => {
                let Some(r) = self.repos.get(repo) else {
                    return Expected::ecr("RepositoryNotFoundException");
                };
                if !r.manifests.is_empty() && !force {
                    return Expected::ecr("RepositoryNotEmptyException");
                }
                self.repos.remove(repo);
                for u in self.uploads.iter_mut().filter(|u| u.repo == *repo) {
                    u.open = false;
                }
                Expected::ok(200)
            }
            Transition::Lifecycle { repo, keep } => match self.repos.get_mut(repo) {
                None => Expected::ecr("RepositoryNotFoundException"),
                Some(r) => {
                    r.keep_newest(*keep as usize);
                    r.images()
                }
            },
            Transition::SetImmutable { repo, immutable } => match self.repos.get_mut(repo) {
                None => Expected::ecr("RepositoryNotFoundException"),
                Some(r) => {
                    r.immutable = *immutable;
                    Expected::ok(200)
                }
            },
            Transition::MonolithicUpload { repo, blob, wrong_digest } => {
                match self.repos.get_mut(repo) {
                    None => Expected::oci(404, "NAME_UNKNOWN"),
                    Some(_) if *wrong_digest => Expected::oci(400, "DIGEST_INVALID"),
                    Some(r) => {
                        r.blobs.insert(*blob);
                        Expected::ok(201)
                    }
                }
            }
            Transition::StartUpload { repo, blob } => {
                if !self.repos.contains_key(repo) {
                    return Expected::oci(404, "NAME_UNKNOWN");
                }
                self.uploads.push(Upload {
                    repo: *repo,
                    blob: *blob,
                    received: 0,
                    open: true,
                    started_at: self.now,
                });
                Expected::ok(202)
            }
            Transition::AppendChunk { upload, len, start } => {
                let u = self.uploads[*upload].clone();
                if !self.repos.contains_key(&u.repo) {
                    return Expected::oci(404, "NAME_UNKNOWN");
                }
                if !u.open {
                    return Expected::oci(404, "BLOB_UPLOAD_UNKNOWN");
                }
                let remaining = BLOBS[u.blob].len() - u.received;
                let take = (*len).min(remaining);
                let in_order = match start {
                    ChunkStart::InOrder => true,
                    ChunkStart::Gap => false,
                    ChunkStart::Overlap => u.received == 0,
                };
                if take == 0 {
                    return Expected::ok(202);
                }
                if !in_order {
                    return Expected::oci(416, "RANGE_INVALID");
                }
                self.uploads[*upload].received += take;
                Expected::ok(202)
            }
            Transition::FinishUpload { upload, wrong_digest } => {
                let u = self.uploads[*upload].clone();
                if !self.repos.contains_key(&u.repo) {
                    return Expected::oci(404, "NAME_UNKNOWN");
                }
                if !u.open {
                    return Expected::oci(404, "BLOB_UPLOAD_UNKNOWN");
                }
                self.uploads[*upload].open = false;
                if *wrong_digest || u.received != BLOBS[u.blob].len() {
                    return Expected::oci(400, "DIGEST_INVALID");
                }
                if let Some(r) = self.repos.get_mut(&u.repo) {
                    r.blobs.insert(u.blob);
                }
                Expected::ok(201)
            }
            Transition::CancelUpload { upload } => {
                let u = self.uploads[*upload].clone();
                if !self.repos.contains_key(&u.repo) {
                    return Expected::oci(404, "NAME_UNKNOWN");
                }
                if !u.open {
                    return Expected::oci(404, "BLOB_UPLOAD_UNKNOWN");
                }
                self.uploads[*upload].open = false;
                Expected::ok(204)
            }
            Transition::Mount { from, to, blob } => {
                if !self.repos.contains_key(to) {
                    return Expected::oci(404, "NAME_UNKNOWN");
                }
                // ECR mounts only with BLOB_MOUNTING on, and only a blob that a manifest of
                // the source repository references.
                let mountable = self.blob_mounting
                    && self
                        .repos
                        .get(from)
                        .is_some_and(|r| r.manifests.values().any(|m| m.blobs.contains(blob)));
                if mountable {
                    if let Some(r) = self.repos.get_mut(to) {
                        r.blobs.insert(*blob);
                    }
                    return Expected::ok(201);
                }
                self.uploads.push(Upload {
                    repo: *to,
                    blob: *blob,
                    received: 0,
                    open: true,
                    started_at: self.now,
                });
                Expected::ok(202)
            }
            Transition::PushImage { repo, image, tag } => {
                let Some(r) = self.repos.get_mut(repo) else {
                    return Expected::oci(404, "NAME_UNKNOWN");
                };
                let blobs = image_blob_indexes(image);
                if blobs.iter().any(|b| !r.blobs.contains(b)) {
                    return Expected::oci(400, "MANIFEST_BLOB_UNKNOWN");
                }
                if r.tag_check(*tag).is_err() {
                    return Expected::oci(400, "TAG_INVALID");
                }
                r.store(ManifestRef::Image(image.clone()), Vec::new(), blobs, *tag);
                self.queue(*repo, &image_manifest(image));
                Expected::ok(201)
            }
            Transition::PushIndex { repo, children, tag } => {
                let Some(r) = self.repos.get_mut(repo) else {
                    return Expected::oci(404, "NAME_UNKNOWN");
                };
                let digests: Vec<String> =
                    children.iter().map(|c| digest_of(&image_manifest(c))).collect();
                if digests.iter().any(|d| !r.manifests.contains_key(d)) {
                    return Expected::oci(400, "MANIFEST_BLOB_UNKNOWN");
                }
                if r.tag_check(Some(*tag)).is_err() {
                    return Expected::oci(400, "TAG_INVALID");
                }
                r.store(ManifestRef::Index(children.clone()), digests, Vec::new(), Some(*tag));
                self.queue(*repo, &index_manifest(children));
                Expected::ok(201)
            }
            Transition::GetManifest { repo, reference, head } => {
                let Some(r) = self.repos.get(repo) else {
                    return if *head {
                        Expected::ok(404)
                    } else {
                        Expected::oci(404, "NAME_UNKNOWN")
                    };
                };
                match r.pullable(reference) {
                    None if *head => Expected::ok(404),
                    None => Expected::oci(404, "MANIFEST_UNKNOWN"),
                    Some(_) if *head => Expected::ok(200),
                    Some(d) => Expected::Bytes(r.manifests[&d].body.clone().into_bytes()),
                }
            }
            Transition::GetBlob { repo, blob } => match self.repos.get(repo) {
                None => Expected::oci(404, "NAME_UNKNOWN"),
                Some(r) if !r.blobs.contains(blob) => Expected::oci(404, "BLOB_UNKNOWN"),
                Some(_) => Expected::Bytes(BLOBS[*blob].to_vec()),
            },
            Transition::DeleteManifest { repo, reference } => {
                let Some(r) = self.repos.get_mut(repo) else {
                    return Expected::oci(404, "NAME_UNKNOWN");
                };
                let Some(digest) = r.resolve(reference) else {
                    return Expected::oci(404, "MANIFEST_UNKNOWN");
                };
                match reference {
                    ManifestRef::Tag(t) => r.delete_tag(*t),
                    _ if r.parents_of(&digest) => return Expected::oci(405, "UNSUPPORTED"),
                    _ => {
                        r.delete_manifest(&digest);
                    }
                }
                Expected::ok(202)
            }
            Transition::ListTags { repo, n, last } => {
                let Some(r) = self.repos.get(repo) else {
                    return Expected::oci(404, "NAME_UNKNOWN");
                };
                let mut tags: Vec<String> = r.tags.keys().map(|t| TAGS[*t].to_string()).collect();
                tags.sort();
                let after = last.map(|l| TAGS[l]).unwrap_or("");
                let rest: Vec<String> = tags.into_iter().filter(|t| t.as_str() > after).collect();
                let n = n.unwrap_or(100);
                Expected::Tags { next: rest.len() > n, tags: rest.into_iter().take(n).collect() }
            }
            Transition::PutImage { repo, image, tag } => {
                let Some(r) = self.repos.get_mut(repo) else {
                    return Expected::ecr("RepositoryNotFoundException");
                };
                let blobs = image_blob_indexes(image);
                if blobs.iter().any(|b| !r.blobs.contains(b)) {
                    return Expected::ecr("LayersNotFoundException");
                }
                let digest = digest_of(&image_manifest(image));
                match r.tag_check(Some(*tag)) {
                    Err(()) if r.tags.get(tag) == Some(&digest) => {
                        Expected::ecr("ImageAlreadyExistsException")
                    }
                    Err(()) => Expected::ecr("ImageTagAlreadyExistsException"),
                    Ok(Some(previous)) if previous == digest => {
                        // Stored again before the refusal: an archived image is back.
                        if let Some(m) = r.manifests.get_mut(&digest) {
                            m.restore_now();
                        }
                        self.queue(*repo, &image_manifest(image));
                        Expected::ecr("ImageAlreadyExistsException")
                    }
                    Ok(_) => {
                        r.store(ManifestRef::Image(image.clone()), Vec::new(), blobs, Some(*tag));
                        self.queue(*repo, &image_manifest(image));
                        Expected::ok(200)
                    }
                }
            }
            Transition::BatchDeleteImage { repo, reference } => {
                let Some(r) = self.repos.get_mut(repo) else {
                    return Expected::ecr("RepositoryNotFoundException");
                };
                let Some(digest) = r.resolve(reference) else {
                    return Expected::Deleted { ids: 0, failures: vec!["ImageNotFound"] };
                };
                match reference {
                    ManifestRef::Tag(t) => {
                        r.delete_tag(*t);
                        Expected::Deleted { ids: 1, failures: Vec::new() }
                    }
                    _ if r.parents_of(&digest) => Expected::Deleted {
                        ids: 0,
                        failures: vec!["ImageReferencedByManifestList"],
                    },
                    _ => {
                        Expected::Deleted { ids: r.delete_manifest(&digest), failures: Vec::new() }
                    }
                }
            }
            Transition::DescribeImages { repo } => match self.repos.get(repo) {
                None => Expected::ecr("RepositoryNotFoundException"),
                Some(r) => r.images(),
            },
            Transition::PullPolicy { repo, allow } => match self.repos.get_mut(repo) {
                None => Expected::ecr("RepositoryNotFoundException"),
                Some(r) if !*allow && !r.b_may_pull => {
                    Expected::ecr("RepositoryPolicyNotFoundException")
                }
                Some(r) => {
                    r.b_may_pull = *allow;
                    Expected::ok(200)
                }
            },
            Transition::CrossAccountDescribe { repo } => match self.repos.get(repo) {
                Some(r) if r.b_may_pull => r.images(),
                _ => Expected::ecr("AccessDeniedException"),
            },
            Transition::CrossAccountPull { repo, tag } => match self.repos.get(repo) {
                Some(r) if r.b_may_pull => match r.pulled_tag(*tag) {
                    Some(d) => Expected::Bytes(r.manifests[&d].body.clone().into_bytes()),
                    None => Expected::oci(404, "MANIFEST_UNKNOWN"),
                },
                _ => Expected::oci(403, "DENIED"),
            },
            Transition::Replication { enabled } => {
                self.replication = *enabled;
                Expected::ok(200)
            }
            Transition::DescribeReplica { repo } => match self.replicas.get(repo) {
                None => Expected::ecr("RepositoryNotFoundException"),
                Some(r) => r.images(),
            },
            Transition::BlobMounting { enabled } => {
                self.blob_mounting = *enabled;
                Expected::ok(200)
            }
            Transition::StorageClass { repo, reference, archive } => match self.repos.get_mut(repo)
            {
                None => Expected::ecr("RepositoryNotFoundException"),
                Some(r) => r.set_storage_class(reference, *archive),
            },
            Transition::BatchCheckLayerAvailability { repo } => match self.repos.get(repo) {
                None => Expected::ecr("RepositoryNotFoundException"),
                Some(r) => {
                    Expected::Availability((0..IMAGE_BLOBS).map(|b| r.blobs.contains(&b)).collect())
                }
            },
        }
    }
}

/// The digest a wrong-digest upload names: another blob's.
pub fn wrong_digest(blob: usize) -> String {
    blob_digest((blob + 1) % BLOBS.len())
}

/// Every blob digest an image needs (for the SUT's PUT bodies).
pub fn needed_blobs(spec: &ImageSpec) -> Vec<String> {
    image_blobs(spec)
}
