//! An IAM policy document as ECR reads a repository or registry policy: parsed once, at
//! the edge, into statements the evaluator trusts.

use serde_json::Value;

/// A parsed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Whom a statement is about (`Principal` / `NotPrincipal`).
#[derive(Debug, Clone, PartialEq)]
pub enum Principals {
    /// `"*"` or `{"AWS": "*"}`.
    Anyone,
    /// These principals: account ids, account root ARNs, IAM ARNs, or service names
    /// (which no caller of berth is).
    Only(Vec<String>),
    /// Everyone but these (`NotPrincipal`).
    AllBut(Vec<String>),
}

/// A list of patterns that must match (`Action`, `Resource`), or must not (`NotAction`,
/// `NotResource`).
#[derive(Debug, Clone, PartialEq)]
pub enum Patterns {
    Match(Vec<String>),
    AllBut(Vec<String>),
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principals: Principals,
    pub actions: Patterns,
    /// `None`: the statement names no resource, so (in a resource policy) it is about the
    /// resource the policy is attached to.
    pub resources: Option<Patterns>,
    pub conditions: Vec<Condition>,
}

/// The condition operators ECR policies use in practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Bool,
    Null,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "StringEquals" => Operator::StringEquals,
            "StringNotEquals" => Operator::StringNotEquals,
            "StringEqualsIgnoreCase" => Operator::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Operator::StringNotEqualsIgnoreCase,
            "StringLike" => Operator::StringLike,
            "StringNotLike" => Operator::StringNotLike,
            "ArnEquals" => Operator::ArnEquals,
            "ArnNotEquals" => Operator::ArnNotEquals,
            "ArnLike" => Operator::ArnLike,
            "ArnNotLike" => Operator::ArnNotLike,
            "Bool" => Operator::Bool,
            "Null" => Operator::Null,
            _ => return None,
        })
    }

    /// Negated operators hold when no value matches (and when the key is absent).
    pub fn negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
        )
    }
}

/// `"<Operator>[IfExists]": {"<key>": <value or values>}`, one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub operator: Operator,
    /// `...IfExists`: holds when the key is absent.
    pub if_exists: bool,
    pub key: String,
    pub values: Vec<String>,
}

/// Why a text is not a policy ECR would store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPolicy(pub String);

fn invalid<T>(why: impl Into<String>) -> Result<T, InvalidPolicy> {
    Err(InvalidPolicy(why.into()))
}

/// A string or a non-empty list of strings.
fn strings(value: &Value, what: &str) -> Result<Vec<String>, InvalidPolicy> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => invalid(format!("{what} entries must be strings")),
            })
            .collect(),
        _ => invalid(format!("{what} must be a string or a non-empty list of strings")),
    }
}

fn principals(value: &Value) -> Result<Vec<String>, InvalidPolicy> {
    match value {
        Value::String(s) if s == "*" => Ok(vec!["*".into()]),
        Value::Object(map) if !map.is_empty() => {
            let mut all = Vec::new();
            for (kind, names) in map {
                if !["AWS", "Service", "Federated", "CanonicalUser"].contains(&kind.as_str()) {
                    return invalid(format!("unknown principal type {kind}"));
                }
                let names = strings(names, "Principal")?;
                if kind == "AWS" {
                    all.extend(names);
                } else {
                    all.extend(names.into_iter().map(|n| format!("{kind}:{n}")));
                }
            }
            Ok(all)
        }
        _ => invalid("Principal must be \"*\" or an object"),
    }
}

/// One of a pair of mutually exclusive members (`Action`/`NotAction`...), required or not.
fn pair<'a>(
    statement: &'a serde_json::Map<String, Value>, positive: &str, negative: &str,
) -> Result<Option<(bool, &'a Value)>, InvalidPolicy> {
    match (statement.get(positive), statement.get(negative)) {
        (Some(_), Some(_)) => invalid(format!("{positive} and {negative} cannot both be given")),
        (Some(v), None) => Ok(Some((false, v))),
        (None, Some(v)) => Ok(Some((true, v))),
        (None, None) => Ok(None),
    }
}

fn conditions(value: &Value) -> Result<Vec<Condition>, InvalidPolicy> {
    let Value::Object(operators) = value else {
        return invalid("Condition must be an object");
    };
    let mut all = Vec::new();
    for (name, keys) in operators {
        let (base, if_exists) = match name.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (name.as_str(), false),
        };
        let Some(operator) = Operator::parse(base) else {
            return invalid(format!("unsupported condition operator {name}"));
        };
        let Value::Object(keys) = keys else {
            return invalid(format!("{name} must map condition keys to values"));
        };
        for (key, values) in keys {
            let values = match values {
                Value::Bool(b) => vec![b.to_string()],
                other => strings(other, "condition values")?,
            };
            all.push(Condition { operator, if_exists, key: key.clone(), values });
        }
    }
    Ok(all)
}

fn statement(value: &Value) -> Result<Statement, InvalidPolicy> {
    let Value::Object(s) = value else {
        return invalid("a statement must be an object");
    };
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return invalid("Effect must be Allow or Deny"),
    };
    let principals = match pair(s, "Principal", "NotPrincipal")? {
        None => return invalid("a resource policy statement needs a Principal"),
        Some((false, v)) => match principals(v)? {
            p if p.iter().any(|p| p == "*") => Principals::Anyone,
            p => Principals::Only(p),
        },
        Some((true, v)) => Principals::AllBut(principals(v)?),
    };
    let actions = match pair(s, "Action", "NotAction")? {
        None => return invalid("a statement needs an Action"),
        Some((false, v)) => Patterns::Match(strings(v, "Action")?),
        Some((true, v)) => Patterns::AllBut(strings(v, "NotAction")?),
    };
    let resources = match pair(s, "Resource", "NotResource")? {
        None => None,
        Some((false, v)) => Some(Patterns::Match(strings(v, "Resource")?)),
        Some((true, v)) => Some(Patterns::AllBut(strings(v, "NotResource")?)),
    };
    let conditions = match s.get("Condition") {
        Some(c) => conditions(c)?,
        None => Vec::new(),
    };
    let sid = match s.get("Sid") {
        None => None,
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(_) => return invalid("Sid must be a string"),
    };
    Ok(Statement { sid, effect, principals, actions, resources, conditions })
}

impl PolicyDocument {
    /// The policy in `text`, or why ECR would refuse it.
    pub fn parse(text: &str) -> Result<Self, InvalidPolicy> {
        let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(text) else {
            return invalid("a policy is a JSON object");
        };
        if let Some(version) = doc.get("Version") {
            if !matches!(version.as_str(), Some("2012-10-17" | "2008-10-17")) {
                return invalid("Version must be 2012-10-17 or 2008-10-17");
            }
        }
        let statements = match doc.get("Statement") {
            Some(Value::Array(list)) if !list.is_empty() => {
                list.iter().map(statement).collect::<Result<_, _>>()?
            }
            Some(one @ Value::Object(_)) => vec![statement(one)?],
            _ => return invalid("Statement must be a statement or a non-empty list"),
        };
        Ok(PolicyDocument { statements })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_policies_parse_into_statements() {
        let doc = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow",
                "Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:role/ci"]},
                "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],
                "Condition":{"StringEqualsIfExists":{"aws:PrincipalAccount":"111122223333"}}},
               {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"NotAction":"ecr:Describe*","Resource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(doc.statements.len(), 2);
        let pull = &doc.statements[0];
        assert_eq!(pull.sid.as_deref(), Some("pull"));
        assert_eq!(
            pull.principals,
            Principals::Only(vec![
                "111122223333".into(),
                "arn:aws:iam::444455556666:role/ci".into()
            ])
        );
        assert_eq!(pull.resources, None);
        assert_eq!(
            pull.conditions,
            vec![Condition {
                operator: Operator::StringEquals,
                if_exists: true,
                key: "aws:PrincipalAccount".into(),
                values: vec!["111122223333".into()],
            }]
        );
        let deny = &doc.statements[1];
        assert_eq!(deny.effect, Effect::Deny);
        assert_eq!(deny.actions, Patterns::AllBut(vec!["ecr:Describe*".into()]));
        assert!(PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*"}}"#
        )
        .is_ok());
    }

    #[test]
    fn what_ecr_refuses() {
        for bad in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"Statement":[]}"#,
            r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"ecr:*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"ecr:*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","NotAction":"ecr:x"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":[]}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Nobody":"x"},"Action":"ecr:*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"NumericMaybe":{"k":"v"}}}]}"#,
            r#"{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"}]}"#,
        ] {
            assert!(PolicyDocument::parse(bad).is_err(), "{bad}");
        }
    }
}
