//! Signing in with the registry password and out again.

use super::page::layout;
use super::{params, COOKIE};
use crate::app::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;

/// The sign-in form.
pub async fn form() -> Response {
    let body = "<p>Paste the password that <code>aws ecr get-login-password</code> prints \
                (the one docker logs in with). It shows its account's registries.</p>\
                <form method=\"post\" action=\"/ui/login\">\
                <input type=\"password\" name=\"password\" size=\"60\" autofocus> \
                <button id=\"sign-in\">Sign in</button></form>";
    layout("Sign in", "", body).into_response()
}

/// Checks the password and keeps it in an HttpOnly cookie until the token expires.
pub async fn sign_in(State(state): State<Arc<AppState>>, body: String) -> Response {
    let password = params(&body).remove("password").unwrap_or_default();
    let now = state.registry.clock().now_secs();
    match state.tokens.verify(password.trim(), now) {
        Ok(claims) => {
            let max_age = claims.expires_at.saturating_sub(now);
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

/// Forgets the cookie.
pub async fn sign_out() -> Response {
    let cookie = format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/ui/login")).into_response()
}
