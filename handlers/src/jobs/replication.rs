//! Replication in the background: the queued copies, every `--replication-interval`
//! (a second by default; ECR replicates most images within 30 minutes).

use super::{Job, JobRun};
use crate::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Runs [`Registry::replication_pass`].
#[derive(Debug)]
pub struct Replication {
    registry: Arc<Registry>,
    interval: Duration,
}

impl Replication {
    /// The job over `registry`, every `interval`.
    pub fn new(registry: Arc<Registry>, interval: Duration) -> Self {
        Replication { registry, interval }
    }
}

impl Job for Replication {
    fn name(&self) -> &'static str {
        "replication"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run(&self) -> JobRun<'_> {
        Box::pin(async move { Ok(self.registry.replication_pass().await?.to_string()) })
    }
}
