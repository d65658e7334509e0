//! What a lifecycle policy does to a repository's images now: one pure function, so that
//! the background evaluation, the preview and the tests share it.
//!
//! ECR's documented semantics: rules apply lowest priority number first; an image is acted
//! on by at most one rule; an image that a higher-priority rule's tag selection matched is
//! never acted on by a lower one, but still counts for it (`imageCountMoreThan` ranks every
//! image its selection matches, newest first); `tagPrefixList` / `tagPatternList` select an
//! image only when every entry matches one of its tags. Archived images are not expired in
//! their first 90 days of archive.

use super::policy::{Action, Count, LifecyclePolicy, Rule, StorageClass, TagStatus};
use crate::immutability::wildcard_match;

/// Seconds in a `countUnit` day.
const DAY: f64 = 86_400.0;

/// Archived images are kept at least this long (ECR's minimum archive duration).
pub const MINIMUM_ARCHIVE_SECS: f64 = 90.0 * DAY;

/// An image as lifecycle sees it. Times are epoch seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleImage {
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: f64,
    pub last_pulled_at: Option<f64>,
    pub storage_class: StorageClass,
    /// When it moved to its current storage class, for archived images.
    pub transitioned_at: Option<f64>,
}

/// One image a policy acts on, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub digest: String,
    pub rule_priority: u64,
    pub action: Action,
}

/// True when the rule's storage class and tag selection take in the image.
pub fn selects(rule: &Rule, image: &LifecycleImage) -> bool {
    let s = &rule.selection;
    if s.storage_class != image.storage_class {
        return false;
    }
    match s.tag_status {
        TagStatus::Any => true,
        TagStatus::Untagged => image.tags.is_empty(),
        TagStatus::Tagged => {
            let tags = &image.tags;
            !tags.is_empty()
                && s.tag_prefixes.iter().all(|p| tags.iter().any(|t| t.starts_with(p.as_str())))
                && s.tag_patterns.iter().all(|p| tags.iter().any(|t| wildcard_match(p, t)))
        }
    }
}

/// True when `image`, at `rank` among the rule's selection (0 = newest), meets its count.
fn qualifies(count: Count, image: &LifecycleImage, rank: usize, now: f64) -> bool {
    let older_than = |at: f64, days: u64| at < now - days as f64 * DAY;
    match count {
        Count::MoreThan(n) => rank as u64 >= n,
        Count::SincePushed(days) => older_than(image.pushed_at, days),
        Count::SincePulled(days) => {
            older_than(image.last_pulled_at.unwrap_or(image.pushed_at), days)
        }
        Count::SinceTransitioned(days) => {
            image.transitioned_at.is_some_and(|at| older_than(at, days))
        }
    }
}

/// False for an archived image still within its minimum archive duration.
fn may_expire(image: &LifecycleImage, now: f64) -> bool {
    image.storage_class != StorageClass::Archive
        || image.transitioned_at.is_none_or(|at| now - at >= MINIMUM_ARCHIVE_SECS)
}

/// The images `policy` acts on at `now`, oldest push first.
pub fn evaluate(policy: &LifecyclePolicy, images: &[LifecycleImage], now: f64) -> Vec<Decision> {
    let mut rules: Vec<&Rule> = policy.rules.iter().collect();
    rules.sort_by_key(|r| r.priority);
    let mut claimed = vec![false; images.len()];
    let mut decisions: Vec<(f64, Decision)> = Vec::new();
    for rule in rules {
        let mut selected: Vec<usize> =
            (0..images.len()).filter(|&i| selects(rule, &images[i])).collect();
        // Newest first; equal push times in digest order, so that ranks are stable.
        selected.sort_by(|&a, &b| {
            let (a, b) = (&images[a], &images[b]);
            b.pushed_at.total_cmp(&a.pushed_at).then_with(|| a.digest.cmp(&b.digest))
        });
        for (rank, &i) in selected.iter().enumerate() {
            let image = &images[i];
            let expire_blocked = rule.action == Action::Expire && !may_expire(image, now);
            if !claimed[i] && !expire_blocked && qualifies(rule.selection.count, image, rank, now) {
                decisions.push((
                    image.pushed_at,
                    Decision {
                        digest: image.digest.clone(),
                        rule_priority: rule.priority,
                        action: rule.action,
                    },
                ));
            }
        }
        for i in selected {
            claimed[i] = true;
        }
    }
    decisions.sort_by(|(a, x), (b, y)| a.total_cmp(b).then_with(|| x.digest.cmp(&y.digest)));
    decisions.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_000.0 * DAY;

    fn image(digest: &str, tags: &[&str], pushed_days_ago: f64) -> LifecycleImage {
        LifecycleImage {
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: NOW - pushed_days_ago * DAY,
            last_pulled_at: None,
            storage_class: StorageClass::Standard,
            transitioned_at: None,
        }
    }

    fn acted(policy: &str, images: &[LifecycleImage]) -> Vec<(String, u64)> {
        let policy = LifecyclePolicy::parse(policy).unwrap();
        evaluate(&policy, images, NOW).into_iter().map(|d| (d.digest, d.rule_priority)).collect()
    }

    /// ECR's documented example: keep the newest 1 `prod` image and expire untagged images
    /// over a day old; a `prod` image is never touched by the untagged rule.
    #[test]
    fn count_rules_keep_the_newest_and_higher_rules_shield_their_images() {
        let policy = r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
            {"rulePriority":2,"selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":10},"action":{"type":"expire"}}
        ]}"#;
        let images = [
            image("a", &["prod-1"], 30.0),
            image("b", &["prod-2"], 20.0),
            image("c", &["prod-3"], 1.0),
            image("d", &["dev"], 40.0),
            image("e", &[], 2.0),
        ];
        // a and b are past the newest prod image; d is old and only the ANY rule sees it;
        // e is too young; c is kept by rule 1 and, matched by it, never seen by rule 2.
        assert_eq!(acted(policy, &images), vec![("d".into(), 2), ("a".into(), 1), ("b".into(), 1)]);
    }

    #[test]
    fn tag_lists_need_every_entry_to_match_some_tag() {
        let policy = r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["v*","*-rc"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}
        ]}"#;
        let images = [
            image("both-old", &["v1", "v1-rc"], 5.0),
            image("both-new", &["v2", "v2-rc"], 1.0),
            image("one", &["v3"], 9.0),
        ];
        assert_eq!(acted(policy, &images), vec![("both-old".into(), 1)]);
    }

    #[test]
    fn pulls_transitions_and_the_archive_minimum() {
        let policy = r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},
            {"rulePriority":2,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":10},"action":{"type":"expire"}}
        ]}"#;
        let mut pulled = image("pulled", &["x"], 100.0);
        pulled.last_pulled_at = Some(NOW - 5.0 * DAY);
        let idle = image("idle", &["y"], 100.0);
        let mut archived_young = image("archived-young", &["z"], 200.0);
        archived_young.storage_class = StorageClass::Archive;
        archived_young.transitioned_at = Some(NOW - 20.0 * DAY);
        let mut archived_old = archived_young.clone();
        archived_old.digest = "archived-old".into();
        archived_old.pushed_at -= 1.0;
        archived_old.transitioned_at = Some(NOW - 95.0 * DAY);
        let decisions = evaluate(
            &LifecyclePolicy::parse(policy).unwrap(),
            &[pulled, idle, archived_young, archived_old],
            NOW,
        );
        assert_eq!(
            decisions,
            vec![
                Decision {
                    digest: "archived-old".into(),
                    rule_priority: 2,
                    action: Action::Expire
                },
                Decision {
                    digest: "idle".into(),
                    rule_priority: 1,
                    action: Action::Transition(StorageClass::Archive)
                },
            ]
        );
    }
}
