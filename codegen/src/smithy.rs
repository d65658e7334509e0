//! The Smithy JSON AST as read from model/, and the overlay merge.
//!
//! Only the parts codegen uses are typed; everything else in a shape is ignored.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A whole Smithy JSON AST file: shape id -> shape.
#[derive(Debug, Clone, Deserialize)]
pub struct SmithyModel {
    pub shapes: BTreeMap<String, Shape>,
}

/// One shape; `type` decides which of the optional parts are present.
#[derive(Debug, Clone, Deserialize)]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub members: BTreeMap<String, Member>,
    /// The element of a list shape.
    pub member: Option<Member>,
    /// Key and value of a map shape.
    pub key: Option<Member>,
    pub value: Option<Member>,
    pub input: Option<Target>,
    pub output: Option<Target>,
    #[serde(default)]
    pub errors: Vec<Target>,
    #[serde(default)]
    pub operations: Vec<Target>,
    #[serde(default)]
    pub traits: BTreeMap<String, Value>,
}

/// A member of a structure, list, map or enum.
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub target: String,
    #[serde(default)]
    pub traits: BTreeMap<String, Value>,
}

/// A reference to another shape.
#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    pub target: String,
}

/// Reasons a model cannot be read.
#[derive(Debug)]
pub struct ModelError(pub String);

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

impl SmithyModel {
    /// Parses a Smithy JSON AST document.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        serde_json::from_str(text).map_err(|e| ModelError(format!("invalid Smithy JSON: {e}")))
    }

    /// Merges an overlay into this model. An `apply` shape adds traits to an existing
    /// shape; a shape that exists in both gets the overlay's members, traits and
    /// operations added (overlay wins on a clash); any other shape is added as is.
    pub fn merge(&mut self, overlay: SmithyModel) -> Result<(), ModelError> {
        for (id, shape) in overlay.shapes {
            match self.shapes.get_mut(&id) {
                None if shape.kind == "apply" => {
                    return Err(ModelError(format!(
                        "overlay applies traits to unknown shape {id}"
                    )));
                }
                None => {
                    self.shapes.insert(id, shape);
                }
                Some(base) => {
                    if shape.kind != "apply" && shape.kind != base.kind {
                        return Err(ModelError(format!(
                            "overlay changes the type of {id} from {} to {}",
                            base.kind, shape.kind
                        )));
                    }
                    base.traits.extend(shape.traits);
                    base.members.extend(shape.members);
                    base.operations.extend(shape.operations);
                    base.errors.extend(shape.errors);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_adds_members_traits_and_shapes() {
        let mut base = SmithyModel::parse(
            r#"{"shapes":{
                "a#S":{"type":"structure","members":{"x":{"target":"smithy.api#String"}}},
                "a#N":{"type":"string"}}}"#,
        )
        .unwrap();
        let overlay = SmithyModel::parse(
            r#"{"shapes":{
                "a#S":{"type":"structure","members":{"y":{"target":"smithy.api#String"}}},
                "a#N":{"type":"apply","traits":{"smithy.api#length":{"max":3}}},
                "a#New":{"type":"string"}}}"#,
        )
        .unwrap();
        base.merge(overlay).unwrap();
        assert_eq!(base.shapes["a#S"].members.len(), 2);
        assert!(base.shapes["a#N"].traits.contains_key("smithy.api#length"));
        assert!(base.shapes.contains_key("a#New"));
    }

    #[test]
    fn overlay_cannot_apply_to_missing_shape_or_change_type() {
        let mut base = SmithyModel::parse(r#"{"shapes":{"a#N":{"type":"string"}}}"#).unwrap();
        let apply = SmithyModel::parse(r#"{"shapes":{"a#M":{"type":"apply"}}}"#).unwrap();
        assert!(base.merge(apply).is_err());
        let retype = SmithyModel::parse(r#"{"shapes":{"a#N":{"type":"integer"}}}"#).unwrap();
        assert!(base.merge(retype).is_err());
    }
}
