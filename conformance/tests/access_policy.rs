//! The resource-policy evaluator against a second, naive reading of AWS's evaluation logic
//! for one resource-based policy, on random policies (written as JSON text and parsed, as a
//! put would) and random requests.
//!
//! The naive reading: collect the effects of every statement whose principal, action,
//! resource and conditions all take the request in; Deny if any is Deny, Allow if any is
//! Allow, else not allowed. Matching is done the slow, obvious way.

use berth_handlers::access_policy::{evaluate, AccessRequest, Decision, PolicyDocument};
use berth_handlers::scope::PrincipalArn;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const CALLERS: &[&str] = &[
    "arn:aws:iam::111111111111:root",
    "arn:aws:iam::111111111111:role/ci",
    "arn:aws:iam::222222222222:user/dev",
];
const PRINCIPALS: &[&str] = &[
    "111111111111",
    "arn:aws:iam::111111111111:root",
    "arn:aws:iam::111111111111:role/ci",
    "222222222222",
    "arn:aws:iam::222222222222:user/dev",
];
const ACTIONS: &[&str] = &["ecr:BatchGetImage", "ecr:PutImage", "ecr:DescribeImages"];
const ACTION_PATTERNS: &[&str] =
    &["ecr:*", "ecr:Batch*", "ECR:putimage", "ecr:Describe?mages", "*"];
const RESOURCES: &[&str] = &[
    "arn:aws:ecr:us-east-1:111111111111:repository/app",
    "arn:aws:ecr:us-east-1:111111111111:repository/team/web",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:ecr:us-east-1:111111111111:repository/app",
    "arn:aws:ecr:*:111111111111:repository/team/*",
];
const SOURCES: &[&str] = &["111111111111", "333333333333"];

#[derive(Debug, Clone)]
struct Stmt {
    deny: bool,
    /// `None`: `"*"`; else the entries, negated for `NotPrincipal`.
    principals: Option<(bool, Vec<usize>)>,
    actions: (bool, Vec<usize>),
    resources: Option<(bool, Vec<usize>)>,
    /// (operator, if_exists, source values) on `aws:SourceAccount`.
    condition: Option<(usize, bool, Vec<usize>)>,
}

const OPERATORS: &[&str] = &["StringEquals", "StringNotEquals", "StringLike"];

fn json_list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(","))
}

fn policy_text(statements: &[Stmt]) -> String {
    let rendered: Vec<String> = statements
        .iter()
        .map(|s| {
            let mut members =
                vec![format!("\"Effect\":\"{}\"", if s.deny { "Deny" } else { "Allow" })];
            members.push(match &s.principals {
                None => "\"Principal\":\"*\"".into(),
                Some((not, list)) => format!(
                    "\"{}\":{{\"AWS\":{}}}",
                    if *not { "NotPrincipal" } else { "Principal" },
                    json_list(list.iter().map(|i| PRINCIPALS[*i].to_string()))
                ),
            });
            let (not, list) = &s.actions;
            members.push(format!(
                "\"{}\":{}",
                if *not { "NotAction" } else { "Action" },
                json_list(list.iter().map(|i| ACTION_PATTERNS[*i].to_string()))
            ));
            if let Some((not, list)) = &s.resources {
                members.push(format!(
                    "\"{}\":{}",
                    if *not { "NotResource" } else { "Resource" },
                    json_list(list.iter().map(|i| RESOURCE_PATTERNS[*i].to_string()))
                ));
            }
            if let Some((op, if_exists, values)) = &s.condition {
                let suffix = if *if_exists { "IfExists" } else { "" };
                members.push(format!(
                    "\"Condition\":{{\"{}{suffix}\":{{\"aws:SourceAccount\":{}}}}}",
                    OPERATORS[*op],
                    json_list(values.iter().map(|i| SOURCES[*i].to_string()))
                ));
            }
            format!("{{{}}}", members.join(","))
        })
        .collect();
    format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}", rendered.join(","))
}

/// `*` any run, `?` one character, tried every way.
fn naive_glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| naive_glob(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && naive_glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && naive_glob(rest, &text[1..]),
    }
}

fn glob_str(pattern: &str, text: &str, fold: bool) -> bool {
    let chars = |s: &str| -> Vec<char> {
        if fold {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    naive_glob(&chars(pattern), &chars(text))
}

fn naive_decision(
    statements: &[Stmt], caller: &str, action: &str, resource: &str, source: Option<&str>,
) -> Decision {
    let account = caller.split(':').nth(4).unwrap();
    let names = |entry: &str| {
        entry == account || entry == format!("arn:aws:iam::{account}:root") || entry == caller
    };
    let mut effects = Vec::new();
    for s in statements {
        let principal = match &s.principals {
            None => true,
            Some((not, list)) => list.iter().any(|i| names(PRINCIPALS[*i])) != *not,
        };
        let (not, list) = &s.actions;
        let action_ok = list.iter().any(|i| glob_str(ACTION_PATTERNS[*i], action, true)) != *not;
        let resource_ok = match &s.resources {
            None => true,
            Some((not, list)) => {
                list.iter().any(|i| glob_str(RESOURCE_PATTERNS[*i], resource, false)) != *not
            }
        };
        let condition_ok = match (&s.condition, source) {
            (None, _) => true,
            (Some((op, if_exists, _)), None) => *if_exists || OPERATORS[*op] == "StringNotEquals",
            (Some((op, _, values)), Some(source)) => {
                let any = values.iter().any(|i| match OPERATORS[*op] {
                    "StringLike" => glob_str(SOURCES[*i], source, false),
                    _ => SOURCES[*i] == source,
                });
                if OPERATORS[*op] == "StringNotEquals" {
                    !any
                } else {
                    any
                }
            }
        };
        if principal && action_ok && resource_ok && condition_ok {
            effects.push(s.deny);
        }
    }
    if effects.iter().any(|deny| *deny) {
        Decision::ExplicitDeny
    } else if effects.is_empty() {
        Decision::NotAllowed
    } else {
        Decision::Allow
    }
}

fn indexes(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..len, 1..3)
}

fn statement() -> impl Strategy<Value = Stmt> {
    (
        prop::bool::weighted(0.3),
        prop::option::weighted(0.7, (prop::bool::weighted(0.2), indexes(PRINCIPALS.len()))),
        (prop::bool::weighted(0.2), indexes(ACTION_PATTERNS.len())),
        prop::option::weighted(0.5, (prop::bool::weighted(0.2), indexes(RESOURCE_PATTERNS.len()))),
        prop::option::weighted(0.4, (0..OPERATORS.len(), any::<bool>(), indexes(SOURCES.len()))),
    )
        .prop_map(|(deny, principals, actions, resources, condition)| Stmt {
            deny,
            principals,
            actions,
            resources,
            condition,
        })
}

#[test]
fn the_evaluator_agrees_with_the_naive_reading() {
    let mut runner = TestRunner::new(Config { cases: 4096, ..Config::default() });
    let request = (
        0..CALLERS.len(),
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        prop::option::of(0..SOURCES.len()),
    );
    let seen: std::cell::RefCell<[usize; 3]> = Default::default();
    runner
        .run(
            &(prop::collection::vec(statement(), 1..4), request),
            |(statements, (caller, action, resource, source))| {
                let text = policy_text(&statements);
                let policy = PolicyDocument::parse(&text).expect("a well-formed policy parses");
                let principal = PrincipalArn::parse(CALLERS[caller]).unwrap();
                let context: Vec<(&str, String)> = source
                    .map(|s| vec![("aws:SourceAccount", SOURCES[s].to_string())])
                    .unwrap_or_default();
                let got = evaluate(
                    &policy,
                    &AccessRequest {
                        principal: &principal,
                        action: ACTIONS[action],
                        resource: RESOURCES[resource],
                        context: &context,
                    },
                );
                let expected = naive_decision(
                    &statements,
                    CALLERS[caller],
                    ACTIONS[action],
                    RESOURCES[resource],
                    source.map(|s| SOURCES[s]),
                );
                prop_assert_eq!(got, expected, "{}", text);
                seen.borrow_mut()[match got {
                    Decision::Allow => 0,
                    Decision::ExplicitDeny => 1,
                    Decision::NotAllowed => 2,
                }] += 1;
                Ok(())
            },
        )
        .unwrap();
    // Every outcome must come up often, or the cases prove little.
    let seen = seen.into_inner();
    assert!(seen.iter().all(|n| *n > 400), "outcomes: {seen:?}");
}
