//! How sequences are generated: the weighted transitions, drawn from the fixed world.

use crate::fixtures::{ImageSpec, BLOBS, IMAGE_BLOBS, REPOSITORIES, TAGS};
use crate::reference::Model;
use crate::transitions::{ChunkStart, ManifestRef, Transition};
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

/// The state machine the property tests run.
pub struct RegistryMachine;

fn repo() -> impl Strategy<Value = usize> {
    0..REPOSITORIES.len()
}

fn tag() -> impl Strategy<Value = usize> {
    0..TAGS.len()
}

fn blob() -> impl Strategy<Value = usize> {
    0..BLOBS.len()
}

/// Images of one or two layers from the pool (never the config blob as a layer).
fn image() -> impl Strategy<Value = ImageSpec> {
    prop::collection::vec(1..IMAGE_BLOBS, 1..=2).prop_map(|layers| ImageSpec { layers })
}

fn manifest_ref() -> impl Strategy<Value = ManifestRef> {
    prop_oneof![
        3 => tag().prop_map(ManifestRef::Tag),
        2 => image().prop_map(ManifestRef::Image),
        1 => prop::collection::vec(image(), 1..=2).prop_map(ManifestRef::Index),
    ]
}

/// Every image the fixed world can build: one or two layers from the pool.
fn all_images() -> Vec<ImageSpec> {
    let layers: Vec<usize> = (1..IMAGE_BLOBS).collect();
    let mut images: Vec<ImageSpec> =
        layers.iter().map(|&l| ImageSpec { layers: vec![l] }).collect();
    for &a in &layers {
        for &b in &layers {
            images.push(ImageSpec { layers: vec![a, b] });
        }
    }
    images
}

/// Mostly what the model says exists (so sequences go deep), sometimes anything (so
/// refusals are exercised too).
fn mostly<T: Clone + std::fmt::Debug + 'static>(
    known: Vec<T>, any: BoxedStrategy<T>,
) -> BoxedStrategy<T> {
    if known.is_empty() {
        any
    } else {
        prop_oneof![3 => prop::sample::select(known), 1 => any].boxed()
    }
}

impl ReferenceStateMachine for RegistryMachine {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Transition> {
        let uploads = state.uploads.len();
        let existing: Vec<usize> = state.repos.keys().copied().collect();
        let repo = || mostly(existing.clone(), repo().boxed());
        // (repository, image) pairs whose blobs are all in the repository.
        let pushable: Vec<(usize, ImageSpec)> = state
            .repos
            .iter()
            .flat_map(|(r, repo)| {
                all_images()
                    .into_iter()
                    .filter(|i| {
                        repo.blobs.contains(&0) && i.layers.iter().all(|l| repo.blobs.contains(l))
                    })
                    .map(move |i| (*r, i))
            })
            .collect();
        // (repository, reference) pairs that name something stored.
        let known: Vec<(usize, ManifestRef)> = state
            .repos
            .iter()
            .flat_map(|(r, repo)| {
                let tags = repo.tags.keys().map(move |t| (*r, ManifestRef::Tag(*t)));
                let digests = repo.manifests.values().map(move |m| (*r, m.reference.clone()));
                tags.chain(digests).collect::<Vec<_>>()
            })
            .collect();
        let stored_images: Vec<(usize, Vec<ImageSpec>)> = state
            .repos
            .iter()
            .map(|(r, repo)| {
                let images = repo
                    .manifests
                    .values()
                    .filter_map(|m| match &m.reference {
                        ManifestRef::Image(spec) => Some(spec.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                (*r, images)
            })
            .filter(|(_, images)| !images.is_empty())
            .collect();
        // Repositories with images to spare, where a lifecycle run has something to do.
        let crowded: Vec<usize> = state
            .repos
            .iter()
            .filter(|(_, repo)| repo.manifests.len() >= 2)
            .map(|(r, _)| *r)
            .collect();
        let lifecycle_weight = if crowded.is_empty() { 1 } else { 6 };
        let lifecycle_target = mostly(crowded, repo().boxed());
        let push_target = mostly(pushable, (repo(), image()).boxed());
        // (repository, blob) pairs an existing repository lacks: uploads mostly fill them,
        // so that pushes find their blobs and repositories come to hold several images.
        let missing: Vec<(usize, usize)> = state
            .repos
            .iter()
            .flat_map(|(r, repo)| {
                (0..BLOBS.len()).filter(|b| !repo.blobs.contains(b)).map(move |b| (*r, b))
            })
            .collect();
        let upload_target = mostly(missing, (repo(), blob()).boxed());
        // Replicated repositories, and whether pushes wait for the replication job: ticks
        // and replica listings then go where there is something to see.
        let replicated: Vec<usize> = state.replicas.keys().copied().collect();
        let replica_weight = if replicated.is_empty() { 1 } else { 8 };
        let replica_target = mostly(replicated, repo().boxed());
        let tick_weight = if state.queued.is_empty() { 1 } else { 10 };
        let replication_weight = if state.replication { 1 } else { 3 };
        let reference_target = mostly(known, (repo(), manifest_ref()).boxed());
        let index_target = mostly(
            stored_images
                .into_iter()
                .map(|(r, images)| (r, images.into_iter().take(2).collect::<Vec<_>>()))
                .collect(),
            (repo(), prop::collection::vec(image(), 1..=2)).boxed(),
        );
        let racing_write = prop_oneof![
            3 => (push_target.clone(), tag())
                .prop_map(|((repo, image), tag)| Transition::PutImage { repo, image, tag }),
            2 => (push_target.clone(), tag())
                .prop_map(|((repo, image), tag)| Transition::PushImage { repo, image, tag: Some(tag) }),
            2 => reference_target.clone().prop_map(|(repo, reference)| Transition::BatchDeleteImage { repo, reference }),
            2 => reference_target.clone().prop_map(|(repo, reference)| Transition::DeleteManifest { repo, reference }),
            1 => (repo(), any::<bool>()).prop_map(|(repo, force)| Transition::DeleteRepository { repo, force }),
        ];
        let racing_writes = prop::collection::vec(racing_write, 2..=3)
            .prop_map(|writes| Transition::UnderReads { writes });
        // A sequence without repositories mostly creates one first: every other step
        // would only meet NAME_UNKNOWN.
        let create_weight = if existing.is_empty() { 40 } else { 4 };
        let base = prop_oneof![
            create_weight => self::repo().prop_map(|repo| Transition::CreateRepository { repo }),
            1 => (repo(), any::<bool>()).prop_map(|(repo, force)| Transition::DeleteRepository { repo, force }),
            1 => (repo(), any::<bool>()).prop_map(|(repo, immutable)| Transition::SetImmutable { repo, immutable }),
            lifecycle_weight => (lifecycle_target, 1u32..3).prop_map(|(repo, keep)| Transition::Lifecycle { repo, keep }),
            6 => (upload_target, prop::bool::weighted(0.15))
                .prop_map(|((repo, blob), wrong_digest)| Transition::MonolithicUpload { repo, blob, wrong_digest }),
            3 => (repo(), blob()).prop_map(|(repo, blob)| Transition::StartUpload { repo, blob }),
            2 => (repo(), repo(), blob()).prop_map(|(from, to, blob)| Transition::Mount { from, to, blob }),
            6 => (push_target.clone(), prop::option::weighted(0.8, tag()))
                .prop_map(|((repo, image), tag)| Transition::PushImage { repo, image, tag }),
            2 => (index_target, tag())
                .prop_map(|((repo, children), tag)| Transition::PushIndex { repo, children, tag }),
            3 => (reference_target.clone(), any::<bool>())
                .prop_map(|((repo, reference), head)| Transition::GetManifest { repo, reference, head }),
            2 => (repo(), blob()).prop_map(|(repo, blob)| Transition::GetBlob { repo, blob }),
            2 => reference_target.clone().prop_map(|(repo, reference)| Transition::DeleteManifest { repo, reference }),
            2 => (repo(), prop::option::of(1..4usize), prop::option::of(tag()))
                .prop_map(|(repo, n, last)| Transition::ListTags { repo, n, last }),
            3 => (push_target, tag()).prop_map(|((repo, image), tag)| Transition::PutImage { repo, image, tag }),
            3 => (reference_target.clone(), prop::bool::weighted(0.6))
                .prop_map(|((repo, reference), archive)| Transition::StorageClass { repo, reference, archive }),
            2 => reference_target.prop_map(|(repo, reference)| Transition::BatchDeleteImage { repo, reference }),
            2 => repo().prop_map(|repo| Transition::DescribeImages { repo }),
            1 => repo().prop_map(|repo| Transition::BatchCheckLayerAvailability { repo }),
            1 => any::<bool>().prop_map(|enabled| Transition::BlobMounting { enabled }),
            2 => (repo(), prop::bool::weighted(0.7)).prop_map(|(repo, allow)| Transition::PullPolicy { repo, allow }),
            2 => repo().prop_map(|repo| Transition::CrossAccountDescribe { repo }),
            2 => (repo(), tag()).prop_map(|(repo, tag)| Transition::CrossAccountPull { repo, tag }),
            replication_weight => prop::bool::weighted(0.8).prop_map(|enabled| Transition::Replication { enabled }),
            replica_weight => replica_target.prop_map(|repo| Transition::DescribeReplica { repo }),
            1 => Just(Transition::Restart),
            // A minute and a half, most of two hours, more than a day, more than a week:
            // sums of these within a sequence stay far from the upload lifetime's edge.
            tick_weight => prop_oneof![Just(90u64), Just(5_000), Just(100_000), Just(700_000)]
                .prop_map(|seconds| Transition::Tick { seconds }),
            3 => racing_writes,
        ];
        if uploads == 0 {
            return base.boxed();
        }
        let start = prop_oneof![
            4 => Just(ChunkStart::InOrder),
            1 => Just(ChunkStart::Gap),
            1 => Just(ChunkStart::Overlap),
        ];
        let upload_steps = prop_oneof![
            5 => (0..uploads, 1..12usize, start)
                .prop_map(|(upload, len, start)| Transition::AppendChunk { upload, len, start }),
            3 => (0..uploads, prop::bool::weighted(0.2))
                .prop_map(|(upload, wrong_digest)| Transition::FinishUpload { upload, wrong_digest }),
            1 => (0..uploads).prop_map(|upload| Transition::CancelUpload { upload }),
        ];
        prop_oneof![3 => base, 1 => upload_steps].boxed()
    }

    fn preconditions(state: &Model, transition: &Transition) -> bool {
        match transition {
            Transition::AppendChunk { upload, .. }
            | Transition::FinishUpload { upload, .. }
            | Transition::CancelUpload { upload } => *upload < state.uploads.len(),
            _ => true,
        }
    }

    fn apply(state: Model, transition: &Transition) -> Model {
        state.apply(transition)
    }
}
