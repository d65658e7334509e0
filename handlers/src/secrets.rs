//! The Secrets Manager secrets pull-through cache rules name (`credentialArn`), resolved
//! from a file given to berth (`--secrets-file`): a JSON object from secret ARN or name to
//! `{"username": ..., "accessToken": ...}`, the format ECR expects in the secret.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A registry login kept in a secret.
#[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct UpstreamCredentials {
    pub username: String,
    #[serde(rename = "accessToken")]
    pub access_token: String,
}

impl std::fmt::Debug for UpstreamCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "UpstreamCredentials {{ username: {:?}, access_token: <redacted> }}",
            self.username
        )
    }
}

/// Every secret berth knows.
#[derive(Debug, Clone, Default)]
pub struct SecretStore {
    secrets: BTreeMap<String, UpstreamCredentials>,
}

impl SecretStore {
    /// The secrets of `path`, or why they cannot be read.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the secrets file {}: {e}", path.display()))?;
        let secrets = serde_json::from_str(&text).map_err(|e| {
            format!(
                "the secrets file {} is not a JSON object of {{\"username\", \"accessToken\"}} secrets: {e}",
                path.display()
            )
        })?;
        Ok(SecretStore { secrets })
    }

    /// The secret an ARN names: by the whole ARN, or by its name (with or without the six
    /// random characters Secrets Manager appends).
    pub fn get(&self, arn: &str) -> Option<&UpstreamCredentials> {
        if let Some(found) = self.secrets.get(arn) {
            return Some(found);
        }
        let name = arn.split_once(":secret:").map_or(arn, |(_, name)| name);
        self.secrets.iter().find_map(|(key, value)| {
            let suffixed = name
                .strip_prefix(key.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|suffix| suffix.len() == 6);
            (key == name || suffixed).then_some(value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_by_arn_or_name_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(
            &path,
            r#"{"ecr-pullthroughcache/docker-hub":{"username":"me","accessToken":"s3cret"}}"#,
        )
        .unwrap();
        let store = SecretStore::load(&path).unwrap();
        for arn in [
            "ecr-pullthroughcache/docker-hub",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/docker-hub",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/docker-hub-AbCdEf",
        ] {
            assert_eq!(store.get(arn).map(|c| c.username.as_str()), Some("me"), "{arn}");
        }
        assert!(store
            .get("arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/docker-hubby")
            .is_none());
        assert!(!format!("{store:?}").contains("s3cret"));
        std::fs::write(&path, "[]").unwrap();
        assert!(SecretStore::load(&path).is_err());
    }
}
