//! Who a request acts for, and which registry it addresses.

/// A 12-digit AWS account id (a registry id), checked where it enters: flags, host
/// names, ARNs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// The id, when `text` is exactly 12 ASCII digits.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| AccountId(text.to_string()))
    }

    /// The digits, for messages and keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits, where a registry id is kept as text.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The caller as the server resolved it: the account from the access key, the region from
/// the SigV4 credential scope (or the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub region: String,
}

/// One registry: an account in one region, as in ECR. Everything stored is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryScope {
    pub registry_id: String,
    pub region: String,
}

impl RegistryScope {
    /// The registry a request addresses: its `registryId` when given, else the caller's own.
    pub fn for_request(caller: &Caller, registry_id: Option<&str>) -> Self {
        RegistryScope {
            registry_id: registry_id.unwrap_or(&caller.account_id).to_string(),
            region: caller.region.clone(),
        }
    }

    /// `arn:aws:ecr:<region>:<account>:repository/<name>`.
    pub fn repository_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:ecr:{}:{}:repository/{name}",
            self.region, self.registry_id
        )
    }
}

/// A repository ARN taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryArn {
    pub scope: RegistryScope,
    pub name: String,
}

impl RepositoryArn {
    /// Parses `arn:<partition>:ecr:<region>:<12 digits>:repository/<name>`.
    pub fn parse(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (prefix, _partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let name = resource.strip_prefix("repository/")?;
        let account = AccountId::parse(account)?;
        if prefix != "arn" || service != "ecr" || region.is_empty() || name.is_empty() {
            return None;
        }
        Some(RepositoryArn {
            scope: RegistryScope {
                registry_id: account.into_string(),
                region: region.to_string(),
            },
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_exactly_twelve_ascii_digits() {
        assert_eq!(
            AccountId::parse("123456789012").map(AccountId::into_string),
            Some("123456789012".to_string())
        );
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "１２３４５６７８９０１２",
        ] {
            assert_eq!(AccountId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn arn_round_trip() {
        let scope = RegistryScope {
            registry_id: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let arn = scope.repository_arn("team/app");
        assert_eq!(
            arn,
            "arn:aws:ecr:eu-west-1:123456789012:repository/team/app"
        );
        assert_eq!(
            RepositoryArn::parse(&arn),
            Some(RepositoryArn {
                scope,
                name: "team/app".into()
            })
        );
    }

    #[test]
    fn malformed_arns_are_refused() {
        for arn in [
            "",
            "arn:aws:ecr:us-east-1:123:repository/x",
            "arn:aws:s3:us-east-1:123456789012:repository/x",
            "arn:aws:ecr:us-east-1:123456789012:template/x",
            "arn:aws:ecr:us-east-1:123456789012:repository/",
        ] {
            assert_eq!(RepositoryArn::parse(arn), None, "{arn}");
        }
    }
}
