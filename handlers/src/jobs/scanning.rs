//! Image scans in the background: the queued ones (on push, StartImageScan), every
//! `--scan-interval` (a second by default; ECR's basic scans take seconds to minutes).

use super::{Job, JobRun};
use crate::scanning::scanner::Scanner;
use std::sync::Arc;
use std::time::Duration;

/// Runs [`Scanner::pass`].
#[derive(Debug)]
pub struct ImageScanning {
    scanner: Arc<Scanner>,
    interval: Duration,
}

impl ImageScanning {
    /// The job running `scanner` every `interval`.
    pub fn new(scanner: Arc<Scanner>, interval: Duration) -> Self {
        ImageScanning { scanner, interval }
    }
}

impl Job for ImageScanning {
    fn name(&self) -> &'static str {
        "scan"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run(&self) -> JobRun<'_> {
        Box::pin(async move { self.scanner.pass().await })
    }
}
