//! Findings of enhanced scans in Amazon Inspector's shape (`enhancedFindings`): the
//! vulnerable package with its package manager and fixed version, CVSS, and the ECR image
//! as the resource.

use super::feed::Match;
use berth_generated::ecr::{
    AwsEcrContainerImageDetails, CvssScore, CvssScoreDetails, EnhancedImageScanFinding,
    FindingSeverity, PackageVulnerabilityDetails, Recommendation, Remediation, Resource,
    ResourceDetails, ScoreDetails, VulnerablePackage,
};
use berth_generated::runtime::Timestamp;
use sha2::{Digest as _, Sha256};

/// The image an enhanced finding is about (Inspector's resource).
#[derive(Debug, Clone)]
pub struct ScannedImage {
    pub account: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: f64,
    pub scanned_at: f64,
}

/// One advisory matching one package, as Inspector reports it for `image`.
pub(super) fn enhanced_finding(
    m: &Match<'_>, package_manager: &str, image: &ScannedImage,
) -> EnhancedImageScanFinding {
    let (advisory, package) = (m.advisory, m.package);
    let severity = match advisory.severity {
        FindingSeverity::Undefined => "UNTRIAGED".to_string(),
        s => s.as_str().to_string(),
    };
    let score = advisory.cvss3.as_ref().map_or(0.0, |(_, s)| *s);
    let cvss: Vec<CvssScore> = advisory
        .cvss3
        .iter()
        .map(|(vector, score)| (vector, score, "3.1"))
        .chain(advisory.cvss2.iter().map(|(v, s)| (v, s, "2.0")))
        .map(|(vector, score, version)| CvssScore {
            base_score: *score,
            scoring_vector: Some(vector.clone()),
            source: Some("OSV".into()),
            version: Some(version.into()),
        })
        .collect();
    let id = hex::encode(
        &Sha256::digest(
            format!("{}/{}/{}/{}", image.digest, advisory.name, package.source, package_manager)
                .as_bytes(),
        )[..16],
    );
    let at = Some(Timestamp(image.scanned_at));
    EnhancedImageScanFinding {
        aws_account_id: Some(image.account.clone()),
        description: Some(advisory.description.clone()),
        finding_arn: Some(format!(
            "arn:aws:inspector2:{}:{}:finding/{id}",
            image.region, image.account
        )),
        first_observed_at: at,
        last_observed_at: at,
        updated_at: at,
        fix_available: Some(if m.fixed_in.is_some() { "YES" } else { "NO" }.into()),
        exploit_available: Some("NO".into()),
        package_vulnerability_details: Some(PackageVulnerabilityDetails {
            cvss: Some(cvss),
            reference_urls: Some(vec![advisory.uri.clone()]),
            related_vulnerabilities: Some(advisory.aliases.clone()),
            source: Some("OSV".into()),
            source_url: Some(advisory.uri.clone()),
            vendor_severity: Some(severity.clone()),
            vulnerability_id: Some(advisory.name.clone()),
            vulnerable_packages: Some(vec![VulnerablePackage {
                name: Some(package.source.clone()),
                version: Some(package.source_version.clone()),
                package_manager: Some(package_manager.to_string()),
                fixed_in_version: m.fixed_in.clone(),
                file_path: package.file_path.clone(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        remediation: Some(Remediation {
            recommendation: Some(Recommendation {
                text: Some(match &m.fixed_in {
                    Some(fixed) => format!("Upgrade {} to {fixed} or later", package.source),
                    None => format!("No fixed version of {} is known", package.source),
                }),
                url: Some(advisory.uri.clone()),
            }),
        }),
        resources: Some(vec![Resource {
            id: Some(format!(
                "arn:aws:ecr:{}:{}:repository/{}/{}",
                image.region, image.account, image.repository, image.digest
            )),
            r#type: Some("AWS_ECR_CONTAINER_IMAGE".into()),
            details: Some(ResourceDetails {
                aws_ecr_container_image: Some(AwsEcrContainerImageDetails {
                    registry: Some(image.account.clone()),
                    repository_name: Some(image.repository.clone()),
                    image_hash: Some(image.digest.clone()),
                    image_tags: Some(image.tags.clone()),
                    pushed_at: Some(Timestamp(image.pushed_at)),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }]),
        score,
        score_details: advisory.cvss3.as_ref().map(|(vector, score)| ScoreDetails {
            cvss: Some(CvssScoreDetails {
                score: *score,
                scoring_vector: Some(vector.clone()),
                score_source: Some("OSV".into()),
                version: Some("3.1".into()),
                adjustments: None,
            }),
        }),
        severity: Some(severity),
        status: Some("ACTIVE".into()),
        title: Some(format!("{} - {}", advisory.name, package.source)),
        r#type: Some("PACKAGE_VULNERABILITY".into()),
    }
}
