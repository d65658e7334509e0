//! Talking to an upstream registry of a pull-through cache rule: where it is (its public
//! host, or the endpoint `--upstream-endpoint HOST=URL` sends that host's traffic to), and
//! logging in as registry clients do: anonymous, Basic, or the Docker token flow
//! (`401` with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`).

use crate::secrets::UpstreamCredentials;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::BTreeMap;

/// How berth reaches upstream registries.
#[derive(Debug, Clone, Default)]
pub struct UpstreamClient {
    http: reqwest::Client,
    /// Upstream host -> the base URL its traffic goes to instead.
    endpoints: BTreeMap<String, String>,
}

/// Why an upstream registry could not be logged in to: ECR's `failure` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFailure(pub String);

/// The `Authorization` header value of a logged-in session; `None` when anonymous.
pub type UpstreamSession = Option<String>;

fn basic(credentials: &UpstreamCredentials) -> String {
    let pair = format!("{}:{}", credentials.username, credentials.access_token);
    format!("Basic {}", STANDARD.encode(pair))
}

/// The parameters of a `Bearer realm="...",service="..."` challenge.
fn bearer_challenge(header: &str) -> Option<BTreeMap<String, String>> {
    let rest = header.trim().strip_prefix("Bearer ")?;
    // Split on the commas outside quotes (a scope may hold `pull,push`).
    let mut parts = Vec::new();
    let (mut current, mut quoted) = (String::new(), false);
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    let mut params = BTreeMap::new();
    for part in parts {
        let (key, value) = part.trim().split_once('=')?;
        params.insert(key.to_ascii_lowercase(), value.to_string());
    }
    params.contains_key("realm").then_some(params)
}

impl UpstreamClient {
    /// A client sending each `HOST=URL` host's traffic to its URL.
    pub fn new(endpoints: BTreeMap<String, String>) -> Self {
        UpstreamClient {
            http: reqwest::Client::new(),
            endpoints,
        }
    }

    /// The base URL for a rule's `upstreamRegistryUrl`.
    pub fn base_url(&self, registry_url: &str) -> String {
        let host = registry_url
            .trim_start_matches("https://")
            .trim_end_matches('/');
        match self.endpoints.get(host) {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("https://{host}"),
        }
    }

    /// Logs in to the registry's `/v2/` as a client would, with `credentials` if given.
    pub async fn log_in(
        &self,
        registry_url: &str,
        credentials: Option<&UpstreamCredentials>,
    ) -> Result<UpstreamSession, UpstreamFailure> {
        let base = self.base_url(registry_url);
        let ping = format!("{base}/v2/");
        let unreachable = |e: reqwest::Error| {
            UpstreamFailure(format!(
                "The upstream registry {registry_url} could not be reached: {e}"
            ))
        };
        let first = self.http.get(&ping).send().await.map_err(unreachable)?;
        if first.status().is_success() {
            return Ok(None);
        }
        let denied = || {
            UpstreamFailure(format!(
                "The authentication to the upstream registry {registry_url} failed. Verify that the credentials in the secret are correct"
            ))
        };
        if first.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Err(UpstreamFailure(format!(
                "The upstream registry {registry_url} answered {} to /v2/",
                first.status()
            )));
        }
        let challenge = first
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let authorization = match bearer_challenge(&challenge) {
            Some(params) => {
                let mut request = self.http.get(&params["realm"]);
                let query: Vec<(&str, &String)> = ["service", "scope"]
                    .iter()
                    .filter_map(|k| params.get(*k).map(|v| (*k, v)))
                    .collect();
                request = request.query(&query);
                if let Some(credentials) = credentials {
                    request = request.header(reqwest::header::AUTHORIZATION, basic(credentials));
                }
                let answer = request.send().await.map_err(unreachable)?;
                if !answer.status().is_success() {
                    return Err(denied());
                }
                let body: serde_json::Value = answer.json().await.map_err(unreachable)?;
                let token = body["token"]
                    .as_str()
                    .or_else(|| body["access_token"].as_str())
                    .ok_or_else(denied)?;
                format!("Bearer {token}")
            }
            None => basic(credentials.ok_or_else(denied)?),
        };
        let second = self
            .http
            .get(&ping)
            .header(reqwest::header::AUTHORIZATION, &authorization)
            .send()
            .await
            .map_err(unreachable)?;
        if second.status().is_success() {
            Ok(Some(authorization))
        } else {
            Err(denied())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_endpoints() {
        let params = bearer_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        )
        .unwrap();
        assert_eq!(params["realm"], "https://auth.docker.io/token");
        assert_eq!(params["service"], "registry.docker.io");
        assert_eq!(params["scope"], "repository:library/alpine:pull,push");
        assert!(bearer_challenge(r#"Basic realm="x""#).is_none());
        let client = UpstreamClient::new(
            [(
                "registry-1.docker.io".to_string(),
                "http://127.0.0.1:5000/".to_string(),
            )]
            .into(),
        );
        assert_eq!(
            client.base_url("registry-1.docker.io"),
            "http://127.0.0.1:5000"
        );
        assert_eq!(client.base_url("https://quay.io/"), "https://quay.io");
    }
}
