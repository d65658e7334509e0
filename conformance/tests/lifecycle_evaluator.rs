//! The lifecycle evaluator against a second, naive reading of ECR's rules, on random
//! policies and images.
//!
//! The naive reading: each image belongs to the first rule (lowest priority number) whose
//! storage class and tag selection take it in; it is acted on exactly when it meets that
//! rule's count, where `imageCountMoreThan N` means that at least N images the same rule
//! selects are newer; an archived image is not expired in its first 90 days of archive.

use berth_handlers::lifecycle::evaluate::{evaluate, LifecycleImage, MINIMUM_ARCHIVE_SECS};
use berth_handlers::lifecycle::policy::{
    Action, Count, LifecyclePolicy, Rule, Selection, StorageClass, TagStatus,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const DAY: f64 = 86_400.0;
const NOW: f64 = 10_000.0 * DAY;
const TAGS: &[&str] = &["v1", "v2", "v1-rc", "prod", "prod-2", "dev"];
const PREFIXES: &[&str] = &["v", "prod", "d", "v1"];
const PATTERNS: &[&str] = &["v*", "*-rc", "prod*", "*", "v*-rc", "dev"];

/// `*` is any run of characters, matched by trying every split.
fn naive_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (head.len()..=text.len())
                    .any(|i| text.is_char_boundary(i) && naive_match(rest, &text[i..]))
        }
    }
}

fn naive_selects(rule: &Rule, image: &LifecycleImage) -> bool {
    let s = &rule.selection;
    let has = |ok: &dyn Fn(&str) -> bool| image.tags.iter().any(|t| ok(t));
    s.storage_class == image.storage_class
        && match s.tag_status {
            TagStatus::Any => true,
            TagStatus::Untagged => image.tags.is_empty(),
            TagStatus::Tagged => {
                !image.tags.is_empty()
                    && s.tag_prefixes.iter().all(|p| has(&|t| t.starts_with(p.as_str())))
                    && s.tag_patterns.iter().all(|p| has(&|t| naive_match(p, t)))
            }
        }
}

fn newer(a: &LifecycleImage, b: &LifecycleImage) -> bool {
    a.pushed_at > b.pushed_at || (a.pushed_at == b.pushed_at && a.digest < b.digest)
}

fn naive(policy: &LifecyclePolicy, images: &[LifecycleImage]) -> Vec<(String, u64)> {
    let mut acted = Vec::new();
    for image in images {
        let owner =
            policy.rules.iter().filter(|r| naive_selects(r, image)).min_by_key(|r| r.priority);
        let Some(rule) = owner else { continue };
        let days_before = |days: u64| NOW - days as f64 * DAY;
        let meets = match rule.selection.count {
            Count::MoreThan(n) => {
                let newer_selected = images
                    .iter()
                    .filter(|other| naive_selects(rule, other) && newer(other, image))
                    .count();
                newer_selected as u64 >= n
            }
            Count::SincePushed(d) => image.pushed_at < days_before(d),
            Count::SincePulled(d) => {
                image.last_pulled_at.unwrap_or(image.pushed_at) < days_before(d)
            }
            Count::SinceTransitioned(d) => {
                image.transitioned_at.is_some_and(|t| t < days_before(d))
            }
        };
        let archive_young = image.storage_class == StorageClass::Archive
            && image.transitioned_at.is_some_and(|t| NOW - t < MINIMUM_ARCHIVE_SECS);
        if meets && !(rule.action == Action::Expire && archive_young) {
            acted.push((image.digest.clone(), rule.priority));
        }
    }
    acted.sort();
    acted
}

fn storage_class() -> impl Strategy<Value = StorageClass> {
    prop_oneof![Just(StorageClass::Standard), Just(StorageClass::Archive)]
}

fn image(index: usize) -> impl Strategy<Value = LifecycleImage> {
    (
        proptest::sample::subsequence(TAGS, 0..3),
        0u32..120,
        proptest::option::of(0u32..120),
        storage_class(),
        0u32..200,
    )
        .prop_map(move |(tags, pushed, pulled, class, moved)| LifecycleImage {
            digest: format!("sha256:{index:02}"),
            tags: tags.into_iter().map(str::to_string).collect(),
            pushed_at: NOW - f64::from(pushed) * DAY,
            last_pulled_at: pulled.map(|p| NOW - f64::from(p) * DAY),
            storage_class: class,
            transitioned_at: (class == StorageClass::Archive).then(|| NOW - f64::from(moved) * DAY),
        })
}

fn rule() -> impl Strategy<Value = Rule> {
    let tags = prop_oneof![
        Just((TagStatus::Any, vec![], vec![])),
        Just((TagStatus::Untagged, vec![], vec![])),
        proptest::sample::subsequence(PREFIXES, 1..3).prop_map(|p| (
            TagStatus::Tagged,
            p.iter().map(|s| s.to_string()).collect(),
            vec![]
        )),
        proptest::sample::subsequence(PATTERNS, 1..3).prop_map(|p| (
            TagStatus::Tagged,
            vec![],
            p.iter().map(|s| s.to_string()).collect()
        )),
    ];
    let count = prop_oneof![
        (0u64..4).prop_map(Count::MoreThan),
        (1u64..90).prop_map(Count::SincePushed),
        (1u64..90).prop_map(Count::SincePulled),
        (1u64..90).prop_map(Count::SinceTransitioned),
    ];
    let action = prop_oneof![Just(Action::Expire), Just(Action::Transition(StorageClass::Archive))];
    (tags, storage_class(), count, action).prop_map(
        |((tag_status, tag_prefixes, tag_patterns), storage_class, count, action)| Rule {
            priority: 0,
            description: None,
            selection: Selection { tag_status, tag_prefixes, tag_patterns, storage_class, count },
            action,
        },
    )
}

fn case() -> impl Strategy<Value = (LifecyclePolicy, Vec<LifecycleImage>)> {
    let rules = (
        proptest::collection::vec(rule(), 1..5),
        proptest::sample::subsequence((1u64..=20).collect::<Vec<_>>(), 5),
        any::<proptest::sample::Index>(),
    )
        .prop_map(|(mut rules, priorities, shift)| {
            // Distinct priorities, given in an order that is not always sorted.
            let turn = shift.index(rules.len());
            for (i, rule) in rules.iter_mut().enumerate() {
                rule.priority = priorities[(i + turn) % priorities.len()];
            }
            LifecyclePolicy { rules }
        });
    let images = (0usize..14).prop_flat_map(|n| (0..n).map(image).collect::<Vec<_>>());
    (rules, images)
}

#[test]
fn the_evaluator_agrees_with_the_naive_reading() {
    let mut runner =
        TestRunner::new(Config { cases: 2048, failure_persistence: None, ..Config::default() });
    let acted_on = std::cell::Cell::new(0usize);
    runner
        .run(&case(), |(policy, images)| {
            let mut got: Vec<(String, u64)> = evaluate(&policy, &images, NOW)
                .into_iter()
                .map(|d| (d.digest, d.rule_priority))
                .collect();
            got.sort();
            let expected = naive(&policy, &images);
            acted_on.set(acted_on.get() + expected.len());
            prop_assert_eq!(got, expected, "{:#?}", policy);
            Ok(())
        })
        .unwrap();
    // The cases must exercise the rules, not only pass vacuously.
    let acted_on = acted_on.get();
    assert!(acted_on > 1000, "only {acted_on} decisions over all cases");
}
