//! Pull-through cache rules as ECR reads them: which upstream registry kind a URL is,
//! which kinds need credentials, and how a cached repository name maps upstream; and the
//! cache itself ([`PullThroughCache`]).

mod blob_fetch;
mod cache;
pub mod upstream;

pub use cache::{CachedBlob, PullThroughCache, DEFAULT_TAG_REFRESH_SECS};

use crate::scope::{AccountId, Region};
use berth_generated::ecr::{PullThroughCacheRule, UpstreamRegistry};

/// The prefix that covers every repository name.
pub const ROOT: &str = "ROOT";

/// The upstream kind of a URL (with or without `https://`), as ECR infers it; `None`
/// for a registry ECR does not cache.
pub fn upstream_kind(url: &str) -> Option<UpstreamRegistry> {
    let host = url.trim_start_matches("https://").trim_end_matches('/');
    Some(match host {
        "public.ecr.aws" => UpstreamRegistry::EcrPublic,
        "quay.io" => UpstreamRegistry::Quay,
        "registry.k8s.io" => UpstreamRegistry::K8s,
        "registry-1.docker.io" => UpstreamRegistry::DockerHub,
        "ghcr.io" => UpstreamRegistry::GithubContainerRegistry,
        "registry.gitlab.com" => UpstreamRegistry::GitlabContainerRegistry,
        "cgr.dev" => UpstreamRegistry::Chainguard,
        h if h
            .strip_suffix(".azurecr.io")
            .is_some_and(|name| !name.is_empty() && !name.contains('.')) =>
        {
            UpstreamRegistry::AzureContainerRegistry
        }
        h if is_ecr_host(h) => UpstreamRegistry::Ecr,
        _ => return None,
    })
}

/// `<account>.dkr.ecr.<region>.amazonaws.com`.
fn is_ecr_host(host: &str) -> bool {
    ecr_host_registry(host).is_some()
}

/// The account and region of an ECR registry host.
pub fn ecr_host_registry(host: &str) -> Option<(AccountId, Region)> {
    let host = host.trim_start_matches("https://").trim_end_matches('/');
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        [account, "dkr", "ecr", region, "amazonaws", "com"] => {
            Some((AccountId::parse(account)?, Region::parse(region)?))
        }
        _ => None,
    }
}

/// The rule that covers a repository name and the upstream repository it stands for, as
/// ECR maps them: the longest `/`-bounded `ecrRepositoryPrefix` wins, ROOT covers every
/// name; the prefix is replaced by `upstreamRepositoryPrefix` (ROOT: by nothing).
pub fn upstream_repository<'a>(
    rules: &'a [PullThroughCacheRule], name: &str,
) -> Option<(&'a PullThroughCacheRule, String)> {
    let prefix = |r: &PullThroughCacheRule| r.ecr_repository_prefix.clone().unwrap_or_default();
    let (rule, rest) = rules
        .iter()
        .filter_map(|r| {
            let p = prefix(r);
            let rest = if p == ROOT {
                Some(name)
            } else {
                name.strip_prefix(p.trim_end_matches('/')).and_then(|rest| rest.strip_prefix('/'))
            };
            rest.filter(|rest| !rest.is_empty()).map(|rest| (r, rest))
        })
        .max_by_key(|(r, _)| {
            let p = prefix(r);
            if p == ROOT {
                0
            } else {
                p.len()
            }
        })?;
    let upstream = match rule.upstream_repository_prefix.as_deref() {
        None | Some(ROOT) => rest.to_string(),
        Some(p) => format!("{}/{rest}", p.trim_end_matches('/')),
    };
    Some((rule, upstream))
}

/// The kinds that need a `credentialArn` (ECR refuses rules for them without one).
pub fn needs_credentials(kind: UpstreamRegistry) -> bool {
    matches!(
        kind,
        UpstreamRegistry::DockerHub
            | UpstreamRegistry::GithubContainerRegistry
            | UpstreamRegistry::AzureContainerRegistry
            | UpstreamRegistry::GitlabContainerRegistry
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_to_the_kinds_ecr_knows() {
        for (url, kind) in [
            ("registry-1.docker.io", Some(UpstreamRegistry::DockerHub)),
            ("https://public.ecr.aws", Some(UpstreamRegistry::EcrPublic)),
            ("myreg.azurecr.io", Some(UpstreamRegistry::AzureContainerRegistry)),
            ("111122223333.dkr.ecr.eu-west-1.amazonaws.com", Some(UpstreamRegistry::Ecr)),
            ("ghcr.io", Some(UpstreamRegistry::GithubContainerRegistry)),
            ("harbor.example.com", None),
            ("docker.io", None),
            ("1.dkr.ecr.eu-west-1.amazonaws.com", None),
        ] {
            assert_eq!(upstream_kind(url), kind, "{url}");
        }
        assert!(needs_credentials(UpstreamRegistry::DockerHub));
        assert!(ecr_host_registry("111122223333.dkr.ecr.eu-west-1.amazonaws.com").is_some());
        assert!(!needs_credentials(UpstreamRegistry::Quay));
    }

    fn rule(prefix: &str, upstream_prefix: &str) -> PullThroughCacheRule {
        PullThroughCacheRule {
            ecr_repository_prefix: Some(prefix.into()),
            upstream_repository_prefix: Some(upstream_prefix.into()),
            ..Default::default()
        }
    }

    #[test]
    fn names_map_upstream_as_ecr_documents() {
        let rules = [
            rule("ecr-public", ROOT),
            rule("team-a", "team-a"),
            rule("my-app", "upstream-app"),
            rule("my-app/deep", ROOT),
        ];
        let mapped = |name: &str| upstream_repository(&rules, name).map(|(_, up)| up);
        assert_eq!(mapped("ecr-public/my-app/image1").as_deref(), Some("my-app/image1"));
        assert_eq!(mapped("team-a/myapp/image1").as_deref(), Some("team-a/myapp/image1"));
        assert_eq!(mapped("my-app/image1").as_deref(), Some("upstream-app/image1"));
        assert_eq!(mapped("my-app/deep/x").as_deref(), Some("x"));
        assert_eq!(mapped("ecr-public"), None);
        assert_eq!(mapped("ecr-publicx/a"), None);
        assert_eq!(mapped("other/a"), None);
        let root = [rule(ROOT, ROOT), rule("docker-hub", ROOT)];
        let mapped = |name: &str| upstream_repository(&root, name).map(|(_, up)| up);
        assert_eq!(mapped("anything/x").as_deref(), Some("anything/x"));
        assert_eq!(mapped("docker-hub/library/alpine").as_deref(), Some("library/alpine"));
    }
}
