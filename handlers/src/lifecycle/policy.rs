//! Lifecycle policy text: parsed into typed rules and checked as ECR checks it.
//!
//! ECR validates the text against a JSON schema and then against rules between rules; its
//! messages all read `Lifecycle policy validation failure: <detail>`. Details known from
//! real ECR answers are used as they are; the others are written in the same style and
//! kept together in [`Detail`] so that a real text can replace a guess in one place.

use crate::error::RegistryError;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Which images a rule looks at, by tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagStatus {
    Tagged,
    Untagged,
    Any,
}

/// Where an image is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StorageClass {
    Standard,
    Archive,
}

/// When a rule's images qualify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// All but the newest N.
    MoreThan(u64),
    /// Pushed more than N days ago.
    SincePushed(u64),
    /// Last pulled (or, never pulled, pushed) more than N days ago.
    SincePulled(u64),
    /// Moved to archive more than N days ago.
    SinceTransitioned(u64),
}

/// What a rule does to the images it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Expire,
    Transition(StorageClass),
}

/// Which images a rule selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub tag_status: TagStatus,
    pub tag_prefixes: Vec<String>,
    pub tag_patterns: Vec<String>,
    pub storage_class: StorageClass,
    pub count: Count,
}

/// One rule; a lower priority number is applied first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub priority: u64,
    pub description: Option<String>,
    pub selection: Selection,
    pub action: Action,
}

/// A valid lifecycle policy, its rules in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePolicy {
    pub rules: Vec<Rule>,
}

/// Why a policy is refused, worded as ECR words it after its common prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Detail {
    /// Not a JSON object.
    Unmappable,
    Missing(Vec<&'static str>),
    /// A list that is `null`: ECR prints its text twice, newline-separated.
    NullList,
    WrongType {
        found: &'static str,
        allowed: &'static str,
    },
    NotInEnum {
        value: String,
        allowed: &'static [&'static str],
    },
    /// A `null` where ECR's schema offers two alternatives.
    NoSchemaMatched,
    BelowMinimum {
        found: i64,
    },
    NoRules,
    DuplicatePriority(u64),
    AnyNotLast,
    TwoUntagged,
    TaggedWithoutList,
    TaggedWithBothLists,
    ListWithoutTagged,
    TooManyWildcards(String),
    CountUnitWithImageCount,
    CountUnitMissing(&'static str),
    TransitionWithoutTarget,
    TransitionedOnlyInArchive,
}

impl Detail {
    fn text(&self) -> String {
        match self {
            Detail::Unmappable => "Could not map policyString into LifecyclePolicy.".into(),
            Detail::Missing(names) => format!(
                "object has missing required properties ([{}])",
                names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(",")
            ),
            Detail::NullList => {
                let once = "instance type (null) does not match any allowed primitive type (allowed: [\"array\"])";
                format!("{once}\n{once}")
            }
            Detail::WrongType { found, allowed } => format!(
                "instance type ({found}) does not match any allowed primitive type (allowed: [\"{allowed}\"])"
            ),
            Detail::NotInEnum { value, allowed } => format!(
                "instance value ({value}) not found in enum (possible values: [{}])",
                allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(",")
            ),
            Detail::NoSchemaMatched => "instance failed to match exactly one schema (matched 0 out of 2)".into(),
            Detail::BelowMinimum { found } => {
                format!("numeric instance is lower than the required minimum (minimum: 1, found: {found})")
            }
            Detail::NoRules => "array is too short: must have at least 1 elements but instance has 0 elements".into(),
            Detail::DuplicatePriority(p) => format!("rulePriority {p} is used by more than one rule"),
            Detail::AnyNotLast => "Rule for tagStatus=ANY must have the lowest priority per storage class".into(),
            Detail::TwoUntagged => "Only one rule can select Untagged images per storage class".into(),
            Detail::TaggedWithoutList => "Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.".into(),
            Detail::TaggedWithBothLists => "Cannot specify both tagPrefixList and tagPatternList in one rule.".into(),
            Detail::ListWithoutTagged => {
                "tagPrefixList and tagPatternList can only be specified when tagStatus=TAGGED.".into()
            }
            Detail::TooManyWildcards(p) => format!("tagPatternList value '{p}' has more than 4 wildcards."),
            Detail::CountUnitWithImageCount => {
                "countUnit cannot be specified when countType=imageCountMoreThan.".into()
            }
            Detail::CountUnitMissing(kind) => format!("countUnit must be specified when countType={kind}."),
            Detail::TransitionWithoutTarget => {
                "targetStorageClass must be specified when action type=transition.".into()
            }
            Detail::TransitionedOnlyInArchive => {
                "countType=sinceImageTransitioned can only be used with storageClass=archive.".into()
            }
        }
    }

    fn error(&self) -> RegistryError {
        RegistryError::InvalidParameter(format!(
            "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: {}'",
            self.text()
        ))
    }
}

const TAG_STATUSES: &[&str] = &["tagged", "untagged", "any"];
const STORAGE_CLASSES: &[&str] = &["standard", "archive"];
const COUNT_TYPES: &[&str] =
    &["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"];
const COUNT_UNITS: &[&str] = &["days"];
const ACTION_TYPES: &[&str] = &["expire", "transition"];
const TARGET_STORAGE_CLASSES: &[&str] = &["archive"];

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn object<'a>(
    value: &'a Value, required: &[&'static str],
) -> Result<&'a Map<String, Value>, Detail> {
    let map =
        value.as_object().ok_or(Detail::WrongType { found: type_of(value), allowed: "object" })?;
    let mut missing: Vec<&'static str> =
        required.iter().copied().filter(|name| !map.contains_key(*name)).collect();
    missing.sort_unstable();
    if missing.is_empty() {
        Ok(map)
    } else {
        Err(Detail::Missing(missing))
    }
}

fn one_of<T: Copy>(
    value: &Value, allowed: &'static [&'static str], values: &[T],
) -> Result<T, Detail> {
    let text =
        value.as_str().ok_or(Detail::WrongType { found: type_of(value), allowed: "string" })?;
    match allowed.iter().position(|a| *a == text) {
        Some(i) => Ok(values[i]),
        None => Err(Detail::NotInEnum { value: value.to_string(), allowed }),
    }
}

fn positive(value: &Value) -> Result<u64, Detail> {
    match value {
        Value::Number(n) if n.is_u64() && n.as_u64() >= Some(1) => Ok(n.as_u64().unwrap_or(1)),
        Value::Number(n) if n.is_i64() => {
            Err(Detail::BelowMinimum { found: n.as_i64().unwrap_or(0) })
        }
        Value::Number(n) if n.is_u64() => Err(Detail::BelowMinimum { found: 0 }),
        other => Err(Detail::WrongType { found: type_of(other), allowed: "integer" }),
    }
}

fn strings(value: Option<&Value>) -> Result<Vec<String>, Detail> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Null) => Err(Detail::NullList),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or(Detail::WrongType { found: type_of(item), allowed: "string" })
            })
            .collect(),
        Some(other) => Err(Detail::WrongType { found: type_of(other), allowed: "array" }),
    }
}

fn selection(value: &Value) -> Result<Selection, Detail> {
    let map = object(value, &["countNumber", "countType", "tagStatus"])?;
    let tag_status = one_of(
        &map["tagStatus"],
        TAG_STATUSES,
        &[TagStatus::Tagged, TagStatus::Untagged, TagStatus::Any],
    )?;
    let tag_prefixes = strings(map.get("tagPrefixList"))?;
    let tag_patterns = strings(map.get("tagPatternList"))?;
    let storage_class = match map.get("storageClass") {
        None => StorageClass::Standard,
        Some(v) => one_of(v, STORAGE_CLASSES, &[StorageClass::Standard, StorageClass::Archive])?,
    };
    let kind = one_of(&map["countType"], COUNT_TYPES, &[0, 1, 2, 3])?;
    let number = positive(&map["countNumber"])?;
    match map.get("countUnit") {
        Some(Value::Null) => return Err(Detail::NoSchemaMatched),
        Some(unit) if kind == 0 => {
            one_of(unit, COUNT_UNITS, &[()])?;
            return Err(Detail::CountUnitWithImageCount);
        }
        Some(unit) => one_of(unit, COUNT_UNITS, &[()])?,
        None if kind != 0 => return Err(Detail::CountUnitMissing(COUNT_TYPES[kind])),
        None => {}
    }
    let count = match kind {
        0 => Count::MoreThan(number),
        1 => Count::SincePushed(number),
        2 => Count::SincePulled(number),
        _ => Count::SinceTransitioned(number),
    };
    Ok(Selection { tag_status, tag_prefixes, tag_patterns, storage_class, count })
}

fn action(value: &Value) -> Result<Action, Detail> {
    let map = object(value, &["type"])?;
    let transition = one_of(&map["type"], ACTION_TYPES, &[false, true])?;
    match (transition, map.get("targetStorageClass")) {
        (_, Some(Value::Null)) => Err(Detail::NoSchemaMatched),
        (false, _) => Ok(Action::Expire),
        (true, None) => Err(Detail::TransitionWithoutTarget),
        (true, Some(target)) => {
            one_of(target, TARGET_STORAGE_CLASSES, &[StorageClass::Archive]).map(Action::Transition)
        }
    }
}

fn rule(value: &Value) -> Result<Rule, Detail> {
    let map = object(value, &["action", "rulePriority", "selection"])?;
    let priority = positive(&map["rulePriority"])?;
    let description = match map.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => return Err(Detail::WrongType { found: type_of(other), allowed: "string" }),
    };
    Ok(Rule {
        priority,
        description,
        selection: selection(&map["selection"])?,
        action: action(&map["action"])?,
    })
}

/// The checks between a rule's own fields and between rules.
fn check_rules(rules: &[Rule]) -> Result<(), Detail> {
    let mut priorities = BTreeSet::new();
    for r in rules {
        if !priorities.insert(r.priority) {
            return Err(Detail::DuplicatePriority(r.priority));
        }
        let s = &r.selection;
        let (prefixes, patterns) = (!s.tag_prefixes.is_empty(), !s.tag_patterns.is_empty());
        match s.tag_status {
            TagStatus::Tagged if !prefixes && !patterns => return Err(Detail::TaggedWithoutList),
            TagStatus::Tagged if prefixes && patterns => return Err(Detail::TaggedWithBothLists),
            TagStatus::Untagged | TagStatus::Any if prefixes || patterns => {
                return Err(Detail::ListWithoutTagged)
            }
            _ => {}
        }
        if let Some(p) = s.tag_patterns.iter().find(|p| p.matches('*').count() > 4) {
            return Err(Detail::TooManyWildcards(p.clone()));
        }
        if matches!(s.count, Count::SinceTransitioned(_))
            && s.storage_class != StorageClass::Archive
        {
            return Err(Detail::TransitionedOnlyInArchive);
        }
    }
    for class in [StorageClass::Standard, StorageClass::Archive] {
        let in_class: Vec<&Rule> =
            rules.iter().filter(|r| r.selection.storage_class == class).collect();
        let untagged =
            in_class.iter().filter(|r| r.selection.tag_status == TagStatus::Untagged).count();
        if untagged > 1 {
            return Err(Detail::TwoUntagged);
        }
        let last = in_class.iter().map(|r| r.priority).max();
        if in_class
            .iter()
            .any(|r| r.selection.tag_status == TagStatus::Any && Some(r.priority) != last)
        {
            return Err(Detail::AnyNotLast);
        }
    }
    Ok(())
}

fn parse_detail(text: &str) -> Result<LifecyclePolicy, Detail> {
    let value: Value = serde_json::from_str(text).map_err(|_| Detail::Unmappable)?;
    if !value.is_object() {
        return Err(Detail::Unmappable);
    }
    let map = object(&value, &["rules"])?;
    let rules = match &map["rules"] {
        Value::Null => return Err(Detail::NullList),
        Value::Array(items) if items.is_empty() => return Err(Detail::NoRules),
        Value::Array(items) => items.iter().map(rule).collect::<Result<Vec<_>, _>>()?,
        other => return Err(Detail::WrongType { found: type_of(other), allowed: "array" }),
    };
    check_rules(&rules)?;
    Ok(LifecyclePolicy { rules })
}

impl LifecyclePolicy {
    /// Parses and checks a policy text; InvalidParameter in ECR's words when it is refused.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        parse_detail(text).map_err(|d| d.error())
    }
}

/// The text without whitespace outside strings, keys in their order: how ECR echoes a
/// policy it stored.
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ";

    fn refusal(text: &str) -> String {
        match LifecyclePolicy::parse(text) {
            Err(RegistryError::InvalidParameter(m)) => m
                .strip_prefix(PREFIX)
                .and_then(|m| m.strip_suffix('\''))
                .unwrap_or_else(|| panic!("not ECR's wording: {m}"))
                .to_string(),
            other => panic!("{text} was not refused: {other:?}"),
        }
    }

    fn one(selection: &str, action: &str) -> String {
        format!(r#"{{"rules":[{{"rulePriority":1,"selection":{selection},"action":{action}}}]}}"#)
    }

    #[test]
    fn every_rule_kind_parses() {
        let text = r#"{"rules":[
            {"rulePriority":1,"description":"keep 5 releases","selection":{"tagStatus":"tagged","tagPatternList":["v*.*"],"countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}},
            {"rulePriority":2,"selection":{"tagStatus":"tagged","tagPrefixList":["dev"],"countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},
            {"rulePriority":3,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}},
            {"rulePriority":4,"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90},"action":{"type":"expire"}},
            {"rulePriority":9,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}}
        ]}"#;
        let policy = LifecyclePolicy::parse(text).unwrap();
        assert_eq!(policy.rules.len(), 5);
        assert_eq!(policy.rules[0].selection.count, Count::MoreThan(5));
        assert_eq!(policy.rules[1].action, Action::Transition(StorageClass::Archive));
        assert_eq!(policy.rules[3].selection.storage_class, StorageClass::Archive);
        assert_eq!(policy.rules[0].description.as_deref(), Some("keep 5 releases"));
    }

    #[test]
    fn refusals_use_ecr_wording() {
        let expire = r#"{"type":"expire"}"#;
        let count = r#""countType":"imageCountMoreThan","countNumber":1"#;
        let cases: Vec<(String, &str)> = vec![
            ("{not json".into(), "Could not map policyString into LifecyclePolicy."),
            ("[]".into(), "Could not map policyString into LifecyclePolicy."),
            ("{}".into(), r#"object has missing required properties (["rules"])"#),
            (
                r#"{"rules":null}"#.into(),
                "instance type (null) does not match any allowed primitive type (allowed: [\"array\"])\ninstance type (null) does not match any allowed primitive type (allowed: [\"array\"])",
            ),
            (
                r#"{"rules":[{"rulePriority":1}]}"#.into(),
                r#"object has missing required properties (["action","selection"])"#,
            ),
            (
                one(&format!(r#"{{"tagStatus":"all",{count}}}"#), expire),
                r#"instance value ("all") not found in enum (possible values: ["tagged","untagged","any"])"#,
            ),
            (
                one(r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0}"#, expire),
                "numeric instance is lower than the required minimum (minimum: 1, found: 0)",
            ),
            (
                one(r#"{"tagStatus":"any","countType":"sinceImagePushed","countUnit":null,"countNumber":1}"#, expire),
                "instance failed to match exactly one schema (matched 0 out of 2)",
            ),
            (
                one(&format!(r#"{{"tagStatus":"any",{count}}}"#), r#"{"type":"transition","targetStorageClass":null}"#),
                "instance failed to match exactly one schema (matched 0 out of 2)",
            ),
            (
                one(&format!(r#"{{"tagStatus":"tagged",{count}}}"#), expire),
                "Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.",
            ),
            (
                r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#.into(),
                "Rule for tagStatus=ANY must have the lowest priority per storage class",
            ),
            (
                r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]}"#.into(),
                "Only one rule can select Untagged images per storage class",
            ),
            (
                one(r#"{"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*f"],"countType":"imageCountMoreThan","countNumber":1}"#, expire),
                "tagPatternList value 'a*b*c*d*e*f' has more than 4 wildcards.",
            ),
        ];
        for (text, detail) in cases {
            assert_eq!(refusal(&text), detail, "{text}");
        }
    }

    #[test]
    fn compaction_drops_whitespace_outside_strings_only() {
        let text = "{\n  \"rules\" : [ {\"description\": \"keep  the \\\" last\", \"b\": 1} ]\n}";
        assert_eq!(
            compact(text),
            "{\"rules\":[{\"description\":\"keep  the \\\" last\",\"b\":1}]}"
        );
    }
}
