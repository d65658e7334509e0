//! Managed signing in the background: the queued signings (one per pushed image and
//! matching profile), every `--signing-interval` (a second by default).

use super::{Job, JobRun};
use crate::registry::Registry;
use crate::signing::keys::SigningKeys;
use std::sync::Arc;
use std::time::Duration;

/// Runs [`Registry::signing_pass`].
#[derive(Debug)]
pub struct ImageSigning {
    registry: Arc<Registry>,
    keys: Arc<SigningKeys>,
    interval: Duration,
}

impl ImageSigning {
    /// The job over `registry`, signing with `keys`, every `interval`.
    pub fn new(registry: Arc<Registry>, keys: Arc<SigningKeys>, interval: Duration) -> Self {
        ImageSigning { registry, keys, interval }
    }
}

impl Job for ImageSigning {
    fn name(&self) -> &'static str {
        "signing"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run(&self) -> JobRun<'_> {
        Box::pin(async move { self.registry.signing_pass(&self.keys).await })
    }
}
