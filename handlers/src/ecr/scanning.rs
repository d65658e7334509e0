//! Put/GetRegistryScanningConfiguration and BatchGetRepositoryScanningConfiguration: which
//! repositories scan when, as ECR answers; StartImageScan and DescribeImageScanFindings:
//! the scans the scan job runs, and what they found.

use super::images::image_not_found;
use super::page_token::page_by_position;
use super::{repository_name, EcrHandlers};
use crate::error::RegistryError;
use crate::metadata::{ImageKey, ScanRecord, StoredManifest};
use crate::reference::RepositoryName;
use crate::registry::repository_arn;
use crate::scope::{Caller, RegistryScope};
use berth_generated::ecr::*;
use berth_generated::runtime::Timestamp;
use std::collections::BTreeMap;

/// ECR's page size of findings when `maxResults` is not given.
const DEFAULT_FINDINGS_PAGE: i32 = 100;

impl EcrHandlers {
    /// The image an id names (ImageNotFound with ECR's text otherwise).
    async fn scanned_image(
        &self, scope: &RegistryScope, repository: &RepositoryName, id: &ImageIdentifier,
    ) -> Result<StoredManifest, RegistryError> {
        match self.resolve(scope, repository, id).await? {
            Ok((manifest, _)) => Ok(manifest),
            Err(_) => Err(image_not_found(id, repository, scope)),
        }
    }
}

/// The severity of an enhanced finding (Inspector's words).
fn enhanced_severity(finding: &EnhancedImageScanFinding) -> FindingSeverity {
    match finding.severity.as_deref() {
        Some("CRITICAL") => FindingSeverity::Critical,
        Some("HIGH") => FindingSeverity::High,
        Some("MEDIUM") => FindingSeverity::Medium,
        Some("LOW") => FindingSeverity::Low,
        Some("INFORMATIONAL") => FindingSeverity::Informational,
        _ => FindingSeverity::Undefined,
    }
}

/// The scan's status as ECR shows it (ACTIVE for a completed continuous scan).
fn shown_status(scan: &ScanRecord, continuous: bool) -> ScanStatus {
    match scan.status.as_str() {
        "COMPLETE" if continuous => ScanStatus::Active,
        "COMPLETE" => ScanStatus::Complete,
        "FAILED" => ScanStatus::Failed,
        _ => ScanStatus::InProgress,
    }
}

/// Findings by severity, whichever shape the scan has.
fn severity_counts(scan: &ScanRecord) -> BTreeMap<FindingSeverity, i32> {
    let severities: Vec<FindingSeverity> = match &scan.enhanced_findings {
        None => serde_json::from_str::<Vec<ImageScanFinding>>(&scan.findings)
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f.severity)
            .collect(),
        Some(text) => serde_json::from_str::<Vec<EnhancedImageScanFinding>>(text)
            .unwrap_or_default()
            .iter()
            .map(enhanced_severity)
            .collect(),
    };
    let mut counts = BTreeMap::new();
    for severity in severities {
        *counts.entry(severity).or_default() += 1;
    }
    counts
}

impl EcrHandlers {
    /// DescribeImages shows each image's scan status and summary where ECR does: under
    /// ENHANCED scanning, or BASIC with BASIC_SCAN_TYPE_VERSION `CLAIR` (ECR's
    /// `AWS_NATIVE` basic scans leave them out).
    pub(super) async fn add_scan_summaries(
        &self, scope: &RegistryScope, repository: &RepositoryName, details: &mut [ImageDetail],
    ) -> Result<(), RegistryError> {
        let scanning = self.registry.repository_scanning(scope, repository).await?;
        let enhanced = self.registry.scanning_configuration(scope).await?.scan_type
            == Some(ScanType::Enhanced);
        let clair = self
            .registry
            .account_setting(scope, crate::registry::AccountSetting::BasicScanTypeVersion)
            .await?
            == "CLAIR";
        if !(enhanced || clair) {
            return Ok(());
        }
        let continuous = scanning.frequency == ScanFrequency::ContinuousScan;
        for detail in details {
            let Some(digest) =
                detail.image_digest.as_deref().and_then(|d| crate::digest::Digest::parse(d).ok())
            else {
                continue;
            };
            let key = ImageKey { scope: scope.clone(), repository: repository.to_string(), digest };
            let Some(scan) = self.registry.image_scan(&key).await? else {
                continue;
            };
            detail.image_scan_status = Some(ImageScanStatus {
                status: Some(shown_status(&scan, continuous)),
                description: Some(scan.description.clone()),
            });
            if scan.status != "IN_PROGRESS" {
                detail.image_scan_findings_summary = Some(ImageScanFindingsSummary {
                    finding_severity_counts: Some(severity_counts(&scan)),
                    image_scan_completed_at: scan.completed_at.map(Timestamp),
                    vulnerability_source_updated_at: scan.source_updated_at.map(Timestamp),
                });
            }
        }
        Ok(())
    }
}

/// The requested page of findings.
fn page<T>(
    findings: Vec<T>, input: &DescribeImageScanFindingsRequest,
) -> Result<(Vec<T>, Option<String>), RegistryError> {
    page_by_position(
        findings,
        input.next_token.as_deref(),
        input.max_results,
        DEFAULT_FINDINGS_PAGE,
    )
}

impl StartImageScan for EcrHandlers {
    async fn start_image_scan(
        &self, caller: &Caller, input: StartImageScanRequest,
    ) -> Result<StartImageScanResponse, RegistryError> {
        let (scope, repository) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let manifest = self.scanned_image(&scope, &repository, &input.image_id).await?;
        if !self.registry.is_pullable(&manifest.storage) {
            return Err(RegistryError::ImageArchived(format!(
                "The image with digest {} is archived and cannot be scanned; restore it first",
                manifest.digest
            )));
        }
        self.registry.start_scan(&scope, &repository, &manifest.digest, true).await?;
        Ok(StartImageScanResponse {
            registry_id: Some(scope.registry_id.clone()),
            repository_name: Some(repository.to_string()),
            image_id: Some(ImageIdentifier {
                image_digest: Some(manifest.digest.to_string()),
                image_tag: input.image_id.image_tag,
            }),
            image_scan_status: Some(ImageScanStatus {
                status: Some(ScanStatus::InProgress),
                description: None,
            }),
        })
    }
}

impl DescribeImageScanFindings for EcrHandlers {
    async fn describe_image_scan_findings(
        &self, caller: &Caller, input: DescribeImageScanFindingsRequest,
    ) -> Result<DescribeImageScanFindingsResponse, RegistryError> {
        let (scope, repository) = self
            .existing_repository(caller, input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let id = input.image_id.clone();
        let manifest = self.scanned_image(&scope, &repository, &id).await?;
        let key = ImageKey {
            scope: scope.clone(),
            repository: repository.to_string(),
            digest: manifest.digest.clone(),
        };
        let Some(scan) = self.registry.image_scan(&key).await? else {
            return Err(RegistryError::ScanNotFound(format!(
                "Image scan does not exist for the image with '{{imageDigest:'{}', imageTag:'{}'}}' in the repository with name '{}' in the registry with id '{}'",
                id.image_digest.as_deref().unwrap_or("null"),
                id.image_tag.as_deref().unwrap_or("null"),
                repository,
                scope.registry_id
            )));
        };
        let continuous = self.registry.repository_scanning(&scope, &repository).await?.frequency
            == ScanFrequency::ContinuousScan;
        let status = shown_status(&scan, continuous);
        let counts = severity_counts(&scan);
        let (basic, enhanced, next_token) = match &scan.enhanced_findings {
            None => {
                let findings: Vec<ImageScanFinding> =
                    serde_json::from_str(&scan.findings).unwrap_or_default();
                let (findings, next) = page(findings, &input)?;
                (Some(findings), None, next)
            }
            Some(text) => {
                let findings: Vec<EnhancedImageScanFinding> =
                    serde_json::from_str(text).unwrap_or_default();
                let (findings, next) = page(findings, &input)?;
                (None, Some(findings), next)
            }
        };
        let done = status != ScanStatus::InProgress;
        Ok(DescribeImageScanFindingsResponse {
            registry_id: Some(scope.registry_id.clone()),
            repository_name: Some(repository.to_string()),
            image_id: Some(id),
            image_scan_status: Some(ImageScanStatus {
                status: Some(status),
                description: Some(scan.description),
            }),
            image_scan_findings: done.then(|| ImageScanFindings {
                findings: basic,
                finding_severity_counts: Some(counts),
                image_scan_completed_at: scan.completed_at.map(Timestamp),
                vulnerability_source_updated_at: scan.source_updated_at.map(Timestamp),
                enhanced_findings: enhanced,
            }),
            next_token,
        })
    }
}

impl PutRegistryScanningConfiguration for EcrHandlers {
    async fn put_registry_scanning_configuration(
        &self, caller: &Caller, input: PutRegistryScanningConfigurationRequest,
    ) -> Result<PutRegistryScanningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let scan_type = input.scan_type.unwrap_or(ScanType::Basic);
        let rules = input.rules.unwrap_or_default();
        for (i, rule) in rules.iter().enumerate() {
            if scan_type == ScanType::Basic && rule.scan_frequency == ScanFrequency::ContinuousScan
            {
                return Err(RegistryError::invalid_parameter(
                    "rules",
                    "CONTINUOUS_SCAN is only supported for the ENHANCED scan type",
                ));
            }
            if rules[..i].iter().any(|other| other.scan_frequency == rule.scan_frequency) {
                return Err(RegistryError::invalid_parameter(
                    "rules",
                    "only one rule per scan frequency is allowed",
                ));
            }
        }
        let configuration =
            RegistryScanningConfiguration { scan_type: Some(scan_type), rules: Some(rules) };
        self.registry.set_scanning_configuration(&scope, configuration.clone()).await?;
        Ok(PutRegistryScanningConfigurationResponse {
            registry_scanning_configuration: Some(configuration),
        })
    }
}

impl GetRegistryScanningConfiguration for EcrHandlers {
    async fn get_registry_scanning_configuration(
        &self, caller: &Caller, _input: GetRegistryScanningConfigurationRequest,
    ) -> Result<GetRegistryScanningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        Ok(GetRegistryScanningConfigurationResponse {
            registry_id: Some(scope.registry_id.clone()),
            scanning_configuration: Some(self.registry.scanning_configuration(&scope).await?),
        })
    }
}

impl BatchGetRepositoryScanningConfiguration for EcrHandlers {
    async fn batch_get_repository_scanning_configuration(
        &self, caller: &Caller, input: BatchGetRepositoryScanningConfigurationRequest,
    ) -> Result<BatchGetRepositoryScanningConfigurationResponse, RegistryError> {
        let scope = RegistryScope::for_request(caller, None);
        let mut configurations = Vec::new();
        let mut failures = Vec::new();
        for name in input.repository_names {
            let parsed = repository_name(&name)?;
            match self.registry.repository_scanning(&scope, &parsed).await {
                Ok(scanning) => configurations.push(RepositoryScanningConfiguration {
                    repository_arn: Some(repository_arn(&scope, &name)),
                    repository_name: Some(name),
                    scan_on_push: scanning.scan_on_push,
                    scan_frequency: Some(scanning.frequency),
                    applied_scan_filters: Some(scanning.applied_filters),
                }),
                Err(e @ RegistryError::RepositoryNotFound { .. }) => {
                    failures.push(RepositoryScanningConfigurationFailure {
                        repository_name: Some(name),
                        failure_code: Some(ScanningConfigurationFailureCode::RepositoryNotFound),
                        failure_reason: Some(e.to_string()),
                    })
                }
                Err(e) => return Err(e),
            }
        }
        Ok(BatchGetRepositoryScanningConfigurationResponse {
            scanning_configurations: Some(configurations),
            failures: Some(failures),
        })
    }
}
