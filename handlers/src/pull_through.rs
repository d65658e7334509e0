//! Pull-through cache rules as ECR reads them: which upstream registry kind a URL is,
//! which kinds need credentials, and how a cached repository name maps upstream.

use crate::scope::{AccountId, Region};
use berth_generated::ecr::UpstreamRegistry;

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
    let labels: Vec<&str> = host.split('.').collect();
    matches!(
        labels.as_slice(),
        [account, "dkr", "ecr", region, "amazonaws", "com"]
            if AccountId::parse(account).is_some() && Region::parse(region).is_some()
    )
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
            (
                "myreg.azurecr.io",
                Some(UpstreamRegistry::AzureContainerRegistry),
            ),
            (
                "111122223333.dkr.ecr.eu-west-1.amazonaws.com",
                Some(UpstreamRegistry::Ecr),
            ),
            ("ghcr.io", Some(UpstreamRegistry::GithubContainerRegistry)),
            ("harbor.example.com", None),
            ("docker.io", None),
            ("1.dkr.ecr.eu-west-1.amazonaws.com", None),
        ] {
            assert_eq!(upstream_kind(url), kind, "{url}");
        }
        assert!(needs_credentials(UpstreamRegistry::DockerHub));
        assert!(!needs_credentials(UpstreamRegistry::Quay));
    }
}
