//! Lifecycle evaluation in the background: every repository's policy, each interval
//! (ECR acts within 24 hours; berth's default is hourly, `--lifecycle-interval`).

use super::{Job, JobRun};
use crate::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Runs [`Registry::lifecycle_pass`].
#[derive(Debug)]
pub struct LifecycleEvaluation {
    registry: Arc<Registry>,
    interval: Duration,
}

impl LifecycleEvaluation {
    /// The job over `registry`, every `interval`.
    pub fn new(registry: Arc<Registry>, interval: Duration) -> Self {
        LifecycleEvaluation { registry, interval }
    }
}

impl Job for LifecycleEvaluation {
    fn name(&self) -> &'static str {
        "lifecycle"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run(&self) -> JobRun<'_> {
        Box::pin(async move { Ok(self.registry.lifecycle_pass().await?.to_string()) })
    }
}
