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

/// An AWS region name such as `us-east-1` or `us-gov-west-1`: two letters, one or more
/// dash-separated words, a number. Checked where it enters (flags, SigV4 credential scopes,
/// host names, ARNs), so a region never carries a `:` or `/` into ARNs, tokens or keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(String);

impl Region {
    /// The region, when `text` has the shape of an AWS region name.
    pub fn parse(text: &str) -> Option<Self> {
        let words: Vec<&str> = text.split('-').collect();
        let [first, middle @ .., last] = words.as_slice() else {
            return None;
        };
        let letters = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase());
        let shaped = !middle.is_empty()
            && first.len() == 2
            && letters(first)
            && middle.iter().all(|w| letters(w))
            && (1..=2).contains(&last.len())
            && last.bytes().all(|b| b.is_ascii_digit());
        shaped.then(|| Region(text.to_string()))
    }

    /// The name, for messages and keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, where a region is kept as text.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The caller as the server resolved it: the account and principal from the access key,
/// the region from the SigV4 credential scope (or the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub region: String,
    /// The caller's IAM principal ARN, for pull-time exclusions.
    pub principal: String,
}

/// An IAM principal ARN, `arn:<partition>:iam::<account>:root`, `...:role/<path>` or
/// `...:user/<path>`: who an access key speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalArn(String);

impl PrincipalArn {
    /// The ARN, if `text` is one of an account root, a role or a user.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        let rest = rest.strip_prefix("iam::")?;
        let (account, resource) = rest.split_once(':')?;
        let name_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c);
        let resource_ok = resource == "root"
            || ["role/", "user/"].iter().any(|kind| {
                resource.strip_prefix(kind).is_some_and(|name| {
                    !name.is_empty()
                        && !name.starts_with('/')
                        && !name.ends_with('/')
                        && name.chars().all(name_char)
                })
            });
        (partition.starts_with("aws") && AccountId::parse(account).is_some() && resource_ok)
            .then(|| PrincipalArn(text.to_string()))
    }

    /// The root principal of an account (what an access key mapped to an account is).
    pub fn root(account: &str) -> Self {
        PrincipalArn(format!("arn:aws:iam::{account}:root"))
    }

    /// The account the principal belongs to.
    pub fn account(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
        format!("arn:aws:ecr:{}:{}:repository/{name}", self.region, self.registry_id)
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
        let region = Region::parse(region)?;
        if prefix != "arn" || service != "ecr" || name.is_empty() {
            return None;
        }
        Some(RepositoryArn {
            scope: RegistryScope {
                registry_id: account.into_string(),
                region: region.into_string(),
            },
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_arns_of_roots_roles_and_users_parse_and_name_their_account() {
        for (text, account) in [
            ("arn:aws:iam::111122223333:role/ci", "111122223333"),
            ("arn:aws:iam::111122223333:role/team/deployer", "111122223333"),
            ("arn:aws-cn:iam::444455556666:user/alice@example.com", "444455556666"),
            ("arn:aws:iam::000000000000:root", "000000000000"),
        ] {
            let arn = PrincipalArn::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!((arn.as_str(), arn.account()), (text, account));
        }
        for text in [
            "111122223333",
            "arn:aws:iam::1111:role/ci",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::111122223333:group/ci",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a b",
        ] {
            assert!(PrincipalArn::parse(text).is_none(), "{text}");
        }
        assert_eq!(PrincipalArn::root("123456789012").as_str(), "arn:aws:iam::123456789012:root");
    }

    #[test]
    fn regions_have_the_shape_of_aws_region_names() {
        for good in ["us-east-1", "eu-west-1", "us-gov-west-1", "ap-southeast-4", "us-iso-east-1"] {
            assert_eq!(Region::parse(good).map(Region::into_string), Some(good.to_string()));
        }
        for bad in [
            "",
            "us",
            "us-east",
            "east-1",
            "US-EAST-1",
            "us-east-1:x",
            "us/east-1",
            "us-east-123",
            "u-east-1",
            "us--1",
        ] {
            assert_eq!(Region::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn account_ids_are_exactly_twelve_ascii_digits() {
        assert_eq!(
            AccountId::parse("123456789012").map(AccountId::into_string),
            Some("123456789012".to_string())
        );
        for bad in ["", "12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１２"]
        {
            assert_eq!(AccountId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn arn_round_trip() {
        let scope =
            RegistryScope { registry_id: "123456789012".into(), region: "eu-west-1".into() };
        let arn = scope.repository_arn("team/app");
        assert_eq!(arn, "arn:aws:ecr:eu-west-1:123456789012:repository/team/app");
        assert_eq!(
            RepositoryArn::parse(&arn),
            Some(RepositoryArn { scope, name: "team/app".into() })
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
