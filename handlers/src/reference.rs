//! Repository names, tags, and the `<reference>` of a manifest path (a tag or a digest).

use crate::digest::Digest;
use std::fmt;

/// A repository name as ECR accepts it: 2-256 characters of
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(String);

impl RepositoryName {
    /// Parses a name; `None` when it breaks ECR's rules.
    pub fn parse(name: &str) -> Option<Self> {
        let valid = (2..=256).contains(&name.len()) && name.split('/').all(component_is_valid);
        valid.then(|| RepositoryName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One path component: alphanumeric runs joined by `.`, `_`, `__` or one or more `-`.
fn component_is_valid(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An image tag: the OCI tag characters, up to ECR's 300.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

/// ECR's longest tag.
pub const MAX_TAG_LENGTH: usize = 300;

impl Tag {
    /// Parses `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,299}`.
    pub fn parse(tag: &str) -> Option<Self> {
        let bytes = tag.as_bytes();
        let first_ok = bytes.first().is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        let rest_ok = bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b));
        (first_ok && rest_ok && tag.len() <= MAX_TAG_LENGTH).then(|| Tag(tag.to_string()))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a manifest path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl Reference {
    /// A digest when the text has a `:`, else a tag; `None` when it is neither.
    pub fn parse(text: &str) -> Option<Self> {
        if text.contains(':') {
            Digest::parse(text).ok().map(Reference::Digest)
        } else {
            Tag::parse(text).map(Reference::Tag)
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(tag) => tag.fmt(f),
            Reference::Digest(digest) => f.write_str(digest.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for ok in ["ab", "team/app", "a.b_c__d---e/f0", "x1/y2/z3"] {
            assert!(RepositoryName::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "a",
            "A",
            "ab/",
            "/ab",
            "a//b",
            "a..b",
            "a___b",
            "-ab",
            "ab-",
            "a_.b",
            &"a".repeat(257),
        ] {
            assert!(RepositoryName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tags_and_references() {
        assert!(Tag::parse("v1.2.3-rc_1").is_some());
        assert!(Tag::parse(&"a".repeat(300)).is_some());
        assert!(Tag::parse(&"a".repeat(301)).is_none());
        assert!(Tag::parse(".hidden").is_none());
        assert!(Tag::parse("a+b").is_none());
        assert!(matches!(Reference::parse("latest"), Some(Reference::Tag(_))));
        let d = Digest::of(b"x");
        assert_eq!(Reference::parse(d.as_str()), Some(Reference::Digest(d)));
        assert_eq!(Reference::parse("sha256:zz"), None);
    }
}
