//! Talking to an upstream registry of a pull-through cache rule: where it is (its public
//! host, or the endpoint `--upstream-endpoint HOST=URL` sends that host's traffic to), and
//! logging in as registry clients do: anonymous, Basic, or the Docker token flow
//! (`401` with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`).

use crate::secrets::UpstreamCredentials;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::{header, Method, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How berth reaches upstream registries.
#[derive(Debug, Clone, Default)]
pub struct UpstreamClient {
    http: reqwest::Client,
    /// Upstream host -> the base URL its traffic goes to instead.
    endpoints: BTreeMap<String, String>,
    /// The `Authorization` that last worked, by base URL, repository and login, so that
    /// each pull does not log in again (a refused one is replaced through the challenge).
    /// The login is part of the key: two rules with other secrets never share a session.
    sessions: Arc<Mutex<HashMap<SessionKey, String>>>,
}

/// Base URL, repository, and the login used.
type SessionKey = (String, String, Option<UpstreamCredentials>);

/// Sessions kept at most; the map starts afresh beyond (each re-logs in once).
const MAX_SESSIONS: usize = 1024;

/// One upstream registry, as a rule names it, with the login it takes.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The rule's `upstreamRegistryUrl`, as errors name it.
    pub registry_url: String,
    /// Where requests go.
    base: String,
    credentials: Option<UpstreamCredentials>,
}

/// Why an upstream registry could not be logged in to: ECR's `failure` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFailure(pub String);

/// Why an upstream request gave no answer to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// The registry could not be reached, or answered with a server error.
    Unavailable(String),
    /// The login was refused.
    Denied(String),
    /// The registry answered 404 (or another client error) for what was asked.
    NotFound,
}

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

fn denied(registry_url: &str) -> String {
    format!(
        "The authentication to the upstream registry {registry_url} failed. Verify that the credentials in the secret are correct"
    )
}

impl UpstreamClient {
    /// A client sending each `HOST=URL` host's traffic to its URL.
    pub fn new(endpoints: BTreeMap<String, String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        UpstreamClient { http, endpoints, sessions: Arc::default() }
    }

    /// The base URL for a rule's `upstreamRegistryUrl`.
    pub fn base_url(&self, registry_url: &str) -> String {
        let host = registry_url.trim_start_matches("https://").trim_end_matches('/');
        match self.endpoints.get(host) {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("https://{host}"),
        }
    }

    /// True when `--upstream-endpoint` names the host (an `ecr` upstream is then reached
    /// over HTTP rather than inside this berth).
    pub fn has_endpoint(&self, registry_url: &str) -> bool {
        let host = registry_url.trim_start_matches("https://").trim_end_matches('/');
        self.endpoints.contains_key(host)
    }

    /// The upstream a rule names, logging in with `credentials` if given.
    pub fn upstream(
        &self, registry_url: &str, credentials: Option<UpstreamCredentials>,
    ) -> Upstream {
        Upstream {
            registry_url: registry_url.to_string(),
            base: self.base_url(registry_url),
            credentials,
        }
    }

    /// The `Authorization` a challenge asks for: a token from its realm (anonymous or with
    /// the credentials), or Basic.
    async fn answer_challenge(
        &self, upstream: &Upstream, challenge: &str,
    ) -> Result<String, UpstreamError> {
        let url = &upstream.registry_url;
        let Some(params) = bearer_challenge(challenge) else {
            let credentials = upstream.credentials.as_ref();
            return credentials.map(basic).ok_or_else(|| UpstreamError::Denied(denied(url)));
        };
        let query: Vec<(&str, &String)> =
            ["service", "scope"].iter().filter_map(|k| params.get(*k).map(|v| (*k, v))).collect();
        let mut request = self.http.get(&params["realm"]).query(&query);
        if let Some(credentials) = &upstream.credentials {
            request = request.header(header::AUTHORIZATION, basic(credentials));
        }
        let answer = request.send().await.map_err(|e| unreachable(url, e))?;
        if !answer.status().is_success() {
            return Err(UpstreamError::Denied(denied(url)));
        }
        let body: serde_json::Value = answer.json().await.map_err(|e| unreachable(url, e))?;
        let token = body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .ok_or_else(|| UpstreamError::Denied(denied(url)))?;
        Ok(format!("Bearer {token}"))
    }

    /// `method` on `/v2/<repository>/<path>` upstream, logged in as the registry asks (the
    /// answer is the registry's, any status but 401/403 and 5xx); `accept` lists the
    /// media types wanted.
    pub async fn request(
        &self, upstream: &Upstream, method: Method, repository: &str, path: &str, accept: &[&str],
    ) -> Result<reqwest::Response, UpstreamError> {
        let url = format!("{}/v2/{repository}/{path}", upstream.base);
        let key = (upstream.base.clone(), repository.to_string(), upstream.credentials.clone());
        let send = |authorization: Option<&String>| {
            let mut request = self.http.request(method.clone(), &url);
            if !accept.is_empty() {
                request = request.header(header::ACCEPT, accept.join(", "));
            }
            if let Some(authorization) = authorization {
                request = request.header(header::AUTHORIZATION, authorization);
            }
            request.send()
        };
        let known = self.session(&key);
        let registry_url = &upstream.registry_url;
        let mut response = send(known.as_ref()).await.map_err(|e| unreachable(registry_url, e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let authorization = self.answer_challenge(upstream, &challenge).await?;
            response =
                send(Some(&authorization)).await.map_err(|e| unreachable(registry_url, e))?;
            if response.status().is_success() {
                self.remember(key, authorization);
            }
        }
        match response.status() {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(UpstreamError::Denied(denied(registry_url)))
            }
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                Err(UpstreamError::Unavailable(format!(
                    "The upstream registry {registry_url} answered {s}"
                )))
            }
            s if !s.is_success() => Err(UpstreamError::NotFound),
            _ => Ok(response),
        }
    }

    fn session(&self, key: &SessionKey) -> Option<String> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.get(key).cloned()
    }

    fn remember(&self, key: SessionKey, authorization: String) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.clear();
        }
        sessions.insert(key, authorization);
    }

    /// Logs in to the registry's `/v2/` as a client would, with `credentials` if given.
    pub async fn log_in(
        &self, registry_url: &str, credentials: Option<&UpstreamCredentials>,
    ) -> Result<UpstreamSession, UpstreamFailure> {
        let upstream = self.upstream(registry_url, credentials.cloned());
        let ping = format!("{}/v2/", upstream.base);
        let first = self
            .http
            .get(&ping)
            .send()
            .await
            .map_err(|e| UpstreamFailure(failure_text(unreachable(registry_url, e))))?;
        if first.status().is_success() {
            return Ok(None);
        }
        if first.status() != StatusCode::UNAUTHORIZED {
            return Err(UpstreamFailure(format!(
                "The upstream registry {registry_url} answered {} to /v2/",
                first.status()
            )));
        }
        let challenge = first
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let authorization = self
            .answer_challenge(&upstream, &challenge)
            .await
            .map_err(|e| UpstreamFailure(failure_text(e)))?;
        let second = self
            .http
            .get(&ping)
            .header(header::AUTHORIZATION, &authorization)
            .send()
            .await
            .map_err(|e| UpstreamFailure(failure_text(unreachable(registry_url, e))))?;
        if second.status().is_success() {
            Ok(Some(authorization))
        } else {
            Err(UpstreamFailure(denied(registry_url)))
        }
    }
}

fn unreachable(registry_url: &str, e: reqwest::Error) -> UpstreamError {
    UpstreamError::Unavailable(format!(
        "The upstream registry {registry_url} could not be reached: {e}"
    ))
}

fn failure_text(e: UpstreamError) -> String {
    match e {
        UpstreamError::Unavailable(text) | UpstreamError::Denied(text) => text,
        UpstreamError::NotFound => "The upstream registry answered 404".to_string(),
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
            [("registry-1.docker.io".to_string(), "http://127.0.0.1:5000/".to_string())].into(),
        );
        assert_eq!(client.base_url("registry-1.docker.io"), "http://127.0.0.1:5000");
        assert!(client.has_endpoint("registry-1.docker.io"));
        assert!(!client.has_endpoint("quay.io"));
        assert_eq!(client.base_url("https://quay.io/"), "https://quay.io");
    }
}
