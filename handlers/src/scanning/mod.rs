//! Image scanning: which repositories scan when (the registry's scanning configuration
//! combined with a repository's own `scanOnPush`, as ECR combines them), and the offline
//! scanner: an image's package databases (`layers`, `packages`) matched against an OSV
//! feed (`feed`) with each ecosystem's version ordering (`versions`).

pub mod enhanced;
pub mod feed;
pub mod layers;
pub mod packages;
pub mod scanner;
pub mod versions;

use crate::immutability::wildcard_match;
use berth_generated::ecr::{
    RegistryScanningConfiguration, RegistryScanningRule, ScanFrequency, ScanType,
    ScanningRepositoryFilter,
};

/// How a repository is scanned under the registry's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositoryScanning {
    pub frequency: ScanFrequency,
    /// Scans when an image is pushed (SCAN_ON_PUSH, CONTINUOUS_SCAN, or the repository's
    /// own `scanOnPush` under BASIC).
    pub scan_on_push: bool,
    /// The filters of the rule that decided, those that match the name.
    pub applied_filters: Vec<ScanningRepositoryFilter>,
}

/// ECR's filter semantics: a filter without `*` matches any name that contains it; with
/// `*`, the whole name must match, `*` standing for any run of characters.
pub fn filter_matches(filter: &str, name: &str) -> bool {
    if !filter.contains('*') {
        return name.contains(filter);
    }
    wildcard_match(filter, name)
}

/// The registry's scanning configuration, or ECR's default (BASIC, no rules).
pub fn or_default(
    configuration: Option<RegistryScanningConfiguration>,
) -> RegistryScanningConfiguration {
    let mut configuration = configuration.unwrap_or_default();
    configuration.scan_type.get_or_insert(ScanType::Basic);
    configuration.rules.get_or_insert_with(Vec::new);
    configuration
}

/// How the repository `name` (whose own `scanOnPush` is given) scans. Under ENHANCED a
/// CONTINUOUS_SCAN rule beats a SCAN_ON_PUSH one and the repository's own setting does
/// not count; under BASIC a SCAN_ON_PUSH rule or the repository's setting scans on push.
pub fn repository_scanning(
    configuration: &RegistryScanningConfiguration, name: &str, repository_scan_on_push: bool,
) -> RepositoryScanning {
    let rules = configuration.rules.as_deref().unwrap_or_default();
    let enhanced = configuration.scan_type == Some(ScanType::Enhanced);
    let matching = |frequency: ScanFrequency| -> Option<Vec<ScanningRepositoryFilter>> {
        let filters: Vec<ScanningRepositoryFilter> = rules
            .iter()
            .filter(|r: &&RegistryScanningRule| r.scan_frequency == frequency)
            .flat_map(|r| r.repository_filters.iter())
            .filter(|f| filter_matches(&f.filter, name))
            .cloned()
            .collect();
        (!filters.is_empty()).then_some(filters)
    };
    let decided = if enhanced {
        matching(ScanFrequency::ContinuousScan)
            .map(|f| (ScanFrequency::ContinuousScan, f))
            .or_else(|| matching(ScanFrequency::ScanOnPush).map(|f| (ScanFrequency::ScanOnPush, f)))
    } else {
        matching(ScanFrequency::ScanOnPush).map(|f| (ScanFrequency::ScanOnPush, f))
    };
    match decided {
        Some((frequency, applied_filters)) => {
            RepositoryScanning { frequency, scan_on_push: true, applied_filters }
        }
        None if !enhanced && repository_scan_on_push => RepositoryScanning {
            frequency: ScanFrequency::ScanOnPush,
            scan_on_push: true,
            applied_filters: Vec::new(),
        },
        None => RepositoryScanning {
            frequency: ScanFrequency::Manual,
            scan_on_push: false,
            applied_filters: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_generated::ecr::ScanningRepositoryFilterType;

    #[test]
    fn filters_follow_ecrs_table() {
        let names = ["prod", "repo-prod", "prod-repo", "repo-prod-repo", "prodrepo"];
        for (filter, expected) in [
            ("prod", [true, true, true, true, true]),
            ("*prod", [true, true, false, false, false]),
            ("prod*", [true, false, true, false, true]),
            ("*prod*", [true, true, true, true, true]),
            ("prod*repo", [false, false, true, false, true]),
        ] {
            for (name, want) in names.iter().zip(expected) {
                assert_eq!(filter_matches(filter, name), want, "{filter} on {name}");
            }
        }
        assert!(filter_matches("*", "anything"));
        assert!(filter_matches("a*b*c", "a-x-b-y-c"));
        assert!(!filter_matches("a*b*c", "a-x-c-y-b"));
    }

    fn rule(frequency: ScanFrequency, filters: &[&str]) -> RegistryScanningRule {
        RegistryScanningRule {
            scan_frequency: frequency,
            repository_filters: filters
                .iter()
                .map(|f| ScanningRepositoryFilter {
                    filter: f.to_string(),
                    filter_type: ScanningRepositoryFilterType::Wildcard,
                })
                .collect(),
        }
    }

    #[test]
    fn rules_and_repository_settings_combine_as_ecr() {
        let basic = RegistryScanningConfiguration {
            scan_type: Some(ScanType::Basic),
            rules: Some(vec![rule(ScanFrequency::ScanOnPush, &["prod*"])]),
        };
        let on = repository_scanning(&basic, "prod/app", false);
        assert_eq!(on.frequency, ScanFrequency::ScanOnPush);
        assert_eq!(on.applied_filters.len(), 1);
        let own = repository_scanning(&basic, "dev/app", true);
        assert_eq!((own.frequency, own.applied_filters.len()), (ScanFrequency::ScanOnPush, 0));
        assert_eq!(repository_scanning(&basic, "dev/app", false).frequency, ScanFrequency::Manual);
        let enhanced = RegistryScanningConfiguration {
            scan_type: Some(ScanType::Enhanced),
            rules: Some(vec![
                rule(ScanFrequency::ScanOnPush, &["*"]),
                rule(ScanFrequency::ContinuousScan, &["prod"]),
            ]),
        };
        assert_eq!(
            repository_scanning(&enhanced, "team/prod", false).frequency,
            ScanFrequency::ContinuousScan
        );
        assert_eq!(
            repository_scanning(&enhanced, "team/dev", false).frequency,
            ScanFrequency::ScanOnPush
        );
        let default = or_default(None);
        assert_eq!(default.scan_type, Some(ScanType::Basic));
        assert_eq!(default.rules, Some(vec![]));
    }
}
