//! The opaque `nextToken` of paginated operations: where the next page starts.

use crate::error::RegistryError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

const VERSION: &str = "berth1:";

/// A page position: the last key of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken(String);

impl PageToken {
    /// The token for a page that ended at `last_key`.
    pub fn new(last_key: &str) -> Self {
        PageToken(last_key.to_string())
    }

    /// The key the next page starts after.
    pub fn after(&self) -> &str {
        &self.0
    }

    /// The wire form: base64 of a versioned key, so clients treat it as opaque.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{VERSION}{}", self.0))
    }

    /// Reads a token from a previous answer; anything else is InvalidParameterException.
    pub fn decode(token: &str) -> Result<Self, RegistryError> {
        URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.strip_prefix(VERSION).map(str::to_string))
            .map(PageToken)
            .ok_or_else(|| {
                RegistryError::invalid_parameter(
                    "nextToken",
                    "must be a nextToken returned by a previous call",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let t = PageToken::new("team/app");
        assert_eq!(PageToken::decode(&t.encode()).unwrap(), t);
        assert!(PageToken::decode("not a token").is_err());
        assert!(PageToken::decode(&URL_SAFE_NO_PAD.encode("other:x")).is_err());
    }
}
