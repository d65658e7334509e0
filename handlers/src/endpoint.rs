//! Where clients reach the registry, as repository URIs, proxy endpoints and download URLs
//! name it. The host may name the account and region as ECR's do
//! (`{account}.dkr.ecr.{region}.localhost:4566`), so that scripts which read them out of a
//! repositoryUri work unchanged; /v2 routes such a host to that registry.

use crate::scope::RegistryScope;

/// The scheme and host (a template with `{account}` and `{region}`, or a plain
/// `host[:port]`).
#[derive(Debug, Clone)]
pub struct RegistryEndpoint {
    https: bool,
    host: String,
}

impl RegistryEndpoint {
    /// `host` over HTTPS when `https`, else plain HTTP.
    pub fn new(https: bool, host: impl Into<String>) -> Self {
        RegistryEndpoint { https, host: host.into() }
    }

    /// `host[:port]` of the registry `scope`, as image references name it.
    pub fn host(&self, scope: &RegistryScope) -> String {
        self.host.replace("{account}", &scope.registry_id).replace("{region}", &scope.region)
    }

    /// `http(s)://host[:port]` of the registry `scope`.
    pub fn url(&self, scope: &RegistryScope) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.host(scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_the_registry() {
        let scope =
            RegistryScope { registry_id: "111122223333".into(), region: "eu-west-1".into() };
        let shaped = RegistryEndpoint::new(true, "{account}.dkr.ecr.{region}.localhost:4566");
        assert_eq!(shaped.url(&scope), "https://111122223333.dkr.ecr.eu-west-1.localhost:4566");
        let plain = RegistryEndpoint::new(false, "localhost:4566");
        assert_eq!(plain.host(&scope), "localhost:4566");
        assert_eq!(plain.url(&scope), "http://localhost:4566");
    }
}
