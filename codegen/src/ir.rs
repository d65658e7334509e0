//! The plain intermediate form of the ECR API: what the emitters need and nothing else.
//!
//! Lowering resolves every shape reference to a [`Ty`], keeps the constraint traits next
//! to the type they constrain, and orders everything by name so output is deterministic.

use crate::smithy::{Member, ModelError, Shape, SmithyModel};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const REQUIRED: &str = "smithy.api#required";
const LENGTH: &str = "smithy.api#length";
const PATTERN: &str = "smithy.api#pattern";
const RANGE: &str = "smithy.api#range";
const DEFAULT: &str = "smithy.api#default";
const DOCUMENTATION: &str = "smithy.api#documentation";
const ERROR: &str = "smithy.api#error";
const ENUM_VALUE: &str = "smithy.api#enumValue";
/// Our own trait: the regular expression real ECR prints in its message, where it
/// differs from the one in the model (see model/README.md).
const MESSAGE_PATTERN: &str = "berth#validationMessagePattern";

/// The whole service, lowered.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// The service shape's name, the prefix of `X-Amz-Target`.
    pub service_name: String,
    pub operations: Vec<Operation>,
    /// Non-error structures used by the operations.
    pub structures: Vec<Structure>,
    /// Error structures used by the operations.
    pub errors: Vec<Structure>,
    pub enums: Vec<EnumDef>,
}

/// One operation: its input, output and the errors it declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub name: String,
    pub doc: Option<String>,
    pub input: String,
    pub output: String,
    pub errors: Vec<String>,
}

/// A structure with its members in model order.
#[derive(Debug, Clone, PartialEq)]
pub struct Structure {
    pub name: String,
    pub doc: Option<String>,
    pub members: Vec<MemberDef>,
    /// `Some("client" | "server")` for error shapes.
    pub fault: Option<String>,
    /// True when the structure is reachable from an operation input, so it is validated.
    pub validated: bool,
}

/// A structure member.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberDef {
    /// The name on the wire, exactly as in the model.
    pub wire_name: String,
    pub doc: Option<String>,
    pub ty: Ty,
    pub required: bool,
    /// True when the model gives a default: the member is then a plain value, not an Option.
    pub has_default: bool,
}

/// A resolved type with the constraints of the shape (and member) it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Ty {
    pub kind: TyKind,
    pub constraints: Vec<Constraint>,
}

/// The kinds of value the ECR model uses.
#[derive(Debug, Clone, PartialEq)]
pub enum TyKind {
    String,
    Bool,
    I32,
    I64,
    F64,
    Timestamp,
    Blob,
    Enum(String),
    Struct(String),
    List(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
}

/// One constraint trait, as it will be checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    Length { min: Option<u64>, max: Option<u64> },
    Range { min: Option<f64>, max: Option<f64> },
    Pattern(PatternDef),
}

/// A @pattern: the shape that declared it, the expression checked, the one printed.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternDef {
    pub shape: String,
    pub regex: String,
    pub display: String,
}

/// A Smithy enum: (Rust variant name, wire value) pairs in model order.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    pub name: String,
    pub doc: Option<String>,
    pub values: Vec<String>,
}

/// Lowers a merged model for the service named by `service_id`.
pub fn lower(model: &SmithyModel, service_id: &str) -> Result<Api, ModelError> {
    let service = shape(model, service_id)?;
    let mut lowering = Lowering { model, structs: BTreeMap::new(), enums: BTreeMap::new() };
    let mut operations = Vec::new();
    for op_ref in &service.operations {
        let op = shape(model, &op_ref.target)?;
        let input = op.input.as_ref().ok_or_else(|| missing(&op_ref.target, "input"))?;
        let output = op.output.as_ref().ok_or_else(|| missing(&op_ref.target, "output"))?;
        lowering.structure(&input.target, true)?;
        lowering.structure(&output.target, false)?;
        let mut errors = Vec::new();
        for e in &op.errors {
            lowering.structure(&e.target, false)?;
            errors.push(local(&e.target).to_string());
        }
        errors.sort();
        errors.dedup();
        operations.push(Operation {
            name: local(&op_ref.target).to_string(),
            doc: doc_of(&op.traits),
            input: local(&input.target).to_string(),
            output: local(&output.target).to_string(),
            errors,
        });
    }
    operations.sort_by(|a, b| a.name.cmp(&b.name));
    let (errors, structures) = lowering.structs.into_values().partition(|s| s.fault.is_some());
    Ok(Api {
        service_name: local(service_id).to_string(),
        operations,
        structures,
        errors,
        enums: lowering.enums.into_values().collect(),
    })
}

struct Lowering<'m> {
    model: &'m SmithyModel,
    structs: BTreeMap<String, Structure>,
    enums: BTreeMap<String, EnumDef>,
}

impl Lowering<'_> {
    /// Lowers a structure and everything it reaches; `validated` spreads to what an input reaches.
    fn structure(&mut self, id: &str, validated: bool) -> Result<(), ModelError> {
        let name = local(id).to_string();
        if let Some(existing) = self.structs.get_mut(&name) {
            if existing.validated || !validated {
                return Ok(());
            }
            existing.validated = true;
        }
        let s = shape(self.model, id)?;
        if s.kind != "structure" {
            return Err(ModelError(format!("{id} is a {}, expected a structure", s.kind)));
        }
        // Insert first so that recursive references terminate.
        self.structs.insert(
            name.clone(),
            Structure {
                name: name.clone(),
                doc: doc_of(&s.traits),
                members: Vec::new(),
                fault: s.traits.get(ERROR).and_then(Value::as_str).map(str::to_string),
                validated,
            },
        );
        let mut members = Vec::new();
        for (wire_name, m) in ordered_members(s) {
            let mut ty = self.ty(&m.target, validated)?;
            ty.constraints.extend(constraints(&m.traits, &m.target)?);
            let has_default = m.traits.contains_key(DEFAULT);
            if has_default {
                check_default(&m.traits[DEFAULT], &ty, &name, wire_name)?;
            }
            members.push(MemberDef {
                wire_name: wire_name.to_string(),
                doc: doc_of(&m.traits),
                ty,
                required: m.traits.contains_key(REQUIRED),
                has_default,
            });
        }
        if let Some(entry) = self.structs.get_mut(&name) {
            entry.members = members;
        }
        Ok(())
    }

    fn ty(&mut self, id: &str, validated: bool) -> Result<Ty, ModelError> {
        let kind = match id {
            "smithy.api#String" => TyKind::String,
            "smithy.api#Boolean" | "smithy.api#PrimitiveBoolean" => TyKind::Bool,
            "smithy.api#Integer" | "smithy.api#PrimitiveInteger" => TyKind::I32,
            "smithy.api#Long" | "smithy.api#PrimitiveLong" => TyKind::I64,
            "smithy.api#Double" | "smithy.api#PrimitiveDouble" => TyKind::F64,
            "smithy.api#Timestamp" => TyKind::Timestamp,
            "smithy.api#Blob" => TyKind::Blob,
            _ => return self.shape_ty(id, validated),
        };
        Ok(Ty { kind, constraints: Vec::new() })
    }

    fn shape_ty(&mut self, id: &str, validated: bool) -> Result<Ty, ModelError> {
        let s = shape(self.model, id)?;
        let kind = match s.kind.as_str() {
            "string" => TyKind::String,
            "boolean" => TyKind::Bool,
            "integer" => TyKind::I32,
            "long" => TyKind::I64,
            "double" | "float" => TyKind::F64,
            "timestamp" => TyKind::Timestamp,
            "blob" => TyKind::Blob,
            "enum" => {
                let name = local(id).to_string();
                let values = ordered_members(s)
                    .into_iter()
                    .map(|(n, m)| {
                        m.traits.get(ENUM_VALUE).and_then(Value::as_str).unwrap_or(n).to_string()
                    })
                    .collect();
                self.enums.insert(
                    name.clone(),
                    EnumDef { name: name.clone(), doc: doc_of(&s.traits), values },
                );
                TyKind::Enum(name)
            }
            "structure" => {
                self.structure(id, validated)?;
                TyKind::Struct(local(id).to_string())
            }
            "list" => {
                let m = s.member.as_ref().ok_or_else(|| missing(id, "member"))?;
                let mut element = self.ty(&m.target, validated)?;
                element.constraints.extend(constraints(&m.traits, &m.target)?);
                TyKind::List(Box::new(element))
            }
            "map" => {
                let k = s.key.as_ref().ok_or_else(|| missing(id, "key"))?;
                let v = s.value.as_ref().ok_or_else(|| missing(id, "value"))?;
                let key = self.ty(&k.target, validated)?;
                let value = self.ty(&v.target, validated)?;
                TyKind::Map(Box::new(key), Box::new(value))
            }
            other => return Err(ModelError(format!("{id}: shape type {other} is not supported"))),
        };
        Ok(Ty { kind, constraints: constraints(&s.traits, id)? })
    }
}

/// The constraint traits in `traits`, in a fixed order: length, range, pattern.
fn constraints(
    traits: &BTreeMap<String, Value>, shape_id: &str,
) -> Result<Vec<Constraint>, ModelError> {
    let mut out = Vec::new();
    if let Some(l) = traits.get(LENGTH) {
        out.push(Constraint::Length {
            min: l.get("min").and_then(Value::as_u64),
            max: l.get("max").and_then(Value::as_u64),
        });
    }
    if let Some(r) = traits.get(RANGE) {
        out.push(Constraint::Range {
            min: r.get("min").and_then(Value::as_f64),
            max: r.get("max").and_then(Value::as_f64),
        });
    }
    if let Some(p) = traits.get(PATTERN) {
        let regex = p
            .as_str()
            .ok_or_else(|| ModelError(format!("{shape_id}: @pattern is not a string")))?;
        let display = match traits.get(MESSAGE_PATTERN).and_then(Value::as_str) {
            Some(d) => d.to_string(),
            None => regex.trim_start_matches('^').trim_end_matches('$').to_string(),
        };
        out.push(Constraint::Pattern(PatternDef {
            shape: local(shape_id).to_string(),
            regex: regex.to_string(),
            display,
        }));
    }
    Ok(out)
}

/// Only defaults equal to the Rust type's own default are supported (all the model has).
fn check_default(value: &Value, ty: &Ty, structure: &str, member: &str) -> Result<(), ModelError> {
    let ok = match ty.kind {
        TyKind::Bool => value == &Value::Bool(false),
        TyKind::I32 | TyKind::I64 | TyKind::F64 => value.as_f64() == Some(0.0),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ModelError(format!("{structure}.{member}: unsupported @default {value}")))
    }
}

/// Members in the order the model file lists them would need an ordered map; serde_json's
/// map is sorted, so members come out sorted by name, which is deterministic too.
fn ordered_members(s: &Shape) -> Vec<(&str, &Member)> {
    s.members.iter().map(|(n, m)| (n.as_str(), m)).collect()
}

fn shape<'m>(model: &'m SmithyModel, id: &str) -> Result<&'m Shape, ModelError> {
    model.shapes.get(id).ok_or_else(|| ModelError(format!("shape {id} is not in the model")))
}

fn missing(id: &str, what: &str) -> ModelError {
    ModelError(format!("{id} has no {what}"))
}

/// The name part of a shape id: `com.amazonaws.ecr#Tag` -> `Tag`.
pub fn local(id: &str) -> &str {
    id.rsplit('#').next().unwrap_or(id)
}

/// Plain-text documentation: HTML tags dropped, whitespace collapsed, first two sentences.
pub fn doc_of(traits: &BTreeMap<String, Value>) -> Option<String> {
    let html = traits.get(DOCUMENTATION)?.as_str()?;
    // Inline tags (code, a, i, b) vanish; block tags (p, li, note...) become a space.
    let mut text = String::new();
    let mut tag = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' if in_tag => {
                in_tag = false;
                let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or("");
                if !matches!(name, "code" | "a" | "i" | "b" | "em" | "strong" | "fullname") {
                    text.push(' ');
                }
            }
            _ if in_tag => tag.push(c),
            _ => text.push(c),
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::new();
    let mut sentences = 0;
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        if w.ends_with('.') && !w.ends_with("e.g.") && !w.ends_with("i.e.") {
            sentences += 1;
            if sentences == 2 {
                break;
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Every structure reachable from the operation inputs, for tests that count checks.
pub fn validated_structures(api: &Api) -> BTreeSet<&str> {
    api.structures
        .iter()
        .chain(&api.errors)
        .filter(|s| s.validated)
        .map(|s| s.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_is_plain_text_first_two_sentences() {
        let mut t = BTreeMap::new();
        t.insert(
            DOCUMENTATION.to_string(),
            Value::String(
                "<p>Creates a <code>repo</code>. It is, e.g. nice.\n   More here. Not this.</p>"
                    .into(),
            ),
        );
        assert_eq!(doc_of(&t).as_deref(), Some("Creates a repo. It is, e.g. nice."));
    }

    #[test]
    fn local_name_of_shape_id() {
        assert_eq!(local("com.amazonaws.ecr#Tag"), "Tag");
        assert_eq!(local("Tag"), "Tag");
    }
}
