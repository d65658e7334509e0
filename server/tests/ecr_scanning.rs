//! Scanning configuration through aws-sdk-ecr against the real binary: the registry's
//! rules with ECR's filter semantics, combined with each repository's own `scanOnPush`.

mod support;

use aws_sdk_ecr::types::{
    RegistryScanningRule, ScanFrequency, ScanType, ScanningConfigurationFailureCode,
    ScanningRepositoryFilter, ScanningRepositoryFilterType,
};
use support::*;

fn rule(frequency: ScanFrequency, filter: &str) -> RegistryScanningRule {
    RegistryScanningRule::builder()
        .scan_frequency(frequency)
        .repository_filters(
            ScanningRepositoryFilter::builder()
                .filter(filter)
                .filter_type(ScanningRepositoryFilterType::Wildcard)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn registry_rules_and_repository_settings_decide_how_each_repository_scans() {
    let (_dir, _berth, ecr) = started(&[]);

    let default = ecr.get_registry_scanning_configuration().send().await.unwrap();
    assert_eq!(default.registry_id(), Some("000000000000"));
    let configuration = default.scanning_configuration().unwrap();
    assert_eq!(configuration.scan_type(), Some(&ScanType::Basic));
    assert!(configuration.rules().is_empty());

    let refused = ecr
        .put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .rules(rule(ScanFrequency::ContinuousScan, "*"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(refused).0, "InvalidParameterException");

    for name in ["team/prod", "team/dev", "own"] {
        create_repository(&ecr, name).await;
    }
    scan_on_push(&ecr, "own").await;
    let put = ecr
        .put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .rules(rule(ScanFrequency::ScanOnPush, "*prod"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.registry_scanning_configuration().unwrap().rules().len(), 1);
    let batch = |names: &'static [&'static str]| {
        let ecr = ecr.clone();
        async move {
            ecr.batch_get_repository_scanning_configuration()
                .set_repository_names(Some(names.iter().map(|n| n.to_string()).collect()))
                .send()
                .await
                .unwrap()
        }
    };
    let got = batch(&["team/prod", "team/dev", "own", "missing"]).await;
    let frequency = |name: &str| {
        let c = got
            .scanning_configurations()
            .iter()
            .find(|c| c.repository_name() == Some(name))
            .unwrap();
        (c.scan_frequency().cloned(), c.scan_on_push(), c.applied_scan_filters().len())
    };
    assert_eq!(frequency("team/prod"), (Some(ScanFrequency::ScanOnPush), true, 1));
    assert_eq!(frequency("team/dev"), (Some(ScanFrequency::Manual), false, 0));
    assert_eq!(
        frequency("own"),
        (Some(ScanFrequency::ScanOnPush), true, 0),
        "the repository's own scanOnPush under BASIC"
    );
    assert_eq!(
        got.failures()[0].failure_code(),
        Some(&ScanningConfigurationFailureCode::RepositoryNotFound)
    );
    let arn = got.scanning_configurations()[0].repository_arn().unwrap();
    assert!(arn.starts_with("arn:aws:ecr:us-east-1:000000000000:repository/"), "{arn}");

    ecr.put_registry_scanning_configuration()
        .scan_type(ScanType::Enhanced)
        .rules(rule(ScanFrequency::ScanOnPush, "team"))
        .rules(rule(ScanFrequency::ContinuousScan, "*prod"))
        .send()
        .await
        .unwrap();
    let got = batch(&["team/prod", "team/dev", "own"]).await;
    let frequencies: Vec<_> =
        got.scanning_configurations().iter().map(|c| c.scan_frequency().cloned()).collect();
    assert_eq!(
        frequencies,
        [
            Some(ScanFrequency::ContinuousScan),
            Some(ScanFrequency::ScanOnPush),
            Some(ScanFrequency::Manual)
        ],
        "CONTINUOUS_SCAN beats SCAN_ON_PUSH; ENHANCED ignores the repository's own setting"
    );
}
