//! Steps about registries rather than images: account settings, account B's reads of
//! account A's repositories, replication to a second region.

use super::{Answer, Sut, OCI_INDEX, OCI_MANIFEST};
use crate::fixtures::TAGS;
use crate::transitions::Transition;
use axum::http::Method;

/// Account B's access key; a remote berth runs with `--access-key
/// AKIDCONFORMANCE=222222222222`. Account A is the default account.
pub const OTHER_ACCESS_KEY: &str = "AKIDCONFORMANCE";
pub(super) const OTHER_ACCOUNT: &str = "222222222222";
const DEFAULT_ACCOUNT: &str = "000000000000";

/// The policy that lets account B pull from a repository of account A.
const B_MAY_PULL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability","ecr:DescribeImages"]}]}"#;

impl Sut {
    /// One of the registry-level steps.
    pub(super) fn registry_step(&mut self, t: &Transition) -> Answer {
        match t {
            Transition::PullPolicy { repo, allow } => {
                let name = self.name(*repo);
                if *allow {
                    self.ecr(
                        "SetRepositoryPolicy",
                        serde_json::json!({ "repositoryName": name, "policyText": B_MAY_PULL }),
                    )
                } else {
                    self.ecr(
                        "DeleteRepositoryPolicy",
                        serde_json::json!({ "repositoryName": name }),
                    )
                }
            }
            Transition::CrossAccountDescribe { repo } => {
                let name = self.name(*repo);
                self.ecr_as(
                    OTHER_ACCESS_KEY,
                    "us-east-1",
                    "DescribeImages",
                    serde_json::json!({ "registryId": DEFAULT_ACCOUNT, "repositoryName": name }),
                )
            }
            Transition::CrossAccountPull { repo, tag } => {
                let path = format!("/v2/{}/manifests/{}", self.name(*repo), TAGS[*tag]);
                let accept = format!("{OCI_MANIFEST}, {OCI_INDEX}");
                let host = format!("{DEFAULT_ACCOUNT}.dkr.ecr.us-east-1.localhost");
                self.send(
                    Method::GET,
                    &path,
                    &[
                        ("authorization", &self.other_authorization),
                        ("host", &host),
                        ("accept", &accept),
                    ],
                    Vec::new(),
                )
            }
            Transition::Replication { enabled } => {
                let destinations = if *enabled {
                    serde_json::json!([{ "destinations": [{ "registryId": DEFAULT_ACCOUNT, "region": "us-west-2" }] }])
                } else {
                    serde_json::json!([])
                };
                self.ecr(
                    "PutReplicationConfiguration",
                    serde_json::json!({ "replicationConfiguration": { "rules": destinations } }),
                )
            }
            Transition::DescribeReplica { repo } => {
                let name = self.name(*repo);
                self.ecr_as(
                    "AKIDUNMAPPED",
                    "us-west-2",
                    "DescribeImages",
                    serde_json::json!({ "repositoryName": name }),
                )
            }
            Transition::BlobMounting { enabled } => {
                let value = if *enabled { "ENABLED" } else { "DISABLED" };
                self.ecr(
                    "PutAccountSetting",
                    serde_json::json!({ "name": "BLOB_MOUNTING", "value": value }),
                )
            }
            other => unreachable!("{other:?} is not a registry step"),
        }
    }
}
