//! Account settings and the registry policy through aws-sdk-ecr against the real binary:
//! defaults, puts, ECR's errors, and both kept per registry across a kill -9.

mod support;

use support::{code_and_message, ecr_client, Berth};

async fn setting(ecr: &aws_sdk_ecr::Client, name: &str) -> Result<String, (String, String)> {
    ecr.get_account_setting()
        .name(name)
        .send()
        .await
        .map(|got| got.value().unwrap_or_default().to_string())
        .map_err(code_and_message)
}

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReplicationAccessCrossAccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":["ecr:CreateRepository","ecr:ReplicateImage"],"Resource":"arn:aws:ecr:us-east-1:000000000000:repository/*"}]}"#;

#[tokio::test]
async fn settings_and_registry_policy_per_registry() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(dir.path(), &[]);
    let ecr = ecr_client(&berth.endpoint, "AKIDANY", "us-east-1");
    for (name, default) in [
        ("BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE"),
        ("REGISTRY_POLICY_SCOPE", "V2"),
        ("BLOB_MOUNTING", "DISABLED"),
    ] {
        assert_eq!(setting(&ecr, name).await, Ok(default.to_string()), "{name}");
    }
    let put =
        ecr.put_account_setting().name("BLOB_MOUNTING").value("ENABLED").send().await.unwrap();
    assert_eq!((put.name(), put.value()), (Some("BLOB_MOUNTING"), Some("ENABLED")));
    let (code, message) = code_and_message(
        ecr.put_account_setting()
            .name("BLOB_MOUNTING")
            .value("SOMETIMES")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
    assert_eq!(message, "Invalid parameter at 'value' failed to satisfy constraint: 'Member must satisfy enum value set: [DISABLED, ENABLED]'");
    let (code, _) = setting(&ecr, "NO_SUCH_SETTING").await.unwrap_err();
    assert_eq!(code, "InvalidParameterException");

    let missing = (
        "RegistryPolicyNotFoundException".to_string(),
        "Registry policy does not exist in the registry with id '000000000000'".to_string(),
    );
    let get = || async {
        ecr.get_registry_policy()
            .send()
            .await
            .map(|got| got.policy_text().unwrap_or_default().to_string())
            .map_err(code_and_message)
    };
    assert_eq!(get().await, Err(missing.clone()));
    let put = ecr.put_registry_policy().policy_text(POLICY).send().await.unwrap();
    assert_eq!((put.registry_id(), put.policy_text()), (Some("000000000000"), Some(POLICY)));
    let (code, message) = code_and_message(
        ecr.put_registry_policy().policy_text(r#"{"Statement":[]}"#).send().await.unwrap_err(),
    );
    assert_eq!(code, "InvalidParameterException");
    assert_eq!(message, "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided'");

    // Both are acknowledged, so both survive kill -9; another region has its own.
    berth.kill9();
    let berth = Berth::start(dir.path(), &[]);
    let ecr = ecr_client(&berth.endpoint, "AKIDANY", "us-east-1");
    assert_eq!(setting(&ecr, "BLOB_MOUNTING").await, Ok("ENABLED".to_string()));
    let west = ecr_client(&berth.endpoint, "AKIDANY", "us-west-2");
    assert_eq!(setting(&west, "BLOB_MOUNTING").await, Ok("DISABLED".to_string()));
    assert_eq!(
        west.get_registry_policy().send().await.map_err(code_and_message).map(drop),
        Err(missing.clone())
    );
    let deleted = ecr.delete_registry_policy().send().await.unwrap();
    assert_eq!(deleted.policy_text(), Some(POLICY));
    assert_eq!(
        ecr.get_registry_policy().send().await.map_err(code_and_message).map(drop),
        Err(missing.clone())
    );
    assert_eq!(
        ecr.delete_registry_policy().send().await.map_err(code_and_message).map(drop),
        Err(missing)
    );
}
