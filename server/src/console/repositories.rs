//! A registry's repositories, with image count and size.

use super::page::{escape, size, table, time};
use super::{failed, link, show, to_sign_in, viewer};
use crate::app::AppState;
use axum::extract::{Request, State};
use axum::response::Response;
use berth_generated::ecr::{
    DescribeImages, DescribeImagesRequest, DescribeRepositories, DescribeRepositoriesRequest,
    ImageDetail,
};
use berth_handlers::{Caller, RegistryError};
use std::sync::Arc;

/// The repositories page (the console's home).
pub async fn page(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return to_sign_in();
    };
    let request = DescribeRepositoriesRequest { max_results: Some(1000), ..Default::default() };
    let repositories = match state.ecr.describe_repositories(&caller, request).await {
        Ok(listed) => listed.repositories.unwrap_or_default(),
        Err(e) => return failed(&caller, "Repositories", e),
    };
    let mut rows = Vec::new();
    for repository in repositories {
        let name = repository.repository_name.clone().unwrap_or_default();
        let images = images_of(&state, &caller, &name).await.unwrap_or_default();
        let bytes: i64 = images.iter().filter_map(|i| i.image_size_in_bytes).sum();
        let scanning = repository
            .image_scanning_configuration
            .as_ref()
            .map(|c| c.scan_on_push)
            .map_or("—", |on| if on { "on push" } else { "manual" });
        rows.push(vec![
            link(&caller, "/ui/repository", &[("name", &name)], &escape(&name)),
            images.len().to_string(),
            size(bytes),
            escape(repository.image_tag_mutability.as_ref().map_or("", |m| m.as_str())),
            scanning.into(),
            time(repository.created_at.map(|t| t.0)),
        ]);
    }
    let body = if rows.is_empty() {
        "<p>No repositories yet.</p>".to_string()
    } else {
        let headings = ["repository", "images", "size", "tags", "scanning", "created"];
        table(&headings, &rows)
    };
    let title = format!("Registry {} in {}", caller.account_id, caller.region);
    show(&caller, &title, &body)
}

/// Every image of `repository` (first 1,000), as DescribeImages answers.
pub async fn images_of(
    state: &AppState, caller: &Caller, repository: &str,
) -> Result<Vec<ImageDetail>, RegistryError> {
    let request = DescribeImagesRequest {
        repository_name: repository.to_string(),
        max_results: Some(1000),
        ..Default::default()
    };
    let described = state.ecr.describe_images(caller, request).await?;
    Ok(described.image_details.unwrap_or_default())
}
