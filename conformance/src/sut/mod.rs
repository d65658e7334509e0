//! The system under test: berth's real router in-process (`oneshot`), or a running berth
//! over HTTP when `BERTH_CONFORMANCE_URL` is set (several comma-separated URLs: replicas of
//! one registry, taking the requests in turn).

use crate::fixtures::{
    blob_digest, digest_of, image_manifest, index_manifest, BLOBS, IMAGE_BLOBS, REPOSITORIES, TAGS,
};
use crate::reference::wrong_digest;
pub use crate::target::Answer;
use crate::target::Target;
use crate::transitions::{ChunkStart, ManifestRef, Transition};
use axum::http::Method;
use base64::Engine;
use berth_handlers::blob_store::{BlobStore, MemoryBlobStore};
use berth_handlers::clock::Clock;
use berth_server::app::AppState;
use std::sync::Arc;

mod racing_reads;
mod registries;

pub use registries::OTHER_ACCESS_KEY;
use registries::OTHER_ACCOUNT;

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
    /// The data dir of an in-process berth.
    dir: Option<tempfile::TempDir>,
    authorization: String,
    /// Account B's `/v2` credentials.
    other_authorization: String,
    /// Repository names carry this prefix, so remote runs do not see each other.
    prefix: String,
    uploads: Vec<OpenUpload>,
    /// berth's clock, kept across in-process restarts (both targets move it through the
    /// admin API).
    clock: Clock,
    /// The blob store of an in-process berth when it is not the files of its data dir;
    /// kept across restarts, as a store outside the process would be.
    blobs: Option<Arc<dyn BlobStore>>,
}

/// Seconds a restore from the archive takes in the berth under test: less than any
/// `Tick`, more than a sequence ever takes (a remote berth runs with
/// `--archive-restore-delay 60`).
const RESTORE_DELAY_SECS: u64 = 60;

const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

async fn open_in_process(
    dir: &std::path::Path, clock: Clock, blobs: Option<Arc<dyn BlobStore>>,
) -> Arc<AppState> {
    let options = berth_server::config::ServeOptions {
        admin_api: true,
        archive_restore_delay: RESTORE_DELAY_SECS,
        access_keys: vec![berth_server::config::AccessKey {
            id: OTHER_ACCESS_KEY.to_string(),
            principal: berth_handlers::scope::PrincipalArn::root(OTHER_ACCOUNT),
            secret: None,
        }],
        ..berth_server::config::ServeOptions::defaults()
    };
    berth_server::open_state(&options, dir, "localhost".into(), clock, blobs)
        .await
        .expect("berth opens its data dir")
}

impl Sut {
    /// A fresh berth: in-process on a new data dir, or the one at `BERTH_CONFORMANCE_URL`.
    /// In-process, odd cases keep blobs in a `MemoryBlobStore` and even ones in files: the
    /// same sequences hold on either store, so the core needs nothing else from one.
    pub fn start(case: usize) -> Self {
        // Two workers, so that the readers of `UnderReads` run beside the write, not only
        // between its awaits.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let clock = Clock::system();
        let blobs: Option<Arc<dyn BlobStore>> =
            (case % 2 == 1).then(|| Arc::new(MemoryBlobStore::default()) as Arc<dyn BlobStore>);
        let (target, dir, prefix) = match std::env::var("BERTH_CONFORMANCE_URL") {
            Ok(url) => {
                let run = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                // Several comma-separated URLs are replicas of one registry.
                let urls = url.split(',').map(|u| u.trim().trim_end_matches('/').to_string());
                let target = Target::Remote {
                    urls: Arc::new(urls.filter(|u| !u.is_empty()).collect()),
                    next: Default::default(),
                    http: reqwest::Client::new(),
                };
                (target, None, format!("conformance{run}c{case}/"))
            }
            Err(_) => {
                let dir = tempfile::tempdir().expect("a temporary data dir");
                let state =
                    runtime.block_on(open_in_process(dir.path(), clock.clone(), blobs.clone()));
                (Target::InProcess(state), Some(dir), String::new())
            }
        };
        let mut sut = Sut {
            runtime,
            target,
            dir,
            authorization: String::new(),
            other_authorization: String::new(),
            prefix,
            uploads: Vec::new(),
            clock,
            blobs,
        };
        sut.log_in();
        // Account settings are registry-wide: a remote berth keeps the last case's.
        let reset = sut.ecr(
            "PutAccountSetting",
            serde_json::json!({ "name": "BLOB_MOUNTING", "value": "DISABLED" }),
        );
        assert_eq!(reset.status, 200, "resetting BLOB_MOUNTING");
        let reset = sut.ecr(
            "PutReplicationConfiguration",
            serde_json::json!({ "replicationConfiguration": { "rules": [] } }),
        );
        assert_eq!(reset.status, 200, "resetting the replication configuration");
        sut
    }

    /// Gets registry tokens with GetAuthorizationToken, as `get-login-password` does, for
    /// account A (the default) and account B.
    fn log_in(&mut self) {
        let token = |answer: Answer| {
            let token = answer.json()["authorizationData"][0]["authorizationToken"]
                .as_str()
                .unwrap_or("")
                .to_string();
            assert!(!token.is_empty(), "GetAuthorizationToken gives a token");
            let _ = base64::engine::general_purpose::STANDARD
                .decode(&token)
                .expect("the token is base64");
            format!("Basic {token}")
        };
        self.authorization = token(self.ecr("GetAuthorizationToken", serde_json::json!({})));
        let b = self.ecr_as(
            OTHER_ACCESS_KEY,
            "us-east-1",
            "GetAuthorizationToken",
            serde_json::json!({}),
        );
        self.other_authorization = token(b);
    }

    /// Moves berth's clock forward and runs its background jobs now, through the admin API
    /// on both targets; returns what `/v2/` answers the token of the last login, then logs
    /// in again.
    fn tick(&mut self, seconds: u64) -> Answer {
        let body = format!(r#"{{"seconds":{seconds}}}"#).into_bytes();
        let moved = self.send(Method::POST, "/_berth/admin/clock/advance", &[], body);
        assert_eq!(moved.status, 200, "moving the clock needs berth started with --admin-api");
        let ran = self.send(Method::POST, "/_berth/admin/jobs/upload-expiry/run", &[], Vec::new());
        assert_eq!(ran.status, 200, "running the upload expiry job");
        let ran = self.send(Method::POST, "/_berth/admin/jobs/replication/run", &[], Vec::new());
        assert_eq!(ran.status, 200, "running the replication job");
        let probe = self.registry(Method::GET, "/v2/", &[], Vec::new());
        self.log_in();
        probe
    }

    fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        self.runtime.block_on(self.target.request(method, path, headers, body))
    }
}

impl Sut {
    fn registry(
        &self, method: Method, path: &str, extra: &[(&str, &str)], body: Vec<u8>,
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
            &[("x-amz-target", &target), ("content-type", "application/x-amz-json-1.1")],
            input.to_string().into_bytes(),
        )
    }

    /// One ECR API call signed (in form: berth does not check signatures) with this access
    /// key in this region.
    pub fn ecr_as(
        &self, access_key: &str, region: &str, operation: &str, input: serde_json::Value,
    ) -> Answer {
        let target = format!("{TARGET_PREFIX}{operation}");
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/20260101/{region}/ecr/aws4_request, SignedHeaders=host, Signature=0"
        );
        self.send(
            Method::POST,
            "/",
            &[
                ("x-amz-target", &target),
                ("content-type", "application/x-amz-json-1.1"),
                ("authorization", &authorization),
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
        if let (Target::InProcess(state), Some(dir)) = (&mut self.target, &self.dir) {
            let path = dir.path().to_path_buf();
            self.runtime.block_on(async {
                state.registry.close().await;
            });
            *state = self.runtime.block_on(open_in_process(
                &path,
                self.clock.clone(),
                self.blobs.clone(),
            ));
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
            Transition::Tick { seconds } => self.tick(*seconds),
            Transition::UnderReads { .. } => {
                unreachable!("UnderReads makes several requests: perform_step runs it")
            }
            Transition::CreateRepository { repo } => {
                let name = self.name(*repo);
                self.ecr("CreateRepository", serde_json::json!({ "repositoryName": name }))
            }
            Transition::DeleteRepository { repo, force } => {
                let name = self.name(*repo);
                self.ecr(
                    "DeleteRepository",
                    serde_json::json!({ "repositoryName": name, "force": force }),
                )
            }
            Transition::Lifecycle { repo, keep } => {
                let name = self.name(*repo);
                let policy = format!(
                    r#"{{"rules":[{{"rulePriority":1,"description":"conformance","selection":{{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":{keep}}},"action":{{"type":"expire"}}}}]}}"#
                );
                let put = self.ecr(
                    "PutLifecyclePolicy",
                    serde_json::json!({ "repositoryName": name, "lifecyclePolicyText": policy }),
                );
                if put.status != 200 {
                    return Some(put);
                }
                let ran = self.send(Method::POST, "/_berth/admin/lifecycle/run", &[], Vec::new());
                assert_eq!(ran.status, 200, "the lifecycle run needs --admin-api");
                let deleted = self
                    .ecr("DeleteLifecyclePolicy", serde_json::json!({ "repositoryName": name }));
                assert_eq!(deleted.status, 200, "deleting the policy again");
                self.ecr("DescribeImages", serde_json::json!({ "repositoryName": name }))
            }
            Transition::SetImmutable { repo, immutable } => {
                let name = self.name(*repo);
                let setting = if *immutable { "IMMUTABLE" } else { "MUTABLE" };
                self.ecr(
                    "PutImageTagMutability",
                    serde_json::json!({ "repositoryName": name, "imageTagMutability": setting }),
                )
            }
            Transition::MonolithicUpload { repo, blob, wrong_digest: wrong } => {
                let digest = if *wrong { wrong_digest(*blob) } else { blob_digest(*blob) };
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
            Transition::FinishUpload { upload, wrong_digest: wrong } => {
                let u = &self.uploads[*upload];
                let digest = if *wrong { wrong_digest(u.blob) } else { blob_digest(u.blob) };
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
            Transition::PushIndex { repo, children, tag } => {
                let path = format!("/v2/{}/manifests/{}", self.name(*repo), TAGS[*tag]);
                let body = index_manifest(children).into_bytes();
                self.registry(Method::PUT, &path, &[("content-type", OCI_INDEX)], body)
            }
            Transition::GetManifest { repo, reference, head } => {
                let path =
                    format!("/v2/{}/manifests/{}", self.name(*repo), self.reference(reference));
                let method = if *head { Method::HEAD } else { Method::GET };
                let accept = format!("{OCI_MANIFEST}, {OCI_INDEX}");
                self.registry(method, &path, &[("accept", &accept)], Vec::new())
            }
            Transition::GetBlob { repo, blob } => {
                let path = format!("/v2/{}/blobs/{}", self.name(*repo), blob_digest(*blob));
                self.registry(Method::GET, &path, &[], Vec::new())
            }
            Transition::DeleteManifest { repo, reference } => {
                let path =
                    format!("/v2/{}/manifests/{}", self.name(*repo), self.reference(reference));
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
                self.ecr("DescribeImages", serde_json::json!({ "repositoryName": name }))
            }
            t @ (Transition::PullPolicy { .. }
            | Transition::CrossAccountDescribe { .. }
            | Transition::CrossAccountPull { .. }
            | Transition::Replication { .. }
            | Transition::DescribeReplica { .. }
            | Transition::BlobMounting { .. }) => self.registry_step(t),
            Transition::StorageClass { repo, reference, archive } => {
                let name = self.name(*repo);
                let id = self.image_id(reference);
                let target = if *archive { "ARCHIVE" } else { "STANDARD" };
                self.ecr(
                    "UpdateImageStorageClass",
                    serde_json::json!({ "repositoryName": name, "imageId": id, "targetStorageClass": target }),
                )
            }
            Transition::BatchCheckLayerAvailability { repo } => {
                let name = self.name(*repo);
                let digests: Vec<String> = (0..IMAGE_BLOBS).map(blob_digest).collect();
                self.ecr(
                    "BatchCheckLayerAvailability",
                    serde_json::json!({ "repositoryName": name, "layerDigests": digests }),
                )
            }
        };
        Some(answer)
    }

    /// Performs a step; one answer per request it makes (none for a restart).
    pub fn perform_step(&mut self, t: &Transition) -> Vec<Answer> {
        match t {
            Transition::UnderReads { writes } => self.under_reads(writes),
            other => self.perform(other).into_iter().collect(),
        }
    }

    /// The digest `/v2` HEAD serves for a tag; `None` on 404.
    pub fn tag_digest(&self, repo: usize, tag: usize) -> Option<String> {
        let path = format!("/v2/{}/manifests/{}", self.name(repo), TAGS[tag]);
        let accept = format!("{OCI_MANIFEST}, {OCI_INDEX}");
        let answer = self.registry(Method::HEAD, &path, &[("accept", &accept)], Vec::new());
        if answer.status == 404 {
            return None;
        }
        assert_eq!(answer.status, 200, "HEAD {path}");
        let digest = answer
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .expect("a 200 manifest HEAD has Docker-Content-Digest");
        Some(digest.to_string())
    }

    fn remember_upload(&mut self, answer: &Answer, blob: usize) {
        if answer.status == 202 {
            let location = answer
                .headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("a 202 upload answer has a Location")
                .to_string();
            self.uploads.push(OpenUpload { location, blob, received: 0 });
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
        let tags = answer.json()["tags"].as_array().cloned().unwrap_or_default();
        Some(tags.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
    }
}
