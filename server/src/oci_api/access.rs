//! Cross-account requests on /v2: a token of account B on account A's registry host
//! reaches A's repositories only as A's policies allow the ECR action behind the request.

use super::auth::OciCaller;
use super::OciError;
use crate::app::AppState;
use axum::http::Method;
use berth_generated::oci::OciRoute;
use berth_handlers::scope::PrincipalArn;

/// The ECR action a /v2 request performs, and the repository it touches (`None`: the
/// request is allowed to anyone authenticated, e.g. the `/v2/` ping).
fn action(route: &OciRoute, method: &Method) -> Option<(&'static str, Option<String>)> {
    let read = *method == Method::GET || *method == Method::HEAD;
    Some(match route {
        OciRoute::Base => return None,
        OciRoute::Catalog => ("ecr:DescribeRepositories", None),
        OciRoute::Blob { name, .. } if *method == Method::HEAD => {
            ("ecr:BatchCheckLayerAvailability", Some(name.clone()))
        }
        OciRoute::Blob { name, .. } => ("ecr:GetDownloadUrlForLayer", Some(name.clone())),
        OciRoute::Uploads { name } => ("ecr:InitiateLayerUpload", Some(name.clone())),
        OciRoute::Upload { name, .. } if *method == Method::PUT => {
            ("ecr:CompleteLayerUpload", Some(name.clone()))
        }
        OciRoute::Upload { name, .. } => ("ecr:UploadLayerPart", Some(name.clone())),
        OciRoute::Manifest { name, .. } if read => ("ecr:BatchGetImage", Some(name.clone())),
        OciRoute::Manifest { name, .. } if *method == Method::DELETE => {
            ("ecr:BatchDeleteImage", Some(name.clone()))
        }
        OciRoute::Manifest { name, .. } => ("ecr:PutImage", Some(name.clone())),
        OciRoute::TagsList { name } => ("ecr:ListImages", Some(name.clone())),
        OciRoute::Referrers { name, .. } => ("ecr:ListImageReferrers", Some(name.clone())),
    })
}

/// Refuses (403 DENIED, ECR's text) a request of another account that the registry's
/// policies do not allow; a request of the registry's own account always passes.
pub async fn authorize(
    state: &AppState, caller: &OciCaller, route: &OciRoute, method: &Method,
) -> Result<(), OciError> {
    let principal = PrincipalArn::parse(&caller.principal)
        .unwrap_or_else(|| PrincipalArn::root(&caller.scope.registry_id));
    if principal.account() == caller.scope.registry_id {
        return Ok(());
    }
    let Some((action, repository)) = action(route, method) else {
        return Ok(());
    };
    state
        .registry
        .authorize(&principal, action, &caller.scope, repository.as_deref())
        .await
        .map_err(OciError::from)
}
