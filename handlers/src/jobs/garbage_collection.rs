//! Garbage collection in the background: blobs no manifest references, after the grace
//! period (`--gc-grace`, default an hour), every `--gc-interval`.

use super::{Job, JobRun};
use crate::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Runs [`Registry::collect_garbage`].
#[derive(Debug)]
pub struct GarbageCollection {
    registry: Arc<Registry>,
    interval: Duration,
    grace: Duration,
}

impl GarbageCollection {
    /// The job over `registry`, every `interval`, keeping unreferenced blobs for `grace`.
    pub fn new(registry: Arc<Registry>, interval: Duration, grace: Duration) -> Self {
        GarbageCollection { registry, interval, grace }
    }
}

impl Job for GarbageCollection {
    fn name(&self) -> &'static str {
        "gc"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run(&self) -> JobRun<'_> {
        Box::pin(async move {
            let grace = self.grace.as_secs_f64();
            Ok(self.registry.collect_garbage(grace).await?.to_string())
        })
    }
}
