//! Repository creation templates: the settings a repository gets when berth itself
//! creates it (create on push; later replication and pull-through cache). The most
//! specific prefix wins, with a `/` implied after it (`prod` covers `prod/...`); `ROOT`
//! covers every name no other template does. Templates never touch repositories created
//! with CreateRepository or already there.

use super::Registry;
use crate::error::RegistryError;
use crate::lifecycle::compact;
use crate::metadata::{MetadataStore, RepositoryDocument, RepositoryRecord};
use crate::reference::RepositoryName;
use crate::scope::RegistryScope;
use berth_generated::ecr::{
    EncryptionType, ImageTagMutability, RCTAppliedFor, RepositoryCreationTemplate,
};

/// The prefix that covers every repository.
pub const ROOT_PREFIX: &str = "ROOT";

/// The template that applies to `name` created for `scenario`, if any.
pub fn matching_template<'a>(
    templates: &'a [RepositoryCreationTemplate], name: &str, scenario: RCTAppliedFor,
) -> Option<&'a RepositoryCreationTemplate> {
    let applies = |t: &&RepositoryCreationTemplate| {
        t.applied_for.as_ref().is_some_and(|a| a.contains(&scenario))
    };
    let prefix = |t: &RepositoryCreationTemplate| t.prefix.clone().unwrap_or_default();
    templates
        .iter()
        .filter(applies)
        .filter(|t| {
            let p = prefix(t);
            p != ROOT_PREFIX && name.starts_with(&format!("{}/", p.trim_end_matches('/')))
        })
        .max_by_key(|t| prefix(t).len())
        .or_else(|| templates.iter().filter(applies).find(|t| prefix(t) == ROOT_PREFIX))
}

impl<M: MetadataStore> Registry<M> {
    /// The registry's templates, in prefix order.
    pub async fn creation_templates(
        &self, scope: &RegistryScope,
    ) -> Result<Vec<RepositoryCreationTemplate>, RegistryError> {
        Ok(self.store.registry_record(scope).await?.creation_templates)
    }

    /// Reads the templates, lets `change` edit them (or refuse, which writes nothing) and
    /// stores them sorted by prefix, in one transaction.
    pub async fn update_creation_templates<T: Send>(
        &self, scope: &RegistryScope,
        change: impl FnOnce(&mut Vec<RepositoryCreationTemplate>) -> Result<T, RegistryError> + Send,
    ) -> Result<T, RegistryError> {
        self.store
            .update_registry_record(scope, |record| {
                let answer = change(&mut record.creation_templates)?;
                record.creation_templates.sort_by(|a, b| a.prefix.cmp(&b.prefix));
                Ok(answer)
            })
            .await
    }

    /// The repository a push writes to: the existing one, or one created now from a
    /// CREATE_ON_PUSH template that covers the name (ECR's create on push). Without such
    /// a template, RepositoryNotFound as before.
    pub async fn repository_for_push(
        &self, scope: &RegistryScope, name: &RepositoryName,
    ) -> Result<RepositoryRecord, RegistryError> {
        match self.repository(scope, name).await {
            Err(RegistryError::RepositoryNotFound { .. }) => {
                let missing = || RegistryError::RepositoryNotFound {
                    name: name.to_string(),
                    registry: scope.registry_id.clone(),
                };
                let templates = self.creation_templates(scope).await?;
                let template =
                    matching_template(&templates, name.as_str(), RCTAppliedFor::CreateOnPush)
                        .ok_or_else(missing)?;
                match self.create_from_template(scope, name, template).await {
                    // Another request created it first: use it.
                    Ok(_) | Err(RegistryError::RepositoryAlreadyExists { .. }) => {
                        self.repository(scope, name).await
                    }
                    Err(e) => Err(e),
                }
            }
            found => found,
        }
    }

    /// Creates `name` with the template's settings, tags and policies, in one transaction.
    pub async fn create_from_template(
        &self, scope: &RegistryScope, name: &RepositoryName, template: &RepositoryCreationTemplate,
    ) -> Result<RepositoryRecord, RegistryError> {
        let encryption = template.encryption_configuration.as_ref();
        let record = RepositoryRecord {
            name: name.to_string(),
            created_at: self.clock.now(),
            image_tag_mutability: template
                .image_tag_mutability
                .unwrap_or(ImageTagMutability::Mutable),
            exclusion_filters: template
                .image_tag_mutability_exclusion_filters
                .clone()
                .unwrap_or_default(),
            scan_on_push: false,
            encryption_type: encryption.map_or(EncryptionType::Aes256, |e| e.encryption_type),
            kms_key: encryption.and_then(|e| e.kms_key.clone()),
        };
        let tags: Vec<(String, String)> = template
            .resource_tags
            .iter()
            .flatten()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        let mut documents = Vec::new();
        if let Some(text) = template.lifecycle_policy.as_deref().filter(|t| !t.is_empty()) {
            documents.push((RepositoryDocument::LifecyclePolicy, compact(text)));
        }
        if let Some(text) = template.repository_policy.as_deref().filter(|t| !t.is_empty()) {
            documents.push((RepositoryDocument::Policy, text.to_string()));
        }
        self.store.create_repository(scope, &record, &tags, &documents).await?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(prefix: &str, applied: &[RCTAppliedFor]) -> RepositoryCreationTemplate {
        RepositoryCreationTemplate {
            prefix: Some(prefix.into()),
            applied_for: Some(applied.to_vec()),
            ..Default::default()
        }
    }

    #[test]
    fn the_most_specific_prefix_wins_with_a_slash_implied_and_root_last() {
        use RCTAppliedFor::{CreateOnPush as Push, Replication};
        let templates = vec![
            template("ROOT", &[Push]),
            template("prod", &[Push, Replication]),
            template("prod/team", &[Push]),
            template("dev", &[Replication]),
        ];
        let prefix = |name: &str, scenario| {
            matching_template(&templates, name, scenario).map(|t| t.prefix.clone().unwrap())
        };
        assert_eq!(prefix("prod/team/app", Push).as_deref(), Some("prod/team"));
        assert_eq!(prefix("prod/app", Push).as_deref(), Some("prod"));
        assert_eq!(prefix("prod/team/app", Replication).as_deref(), Some("prod"));
        assert_eq!(prefix("production/app", Push).as_deref(), Some("ROOT"), "no implied match");
        assert_eq!(
            prefix("prod", Push).as_deref(),
            Some("ROOT"),
            "the prefix itself is not under it"
        );
        assert_eq!(prefix("dev/app", Push).as_deref(), Some("ROOT"), "dev is for replication");
        assert_eq!(prefix("dev/app", Replication).as_deref(), Some("dev"));
        assert_eq!(prefix("other", Replication), None);
    }
}
