//! Read-through caches of what every manifest request looks up (the repository, the
//! manifest by tag or digest), and the last recorded pull of each manifest.
//!
//! Hits only are cached; every write that can change an answer invalidates the map it
//! touches after it commits (writes are rare next to reads). Each map is bounded by
//! [`MAX_ENTRIES`] and [`MAX_CACHED_BYTES`]; values over [`MAX_CACHED_VALUE_BYTES`] are
//! not cached.
//!
//! A reader fills the cache after its query, so a query that started before a commit can
//! arrive after the invalidation with the old answer. Each map therefore carries a
//! generation that every invalidation bumps under the map's lock: a miss hands the reader
//! a [`Ticket`] of the generation it queried under, and the fill is dropped when the
//! generation has moved since. The cache never holds an answer older than a committed
//! write.

use super::{RegistryRecord, RepositoryRecord, StoredManifest};
use crate::scope::RegistryScope;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
#[cfg(test)]
use tokio::sync::oneshot;

/// Entries kept per map before it is emptied.
pub const MAX_ENTRIES: usize = 4096;

/// Bytes of cached values a map holds at most before it is emptied, unless told otherwise
/// (`--cache-bytes`): what a client that pushes and reads large manifests can make berth
/// keep.
pub const MAX_CACHED_BYTES: usize = 64 * 1024 * 1024;

/// A value larger than this is never cached (a 4 MiB manifest is read from the store).
pub const MAX_CACHED_VALUE_BYTES: usize = 256 * 1024;

/// What a cached value costs, roughly: its heap bytes plus a fixed overhead.
pub(crate) trait Weigh {
    fn weight(&self) -> usize;
}

/// Per-entry overhead: the key, the map slot, the value's fixed fields.
const ENTRY_OVERHEAD: usize = 256;

impl Weigh for StoredManifest {
    fn weight(&self) -> usize {
        ENTRY_OVERHEAD
            + self.body.len()
            + self.media_type.len()
            + self.annotations.as_ref().map_or(0, String::len)
            + self.artifact_type.as_ref().map_or(0, String::len)
            + self.config_media_type.as_ref().map_or(0, String::len)
    }
}

impl Weigh for RepositoryRecord {
    fn weight(&self) -> usize {
        ENTRY_OVERHEAD + self.name.len() + self.exclusion_filters.len() * 64
    }
}

impl Weigh for RegistryRecord {
    fn weight(&self) -> usize {
        // Rough: the policy text, and a fixed share per configured item.
        let items = self.account_settings.len()
            + self.creation_templates.len()
            + self.backfills.len()
            + self.pull_through_rules.len()
            + usize::from(self.replication.is_some())
            + usize::from(self.scanning.is_some())
            + usize::from(self.signing.is_some());
        ENTRY_OVERHEAD + self.policy_text.as_ref().map_or(0, String::len) + items * 1024
    }
}

/// A pull is recorded at most this often per manifest (ECR refreshes lastRecordedPullTime
/// at least once a day, not on every pull).
pub const PULL_RECORD_INTERVAL_SECS: f64 = 60.0;

type Key = (String, String, String, String);

fn key(scope: &RegistryScope, repository: &str, item: &str) -> Key {
    (scope.registry_id.clone(), scope.region.clone(), repository.to_string(), item.to_string())
}

/// The generation a reader missed under; its fill counts only if no write came since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a miss's ticket is what the reader fills the cache with"]
pub(crate) struct Ticket(u64);

/// What a cache read found: the answer, or the ticket to fill the cache with after the query.
#[derive(Debug)]
pub(crate) enum Lookup<T> {
    Hit(T),
    Miss(Ticket),
}

#[derive(Debug)]
struct Entries<T> {
    generation: u64,
    map: HashMap<Key, (T, usize)>,
    /// The weights of the values in `map`.
    bytes: usize,
}

/// One map with its generation, both under one lock, and its byte budget.
#[derive(Debug)]
struct GenerationalMap<T>(RwLock<Entries<T>>, AtomicUsize);

impl<T> Default for GenerationalMap<T> {
    fn default() -> Self {
        GenerationalMap(
            RwLock::new(Entries { generation: 0, map: HashMap::new(), bytes: 0 }),
            AtomicUsize::new(MAX_CACHED_BYTES),
        )
    }
}

impl<T: Clone + Weigh> GenerationalMap<T> {
    fn get(&self, key: &Key) -> Lookup<T> {
        match self.0.read() {
            Ok(entries) => match entries.map.get(key) {
                Some((found, _)) => Lookup::Hit(found.clone()),
                None => Lookup::Miss(Ticket(entries.generation)),
            },
            // A poisoned lock caches nothing: a ticket no generation matches.
            Err(_) => Lookup::Miss(Ticket(u64::MAX)),
        }
    }

    /// Caches `value` unless a write came since the ticket or the value is too large;
    /// a map that would pass its entry or byte bound is emptied first.
    fn fill(&self, ticket: Ticket, key: Key, value: T) {
        let weight = value.weight();
        if weight > MAX_CACHED_VALUE_BYTES || weight > self.1.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut entries) = self.0.write() {
            if entries.generation != ticket.0 {
                return;
            }
            let budget = self.1.load(Ordering::Relaxed);
            if entries.map.len() >= MAX_ENTRIES || entries.bytes + weight > budget {
                entries.map.clear();
                entries.bytes = 0;
            }
            if let Some((_, old)) = entries.map.insert(key, (value, weight)) {
                entries.bytes -= old;
            }
            entries.bytes += weight;
        }
    }

    /// The weights of the cached values (for tests of the bound).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.0.read().map(|e| e.bytes).unwrap_or(0)
    }

    fn invalidate(&self) {
        // A poisoned lock needs nothing: readers and fills already bypass it.
        if let Ok(mut entries) = self.0.write() {
            entries.generation = entries.generation.wrapping_add(1);
            entries.map.clear();
            entries.bytes = 0;
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Cache {
    repositories: GenerationalMap<RepositoryRecord>,
    manifests: GenerationalMap<StoredManifest>,
    /// Registry records: read by every manifest push (replication, scanning and signing
    /// rules) and by pulls that may go through a pull-through cache.
    registries: GenerationalMap<RegistryRecord>,
    pulls: Mutex<HashMap<Key, f64>>,
    /// Unit tests stop a reader here, between its query and its cache fill.
    #[cfg(test)]
    pub(crate) fill_gate: FillGate,
}

/// A one-shot pause point: the next reader to reach it reports and waits for release.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct FillGate {
    armed: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

#[cfg(test)]
impl FillGate {
    /// Arms the gate; returns (reached, release).
    pub fn arm(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (reached_tx, reached_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.armed.lock().unwrap() = Some((reached_tx, release_rx));
        (reached_rx, release_tx)
    }

    /// Where a reader pauses when the gate is armed.
    pub async fn pass(&self) {
        let armed = self.armed.lock().unwrap().take();
        if let Some((reached, release)) = armed {
            let _ = reached.send(());
            let _ = release.await;
        }
    }
}

impl Cache {
    /// Each map keeps at most `bytes` of values from now on (0 caches nothing).
    pub fn set_budget(&self, bytes: usize) {
        self.repositories.1.store(bytes, Ordering::Relaxed);
        self.manifests.1.store(bytes, Ordering::Relaxed);
        self.registries.1.store(bytes, Ordering::Relaxed);
    }

    pub fn registry(&self, scope: &RegistryScope) -> Lookup<RegistryRecord> {
        self.registries.get(&key(scope, "", ""))
    }

    pub fn fill_registry(&self, ticket: Ticket, scope: &RegistryScope, record: &RegistryRecord) {
        self.registries.fill(ticket, key(scope, "", ""), record.clone());
    }

    /// After a committed change to a registry record.
    pub fn invalidate_registries(&self) {
        self.registries.invalidate();
    }

    pub fn repository(&self, scope: &RegistryScope, name: &str) -> Lookup<RepositoryRecord> {
        self.repositories.get(&key(scope, name, ""))
    }

    pub fn fill_repository(
        &self, ticket: Ticket, scope: &RegistryScope, record: &RepositoryRecord,
    ) {
        self.repositories.fill(ticket, key(scope, &record.name, ""), record.clone());
    }

    /// `item` is `t:<tag>` or `d:<digest>`.
    pub fn manifest(
        &self, scope: &RegistryScope, repository: &str, item: &str,
    ) -> Lookup<StoredManifest> {
        self.manifests.get(&key(scope, repository, item))
    }

    pub fn fill_manifest(
        &self, ticket: Ticket, scope: &RegistryScope, repository: &str, item: &str,
        manifest: &StoredManifest,
    ) {
        self.manifests.fill(ticket, key(scope, repository, item), manifest.clone());
    }

    /// After a committed change to repositories (settings, deletion).
    pub fn invalidate_repositories(&self) {
        self.repositories.invalidate();
        self.manifests.invalidate();
    }

    /// After a committed change to manifests or tags.
    pub fn invalidate_manifests(&self) {
        self.manifests.invalidate();
    }

    /// True when a pull at `now` should be written (none recorded in the last interval).
    pub fn pull_is_due(
        &self, scope: &RegistryScope, repository: &str, digest: &str, now: f64,
    ) -> bool {
        let Ok(mut pulls) = self.pulls.lock() else {
            return true;
        };
        let k = key(scope, repository, digest);
        if pulls.get(&k).is_some_and(|last| now - last < PULL_RECORD_INTERVAL_SECS) {
            return false;
        }
        if pulls.len() >= MAX_ENTRIES {
            pulls.clear();
        }
        pulls.insert(k, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::digest::Digest;
    use crate::error::RegistryError;
    use crate::metadata::{
        CachedMetadataStore, ImageStore, ManifestReferences, RepositoryStore, SqlMetadataStore,
        StoredManifest,
    };
    use crate::reference::Tag;
    use crate::test_fixtures::{repository, scope};
    use berth_generated::ecr::ImageTagMutability;
    use std::future::Future;
    use std::sync::Arc;

    /// An empty index (it references nothing), made distinct by an annotation.
    fn index(n: u32) -> StoredManifest {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{{"n":"{n}"}}}}"#
        );
        StoredManifest {
            digest: Digest::of(body.as_bytes()),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            artifact_type: None,
            config_media_type: None,
            subject: None,
            annotations: None,
            body: body.into_bytes(),
            image_size: 0,
            pushed_at: 1.0,
            last_pulled_at: None,
            storage: Default::default(),
        }
    }

    type Store = CachedMetadataStore<SqlMetadataStore>;

    /// A cached store with repository `app` whose tag `race` points at `index(1)`.
    async fn store_with_tag(dir: &std::path::Path) -> (Arc<Store>, Tag) {
        let sqlite = SqlMetadataStore::open(dir).await.unwrap();
        let store = Arc::new(CachedMetadataStore::new(sqlite));
        let tag = Tag::parse("race").unwrap();
        store.create_repository(&scope(), &repository("app", 1.0), &[], &[]).await.unwrap();
        let refs = ManifestReferences::default();
        store.put_manifest(&scope(), "app", &index(1), &refs, Some(&tag), &[]).await.unwrap();
        (store, tag)
    }

    /// Spawns `read`, waits until it has queried and is about to fill the cache, runs
    /// `write` to completion, then lets the reader fill; returns what the reader read.
    async fn race<T: Send + 'static>(
        store: &Store, read: impl Future<Output = T> + Send + 'static,
        write: impl Future<Output = ()>,
    ) -> T {
        let (reached, release) = store.cache.fill_gate.arm();
        let reader = tokio::spawn(read);
        reached.await.unwrap();
        write.await;
        release.send(()).unwrap();
        reader.await.unwrap()
    }

    fn read_tag(
        store: &Arc<Store>, tag: &Tag,
    ) -> impl Future<Output = Option<StoredManifest>> + Send + 'static {
        let (store, tag) = (store.clone(), tag.clone());
        async move { store.tagged_manifest(&scope(), "app", &tag).await.unwrap() }
    }

    fn read_repository(store: &Arc<Store>) -> impl Future<Output = bool> + Send + 'static {
        let store = store.clone();
        async move { store.repository(&scope(), "app").await.is_ok() }
    }

    /// A reader that queried before a tag moved, and fills the cache after the writer
    /// invalidated it, must not make the old answer stick.
    #[tokio::test]
    async fn a_reader_racing_a_tag_move_never_caches_the_old_digest() {
        let dir = tempfile::tempdir().unwrap();
        let (store, tag) = store_with_tag(dir.path()).await;
        let moved = async {
            let refs = ManifestReferences::default();
            let new = index(2);
            store.put_manifest(&scope(), "app", &new, &refs, Some(&tag), &[]).await.unwrap();
        };
        let raced = race(&store, read_tag(&store, &tag), moved).await;
        assert_eq!(
            raced.map(|m| m.digest),
            Some(index(1).digest),
            "the racing reader saw the old tag"
        );
        let now = read_tag(&store, &tag).await;
        assert_eq!(now.map(|m| m.digest), Some(index(2).digest));
    }

    #[tokio::test]
    async fn a_reader_racing_a_tag_delete_never_caches_the_deleted_tag() {
        let dir = tempfile::tempdir().unwrap();
        let (store, tag) = store_with_tag(dir.path()).await;
        let deleted = async {
            store.delete_tag(&scope(), "app", &tag).await.unwrap();
        };
        assert!(race(&store, read_tag(&store, &tag), deleted).await.is_some());
        assert_eq!(read_tag(&store, &tag).await, None, "a deleted tag is still served");
    }

    #[tokio::test]
    async fn a_reader_racing_a_repository_delete_never_caches_the_repository() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_tag(dir.path()).await;
        let deleted = async {
            store.delete_repository(&scope(), "app", true).await.unwrap();
        };
        assert!(race(&store, read_repository(&store), deleted).await);
        assert!(
            matches!(
                store.repository(&scope(), "app").await,
                Err(RegistryError::RepositoryNotFound { .. })
            ),
            "a deleted repository is still found"
        );
    }

    #[tokio::test]
    async fn a_reader_racing_a_settings_change_never_caches_the_old_settings() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_tag(dir.path()).await;
        let changed = async {
            store
                .set_tag_mutability(&scope(), "app", ImageTagMutability::Immutable, &[])
                .await
                .unwrap();
        };
        assert!(race(&store, read_repository(&store), changed).await);
        let now = store.repository(&scope(), "app").await.unwrap();
        assert_eq!(now.image_tag_mutability, ImageTagMutability::Immutable);
    }

    #[test]
    fn manifests_are_cached_within_a_byte_budget_and_large_ones_not_at_all() {
        use super::{GenerationalMap, Lookup, MAX_CACHED_BYTES, MAX_CACHED_VALUE_BYTES};
        let map: GenerationalMap<StoredManifest> = GenerationalMap::default();
        let sized = |n: u32, bytes: usize| StoredManifest { body: vec![b' '; bytes], ..index(n) };
        let key = |n: u32| (String::new(), String::new(), String::new(), n.to_string());
        let fill = |n: u32, bytes: usize| {
            let Lookup::Miss(ticket) = map.get(&key(n)) else { panic!("{n} was not cached yet") };
            map.fill(ticket, key(n), sized(n, bytes));
        };
        // 1,000 manifests of 200 KiB: 195 MiB offered, never more than the budget kept.
        let mut most = 0;
        for n in 0..1000 {
            fill(n, 200 * 1024);
            assert!(map.bytes() <= MAX_CACHED_BYTES, "after {n}: {}", map.bytes());
            most = most.max(map.bytes());
        }
        assert!(most > MAX_CACHED_BYTES / 2, "the budget is used: {most}");
        fill(5000, MAX_CACHED_VALUE_BYTES + 1);
        assert!(matches!(map.get(&key(5000)), Lookup::Miss(_)), "too large to cache");
        fill(5001, 1000);
        assert!(matches!(map.get(&key(5001)), Lookup::Hit(_)));
        // `--cache-bytes 0`: nothing is cached.
        let off = super::Cache::default();
        off.set_budget(0);
        let Lookup::Miss(ticket) = off.manifest(&scope(), "app", "t:a") else { panic!("empty") };
        off.fill_manifest(ticket, &scope(), "app", "t:a", &sized(1, 10));
        assert!(matches!(off.manifest(&scope(), "app", "t:a"), Lookup::Miss(_)));
    }
}
