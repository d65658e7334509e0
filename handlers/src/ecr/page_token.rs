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

/// One page of `items`, which are sorted by `key`: those after the request's `nextToken`,
/// at most `max_results` (else `default_size`), and the token of the next page if more
/// follow. For the small collections kept whole in the registry record.
pub fn page_by_key<T>(
    items: Vec<T>, key: impl Fn(&T) -> &str, next_token: Option<&str>, max_results: Option<i32>,
    default_size: i32,
) -> Result<(Vec<T>, Option<String>), RegistryError> {
    let after = next_token.map(PageToken::decode).transpose()?;
    let after = after.as_ref().map_or("", PageToken::after);
    let size = max_results.unwrap_or(default_size).max(1) as usize;
    let mut page: Vec<T> = items.into_iter().filter(|i| key(i) > after).collect();
    let next = (page.len() > size).then(|| PageToken::new(key(&page[size - 1])).encode());
    page.truncate(size);
    Ok((page, next))
}

/// One page of `items` by position, for lists with no key of their own: the token holds
/// how many items earlier pages took.
pub fn page_by_position<T>(
    items: Vec<T>, next_token: Option<&str>, max_results: Option<i32>, default_size: i32,
) -> Result<(Vec<T>, Option<String>), RegistryError> {
    let skip = match next_token {
        Some(token) => PageToken::decode(token)?.after().parse::<usize>().unwrap_or(0),
        None => 0,
    };
    let size = max_results.unwrap_or(default_size).max(1) as usize;
    let next =
        (items.len() > skip + size).then(|| PageToken::new(&(skip + size).to_string()).encode());
    Ok((items.into_iter().skip(skip).take(size).collect(), next))
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

    #[test]
    fn pages_by_key_follow_each_other_to_the_end() {
        let items = vec!["a", "b", "c", "d", "e"];
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) =
                page_by_key(items.clone(), |s| s, token.as_deref(), Some(2), 100).unwrap();
            assert!(page.len() <= 2);
            seen.extend(page);
            match next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, items);
        let (all, next) = page_by_key(items.clone(), |s| s, None, None, 100).unwrap();
        assert_eq!((all.len(), next), (5, None));
        assert!(page_by_key(items, |s| s, Some("garbage"), None, 100).is_err());
    }
}
