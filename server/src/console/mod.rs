//! The web console at `/ui/`: an account's registries, a registry's repositories, a
//! repository's images, an image's manifest and layers, scan findings, a lifecycle policy
//! with its preview, and deleting an image after a confirmation. Server-rendered HTML
//! (page.rs), no JavaScript: each page is one GET that reads through the same ECR handlers
//! the API uses, so it shows exactly what DescribeRepositories, DescribeImages,
//! BatchGetImage, DescribeImageScanFindings and GetLifecyclePolicyPreview answer, and a
//! delete is BatchDeleteImage. One file per page, so a page is a small addition.
//!
//! Who is looking: sign in at `/ui/login` with the password `aws ecr get-login-password`
//! prints (the /v2 token; kept in an HttpOnly cookie until it expires). The token's account
//! is the boundary: the console shows that account's registries in every region (the
//! `region` query parameter picks one; the token's region is the default) and nothing of
//! any other account. With `--ui-open`, requests from loopback addresses see the default
//! account without signing in.

mod delete;
mod findings;
mod image;
mod lifecycle;
mod page;
mod registries;
mod repositories;
mod repository;
mod sign_in;

use crate::app::AppState;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use berth_handlers::scope::PrincipalArn;
use berth_handlers::{Caller, RegistryError};
use page::{escape, layout};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// The cookie that carries the signed-in token.
const COOKIE: &str = "berth_console";

/// The console's routes (merged into the app's router).
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(repositories::page))
        .route("/ui/login", get(sign_in::form).post(sign_in::sign_in))
        .route("/ui/logout", post(sign_in::sign_out))
        .route("/ui/registries", get(registries::page))
        .route("/ui/repository", get(repository::page))
        .route("/ui/image", get(image::page))
        .route("/ui/findings", get(findings::page))
        .route("/ui/lifecycle", get(lifecycle::page).post(lifecycle::preview))
        .route("/ui/delete", get(delete::question).post(delete::delete))
}

/// The query string (or form body) as a map.
fn params(text: &str) -> HashMap<String, String> {
    form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The request's query as a map.
fn query(request: &Request) -> HashMap<String, String> {
    params(request.uri().query().unwrap_or(""))
}

/// The image a page is about: the `repository` and `digest` of its query.
fn image_in_query(request: &Request) -> (String, String) {
    let mut query = query(request);
    let repository = query.remove("repository").unwrap_or_default();
    (repository, query.remove("digest").unwrap_or_default())
}

/// A form body (at most 64 KiB) as a map.
async fn form(request: Request) -> Option<HashMap<String, String>> {
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024).await.ok()?;
    Some(params(&String::from_utf8_lossy(&body)))
}

/// Who is looking, in the region the page asks for; None sends them to sign in.
fn viewer(state: &AppState, request: &Request) -> Option<Caller> {
    let mut caller = signed_in(state, request).or_else(|| open_to(state, request))?;
    if let Some(region) = query(request).remove("region").filter(|r| is_region(r)) {
        caller.region = region;
    }
    Some(caller)
}

/// The caller of the token in the console's cookie, while it is valid.
fn signed_in(state: &AppState, request: &Request) -> Option<Caller> {
    let token = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))?;
    let claims = state.tokens.verify(token, state.registry.clock().now_secs()).ok()?;
    Some(Caller { account_id: claims.account, region: claims.region, principal: claims.principal })
}

/// The default account, for loopback visitors when `--ui-open` is on.
fn open_to(state: &AppState, request: &Request) -> Option<Caller> {
    let loopback = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
    if !(state.console_open && loopback) {
        return None;
    }
    let account = &state.identities.default_account;
    Some(Caller {
        account_id: account.clone(),
        region: state.identities.default_region.clone(),
        principal: PrincipalArn::root(account).as_str().to_string(),
    })
}

/// Whether `text` looks like a region name (`us-east-1`); anything else is ignored.
fn is_region(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A console address in the caller's region, unescaped (for redirects).
fn url(caller: &Caller, path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("region", &caller.region);
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    format!("{path}?{}", query.finish())
}

/// A link to a console page in the caller's region; `text` is already HTML.
fn link(caller: &Caller, path: &str, pairs: &[(&str, &str)], text: &str) -> String {
    format!("<a href=\"{}\">{text}</a>", escape(&url(caller, path, pairs)))
}

/// A link to an image's page, labelled with its digest cut short (the whole digest is
/// its title).
fn image_link(caller: &Caller, repository: &str, digest: &str) -> String {
    let short: String = digest.chars().take(19).collect();
    let ellipsis = if short.len() < digest.len() { "…" } else { "" };
    format!(
        "<a href=\"{}\" title=\"{}\"><code>{}{ellipsis}</code></a>",
        escape(&url(caller, "/ui/image", &[("repository", repository), ("digest", digest)])),
        escape(digest),
        escape(&short)
    )
}

/// Where a visitor who is not signed in goes.
fn to_sign_in() -> Response {
    Redirect::to("/ui/login").into_response()
}

/// The header's right side: account, region, a link to the account's registries and a
/// sign-out button.
fn who(caller: &Caller) -> String {
    format!(
        "{} · {} · {} <form class=\"inline\" method=\"post\" action=\"/ui/logout\">\
         <button id=\"sign-out\">sign out</button></form>",
        escape(&caller.account_id),
        escape(&caller.region),
        link(caller, "/ui/registries", &[], "registries")
    )
}

/// A page in the header and style every page shares.
fn show(caller: &Caller, title: &str, body: &str) -> Response {
    layout(title, &who(caller), body).into_response()
}

/// A failed read or change, as a page with the status a browser should see.
fn failed(caller: &Caller, what: &str, e: RegistryError) -> Response {
    let status = match e {
        RegistryError::RepositoryNotFound { .. }
        | RegistryError::ImageNotFound
        | RegistryError::ImageNotFoundById(_)
        | RegistryError::ScanNotFound(_)
        | RegistryError::LifecyclePolicyNotFound { .. } => StatusCode::NOT_FOUND,
        RegistryError::Internal(_)
        | RegistryError::StorageFull(_)
        | RegistryError::NotImplemented => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = format!("<p>{}</p>", escape(&e.to_string()));
    (status, layout(what, &who(caller), &body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_carry_the_region_and_are_escaped() {
        let caller = Caller {
            account_id: "000000000000".into(),
            region: "eu-west-1".into(),
            principal: String::new(),
        };
        assert_eq!(
            url(&caller, "/ui/image", &[("repository", "a/b"), ("digest", "sha256:1")]),
            "/ui/image?region=eu-west-1&repository=a%2Fb&digest=sha256%3A1"
        );
        assert_eq!(
            link(&caller, "/ui/", &[("x", "1")], "home"),
            "<a href=\"/ui/?region=eu-west-1&amp;x=1\">home</a>"
        );
        assert!(is_region("ap-southeast-2") && !is_region("EU\"><script>") && !is_region(""));
    }
}
