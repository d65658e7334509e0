//! What a step of a sequence does, on either face of the registry.

use crate::fixtures::ImageSpec;

/// How a manifest is named in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRef {
    Tag(usize),
    /// The digest of this image's manifest.
    Image(ImageSpec),
    /// The digest of an index over these images.
    Index(Vec<ImageSpec>),
}

/// Where a chunk starts relative to what the upload has received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkStart {
    InOrder,
    /// One byte past the end: a gap.
    Gap,
    /// One byte before the end: an overlap (only when something was received).
    Overlap,
}

/// One step. Repositories, tags and blobs are indexes into [`crate::fixtures`]; uploads
/// are indexes into the sequence's list of opened sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    CreateRepository {
        repo: usize,
    },
    DeleteRepository {
        repo: usize,
        force: bool,
    },
    SetImmutable {
        repo: usize,
        immutable: bool,
    },
    /// Puts a lifecycle policy that keeps the newest `keep` images of the repository,
    /// evaluates every policy now (admin API), deletes the policy again, and lists the
    /// images that are left.
    Lifecycle {
        repo: usize,
        keep: u32,
    },
    MonolithicUpload {
        repo: usize,
        blob: usize,
        wrong_digest: bool,
    },
    StartUpload {
        repo: usize,
        blob: usize,
    },
    AppendChunk {
        upload: usize,
        len: usize,
        start: ChunkStart,
    },
    FinishUpload {
        upload: usize,
        wrong_digest: bool,
    },
    CancelUpload {
        upload: usize,
    },
    Mount {
        from: usize,
        to: usize,
        blob: usize,
    },
    PushImage {
        repo: usize,
        image: ImageSpec,
        tag: Option<usize>,
    },
    PushIndex {
        repo: usize,
        children: Vec<ImageSpec>,
        tag: usize,
    },
    GetManifest {
        repo: usize,
        reference: ManifestRef,
        head: bool,
    },
    GetBlob {
        repo: usize,
        blob: usize,
    },
    DeleteManifest {
        repo: usize,
        reference: ManifestRef,
    },
    ListTags {
        repo: usize,
        n: Option<usize>,
        last: Option<usize>,
    },
    PutImage {
        repo: usize,
        image: ImageSpec,
        tag: usize,
    },
    BatchDeleteImage {
        repo: usize,
        reference: ManifestRef,
    },
    DescribeImages {
        repo: usize,
    },
    BatchCheckLayerAvailability {
        repo: usize,
    },
    /// UpdateImageStorageClass: the image to the archive (its pulls then 404), or
    /// (`archive: false`) back to the standard class, ACTIVATING until the next `Tick`.
    StorageClass {
        repo: usize,
        reference: ManifestRef,
        archive: bool,
    },
    /// Account A's repository policy: one that lets account B pull (`allow`), or
    /// DeleteRepositoryPolicy.
    PullPolicy {
        repo: usize,
        allow: bool,
    },
    /// Account B's DescribeImages of account A's repository (`registryId`).
    CrossAccountDescribe {
        repo: usize,
    },
    /// Account B's /v2 manifest GET on account A's registry host.
    CrossAccountPull {
        repo: usize,
        tag: usize,
    },
    /// PutReplicationConfiguration: every repository to us-west-2 of the same account, or
    /// (`enabled: false`) no rules. Pushes after it replicate at the next `Tick`.
    Replication {
        enabled: bool,
    },
    /// DescribeImages of the repository in us-west-2, where replication copies it.
    DescribeReplica {
        repo: usize,
    },
    /// PutAccountSetting BLOB_MOUNTING: whether mounts link blobs or open uploads.
    BlobMounting {
        enabled: bool,
    },
    Restart,
    /// Time passes: berth's clock moves forward by `seconds` and its background jobs run
    /// now (as `--admin-api` does); the client's token is probed on `/v2/` (expired after
    /// 12 hours), then it logs in again, as after a long pause.
    Tick {
        seconds: u64,
    },
    /// Writes (`PutImage`, manifest pushes, deletes), one after the other, while readers
    /// HEAD and GET every tag of the repositories they touch until the last has answered.
    /// Several writes, so that readers that missed after one write are querying while the
    /// next commits. The readers race the writes, so their answers are not checked; the
    /// writes' answers are, and after them every tag must read as the model says (a
    /// reader's late cache fill must never resurrect an old answer).
    UnderReads {
        writes: Vec<Transition>,
    },
}

impl Transition {
    /// The requests a step makes, each with its own expected answer: the writes of
    /// `UnderReads`, else the step itself.
    pub fn requests(&self) -> Vec<&Transition> {
        match self {
            Transition::UnderReads { writes } => writes.iter().collect(),
            other => vec![other],
        }
    }

    /// The repository a write touches, for the readers that race it.
    pub fn repository(&self) -> Option<usize> {
        match self {
            Transition::PutImage { repo, .. }
            | Transition::PushImage { repo, .. }
            | Transition::PushIndex { repo, .. }
            | Transition::DeleteManifest { repo, .. }
            | Transition::BatchDeleteImage { repo, .. }
            | Transition::DeleteRepository { repo, .. }
            | Transition::SetImmutable { repo, .. } => Some(*repo),
            _ => None,
        }
    }

    /// A short name for the distribution report.
    pub fn kind(&self) -> &'static str {
        match self {
            Transition::CreateRepository { .. } => "CreateRepository",
            Transition::DeleteRepository { .. } => "DeleteRepository",
            Transition::SetImmutable { .. } => "SetImmutable",
            Transition::Lifecycle { .. } => "Lifecycle",
            Transition::MonolithicUpload { .. } => "MonolithicUpload",
            Transition::StartUpload { .. } => "StartUpload",
            Transition::AppendChunk { .. } => "AppendChunk",
            Transition::FinishUpload { .. } => "FinishUpload",
            Transition::CancelUpload { .. } => "CancelUpload",
            Transition::Mount { .. } => "Mount",
            Transition::PushImage { .. } => "PushImage",
            Transition::PushIndex { .. } => "PushIndex",
            Transition::GetManifest { .. } => "GetManifest",
            Transition::GetBlob { .. } => "GetBlob",
            Transition::DeleteManifest { .. } => "DeleteManifest",
            Transition::ListTags { .. } => "ListTags",
            Transition::PutImage { .. } => "PutImage",
            Transition::BatchDeleteImage { .. } => "BatchDeleteImage",
            Transition::DescribeImages { .. } => "DescribeImages",
            Transition::BatchCheckLayerAvailability { .. } => "BatchCheckLayerAvailability",
            Transition::StorageClass { .. } => "StorageClass",
            Transition::BlobMounting { .. } => "BlobMounting",
            Transition::PullPolicy { .. } => "PullPolicy",
            Transition::CrossAccountDescribe { .. } => "CrossAccountDescribe",
            Transition::CrossAccountPull { .. } => "CrossAccountPull",
            Transition::Replication { .. } => "Replication",
            Transition::DescribeReplica { .. } => "DescribeReplica",
            Transition::Restart => "Restart",
            Transition::Tick { .. } => "Tick",
            Transition::UnderReads { .. } => "UnderReads",
        }
    }
}
