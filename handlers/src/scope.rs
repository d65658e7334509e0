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
    fn regions_have_the_shape_of_aws_region_names() {
        for good in [
            "us-east-1",
            "eu-west-1",
            "us-gov-west-1",
            "ap-southeast-4",
            "us-iso-east-1",
        ] {
            assert_eq!(
                Region::parse(good).map(Region::into_string),
                Some(good.to_string())
            );
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
