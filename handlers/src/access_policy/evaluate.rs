//! Deciding one request against a resource policy, following AWS's policy evaluation
//! logic for a single resource-based policy: an explicit Deny wins, else any Allow allows,
//! else the request is not allowed.

use super::document::{
    Condition, Effect, Operator, Patterns, PolicyDocument, Principals, Statement,
};
use crate::scope::PrincipalArn;

/// One request as a policy sees it.
#[derive(Debug, Clone)]
pub struct AccessRequest<'a> {
    /// The caller.
    pub principal: &'a PrincipalArn,
    /// `ecr:BatchGetImage`...
    pub action: &'a str,
    /// The repository (or registry) ARN.
    pub resource: &'a str,
    /// Condition keys (`aws:PrincipalAccount`...) and their values; looked up ignoring case.
    pub context: &'a [(&'a str, String)],
}

/// What the policy says of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A Deny statement matched: nothing else can allow it.
    ExplicitDeny,
    /// No statement allowed it.
    NotAllowed,
}

/// `*` matches any run of characters, `?` any one; `fold` ignores ASCII case.
pub fn glob(pattern: &str, text: &str, fold: bool) -> bool {
    let norm = |s: &str| -> Vec<char> {
        if fold {
            s.to_ascii_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (norm(pattern), norm(text));
    // Greedy with backtracking to the last star: linear in practice.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether one principal entry of a policy names the caller.
fn names(entry: &str, caller: &PrincipalArn) -> bool {
    entry == "*"
        || entry == caller.account()
        || entry == PrincipalArn::root(caller.account()).as_str()
        || entry == caller.as_str()
}

fn principal_matches(principals: &Principals, caller: &PrincipalArn) -> bool {
    match principals {
        Principals::Anyone => true,
        Principals::Only(list) => list.iter().any(|e| names(e, caller)),
        Principals::AllBut(list) => !list.iter().any(|e| names(e, caller)),
    }
}

fn patterns_match(patterns: &Patterns, value: &str, fold: bool) -> bool {
    match patterns {
        Patterns::Match(list) => list.iter().any(|p| glob(p, value, fold)),
        Patterns::AllBut(list) => !list.iter().any(|p| glob(p, value, fold)),
    }
}

fn condition_holds(condition: &Condition, context: &[(&str, String)]) -> bool {
    let value = context
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(&condition.key))
        .map(|(_, v)| v.as_str());
    if condition.operator == Operator::Null {
        // `Null: true` holds when the key is absent.
        let absent = value.is_none();
        return condition.values.iter().any(|v| (v == "true") == absent);
    }
    let Some(value) = value else {
        return condition.if_exists || condition.operator.negated();
    };
    let one = |expected: &str| match condition.operator {
        Operator::StringEquals
        | Operator::StringNotEquals
        | Operator::ArnEquals
        | Operator::ArnNotEquals => expected == value,
        Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase => {
            expected.eq_ignore_ascii_case(value)
        }
        Operator::StringLike
        | Operator::StringNotLike
        | Operator::ArnLike
        | Operator::ArnNotLike => glob(expected, value, false),
        Operator::Bool => expected.eq_ignore_ascii_case(value),
        Operator::Null => false,
    };
    let any = condition.values.iter().any(|v| one(v));
    any != condition.operator.negated()
}

/// Whether the statement applies to the request (whatever its effect).
pub fn statement_applies(statement: &Statement, request: &AccessRequest<'_>) -> bool {
    principal_matches(&statement.principals, request.principal)
        && patterns_match(&statement.actions, request.action, true)
        && statement.resources.as_ref().is_none_or(|r| patterns_match(r, request.resource, false))
        && statement.conditions.iter().all(|c| condition_holds(c, request.context))
}

/// The policy's decision on the request.
pub fn evaluate(policy: &PolicyDocument, request: &AccessRequest<'_>) -> Decision {
    let mut allowed = false;
    for statement in &policy.statements {
        if statement_applies(statement, request) {
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::NotAllowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &str = "arn:aws:ecr:us-east-1:111122223333:repository/app";

    fn decide(policy: &str, principal: &str, action: &str) -> Decision {
        let policy = PolicyDocument::parse(policy).unwrap();
        let principal = PrincipalArn::parse(principal).unwrap();
        let context = [
            ("aws:PrincipalAccount", principal.account().to_string()),
            ("aws:PrincipalArn", principal.as_str().to_string()),
        ];
        evaluate(
            &policy,
            &AccessRequest { principal: &principal, action, resource: REPO, context: &context },
        )
    }

    const CI: &str = "arn:aws:iam::444455556666:role/ci";
    const OTHER: &str = "arn:aws:iam::777788889999:root";

    #[test]
    fn globs() {
        for (pattern, text, fold, expected) in [
            ("ecr:*", "ecr:BatchGetImage", false, true),
            ("ecr:Batch*", "ecr:batchgetimage", true, true),
            ("ecr:Batch*", "ecr:batchgetimage", false, false),
            ("ecr:Get?ownloadUrlForLayer", "ecr:GetDownloadUrlForLayer", false, true),
            ("*", "", false, true),
            ("a*b*c", "aXXbYYc", false, true),
            ("a*b*c", "aXXbYY", false, false),
            ("arn:aws:ecr:*:111122223333:repository/*", REPO, false, true),
            ("", "x", false, false),
        ] {
            assert_eq!(glob(pattern, text, fold), expected, "{pattern} ~ {text}");
        }
    }

    /// Table cases from AWS's evaluation logic for one resource-based policy.
    #[test]
    fn deny_wins_allow_allows_silence_does_not() {
        let allow_ci_pull = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/ci"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}"#;
        // Explicit Deny wins over any Allow.
        let deny_push = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"},{"Effect":"Deny","Principal":"*","Action":"ecr:Put*"}]}"#;
        // NotAction and NotPrincipal.
        let all_but = r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"777788889999"},"NotAction":"ecr:Delete*","Resource":"arn:aws:ecr:*:111122223333:repository/*"}]}"#;
        // A Resource that names another repository does not apply.
        let other_repo = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"arn:aws:ecr:us-east-1:111122223333:repository/other"}]}"#;
        for (policy, caller, action, expected) in [
            (allow_ci_pull, CI, "ecr:BatchGetImage", Decision::Allow),
            (allow_ci_pull, CI, "ecr:PutImage", Decision::NotAllowed),
            (allow_ci_pull, OTHER, "ecr:BatchGetImage", Decision::NotAllowed),
            (deny_push, CI, "ecr:PutImage", Decision::ExplicitDeny),
            (deny_push, CI, "ecr:BatchGetImage", Decision::Allow),
            (all_but, CI, "ecr:BatchGetImage", Decision::Allow),
            (all_but, CI, "ecr:DeleteRepository", Decision::NotAllowed),
            (all_but, OTHER, "ecr:BatchGetImage", Decision::NotAllowed),
            (other_repo, CI, "ecr:BatchGetImage", Decision::NotAllowed),
        ] {
            assert_eq!(decide(policy, caller, action), expected, "{policy} {action}");
        }
        // An account id and its root ARN name every principal of the account.
        for principal in ["\"444455556666\"", "\"arn:aws:iam::444455556666:root\"", "\"*\""] {
            let policy = format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":{principal}}},"Action":"ecr:*"}}]}}"#
            );
            assert_eq!(decide(&policy, CI, "ecr:DescribeImages"), Decision::Allow, "{principal}");
        }
    }

    #[test]
    fn conditions_and_if_exists() {
        let by_account = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"StringEquals":{"aws:principalaccount":["444455556666","123412341234"]}}}]}"#;
        assert_eq!(decide(by_account, CI, "ecr:BatchGetImage"), Decision::Allow);
        assert_eq!(decide(by_account, OTHER, "ecr:BatchGetImage"), Decision::NotAllowed);
        let not_like = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/ci"}}}]}"#;
        assert_eq!(decide(not_like, CI, "ecr:BatchGetImage"), Decision::NotAllowed);
        assert_eq!(decide(not_like, OTHER, "ecr:BatchGetImage"), Decision::Allow);
        // An absent key: a positive operator fails, IfExists and negated operators hold.
        for (condition, expected) in [
            (r#"{"StringEquals":{"aws:SourceAccount":"1"}}"#, Decision::NotAllowed),
            (r#"{"StringEqualsIfExists":{"aws:SourceAccount":"1"}}"#, Decision::Allow),
            (r#"{"StringNotEquals":{"aws:SourceAccount":"1"}}"#, Decision::Allow),
            (r#"{"Null":{"aws:SourceAccount":"true"}}"#, Decision::Allow),
            (r#"{"Null":{"aws:SourceAccount":"false"}}"#, Decision::NotAllowed),
        ] {
            let policy = format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{condition}}}]}}"#
            );
            assert_eq!(decide(&policy, CI, "ecr:BatchGetImage"), expected, "{condition}");
        }
    }
}
