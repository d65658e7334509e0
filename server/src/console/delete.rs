//! Deleting an image: a question first (GET), then BatchDeleteImage (POST).

use super::page::escape;
use super::{failed, form, image_in_query, link, show, to_sign_in, url, viewer};
use crate::app::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use berth_generated::ecr::{BatchDeleteImage, BatchDeleteImageRequest, ImageIdentifier};
use std::sync::Arc;

/// The question before a delete.
pub async fn question(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return to_sign_in();
    };
    let (repository, digest) = image_in_query(&request);
    let body = format!(
        "<p>Delete the image <code>{}</code> and all its tags from <b>{}</b>? \
         This is BatchDeleteImage; it cannot be undone.</p>\
         <form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"repository\" value=\"{}\">\
         <input type=\"hidden\" name=\"digest\" value=\"{}\">\
         <button class=\"danger\" id=\"delete\">Delete</button> {}</form>",
        escape(&digest),
        escape(&repository),
        escape(&url(&caller, "/ui/delete", &[])),
        escape(&repository),
        escape(&digest),
        link(&caller, "/ui/repository", &[("name", &repository)], "Cancel")
    );
    show(&caller, "Delete image", &body)
}

/// The delete, once confirmed; back to the repository.
pub async fn delete(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return to_sign_in();
    };
    let Some(mut form) = form(request).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let repository = form.remove("repository").unwrap_or_default();
    let digest = form.remove("digest").unwrap_or_default();
    let request = BatchDeleteImageRequest {
        repository_name: repository.clone(),
        image_ids: vec![ImageIdentifier { image_digest: Some(digest), ..Default::default() }],
        registry_id: None,
    };
    match state.ecr.batch_delete_image(&caller, request).await {
        Ok(_) => {
            Redirect::to(&url(&caller, "/ui/repository", &[("name", &repository)])).into_response()
        }
        Err(e) => failed(&caller, "Delete image", e),
    }
}
