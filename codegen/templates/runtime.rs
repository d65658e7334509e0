//! The small runtime the generated ECR code stands on: wire types for timestamps and
//! blobs, constraint checks, and the AWS JSON 1.1 error shapes.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An AWS JSON timestamp: seconds since the Unix epoch, fractions allowed.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub f64);

/// Binary data, base64 on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Blob)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// The first constraint an input breaks; ECR answers it as InvalidParameterException.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The member name as on the wire.
    pub member: String,
    /// The constraint in ECR's words, e.g. `must have length greater than or equal to 2`.
    pub constraint: String,
}

impl ValidationError {
    /// A @required member that is missing.
    pub fn required(member: &str) -> Self {
        ValidationError { member: member.to_string(), constraint: "Member must not be null".to_string() }
    }

    /// ECR's message: `Invalid parameter at '<member>' failed to satisfy constraint: '<constraint>'`.
    pub fn message(&self) -> String {
        format!(
            "Invalid parameter at '{}' failed to satisfy constraint: '{}'",
            self.member, self.constraint
        )
    }
}

/// Implemented by every structure an operation input reaches.
pub trait Validate {
    /// Checks @required, @length, @range and @pattern of every member, depth first.
    fn validate(&self) -> Result<(), ValidationError>;
}

/// The checks the generated `validate()` bodies call, one call per model trait.
pub mod check {
    use super::ValidationError;
    use regex::Regex;

    fn fail(member: &str, constraint: String) -> Result<(), ValidationError> {
        Err(ValidationError { member: member.to_string(), constraint })
    }

    /// @required.
    pub fn required<T>(member: &str, value: &Option<T>) -> Result<(), ValidationError> {
        match value {
            Some(_) => Ok(()),
            None => Err(ValidationError::required(member)),
        }
    }

    /// @length: characters of a string, bytes of a blob, entries of a list or map.
    pub fn length(member: &str, len: u64, min: Option<u64>, max: Option<u64>) -> Result<(), ValidationError> {
        if let Some(min) = min.filter(|min| len < *min) {
            return fail(member, format!("must have length greater than or equal to {min}"));
        }
        if let Some(max) = max.filter(|max| len > *max) {
            return fail(member, format!("must have length less than or equal to {max}"));
        }
        Ok(())
    }

    /// @range.
    pub fn range(member: &str, value: f64, min: Option<f64>, max: Option<f64>) -> Result<(), ValidationError> {
        if let Some(min) = min.filter(|min| value < *min) {
            return fail(member, format!("must have value greater than or equal to {min}"));
        }
        if let Some(max) = max.filter(|max| value > *max) {
            return fail(member, format!("must have value less than or equal to {max}"));
        }
        Ok(())
    }

    /// @pattern; `display` is the expression ECR prints.
    pub fn pattern(member: &str, value: &str, regex: &Regex, display: &str) -> Result<(), ValidationError> {
        if regex.is_match(value) {
            Ok(())
        } else {
            fail(member, format!("must satisfy regular expression '{display}'"))
        }
    }

    /// What @length measures.
    pub trait Len {
        /// The length in the unit Smithy uses for this type.
        fn len(&self) -> u64;

        /// True when the length is zero.
        fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }

    impl Len for String {
        fn len(&self) -> u64 {
            self.chars().count() as u64
        }
    }

    impl<T> Len for Vec<T> {
        fn len(&self) -> u64 {
            self.len() as u64
        }
    }

    impl<K, V> Len for std::collections::BTreeMap<K, V> {
        fn len(&self) -> u64 {
            self.len() as u64
        }
    }

    impl Len for super::Blob {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
    }

    /// What @range compares.
    pub trait AsF64 {
        /// The value as a float, exact for every value the model allows.
        fn as_f64(&self) -> f64;
    }

    impl AsF64 for i32 {
        fn as_f64(&self) -> f64 {
            f64::from(*self)
        }
    }

    impl AsF64 for i64 {
        fn as_f64(&self) -> f64 {
            *self as f64
        }
    }

    impl AsF64 for f64 {
        fn as_f64(&self) -> f64 {
            *self
        }
    }
}

/// Implemented by each operation's error enum: exactly the errors the model declares.
pub trait ModeledError: Sized {
    /// The error shape name, sent as `__type`.
    fn type_name(&self) -> &'static str;
    /// True for `ServerException`, answered with HTTP 500.
    fn is_server_fault(&self) -> bool;
    /// The error's members as JSON.
    fn to_json(&self) -> serde_json::Value;
    /// Builds the declared error named `type_name` with `message`, if the operation has it.
    fn from_message(type_name: &str, message: String) -> Option<Self>;
}

/// A service's own error as the server renders it for the ECR face, before it meets the
/// declared errors of the operation that returned it.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorShape {
    /// An error shape of the model, by its `__type`, with ECR's message.
    Modeled { type_name: &'static str, message: String },
    /// The operation's behaviour is not built yet.
    NotImplemented,
    /// The service's own fault; answered as ServerException.
    Internal(String),
}

/// The error of a service that does no operation: tests of validation alone use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotImplemented;

/// What a handler can fail with: a declared error, an operation berth does not do yet,
/// or a fault of berth itself.
#[derive(Debug, Clone, PartialEq)]
pub enum OperationError<E> {
    /// An error the model declares for this operation.
    Modeled(E),
    /// The operation is wired but its behaviour is not built yet.
    NotImplemented,
    /// berth's own fault; answered as ServerException.
    Internal(String),
}

impl<E> From<E> for OperationError<E> {
    fn from(e: E) -> Self {
        OperationError::Modeled(e)
    }
}

impl<E: ModeledError> OperationError<E> {
    /// `shape` as one of this operation's errors. A shape the operation does not declare
    /// is a bug of the service, answered as ServerException naming it.
    pub fn from_shape(shape: ErrorShape) -> Self {
        match shape {
            ErrorShape::Modeled { type_name, message } => match E::from_message(type_name, message.clone()) {
                Some(modeled) => OperationError::Modeled(modeled),
                None => OperationError::Internal(format!("{type_name}: {message}")),
            },
            ErrorShape::NotImplemented => OperationError::NotImplemented,
            ErrorShape::Internal(detail) => OperationError::Internal(detail),
        }
    }

    /// The response for this error of `operation`.
    pub fn into_wire(self, operation: &str) -> WireError {
        match self {
            OperationError::Modeled(e) => {
                let mut body = e.to_json();
                if let serde_json::Value::Object(map) = &mut body {
                    map.insert("__type".into(), e.type_name().into());
                }
                let status = if e.is_server_fault() { 500 } else { 400 };
                WireError::with_body(status, e.type_name(), body)
            }
            OperationError::NotImplemented => WireError::new(
                501,
                "NotImplementedException",
                format!("berth does not implement the ECR operation {operation} yet"),
            ),
            OperationError::Internal(detail) => {
                WireError::new(500, "ServerException", format!("berth failed to handle {operation}: {detail}"))
            }
        }
    }
}

/// An error response in the AWS JSON 1.1 format: status, `__type`, body.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    /// HTTP status.
    pub status: u16,
    /// The `__type` value, also sent as `x-amzn-ErrorType`.
    pub type_name: String,
    /// The whole JSON body, `__type` included.
    pub body: serde_json::Value,
}

impl WireError {
    /// An error whose body is `{"__type", "message"}`.
    pub fn new(status: u16, type_name: &str, message: String) -> Self {
        let body = serde_json::json!({ "__type": type_name, "message": message });
        WireError { status, type_name: type_name.to_string(), body }
    }

    fn with_body(status: u16, type_name: &str, body: serde_json::Value) -> Self {
        WireError { status, type_name: type_name.to_string(), body }
    }

    /// The `message` member, for logs and tests.
    pub fn message(&self) -> &str {
        self.body.get("message").and_then(serde_json::Value::as_str).unwrap_or("")
    }
}

impl From<ValidationError> for WireError {
    fn from(e: ValidationError) -> Self {
        WireError::new(400, "InvalidParameterException", e.message())
    }
}

/// Reads an operation input. An empty body counts as `{}`; malformed JSON or a value of the
/// wrong type is SerializationException; an unknown enum value is InvalidParameterException.
pub fn parse_input<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    // serde would read a structure from a JSON array too; AWS JSON wants an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(WireError::new(400, "SerializationException", "the request body must be a JSON object".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = match value {
        Ok(v) => v,
        Err(e) => {
            let member = e
                .path()
                .iter()
                .rev()
                .find_map(|s| match s {
                    serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                    _ => None,
                });
            let inner = e.into_inner().to_string();
            return Err(match (member, enum_values(&inner)) {
                (Some(member), Some(values)) => ValidationError {
                    member,
                    constraint: format!("Member must satisfy enum value set: [{values}]"),
                }
                .into(),
                _ => WireError::new(400, "SerializationException", inner),
            });
        }
    };
    de.end().map_err(|e| WireError::new(400, "SerializationException", e.to_string()))?;
    Ok(value)
}

/// The allowed values out of serde's `unknown variant` message, if it is one.
fn enum_values(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown variant ")?;
    let expected = rest.split_once(", expected ")?.1;
    let expected = expected.strip_prefix("one of ").unwrap_or(expected);
    let expected = expected.split(" at line ").next().unwrap_or(expected);
    Some(expected.replace(" or ", ", ").replace('`', ""))
}

/// Writes an operation output as the response body.
pub fn write_output<T: Serialize>(output: &T) -> Result<Vec<u8>, WireError> {
    serde_json::to_vec(output)
        .map_err(|e| WireError::new(500, "ServerException", format!("cannot encode the response: {e}")))
}

/// Reads a structure from a JSON object only. serde would also take a positional array
/// (`[true]` for `{"scanOnPush": true}`), which AWS refuses as SerializationException;
/// every generated structure deserializes through this, which asks for a map instead.
pub struct StructAsMap<D>(pub D);

macro_rules! forward {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.0.$method(visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StructAsMap<D> {
    type Error = D::Error;

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_map(visitor)
    }

    forward!(
        deserialize_any, deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32,
        deserialize_i64, deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64,
        deserialize_f32, deserialize_f64, deserialize_char, deserialize_str, deserialize_string,
        deserialize_bytes, deserialize_byte_buf, deserialize_option, deserialize_unit,
        deserialize_seq, deserialize_map, deserialize_identifier, deserialize_ignored_any,
    );

    fn deserialize_unit_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: serde::de::Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Mode {
        #[serde(rename = "A")]
        A,
        #[serde(rename = "B")]
        B,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Input {
        #[serde(default)]
        mode: Option<Mode>,
        #[serde(default)]
        count: Option<i32>,
    }

    #[test]
    fn unknown_enum_value_is_invalid_parameter_naming_the_member() {
        let err = parse_input::<Input>(br#"{"mode":"C"}"#).unwrap_err();
        assert_eq!(err.type_name, "InvalidParameterException");
        assert_eq!(
            err.message(),
            "Invalid parameter at 'mode' failed to satisfy constraint: 'Member must satisfy enum value set: [A, B]'"
        );
    }

    #[test]
    fn wrong_type_and_bad_json_are_serialization_errors() {
        for body in [&br#"{"count":"x"}"#[..], b"{", b"[]", b"{} x"] {
            let err = parse_input::<Input>(body).unwrap_err();
            assert_eq!(err.type_name, "SerializationException", "{:?}", String::from_utf8_lossy(body));
            assert_eq!(err.status, 400);
        }
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        let input = parse_input::<Input>(b"").unwrap();
        assert!(input.mode.is_none() && input.count.is_none());
    }

    #[test]
    fn checks_use_ecr_wording() {
        let e = check::length("repositoryName", 1, Some(2), Some(256)).unwrap_err();
        assert_eq!(
            e.message(),
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have length greater than or equal to 2'"
        );
        let e = check::range("maxResults", 1001.0, Some(1.0), Some(1000.0)).unwrap_err();
        assert_eq!(e.constraint, "must have value less than or equal to 1000");
        assert!(check::required::<u8>("x", &None).is_err());
    }

    #[test]
    fn blob_is_base64() {
        let b: Blob = serde_json::from_str("\"aGk=\"").unwrap();
        assert_eq!(b.0, b"hi");
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"aGk=\"");
    }
}
