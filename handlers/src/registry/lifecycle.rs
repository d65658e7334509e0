//! One pass of lifecycle evaluation over the stored images: every repository that has a
//! policy, evaluated at the registry clock's now, its expiries applied as BatchDeleteImage
//! applies them. What the background job and the admin API run.

use super::Registry;
use super::StorageClassTarget;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::lifecycle::policy::{Action, StorageClass};
use crate::lifecycle::{evaluate, Decision, LifecycleImage, LifecyclePolicy};
use crate::metadata::{ImageFilter, MetadataStore};
use crate::reference::RepositoryName;
use crate::scope::RegistryScope;
use std::collections::HashMap;

/// Images read per page while collecting a repository's images.
const PAGE: u32 = 1000;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LifecycleReport {
    /// Repositories whose policy was evaluated.
    pub evaluated: usize,
    /// `<repository>@<digest>` of each image expired.
    pub expired: Vec<String>,
    /// `<repository>@<digest>` of each image archived.
    pub archived: Vec<String>,
    /// Why an action could not be taken (an image still listed by an index...).
    pub failures: Vec<String>,
}

impl std::fmt::Display for LifecycleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} repositories evaluated, {} images expired [{}], {} archived [{}], {} failures [{}]",
            self.evaluated,
            self.expired.len(),
            self.expired.join(", "),
            self.archived.len(),
            self.archived.join(", "),
            self.failures.len(),
            self.failures.join("; ")
        )
    }
}

impl<M: MetadataStore> Registry<M> {
    /// Every image of the repository as lifecycle sees it.
    async fn lifecycle_images(
        &self, scope: &RegistryScope, repository: &RepositoryName,
    ) -> Result<Vec<LifecycleImage>, RegistryError> {
        let mut images = Vec::new();
        let mut after = String::new();
        loop {
            let page = self.image_page(scope, repository, &after, ImageFilter::all(), PAGE).await?;
            let full = page.len() == PAGE as usize;
            if let Some(last) = page.last() {
                after = last.digest.to_string();
            }
            images.extend(page.into_iter().map(|image| LifecycleImage {
                digest: image.digest.to_string(),
                tags: image.tags,
                pushed_at: image.pushed_at,
                last_pulled_at: image.last_pulled_at,
                storage_class: if image.storage.archived {
                    StorageClass::Archive
                } else {
                    StorageClass::Standard
                },
                transitioned_at: image.storage.transitioned_at(),
            }));
            if !full {
                return Ok(images);
            }
        }
    }

    /// Evaluates every lifecycle policy now and applies what it decides.
    pub async fn lifecycle_pass(&self) -> Result<LifecycleReport, RegistryError> {
        let now = self.clock.now();
        let mut report = LifecycleReport::default();
        for (scope, name, text) in self.store.lifecycle_policies().await? {
            let (Ok(policy), Some(repository)) =
                (LifecyclePolicy::parse(&text), RepositoryName::parse(&name))
            else {
                report.failures.push(format!("{name}: the stored policy no longer parses"));
                continue;
            };
            let images = self.lifecycle_images(&scope, &repository).await?;
            for decision in evaluate(&policy, &images, now) {
                let digest = Digest::parse(&decision.digest).map_err(|_| {
                    RegistryError::Internal(format!("stored digest {} is invalid", decision.digest))
                })?;
                if let Action::Transition(_) = decision.action {
                    let target = StorageClassTarget::Archive;
                    match self.set_storage_class(&scope, &repository, &digest, target).await {
                        Ok(_) => report.archived.push(format!("{name}@{digest}")),
                        Err(e @ RegistryError::ImageStorageClassUpdateNotSupported(_)) => {
                            report.failures.push(format!("{name}@{digest}: {e}"))
                        }
                        Err(e) => return Err(e),
                    }
                    continue;
                }
                match self.delete_image(&scope, &repository, &digest).await {
                    Ok(_) => report.expired.push(format!("{name}@{digest}")),
                    Err(e @ RegistryError::ImageReferencedByManifestList { .. }) => {
                        report.failures.push(format!("{name}@{digest}: {e}"))
                    }
                    Err(e) => return Err(e),
                }
            }
            self.store.set_lifecycle_evaluated_at(&scope, &name, now).await?;
            report.evaluated += 1;
        }
        Ok(report)
    }

    /// What `policy` would do to the repository's images at `at`, each decision with its
    /// image: the lifecycle preview.
    pub async fn lifecycle_preview(
        &self, scope: &RegistryScope, repository: &RepositoryName, policy: &LifecyclePolicy,
        at: f64,
    ) -> Result<Vec<(Decision, LifecycleImage)>, RegistryError> {
        let images = self.lifecycle_images(scope, repository).await?;
        let decisions = evaluate(policy, &images, at);
        let mut by_digest: HashMap<String, LifecycleImage> =
            images.into_iter().map(|image| (image.digest.clone(), image)).collect();
        Ok(decisions
            .into_iter()
            .filter_map(|d| by_digest.remove(&d.digest).map(|image| (d, image)))
            .collect())
    }

    /// When the repository's lifecycle policy was last evaluated, if ever.
    pub async fn lifecycle_evaluated_at(
        &self, scope: &RegistryScope, name: &str,
    ) -> Result<Option<f64>, RegistryError> {
        self.store.lifecycle_evaluated_at(scope, name).await
    }
}
