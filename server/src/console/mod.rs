//! The web console at `/ui/`: a registry's repositories, a repository's images, an
//! image's manifest and layers, and deleting an image after a confirmation. Server-rendered
//! HTML (page.rs), no JavaScript: each page is one GET that reads through the same ECR
//! handlers the API uses, so it shows exactly what DescribeRepositories, DescribeImages and
//! BatchGetImage answer, and a delete is BatchDeleteImage.
//!
//! Who is looking: sign in at `/ui/login` with the password `aws ecr get-login-password`
//! prints (the /v2 token; kept in an HttpOnly cookie until it expires), which shows its
//! account and region only. With `--ui-open`, requests from loopback addresses see the
//! default account and region without signing in.

mod page;

use crate::app::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use berth_generated::ecr::{
    BatchDeleteImage, BatchDeleteImageRequest, BatchGetImage, BatchGetImageRequest,
    DescribeImageReplicationStatus, DescribeImageReplicationStatusRequest,
    DescribeImageScanFindings, DescribeImageScanFindingsRequest, DescribeImages,
    DescribeImagesRequest, DescribeRepositories, DescribeRepositoriesRequest, GetLifecyclePolicy,
    GetLifecyclePolicyRequest, ImageIdentifier, ListImageReferrers, ListImageReferrersRequest,
    SubjectIdentifier,
};
use berth_handlers::scope::PrincipalArn;
use berth_handlers::Caller;
use page::{escape, layout, query_value, size, table, time};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// The cookie that carries the signed-in token.
const COOKIE: &str = "berth_console";

/// The console's routes (merged into the app's router).
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(repositories))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", axum::routing::post(logout))
        .route("/ui/repository", get(repository))
        .route("/ui/image", get(image))
        .route("/ui/delete", get(confirm_delete).post(delete))
}

/// The query string (or form body) as a map.
fn params(text: &str) -> HashMap<String, String> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Who is looking; None sends them to sign in.
fn viewer(state: &AppState, request: &Request) -> Option<Caller> {
    let token = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='));
    if let Some(token) = token {
        if let Ok(claims) = state
            .tokens
            .verify(token, state.registry.clock().now_secs())
        {
            return Some(Caller {
                account_id: claims.account,
                region: claims.region,
                principal: claims.principal,
            });
        }
    }
    let loopback = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
    if state.console_open && loopback {
        let account = &state.identities.default_account;
        return Some(Caller {
            account_id: account.clone(),
            region: state.identities.default_region.clone(),
            principal: PrincipalArn::root(account).as_str().to_string(),
        });
    }
    None
}

/// Where a visitor who is not signed in goes.
fn sign_in() -> Response {
    Redirect::to("/ui/login").into_response()
}

/// "account · region" and a sign-out button, for the header.
fn who(caller: &Caller) -> String {
    format!(
        "{} · {} <form class=\"inline\" method=\"post\" action=\"/ui/logout\">\
         <button>sign out</button></form>",
        escape(&caller.account_id),
        escape(&caller.region)
    )
}

/// A failed read, as a page.
fn failed(what: &str, e: berth_handlers::RegistryError) -> Response {
    let status = match e {
        berth_handlers::RegistryError::RepositoryNotFound { .. }
        | berth_handlers::RegistryError::ImageNotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = format!("<p>{}</p>", escape(&e.to_string()));
    (status, layout(what, "", &body)).into_response()
}

async fn login_form() -> Response {
    let body = "<p>Paste the password that <code>aws ecr get-login-password</code> prints \
                (the one docker logs in with). It shows its account and region.</p>\
                <form method=\"post\" action=\"/ui/login\">\
                <input type=\"password\" name=\"password\" size=\"60\" autofocus> \
                <button>Sign in</button></form>";
    layout("Sign in", "", body).into_response()
}

async fn login(State(state): State<Arc<AppState>>, body: String) -> Response {
    let password = params(&body).remove("password").unwrap_or_default();
    match state
        .tokens
        .verify(password.trim(), state.registry.clock().now_secs())
    {
        Ok(claims) => {
            let max_age = claims
                .expires_at
                .saturating_sub(state.registry.clock().now_secs());
            let cookie = format!(
                "{COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}",
                password.trim()
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/ui/")).into_response()
        }
        Err(_) => (
            StatusCode::UNAUTHORIZED,
            layout(
                "Sign in",
                "",
                "<p>That password is not a valid (or a still valid) registry password.</p>\
                 <p><a href=\"/ui/login\">Try again</a></p>",
            ),
        )
            .into_response(),
    }
}

async fn logout() -> Response {
    let cookie = format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/ui/login")).into_response()
}

/// The registry's repositories, with image count and size.
async fn repositories(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return sign_in();
    };
    let listed = state
        .ecr
        .describe_repositories(
            &caller,
            DescribeRepositoriesRequest {
                max_results: Some(1000),
                ..Default::default()
            },
        )
        .await;
    let repositories = match listed {
        Ok(listed) => listed.repositories.unwrap_or_default(),
        Err(e) => return failed("Repositories", e),
    };
    let mut rows = Vec::new();
    for repository in repositories {
        let name = repository.repository_name.clone().unwrap_or_default();
        let images = images_of(&state, &caller, &name).await.unwrap_or_default();
        let bytes: i64 = images.iter().filter_map(|i| i.image_size_in_bytes).sum();
        rows.push(vec![
            format!(
                "<a href=\"/ui/repository?name={}\">{}</a>",
                query_value(&name),
                escape(&name)
            ),
            images.len().to_string(),
            size(bytes),
            escape(
                repository
                    .image_tag_mutability
                    .as_ref()
                    .map_or("", |m| m.as_str()),
            ),
            repository
                .image_scanning_configuration
                .as_ref()
                .map(|c| c.scan_on_push)
                .map_or("—", |on| if on { "on push" } else { "manual" })
                .into(),
            time(repository.created_at.map(|t| t.0)),
        ]);
    }
    let body = if rows.is_empty() {
        "<p>No repositories yet.</p>".to_string()
    } else {
        table(
            &[
                "repository",
                "images",
                "size",
                "tags",
                "scanning",
                "created",
            ],
            &rows,
        )
    };
    layout(
        &format!("Registry {} in {}", caller.account_id, caller.region),
        &who(&caller),
        &body,
    )
    .into_response()
}

/// Every image of `repository` (first 1,000).
async fn images_of(
    state: &AppState,
    caller: &Caller,
    repository: &str,
) -> Result<Vec<berth_generated::ecr::ImageDetail>, berth_handlers::RegistryError> {
    let described = state
        .ecr
        .describe_images(
            caller,
            DescribeImagesRequest {
                repository_name: repository.to_string(),
                max_results: Some(1000),
                ..Default::default()
            },
        )
        .await?;
    Ok(described.image_details.unwrap_or_default())
}

/// A repository's images: tags, digest, size, pushed and pulled times, storage class.
async fn repository(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return sign_in();
    };
    let name = params(request.uri().query().unwrap_or(""))
        .remove("name")
        .unwrap_or_default();
    let mut images = match images_of(&state, &caller, &name).await {
        Ok(images) => images,
        Err(e) => return failed(&name, e),
    };
    images.sort_by(|a, b| {
        let at = |i: &berth_generated::ecr::ImageDetail| i.image_pushed_at.map_or(0.0, |t| t.0);
        at(b).total_cmp(&at(a))
    });
    let mut scans = Vec::new();
    for image in images.iter().take(SCANS_SHOWN) {
        let digest = image.image_digest.as_deref().unwrap_or_default();
        scans.push(scan(&state, &caller, &name, digest).await);
    }
    let rows: Vec<Vec<String>> = images
        .iter()
        .enumerate()
        .map(|(at, image)| {
            let digest = image.image_digest.clone().unwrap_or_default();
            let link = format!(
                "/ui/image?repository={}&digest={}",
                query_value(&name),
                query_value(&digest)
            );
            vec![
                escape(&image.image_tags.clone().unwrap_or_default().join(", ")),
                format!("<a href=\"{link}\"><code>{}</code></a>", escape(&digest)),
                size(image.image_size_in_bytes.unwrap_or(0)),
                time(image.image_pushed_at.map(|t| t.0)),
                time(image.last_recorded_pull_time.map(|t| t.0)),
                escape(image.image_status.as_ref().map_or("ACTIVE", |s| s.as_str())),
                escape(scans.get(at).map_or("—", String::as_str)),
                format!(
                    "<a href=\"/ui/delete?repository={}&digest={}\">delete…</a>",
                    query_value(&name),
                    query_value(&digest)
                ),
            ]
        })
        .collect();
    let body = if rows.is_empty() {
        "<p>No images.</p>".to_string()
    } else {
        table(
            &[
                "tags",
                "digest",
                "size",
                "pushed",
                "last pulled",
                "storage",
                "scan",
                "",
            ],
            &rows,
        )
    };
    let policy = state
        .ecr
        .get_lifecycle_policy(
            &caller,
            GetLifecyclePolicyRequest {
                repository_name: name.clone(),
                registry_id: None,
            },
        )
        .await
        .ok()
        .and_then(|p| p.lifecycle_policy_text)
        .map(|text| {
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let pretty = serde_json::to_string_pretty(&parsed).unwrap_or(text);
            format!("<h2>Lifecycle policy</h2><pre>{}</pre>", escape(&pretty))
        })
        .unwrap_or_else(|| "<h2>Lifecycle policy</h2><p>None.</p>".into());
    let body = format!("{body}{policy}");
    layout(&name, &who(&caller), &body).into_response()
}

/// An image's scan as a cell: its status and the findings by severity, as
/// DescribeImageScanFindings answers ("—" when it was never scanned).
async fn scan(state: &AppState, caller: &Caller, repository: &str, digest: &str) -> String {
    let request = DescribeImageScanFindingsRequest {
        repository_name: repository.to_string(),
        image_id: ImageIdentifier {
            image_digest: Some(digest.to_string()),
            ..Default::default()
        },
        max_results: Some(1),
        ..Default::default()
    };
    let Ok(found) = state
        .ecr
        .describe_image_scan_findings(caller, request)
        .await
    else {
        return "—".into();
    };
    let status = found
        .image_scan_status
        .and_then(|s| s.status)
        .map_or("—", |s| s.as_str());
    let counts = found
        .image_scan_findings
        .and_then(|f| f.finding_severity_counts)
        .unwrap_or_default();
    let findings = if counts.is_empty() {
        "no findings".to_string()
    } else {
        counts
            .iter()
            .map(|(severity, n)| format!("{} {n}", severity.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{status} · {findings}")
}

/// Scans are read for this many images of a page at most (one call each).
const SCANS_SHOWN: usize = 100;

/// An image: its manifest, and the config and layers it names with their sizes.
async fn image(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return sign_in();
    };
    let mut query = params(request.uri().query().unwrap_or(""));
    let repository = query.remove("repository").unwrap_or_default();
    let digest = query.remove("digest").unwrap_or_default();
    let got = state
        .ecr
        .batch_get_image(
            &caller,
            BatchGetImageRequest {
                repository_name: repository.clone(),
                image_ids: vec![ImageIdentifier {
                    image_digest: Some(digest.clone()),
                    ..Default::default()
                }],
                accepted_media_types: None,
                registry_id: None,
            },
        )
        .await;
    let manifest = match got {
        Ok(got) => got
            .images
            .unwrap_or_default()
            .into_iter()
            .find_map(|i| i.image_manifest),
        Err(e) => return failed(&repository, e),
    };
    let Some(manifest) = manifest else {
        return failed(&repository, berth_handlers::RegistryError::ImageNotFound);
    };
    let parsed: serde_json::Value = serde_json::from_str(&manifest).unwrap_or_default();
    let pretty = serde_json::to_string_pretty(&parsed).unwrap_or(manifest);
    let mut rows = Vec::new();
    let described = [("config", &parsed["config"])]
        .into_iter()
        .chain(
            parsed["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| ("layer", l)),
        )
        .chain(
            parsed["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| ("manifest", m)),
        );
    let sharing = sharing(&state, &caller, &repository, &digest).await;
    for (kind, descriptor) in described {
        let Some(child) = descriptor["digest"].as_str() else {
            continue;
        };
        let shared: Vec<String> = sharing
            .get(child)
            .into_iter()
            .flatten()
            .map(|(other, label)| {
                format!(
                    "<a href=\"/ui/image?repository={}&digest={}\">{}</a>",
                    query_value(&repository),
                    query_value(other),
                    escape(label)
                )
            })
            .collect();
        rows.push(vec![
            kind.into(),
            format!("<code>{}</code>", escape(child)),
            escape(descriptor["mediaType"].as_str().unwrap_or("")),
            size(descriptor["size"].as_i64().unwrap_or(0)),
            shared.join(", "),
        ]);
    }
    let referrers = referrers(&state, &caller, &repository, &digest).await;
    let replication = replication(&state, &caller, &repository, &digest).await;
    let body = format!(
        "<p><code>{}</code> in <a href=\"/ui/repository?name={}\">{}</a></p>{}\
         <h2>Referrers</h2>{referrers}<h2>Replication</h2>{replication}\
         <h2>Manifest</h2><pre>{}</pre>",
        escape(&digest),
        query_value(&repository),
        escape(&repository),
        table(
            &[
                "",
                "digest",
                "media type",
                "size",
                "also in (this repository)"
            ],
            &rows
        ),
        escape(&pretty)
    );
    layout("Image", &who(&caller), &body).into_response()
}

/// For each blob the repository's other images reference (first 100 images): those
/// images' digests and a label (their tags, or a short digest).
async fn sharing(
    state: &AppState,
    caller: &Caller,
    repository: &str,
    except: &str,
) -> HashMap<String, Vec<(String, String)>> {
    let mut shared: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let Ok(images) = images_of(state, caller, repository).await else {
        return shared;
    };
    let others: Vec<_> = images
        .iter()
        .filter(|i| i.image_digest.as_deref() != Some(except))
        .take(100)
        .collect();
    let ids = others
        .iter()
        .map(|i| ImageIdentifier {
            image_digest: i.image_digest.clone(),
            ..Default::default()
        })
        .collect();
    let request = BatchGetImageRequest {
        repository_name: repository.to_string(),
        image_ids: ids,
        accepted_media_types: None,
        registry_id: None,
    };
    let Ok(got) = state.ecr.batch_get_image(caller, request).await else {
        return shared;
    };
    for image in got.images.unwrap_or_default() {
        let digest = image
            .image_id
            .and_then(|id| id.image_digest)
            .unwrap_or_default();
        let label = others
            .iter()
            .find(|i| i.image_digest.as_deref() == Some(digest.as_str()))
            .and_then(|i| i.image_tags.clone())
            .filter(|tags| !tags.is_empty())
            .map_or_else(|| digest.chars().take(19).collect(), |tags| tags.join(", "));
        let manifest: serde_json::Value =
            serde_json::from_str(image.image_manifest.as_deref().unwrap_or("{}"))
                .unwrap_or_default();
        let blobs = std::iter::once(&manifest["config"])
            .chain(manifest["layers"].as_array().into_iter().flatten())
            .filter_map(|d| d["digest"].as_str());
        for blob in blobs {
            shared
                .entry(blob.to_string())
                .or_default()
                .push((digest.clone(), label.clone()));
        }
    }
    shared
}

/// What refers to the image (signatures, SBOMs, attestations), as ListImageReferrers
/// answers, as a table or a sentence.
async fn referrers(state: &AppState, caller: &Caller, repository: &str, digest: &str) -> String {
    let request = ListImageReferrersRequest {
        repository_name: repository.to_string(),
        subject_id: SubjectIdentifier {
            image_digest: digest.to_string(),
        },
        max_results: Some(100),
        filter: None,
        next_token: None,
        registry_id: None,
    };
    let listed = match state.ecr.list_image_referrers(caller, request).await {
        Ok(listed) => listed.referrers.unwrap_or_default(),
        Err(e) => return format!("<p>{}</p>", escape(&e.to_string())),
    };
    if listed.is_empty() {
        return "<p>None.</p>".into();
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|r| {
            let child = r.digest.clone().unwrap_or_default();
            vec![
                escape(r.artifact_type.as_deref().unwrap_or("")),
                format!(
                    "<a href=\"/ui/image?repository={}&digest={}\"><code>{}</code></a>",
                    query_value(repository),
                    query_value(&child),
                    escape(&child)
                ),
                size(r.size.unwrap_or(0)),
            ]
        })
        .collect();
    table(&["artifact type", "digest", "size"], &rows)
}

/// Where the image is replicated to, as DescribeImageReplicationStatus answers.
async fn replication(state: &AppState, caller: &Caller, repository: &str, digest: &str) -> String {
    let request = DescribeImageReplicationStatusRequest {
        repository_name: repository.to_string(),
        image_id: ImageIdentifier {
            image_digest: Some(digest.to_string()),
            ..Default::default()
        },
        registry_id: None,
    };
    let statuses = match state
        .ecr
        .describe_image_replication_status(caller, request)
        .await
    {
        Ok(found) => found.replication_statuses.unwrap_or_default(),
        Err(e) => return format!("<p>{}</p>", escape(&e.to_string())),
    };
    if statuses.is_empty() {
        return "<p>Not replicated.</p>".into();
    }
    let rows: Vec<Vec<String>> = statuses
        .iter()
        .map(|s| {
            vec![
                escape(s.registry_id.as_deref().unwrap_or("")),
                escape(s.region.as_deref().unwrap_or("")),
                escape(s.status.as_ref().map_or("", |s| s.as_str())),
                escape(s.failure_code.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    table(&["registry", "region", "status", "failure"], &rows)
}

/// The question before a delete.
async fn confirm_delete(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return sign_in();
    };
    let mut query = params(request.uri().query().unwrap_or(""));
    let repository = query.remove("repository").unwrap_or_default();
    let digest = query.remove("digest").unwrap_or_default();
    let body = format!(
        "<p>Delete the image <code>{}</code> and all its tags from <b>{}</b>? \
         This is BatchDeleteImage; it cannot be undone.</p>\
         <form method=\"post\" action=\"/ui/delete\">\
         <input type=\"hidden\" name=\"repository\" value=\"{}\">\
         <input type=\"hidden\" name=\"digest\" value=\"{}\">\
         <button class=\"danger\">Delete</button> \
         <a href=\"/ui/repository?name={}\">Cancel</a></form>",
        escape(&digest),
        escape(&repository),
        escape(&repository),
        escape(&digest),
        query_value(&repository)
    );
    layout("Delete image", &who(&caller), &body).into_response()
}

/// The delete, once confirmed.
async fn delete(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return sign_in();
    };
    let body = match axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        Ok(body) => String::from_utf8_lossy(&body).into_owned(),
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let mut form = params(&body);
    let repository = form.remove("repository").unwrap_or_default();
    let digest = form.remove("digest").unwrap_or_default();
    let deleted = state
        .ecr
        .batch_delete_image(
            &caller,
            BatchDeleteImageRequest {
                repository_name: repository.clone(),
                image_ids: vec![ImageIdentifier {
                    image_digest: Some(digest),
                    ..Default::default()
                }],
                registry_id: None,
            },
        )
        .await;
    match deleted {
        Ok(_) => Redirect::to(&format!("/ui/repository?name={}", query_value(&repository)))
            .into_response(),
        Err(e) => failed("Delete image", e),
    }
}
