//! Upload sessions nobody finished are removed a day after they started (ECR documents
//! no lifetime for its upload ids; distribution purges after a week).

use super::{Job, JobRun};
use crate::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Sessions older than this are removed, with their partial file.
pub const UPLOAD_MAX_AGE_SECS: f64 = 24.0 * 3600.0;

/// Removes upload sessions older than [`UPLOAD_MAX_AGE_SECS`] by the registry's clock.
#[derive(Debug)]
pub struct UploadExpiry {
    registry: Arc<Registry>,
}

impl UploadExpiry {
    /// The job over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        UploadExpiry { registry }
    }
}

impl Job for UploadExpiry {
    fn name(&self) -> &'static str {
        "upload-expiry"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(3600)
    }

    fn run(&self) -> JobRun<'_> {
        Box::pin(async move {
            let cutoff = self.registry.clock().now() - UPLOAD_MAX_AGE_SECS;
            let removed = self.registry.expire_uploads(cutoff).await?;
            Ok(format!("{removed} upload sessions expired"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::error::RegistryError;
    use crate::jobs::JobRunner;
    use crate::metadata::UploadKind;
    use crate::reference::RepositoryName;
    use crate::test_fixtures::{repository, scope};

    #[tokio::test]
    async fn sessions_expire_a_day_after_they_start_by_the_registry_clock() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::fixed(1_000_000.0);
        let registry = Arc::new(Registry::open(dir.path(), clock.clone()).await.unwrap());
        registry.create_repository(&scope(), &repository("app", clock.now()), &[]).await.unwrap();
        let app = RepositoryName::parse("app").unwrap();
        let old = registry.start_upload(&scope(), &app, UploadKind::Oci).await.unwrap();
        clock.advance(UPLOAD_MAX_AGE_SECS - 60.0);
        let young = registry.start_upload(&scope(), &app, UploadKind::Ecr).await.unwrap();
        let runner = JobRunner::new(vec![Arc::new(UploadExpiry::new(registry.clone()))]);

        let report = runner.run_now("upload-expiry").await.unwrap().unwrap();
        assert_eq!(report, "0 upload sessions expired", "nothing is a day old yet");
        clock.advance(120.0);
        let report = runner.run_now("upload-expiry").await.unwrap().unwrap();
        assert_eq!(report, "1 upload sessions expired");
        assert!(matches!(
            registry.upload_status(&scope(), &app, &old, UploadKind::Oci).await,
            Err(RegistryError::UploadUnknown { .. })
        ));
        assert!(
            !dir.path().join("uploads").join(&old).exists(),
            "the partial file goes with the session"
        );
        assert_eq!(
            registry.upload_status(&scope(), &app, &young, UploadKind::Ecr).await.unwrap(),
            0,
            "a younger session stays"
        );
        assert!(runner.run_now("no-such-job").await.is_none());
        runner.start();
        runner.shutdown().await;
    }
}
