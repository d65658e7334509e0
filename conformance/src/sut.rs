//! The system under test: berth's real router in-process (`oneshot`), or a running berth
//! over HTTP when `BERTH_CONFORMANCE_URL` is set.

use crate::fixtures::{
    blob_digest, digest_of, image_manifest, index_manifest, BLOBS, REPOSITORIES, TAGS,
};
use crate::reference::wrong_digest;
use crate::transitions::{ChunkStart, ManifestRef, Transition};
use axum::http::{HeaderMap, Method, Request};
use base64::Engine;
use berth_server::app::{router, AppState};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (null when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

enum Target {
    InProcess {
        dir: tempfile::TempDir,
        state: Arc<AppState>,
    },
    Remote {
        url: String,
        http: reqwest::Client,
    },
}

/// An upload the client opened: where it lives and what it carries.
struct OpenUpload {
    location: String,
    blob: usize,
    received: usize,
}

/// berth, driven like a client would.
pub struct Sut {
    runtime: tokio::runtime::Runtime,
    target: Target,
    authorization: String,
    /// Repository names carry this prefix, so remote runs do not see each other.
    prefix: String,
    uploads: Vec<OpenUpload>,
}

const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

async fn open_in_process(dir: &std::path::Path) -> Arc<AppState> {
    let options = berth_server::config::ServeOptions::defaults();
    berth_server::open_state(&options, dir, "localhost".into())
        .await
        .expect("berth opens its data dir")
}

impl Sut {
    /// A fresh berth: in-process on a new data dir, or the one at `BERTH_CONFORMANCE_URL`.
    pub fn start(case: usize) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (target, prefix) = match std::env::var("BERTH_CONFORMANCE_URL") {
            Ok(url) => {
                let run = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let target = Target::Remote {
                    url: url.trim_end_matches('/').to_string(),
                    http: reqwest::Client::new(),
                };
                (target, format!("conformance{run}c{case}/"))
            }
            Err(_) => {
                let dir = tempfile::tempdir().expect("a temporary data dir");
                let state = runtime.block_on(open_in_process(dir.path()));
                (Target::InProcess { dir, state }, String::new())
            }
        };
        let mut sut = Sut {
            runtime,
            target,
            authorization: String::new(),
            prefix,
            uploads: Vec::new(),
        };
        let token = sut.ecr("GetAuthorizationToken", serde_json::json!({}));
        let token = token.json()["authorizationData"][0]["authorizationToken"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(!token.is_empty(), "GetAuthorizationToken gives a token");
        sut.authorization = format!("Basic {token}");
        let _ = base64::engine::general_purpose::STANDARD
            .decode(&token)
            .expect("the token is base64");
        sut
    }

    fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        match &self.target {
            Target::InProcess { state, .. } => {
                let mut request = Request::builder().method(method).uri(path);
                for (k, v) in headers {
                    request = request.header(*k, *v);
                }
                let request = request
                    .body(axum::body::Body::from(body))
                    .expect("a valid request");
                let app = router(state.clone());
                self.runtime.block_on(async move {
                    let response = app.oneshot(request).await.expect("the router answers");
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .expect("a body")
                        .to_bytes();
                    Answer {
                        status,
                        headers,
                        body,
                    }
                })
            }
            Target::Remote { url, http } => {
                let mut request = http.request(method, format!("{url}{path}")).body(body);
                for (k, v) in headers {
                    request = request.header(*k, *v);
                }
                self.runtime.block_on(async move {
                    let response = request.send().await.expect("berth answers");
                    let status = response.status().as_u16();
                    let mut headers = HeaderMap::new();
                    for (k, v) in response.headers() {
                        if let (Ok(k), Ok(v)) = (
                            axum::http::HeaderName::from_bytes(k.as_str().as_bytes()),
                            axum::http::HeaderValue::from_bytes(v.as_bytes()),
                        ) {
                            headers.insert(k, v);
                        }
                    }
                    let body = response.bytes().await.expect("a body");
                    Answer {
                        status,
                        headers,
                        body,
                    }
                })
            }
        }
    }

    fn registry(
        &self,
        method: Method,
        path: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let authorization = self.authorization.clone();
        let mut headers = vec![("authorization", authorization.as_str())];
        headers.extend_from_slice(extra);
        self.send(method, path, &headers, body)
    }

    /// One ECR API call.
    pub fn ecr(&self, operation: &str, input: serde_json::Value) -> Answer {
        let target = format!("{TARGET_PREFIX}{operation}");
        self.send(
            Method::POST,
            "/",
            &[
                ("x-amz-target", &target),
                ("content-type", "application/x-amz-json-1.1"),
            ],
            input.to_string().into_bytes(),
        )
    }

    /// The repository name of pool entry `i` for this run.
    pub fn name(&self, i: usize) -> String {
        format!("{}{}", self.prefix, REPOSITORIES[i])
    }

    /// Stops berth and starts it again on the same data dir (in-process only).
    pub fn restart(&mut self) {
        if let Target::InProcess { dir, state } = &mut self.target {
            let path = dir.path().to_path_buf();
            self.runtime.block_on(async {
                state.registry.store().close().await;
            });
            *state = self.runtime.block_on(open_in_process(&path));
        }
    }

    fn reference(&self, reference: &ManifestRef) -> String {
        match reference {
            ManifestRef::Tag(t) => TAGS[*t].to_string(),
            ManifestRef::Image(spec) => digest_of(&image_manifest(spec)),
            ManifestRef::Index(children) => digest_of(&index_manifest(children)),
        }
    }

    fn image_id(&self, reference: &ManifestRef) -> serde_json::Value {
        match reference {
            ManifestRef::Tag(t) => serde_json::json!({ "imageTag": TAGS[*t] }),
            other => serde_json::json!({ "imageDigest": self.reference(other) }),
        }
    }

    /// Performs a transition; `None` when it makes no request.
    pub fn perform(&mut self, t: &Transition) -> Option<Answer> {
        let answer = match t {
            Transition::Restart => {
                self.restart();
                return None;
            }
            Transition::CreateRepository { repo } => {
                let name = self.name(*repo);
                self.ecr(
                    "CreateRepository",
                    serde_json::json!({ "repositoryName": name }),
                )
            }
            Transition::DeleteRepository { repo, force } => {
                let name = self.name(*repo);
                self.ecr(
                    "DeleteRepository",
                    serde_json::json!({ "repositoryName": name, "force": force }),
                )
            }
            Transition::SetImmutable { repo, immutable } => {
                let name = self.name(*repo);
                let setting = if *immutable { "IMMUTABLE" } else { "MUTABLE" };
                self.ecr(
                    "PutImageTagMutability",
                    serde_json::json!({ "repositoryName": name, "imageTagMutability": setting }),
                )
            }
            Transition::MonolithicUpload {
                repo,
                blob,
                wrong_digest: wrong,
            } => {
                let digest = if *wrong {
                    wrong_digest(*blob)
                } else {
                    blob_digest(*blob)
                };
                let path = format!("/v2/{}/blobs/uploads/?digest={digest}", self.name(*repo));
                self.registry(Method::POST, &path, &[], BLOBS[*blob].to_vec())
            }
            Transition::StartUpload { repo, blob } => {
                let path = format!("/v2/{}/blobs/uploads/", self.name(*repo));
                let answer = self.registry(Method::POST, &path, &[], Vec::new());
                self.remember_upload(&answer, *blob);
                answer
            }
            Transition::AppendChunk { upload, len, start } => {
                let u = &self.uploads[*upload];
                let (location, blob, received) = (u.location.clone(), u.blob, u.received);
                let data = BLOBS[blob];
                let take = (*len).min(data.len() - received);
                if take == 0 {
                    return Some(self.registry(Method::PATCH, &location, &[], Vec::new()));
                }
                let offset = match start {
                    ChunkStart::InOrder => received,
                    ChunkStart::Gap => received + 1,
                    ChunkStart::Overlap => received.saturating_sub(1),
                };
                let body: Vec<u8> = (0..take).map(|i| data[(offset + i) % data.len()]).collect();
                let range = format!("{offset}-{}", offset + take - 1);
                let answer =
                    self.registry(Method::PATCH, &location, &[("content-range", &range)], body);
                if answer.status == 202 {
                    self.uploads[*upload].received = offset + take;
                }
                answer
            }
            Transition::FinishUpload {
                upload,
                wrong_digest: wrong,
            } => {
                let u = &self.uploads[*upload];
                let digest = if *wrong {
                    wrong_digest(u.blob)
                } else {
                    blob_digest(u.blob)
                };
                let path = format!("{}?digest={digest}", u.location);
                self.registry(Method::PUT, &path, &[], Vec::new())
            }
            Transition::CancelUpload { upload } => {
                let location = self.uploads[*upload].location.clone();
                self.registry(Method::DELETE, &location, &[], Vec::new())
            }
            Transition::Mount { from, to, blob } => {
                let path = format!(
                    "/v2/{}/blobs/uploads/?mount={}&from={}",
                    self.name(*to),
                    blob_digest(*blob),
                    self.name(*from)
                );
                let answer = self.registry(Method::POST, &path, &[], Vec::new());
                self.remember_upload(&answer, *blob);
                answer
            }
            Transition::PushImage { repo, image, tag } => {
                let body = image_manifest(image);
                let reference = match tag {
                    Some(t) => TAGS[*t].to_string(),
                    None => digest_of(&body),
                };
                let path = format!("/v2/{}/manifests/{reference}", self.name(*repo));
                self.registry(
                    Method::PUT,
                    &path,
                    &[("content-type", OCI_MANIFEST)],
                    body.into_bytes(),
                )
            }
            Transition::PushIndex {
                repo,
                children,
                tag,
            } => {
                let path = format!("/v2/{}/manifests/{}", self.name(*repo), TAGS[*tag]);
                let body = index_manifest(children).into_bytes();
                self.registry(Method::PUT, &path, &[("content-type", OCI_INDEX)], body)
            }
            Transition::GetManifest {
                repo,
                reference,
                head,
            } => {
                let path = format!(
                    "/v2/{}/manifests/{}",
                    self.name(*repo),
                    self.reference(reference)
                );
                let method = if *head { Method::HEAD } else { Method::GET };
                let accept = format!("{OCI_MANIFEST}, {OCI_INDEX}");
                self.registry(method, &path, &[("accept", &accept)], Vec::new())
            }
            Transition::GetBlob { repo, blob } => {
                let path = format!("/v2/{}/blobs/{}", self.name(*repo), blob_digest(*blob));
                self.registry(Method::GET, &path, &[], Vec::new())
            }
            Transition::DeleteManifest { repo, reference } => {
                let path = format!(
                    "/v2/{}/manifests/{}",
                    self.name(*repo),
                    self.reference(reference)
                );
                self.registry(Method::DELETE, &path, &[], Vec::new())
            }
            Transition::ListTags { repo, n, last } => {
                let mut query = Vec::new();
                if let Some(n) = n {
                    query.push(format!("n={n}"));
                }
                if let Some(l) = last {
                    query.push(format!("last={}", TAGS[*l]));
                }
                let path = format!("/v2/{}/tags/list?{}", self.name(*repo), query.join("&"));
                self.registry(Method::GET, &path, &[], Vec::new())
            }
            Transition::PutImage { repo, image, tag } => {
                let name = self.name(*repo);
                self.ecr(
                    "PutImage",
                    serde_json::json!({ "repositoryName": name, "imageManifest": image_manifest(image), "imageTag": TAGS[*tag] }),
                )
            }
            Transition::BatchDeleteImage { repo, reference } => {
                let name = self.name(*repo);
                let id = self.image_id(reference);
                self.ecr(
                    "BatchDeleteImage",
                    serde_json::json!({ "repositoryName": name, "imageIds": [id] }),
                )
            }
            Transition::DescribeImages { repo } => {
                let name = self.name(*repo);
                self.ecr(
                    "DescribeImages",
                    serde_json::json!({ "repositoryName": name }),
                )
            }
            Transition::BatchCheckLayerAvailability { repo } => {
                let name = self.name(*repo);
                let digests: Vec<String> = (0..BLOBS.len()).map(blob_digest).collect();
                self.ecr(
                    "BatchCheckLayerAvailability",
                    serde_json::json!({ "repositoryName": name, "layerDigests": digests }),
                )
            }
        };
        Some(answer)
    }

    fn remember_upload(&mut self, answer: &Answer, blob: usize) {
        if answer.status == 202 {
            let location = answer
                .headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("a 202 upload answer has a Location")
                .to_string();
            self.uploads.push(OpenUpload {
                location,
                blob,
                received: 0,
            });
        }
    }

    /// The tags of a repository as /v2 lists them; `None` when it does not exist.
    pub fn tags(&self, repo: usize) -> Option<Vec<String>> {
        let path = format!("/v2/{}/tags/list", self.name(repo));
        let answer = self.registry(Method::GET, &path, &[], Vec::new());
        if answer.status == 404 {
            return None;
        }
        assert_eq!(answer.status, 200, "tags/list of {}", self.name(repo));
        let tags = answer.json()["tags"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Some(
            tags.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
        )
    }
}
