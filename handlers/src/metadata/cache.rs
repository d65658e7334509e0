//! Read-through caches of what every manifest request looks up (the repository, the
//! manifest by tag or digest), and the last recorded pull of each manifest.
//!
//! Hits only are cached; every write that can change an answer clears the cache it
//! touches (writes are rare next to reads). Each map is bounded by [`MAX_ENTRIES`].

use super::{RepositoryRecord, StoredManifest};
use crate::scope::RegistryScope;
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

/// Entries kept per map before it is emptied.
pub const MAX_ENTRIES: usize = 4096;

/// A pull is recorded at most this often per manifest (ECR refreshes lastRecordedPullTime
/// at least once a day, not on every pull).
pub const PULL_RECORD_INTERVAL_SECS: f64 = 60.0;

type Key = (String, String, String, String);

fn key(scope: &RegistryScope, repository: &str, item: &str) -> Key {
    (
        scope.registry_id.clone(),
        scope.region.clone(),
        repository.to_string(),
        item.to_string(),
    )
}

#[derive(Debug, Default)]
pub(crate) struct Cache {
    repositories: RwLock<HashMap<Key, RepositoryRecord>>,
    manifests: RwLock<HashMap<Key, StoredManifest>>,
    pulls: Mutex<HashMap<Key, f64>>,
}

fn read<T: Clone>(map: &RwLock<HashMap<Key, T>>, key: &Key) -> Option<T> {
    map.read().ok().and_then(|m| m.get(key).cloned())
}

fn write<T>(map: &RwLock<HashMap<Key, T>>, key: Key, value: T) {
    if let Ok(mut m) = map.write() {
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
        m.insert(key, value);
    }
}

fn clear<T>(map: &RwLock<HashMap<Key, T>>) {
    if let Ok(mut m) = map.write() {
        m.clear();
    }
}

impl Cache {
    pub fn repository(&self, scope: &RegistryScope, name: &str) -> Option<RepositoryRecord> {
        read(&self.repositories, &key(scope, name, ""))
    }

    pub fn put_repository(&self, scope: &RegistryScope, record: &RepositoryRecord) {
        write(
            &self.repositories,
            key(scope, &record.name, ""),
            record.clone(),
        );
    }

    /// `item` is `t:<tag>` or `d:<digest>`.
    pub fn manifest(
        &self,
        scope: &RegistryScope,
        repository: &str,
        item: &str,
    ) -> Option<StoredManifest> {
        read(&self.manifests, &key(scope, repository, item))
    }

    pub fn put_manifest(
        &self,
        scope: &RegistryScope,
        repository: &str,
        item: &str,
        manifest: &StoredManifest,
    ) {
        write(
            &self.manifests,
            key(scope, repository, item),
            manifest.clone(),
        );
    }

    /// After a change to repositories (settings, deletion).
    pub fn clear_repositories(&self) {
        clear(&self.repositories);
        clear(&self.manifests);
    }

    /// After a change to manifests or tags.
    pub fn clear_manifests(&self) {
        clear(&self.manifests);
    }

    /// True when a pull at `now` should be written (none recorded in the last interval).
    pub fn pull_is_due(
        &self,
        scope: &RegistryScope,
        repository: &str,
        digest: &str,
        now: f64,
    ) -> bool {
        let Ok(mut pulls) = self.pulls.lock() else {
            return true;
        };
        let k = key(scope, repository, digest);
        if pulls
            .get(&k)
            .is_some_and(|last| now - last < PULL_RECORD_INTERVAL_SECS)
        {
            return false;
        }
        if pulls.len() >= MAX_ENTRIES {
            pulls.clear();
        }
        pulls.insert(k, now);
        true
    }
}
