//! Managed signing: which signing profiles sign a pushed image (the registry's signing
//! rules), the key pair and certificate berth keeps for each profile (`keys`), and the
//! Notary Project signature it attaches to the image through the referrers API
//! (`notation`).

pub mod keys;
pub mod notation;

use crate::immutability::wildcard_match;
use berth_generated::ecr::SigningConfiguration;

/// A signing profile ARN: `arn:aws:signer:<region>:<account>:/signing-profiles/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningProfile {
    pub arn: String,
    pub region: String,
    pub account: String,
    pub name: String,
}

impl SigningProfile {
    /// The profile an ARN names, if it is shaped as AWS Signer's.
    pub fn parse(arn: &str) -> Option<Self> {
        let rest = arn.strip_prefix("arn:aws:signer:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, rest) = rest.split_once(':')?;
        let name = rest.strip_prefix("/signing-profiles/")?;
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        (crate::scope::Region::parse(region).is_some()
            && crate::scope::AccountId::parse(account).is_some()
            && valid_name)
            .then(|| SigningProfile {
                arn: arn.to_string(),
                region: region.to_string(),
                account: account.to_string(),
                name: name.to_string(),
            })
    }
}

/// The distinct profiles whose rules cover a repository name, in rule order: a rule
/// without filters covers every repository; a filter's `*` matches any run of characters.
pub fn profiles_for(configuration: &SigningConfiguration, repository: &str) -> Vec<String> {
    let mut profiles: Vec<String> = Vec::new();
    for rule in &configuration.rules {
        let covered = match rule.repository_filters.as_deref() {
            None | Some([]) => true,
            Some(filters) => filters.iter().any(|f| wildcard_match(&f.filter, repository)),
        };
        if covered && !profiles.contains(&rule.signing_profile_arn) {
            profiles.push(rule.signing_profile_arn.clone());
        }
    }
    profiles
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_generated::ecr::{SigningRepositoryFilter, SigningRepositoryFilterType, SigningRule};

    const PROFILE: &str = "arn:aws:signer:us-east-1:111122223333:/signing-profiles/release";

    fn rule(profile: &str, filters: Option<&[&str]>) -> SigningRule {
        SigningRule {
            signing_profile_arn: profile.to_string(),
            repository_filters: filters.map(|fs| {
                fs.iter()
                    .map(|f| SigningRepositoryFilter {
                        filter: f.to_string(),
                        filter_type: SigningRepositoryFilterType::WildcardMatch,
                    })
                    .collect()
            }),
        }
    }

    #[test]
    fn profiles_and_filters() {
        let profile = SigningProfile::parse(PROFILE).unwrap();
        assert_eq!((profile.account.as_str(), profile.name.as_str()), ("111122223333", "release"));
        assert!(SigningProfile::parse("arn:aws:signer:us-east-1:1:/signing-profiles/x").is_none());
        assert!(SigningProfile::parse("arn:aws:iam::111122223333:role/x").is_none());

        let other = "arn:aws:signer:us-east-1:111122223333:/signing-profiles/prod";
        let configuration = SigningConfiguration {
            rules: vec![
                rule(PROFILE, Some(&["myapp/*"])),
                rule(other, Some(&["*/production", "*prod*"])),
                rule(PROFILE, None),
            ],
        };
        assert_eq!(profiles_for(&configuration, "myapp/web"), [PROFILE]);
        assert_eq!(profiles_for(&configuration, "team/production"), [other, PROFILE]);
        let only_filtered = SigningConfiguration { rules: vec![rule(other, Some(&["myapp"]))] };
        assert!(profiles_for(&only_filtered, "myapp/web").is_empty(), "no `*`: the whole name");
        assert_eq!(profiles_for(&only_filtered, "myapp"), [other]);
    }
}
