//! The signed-in account's registries: one per region that holds a repository or a
//! setting, and always the region the visitor is in.

use super::page::{escape, table};
use super::{link, show, to_sign_in, viewer};
use crate::app::AppState;
use axum::extract::{Request, State};
use axum::response::Response;
use berth_generated::ecr::{DescribeRepositories, DescribeRepositoriesRequest};
use berth_handlers::Caller;
use std::sync::Arc;

/// The registries page.
pub async fn page(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(caller) = viewer(&state, &request) else {
        return to_sign_in();
    };
    let mut regions: Vec<String> = match state.registry.registries().await {
        Ok(scopes) => scopes
            .into_iter()
            .filter(|s| s.registry_id == caller.account_id)
            .map(|s| s.region)
            .collect(),
        Err(e) => return super::failed(&caller, "Registries", e),
    };
    if !regions.contains(&caller.region) {
        regions.push(caller.region.clone());
        regions.sort();
    }
    let mut rows = Vec::new();
    for region in regions {
        let there = Caller { region: region.clone(), ..caller.clone() };
        let request = DescribeRepositoriesRequest { max_results: Some(1000), ..Default::default() };
        let count = match state.ecr.describe_repositories(&there, request).await {
            Ok(found) if found.next_token.is_some() => "1000+".to_string(),
            Ok(found) => found.repositories.unwrap_or_default().len().to_string(),
            Err(e) => escape(&e.to_string()),
        };
        rows.push(vec![
            escape(&caller.account_id),
            link(&there, "/ui/", &[], &escape(&region)),
            count,
        ]);
    }
    let body = table(&["account", "region", "repositories"], &rows);
    show(&caller, &format!("Registries of {}", caller.account_id), &body)
}
