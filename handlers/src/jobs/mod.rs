//! The background job runner: work that happens later (upload expiry, lifecycle
//! evaluation, garbage collection, replication, image scans and signing).
//!
//! Each job runs on its own tokio task every [`Job::interval`], and can be run at once by
//! name (`--admin-api`'s `POST /_berth/admin/jobs/<name>/run`), which is how tests move
//! the clock and then see what the job does, without sleeping. A job never runs twice at
//! the same time. The runner starts and stops with the server.

mod garbage_collection;
mod lifecycle;
mod replication;
mod scanning;
mod signing;
mod upload_expiry;

pub use garbage_collection::GarbageCollection;
pub use lifecycle::LifecycleEvaluation;
pub use replication::Replication;
pub use scanning::ImageScanning;
pub use signing::ImageSigning;
pub use upload_expiry::UploadExpiry;

use crate::error::RegistryError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Keeps a job to one process at a time when several share a database: before each run
/// the runner asks for the job's lease and skips the run when another process holds it.
/// One process alone (SQLite) needs none.
pub trait JobLock: Send + Sync + std::fmt::Debug {
    /// Takes the lease of job `name` if no other process holds it; `true` when taken.
    fn try_take<'a>(
        &'a self, name: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<bool, RegistryError>>;

    /// Gives back the lease of job `name`.
    fn give_back<'a>(&'a self, name: &'a str) -> futures_util::future::BoxFuture<'a, ()>;
}

/// How long a run on demand waits for another process's run of the job, and how often it
/// asks for the lease meanwhile.
const LEASE_WAIT: Duration = Duration::from_secs(600);
const LEASE_POLL: Duration = Duration::from_millis(25);

/// What one run of a job did, for logs and the admin API.
pub type JobReport = String;

/// The future a job's run returns.
pub type JobRun<'a> = Pin<Box<dyn Future<Output = Result<JobReport, RegistryError>> + Send + 'a>>;

/// One kind of later work.
pub trait Job: Send + Sync + std::fmt::Debug {
    /// Stable name, as the admin API addresses it.
    fn name(&self) -> &'static str;
    /// How often the runner runs it.
    fn interval(&self) -> Duration;
    /// One pass; reads time from the registry's clock, so a moved clock is honoured.
    fn run(&self) -> JobRun<'_>;
}

#[derive(Debug)]
struct Entry {
    job: Arc<dyn Job>,
    /// Held while the job runs, so that a run on demand and a periodic run never overlap.
    running: tokio::sync::Mutex<()>,
    /// Runs so far, and those that failed (for `/metrics`).
    runs: std::sync::atomic::AtomicU64,
    failures: std::sync::atomic::AtomicU64,
}

impl Entry {
    /// Runs the job once, counting the run (and its failure); with a `lock`, only when
    /// no other process is running it: a periodic run is then skipped, a run on demand
    /// (`wait`) waits for the other process's run to end, so that "run now" always runs.
    async fn run(
        &self, lock: Option<&dyn JobLock>, wait: bool,
    ) -> Result<JobReport, RegistryError> {
        let _running = self.running.lock().await;
        let name = self.job.name();
        if let Some(lock) = lock {
            let mut waited = Duration::ZERO;
            while !lock.try_take(name).await? {
                if !wait || waited >= LEASE_WAIT {
                    return Ok(format!("skipped: another replica is running {name}"));
                }
                // Another process's run, not berth's clock: real time.
                tokio::time::sleep(LEASE_POLL).await;
                waited += LEASE_POLL;
            }
        }
        let result = self.job.run().await;
        if let Some(lock) = lock {
            lock.give_back(name).await;
        }
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if result.is_err() {
            self.failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }
}

/// One job's counts: name, runs, failed runs.
pub type JobCounts = (&'static str, u64, u64);

/// The jobs of one server, their periodic tasks, and the signal that stops them.
#[derive(Debug)]
pub struct JobRunner {
    entries: Vec<Arc<Entry>>,
    lock: Option<Arc<dyn JobLock>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl JobRunner {
    /// A runner for `jobs`; nothing runs until [`JobRunner::start`].
    pub fn new(jobs: Vec<Arc<dyn Job>>) -> Self {
        JobRunner {
            entries: jobs
                .into_iter()
                .map(|job| {
                    Arc::new(Entry {
                        job,
                        running: tokio::sync::Mutex::new(()),
                        runs: Default::default(),
                        failures: Default::default(),
                    })
                })
                .collect(),
            lock: None,
            stop: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// The same runner, running each job only while it holds the job's lease in `lock`.
    pub fn with_lock(mut self, lock: Arc<dyn JobLock>) -> Self {
        self.lock = Some(lock);
        self
    }

    /// Each job's runs and failures so far.
    pub fn counts(&self) -> Vec<JobCounts> {
        use std::sync::atomic::Ordering::Relaxed;
        self.entries
            .iter()
            .map(|e| (e.job.name(), e.runs.load(Relaxed), e.failures.load(Relaxed)))
            .collect()
    }

    /// The names of the jobs, in the order given.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.job.name()).collect()
    }

    /// Starts one periodic task per job (the first run comes after one interval); a second
    /// call does nothing.
    pub fn start(&self) {
        let Ok(mut tasks) = self.tasks.lock() else {
            return;
        };
        if !tasks.is_empty() {
            return;
        }
        for entry in &self.entries {
            let entry = entry.clone();
            let lock = self.lock.clone();
            let mut stop = self.stop.subscribe();
            tasks.push(tokio::spawn(async move {
                let period = entry.job.interval();
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = ticks.tick() => { run_logged(&entry, lock.as_deref()).await; }
                        _ = stop.changed() => break,
                    }
                }
            }));
        }
    }

    /// Runs the job called `name` now and returns its report; `None` when there is no
    /// such job.
    pub async fn run_now(&self, name: &str) -> Option<Result<JobReport, RegistryError>> {
        let entry = self.entries.iter().find(|e| e.job.name() == name)?;
        Some(entry.run(self.lock.as_deref(), true).await)
    }

    /// Stops the periodic tasks and waits for a run in progress to finish.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks = match self.tasks.lock() {
            Ok(mut tasks) => std::mem::take(&mut *tasks),
            Err(_) => Vec::new(),
        };
        for task in tasks {
            let _ = task.await;
        }
    }
}

async fn run_logged(entry: &Entry, lock: Option<&dyn JobLock>) {
    match entry.run(lock, false).await {
        Ok(report) => tracing::debug!(job = entry.job.name(), %report, "job ran"),
        Err(e) => tracing::error!(job = entry.job.name(), "job failed: {e}"),
    }
}
