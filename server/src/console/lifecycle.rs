//! A repository's lifecycle policy and what it would do now: the preview is
//! StartLifecyclePolicyPreview (a POST from the page's button), read back with
//! GetLifecyclePolicyPreview.

use super::page::{escape, table, time};
use super::{failed, form, image_link, link, query, show, to_sign_in, url, viewer};
use crate::app::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use berth_generated::ecr::{
    GetLifecyclePolicy, GetLifecyclePolicyPreview, GetLifecyclePolicyPreviewRequest,
    GetLifecyclePolicyRequest, StartLifecyclePolicyPreview, StartLifecyclePolicyPreviewRequest,
};
use berth_handlers::RegistryError;
use std::sync::Arc;

/// The lifecycle page.
pub async fn page(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return to_sign_in();
    };
    let name = query(&request).remove("repository").unwrap_or_default();
    let request = GetLifecyclePolicyRequest { repository_name: name.clone(), registry_id: None };
    let policy = match state.ecr.get_lifecycle_policy(&caller, request).await {
        Ok(found) => found.lifecycle_policy_text,
        Err(RegistryError::LifecyclePolicyNotFound { .. }) => None,
        Err(e) => return failed(&caller, &name, e),
    };
    let policy = match policy {
        Some(text) => {
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let pretty = serde_json::to_string_pretty(&parsed).unwrap_or(text);
            format!(
                "<pre>{}</pre><form method=\"post\" action=\"{}\">\
                 <input type=\"hidden\" name=\"repository\" value=\"{}\">\
                 <button id=\"preview\">Preview what it would do now</button></form>",
                escape(&pretty),
                escape(&url(&caller, "/ui/lifecycle", &[])),
                escape(&name)
            )
        }
        None => "<p>None.</p>".into(),
    };
    let request = GetLifecyclePolicyPreviewRequest {
        repository_name: name.clone(),
        max_results: Some(1000),
        ..Default::default()
    };
    let preview = match state.ecr.get_lifecycle_policy_preview(&caller, request).await {
        Ok(preview) => {
            let summary = preview.summary.unwrap_or_default();
            let rows: Vec<Vec<String>> = preview
                .preview_results
                .unwrap_or_default()
                .iter()
                .map(|r| {
                    let action = r.action.as_ref();
                    let kind = action.and_then(|a| a.r#type.as_ref()).map_or("", |t| t.as_str());
                    let target = action
                        .and_then(|a| a.target_storage_class.as_ref())
                        .map_or(String::new(), |c| format!(" to {}", c.as_str()));
                    vec![
                        escape(&r.image_tags.clone().unwrap_or_default().join(", ")),
                        image_link(&caller, &name, r.image_digest.as_deref().unwrap_or("")),
                        time(r.image_pushed_at.map(|t| t.0)),
                        escape(&format!("{kind}{target}")),
                        r.applied_rule_priority.map_or(String::new(), |p| p.to_string()),
                    ]
                })
                .collect();
            let headings = ["tags", "digest", "pushed", "action", "rule"];
            format!(
                "<p>Status: {} · {} to expire, {} to transition</p>{}",
                escape(preview.status.as_ref().map_or("", |s| s.as_str())),
                summary.expiring_image_total_count.unwrap_or(0),
                summary
                    .transitioning_image_total_counts
                    .iter()
                    .flatten()
                    .filter_map(|c| c.image_total_count)
                    .sum::<i32>(),
                if rows.is_empty() {
                    "<p>Nothing would change.</p>".to_string()
                } else {
                    table(&headings, &rows)
                }
            )
        }
        Err(RegistryError::LifecyclePolicyPreviewNotFound { .. }) => {
            "<p>No preview yet.</p>".into()
        }
        Err(e) => format!("<p>{}</p>", escape(&e.to_string())),
    };
    let back = link(&caller, "/ui/repository", &[("name", &name)], &escape(&name));
    let body = format!("<p>Repository {back}</p><h2>Policy</h2>{policy}<h2>Preview</h2>{preview}");
    show(&caller, "Lifecycle policy", &body)
}

/// Starts a preview of the saved policy, then shows the page again.
pub async fn preview(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return to_sign_in();
    };
    let Some(mut form) = form(request).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let name = form.remove("repository").unwrap_or_default();
    let request =
        StartLifecyclePolicyPreviewRequest { repository_name: name.clone(), ..Default::default() };
    match state.ecr.start_lifecycle_policy_preview(&caller, request).await {
        Ok(_) => {
            Redirect::to(&url(&caller, "/ui/lifecycle", &[("repository", &name)])).into_response()
        }
        Err(e) => failed(&caller, "Lifecycle preview", e),
    }
}
