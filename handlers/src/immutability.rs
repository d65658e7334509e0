//! Whether a tag may be moved: the repository's imageTagMutability and exclusion filters.

use berth_generated::ecr::{ImageTagMutability, ImageTagMutabilityExclusionFilter};

/// True when `tag` may not be moved, for settings as stored (wire value, JSON filter list).
pub fn tag_is_immutable(mutability: &str, filters: &str, tag: &str) -> bool {
    let filters: Vec<ImageTagMutabilityExclusionFilter> =
        serde_json::from_str(filters).unwrap_or_default();
    let excluded = filters.iter().any(|f| wildcard_match(&f.filter, tag));
    match ImageTagMutability::from_wire(mutability) {
        Some(ImageTagMutability::Immutable) => true,
        Some(ImageTagMutability::ImmutableWithExclusion) => !excluded,
        Some(ImageTagMutability::MutableWithExclusion) => excluded,
        Some(ImageTagMutability::Mutable) | None => false,
    }
}

/// `*` stands for any run of characters; everything else must match exactly, whole tag.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("dev-*", "dev-1"));
        assert!(wildcard_match("dev-*", "dev-"));
        assert!(!wildcard_match("dev-*", "prod-1"));
        assert!(wildcard_match("*-rc*", "1.0-rc2"));
        assert!(wildcard_match("a*b*c", "abc"));
        assert!(!wildcard_match("a*a", "a"));
        assert!(wildcard_match("latest", "latest"));
        assert!(!wildcard_match("latest", "latest2"));
    }

    #[test]
    fn settings() {
        let filters = r#"[{"filterType":"WILDCARD","filter":"dev-*"}]"#;
        assert!(tag_is_immutable("IMMUTABLE", "[]", "x"));
        assert!(!tag_is_immutable("MUTABLE", "[]", "x"));
        assert!(tag_is_immutable("IMMUTABLE_WITH_EXCLUSION", filters, "v1"));
        assert!(!tag_is_immutable("IMMUTABLE_WITH_EXCLUSION", filters, "dev-1"));
        assert!(tag_is_immutable("MUTABLE_WITH_EXCLUSION", filters, "dev-1"));
        assert!(!tag_is_immutable("MUTABLE_WITH_EXCLUSION", filters, "v1"));
    }
}
