//! `UnderReads`: writes performed while readers race them on every tag they touch.

use super::{Answer, Sut, OCI_INDEX, OCI_MANIFEST};
use crate::fixtures::TAGS;
use crate::transitions::Transition;
use axum::http::Method;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Readers per tag racing the writes of `UnderReads`.
const READERS: usize = 2;

impl Sut {
    /// Performs `writes` in order while [`READERS`] readers per tag HEAD and GET every tag
    /// of the repositories they touch, until the last write has answered.
    pub(super) fn under_reads(&mut self, writes: &[Transition]) -> Vec<Answer> {
        let mut repositories: Vec<usize> =
            writes.iter().filter_map(Transition::repository).collect();
        repositories.sort();
        repositories.dedup();
        let accept = format!("{OCI_MANIFEST}, {OCI_INDEX}");
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = tokio::task::JoinSet::new();
        for repo in repositories {
            for tag in TAGS {
                let path = format!("/v2/{}/manifests/{tag}", self.name(repo));
                for reader in 0..READERS {
                    let method = if reader % 2 == 0 { Method::HEAD } else { Method::GET };
                    let (this, stop) = (self.reader(method, &path, &accept), stop.clone());
                    // Spawned on the runtime's workers: they run beside the writes below.
                    readers.spawn_on(
                        async move {
                            loop {
                                let answer = this().await;
                                assert!(
                                    [200, 404].contains(&answer.status),
                                    "a racing manifest read answered {}: {}",
                                    answer.status,
                                    String::from_utf8_lossy(&answer.body)
                                );
                                if stop.load(Ordering::SeqCst) {
                                    break;
                                }
                                // An in-process read of a cached answer never waits, so
                                // without this the readers would hold both workers and
                                // starve the tasks the write needs.
                                tokio::task::yield_now().await;
                            }
                        },
                        self.runtime.handle(),
                    );
                }
            }
        }
        let answers = writes.iter().filter_map(|w| self.perform(w)).collect();
        stop.store(true, Ordering::SeqCst);
        self.runtime.block_on(async {
            while let Some(done) = readers.join_next().await {
                done.expect("a racing reader panicked");
            }
        });
        answers
    }

    /// A function that makes a fresh read request each time it is called.
    fn reader(
        &self, method: Method, path: &str, accept: &str,
    ) -> impl Fn() -> Pin<Box<dyn Future<Output = Answer> + Send + 'static>> + Send + 'static {
        let (target, authorization) = (self.target.clone(), self.authorization.clone());
        let (path, accept) = (path.to_string(), accept.to_string());
        move || {
            target.request(
                method.clone(),
                &path,
                &[("authorization", &authorization), ("accept", &accept)],
                Vec::new(),
            )
        }
    }
}
