//! Rust identifiers for model names.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
    "mut", "pub", "ref", "return", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while",
];

/// A type identifier, used as is (shape names are already UpperCamelCase).
pub fn type_ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// A field or method identifier in snake_case; keywords become raw identifiers.
pub fn snake_ident(name: &str) -> Ident {
    let snake = name.to_snake_case();
    if KEYWORDS.contains(&snake.as_str()) {
        Ident::new_raw(&snake, Span::call_site())
    } else {
        Ident::new(&snake, Span::call_site())
    }
}

/// An enum variant for a wire value such as `IMMUTABLE_WITH_EXCLUSION` or `sha256`.
pub fn variant_name(value: &str) -> String {
    let camel = value.to_upper_camel_case();
    if camel.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{camel}")
    } else {
        camel
    }
}

/// A SCREAMING_SNAKE_CASE constant identifier.
pub fn const_ident(name: &str) -> Ident {
    Ident::new(&name.to_snake_case().to_uppercase(), Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rust_conventions() {
        assert_eq!(snake_ident("repositoryName").to_string(), "repository_name");
        assert_eq!(snake_ident("Key").to_string(), "key");
        assert_eq!(snake_ident("type").to_string(), "r#type");
        assert_eq!(variant_name("IMMUTABLE_WITH_EXCLUSION"), "ImmutableWithExclusion");
        assert_eq!(variant_name("AES256"), "Aes256");
        assert_eq!(const_ident("RepositoryName").to_string(), "REPOSITORY_NAME");
    }
}
