//! Emits `ecr/strategies.rs` (cargo feature `strategies`): proptest strategies for every
//! structure an operation input reaches, producing values that satisfy every constraint
//! and values that break exactly one, plus a service that implements no operation, so
//! tests can see what validation alone answers.

use crate::emit_service::OperationIdents;
use crate::ir::{Api, Constraint, MemberDef, Structure, Ty, TyKind};
use crate::names::{snake_ident, type_ident};
use crate::smithy::ModelError;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet};

/// Longest value a breaking strategy builds (longer maxima are not broken from above).
const MAX_BUILT_LENGTH: u64 = 5000;

fn valid_fn(name: &str) -> Ident {
    format_ident!("valid_{}", snake_ident(name).to_string().trim_start_matches("r#"))
}

fn invalid_fn(name: &str) -> Ident {
    format_ident!("invalid_{}", snake_ident(name).to_string().trim_start_matches("r#"))
}

/// The pattern's tokens: an escape (`\\d`) is one token and every other character another,
/// so that rewriting a pattern never splits an escape.
fn tokens(pattern: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut chars = pattern.char_indices();
    while let Some((at, c)) = chars.next() {
        let mut end = at + c.len_utf8();
        if c == '\\' {
            if let Some((next_at, next)) = chars.next() {
                end = next_at + next.len_utf8();
            }
        }
        out.push(&pattern[at..end]);
    }
    out
}

/// The pattern without `^`/`$` anchors (proptest cannot generate anchors), alternative by
/// alternative.
pub fn anchorless(pattern: &str) -> String {
    let mut out = String::new();
    let mut depth = 0i32;
    let mut at_alternative_start = true;
    let tokens = tokens(pattern);
    for (at, token) in tokens.iter().enumerate() {
        match *token {
            "^" if depth == 0 && at_alternative_start => continue,
            "$" if depth == 0 && matches!(tokens.get(at + 1), None | Some(&"|")) => continue,
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            _ => {}
        }
        at_alternative_start = depth == 0 && *token == "|";
        out.push_str(token);
    }
    out
}

/// The same pattern with `*` and `+` outside character classes bounded to 3 repetitions:
/// every string it matches, the original matches too, and generation stays short (nested
/// unbounded repetitions make proptest build long strings that the length bounds reject).
pub fn bounded(pattern: &str) -> String {
    let mut out = String::new();
    let mut in_class = false;
    for token in tokens(pattern) {
        match token {
            "[" if !in_class => in_class = true,
            "]" if in_class => in_class = false,
            "*" if !in_class => {
                out.push_str("{0,3}");
                continue;
            }
            "+" if !in_class => {
                out.push_str("{1,3}");
                continue;
            }
            _ => {}
        }
        out.push_str(token);
    }
    out
}

/// A string of length within `[min, max]` that `pattern` does not match, if one of a few
/// candidates is.
fn non_matching(pattern: &str, min: u64, max: u64) -> Option<String> {
    let regex = regex::Regex::new(pattern).ok()?;
    let len = min.max(1);
    if len > max || len > MAX_BUILT_LENGTH {
        return None;
    }
    ["!", " ", "#", "A", "-", "/", ":", "a"]
        .iter()
        .map(|c| c.repeat(len as usize))
        .find(|s| !regex.is_match(s))
}

fn length_of(ty: &Ty) -> (Option<u64>, Option<u64>) {
    ty.constraints
        .iter()
        .find_map(|c| match c {
            Constraint::Length { min, max } => Some((*min, *max)),
            _ => None,
        })
        .unwrap_or((None, None))
}

/// A strategy for a value of `ty` that satisfies its constraints.
fn valid_value(ty: &Ty) -> TokenStream {
    let (min, max) = length_of(ty);
    let lo = min.unwrap_or(0);
    let hi = max.unwrap_or(u64::MAX).min(lo + 12);
    let range = |ty: &Ty| {
        ty.constraints.iter().find_map(|c| match c {
            Constraint::Range { min, max } => Some((*min, *max)),
            _ => None,
        })
    };
    match &ty.kind {
        TyKind::String => {
            let pattern = ty.constraints.iter().find_map(|c| match c {
                Constraint::Pattern(p) => Some(bounded(&anchorless(&p.regex))),
                _ => None,
            });
            let (lo, hi) = (lo as usize, max.unwrap_or(u64::MAX).min(u32::MAX as u64) as usize);
            match pattern {
                Some(p) => quote!(matching(#p, #lo, #hi)),
                None => {
                    let plain = format!("[a-z0-9]{{{},{}}}", lo, (hi as u64).min(lo as u64 + 12));
                    quote!(matching(#plain, #lo, #hi))
                }
            }
        }
        TyKind::Bool => quote!(any::<bool>().boxed()),
        TyKind::I32 | TyKind::I64 => {
            let (min, max) = range(ty).unwrap_or((Some(0.0), Some(1000.0)));
            let lo = min.unwrap_or(0.0) as i64;
            let hi = max.unwrap_or(lo as f64 + 1000.0) as i64;
            if matches!(ty.kind, TyKind::I32) {
                let (lo, hi) = (lo as i32, hi as i32);
                quote!((#lo..=#hi).boxed())
            } else {
                quote!((#lo..=#hi).boxed())
            }
        }
        TyKind::F64 => quote!((0.0f64..100.0).boxed()),
        TyKind::Timestamp => quote!((0.0f64..2.0e9).prop_map(crate::runtime::Timestamp).boxed()),
        TyKind::Blob => {
            let (lo, hi) = (lo as usize, hi as usize);
            quote!(prop::collection::vec(any::<u8>(), #lo..=#hi).prop_map(crate::runtime::Blob).boxed())
        }
        TyKind::Enum(name) => {
            let name = type_ident(name);
            quote!(prop::sample::select(#name::ALL).boxed())
        }
        TyKind::Struct(name) => {
            let f = valid_fn(name);
            quote!(#f())
        }
        TyKind::List(element) => {
            let element = valid_value(element);
            let (lo, hi) = (lo as usize, max.unwrap_or(u64::MAX).min(lo + 3) as usize);
            quote!(prop::collection::vec(#element, #lo..=#hi).boxed())
        }
        TyKind::Map(key, value) => {
            let (key, value) = (valid_value(key), valid_value(value));
            let (lo, hi) = (lo as usize, max.unwrap_or(u64::MAX).min(lo + 3) as usize);
            quote!(prop::collection::btree_map(#key, #value, #lo..=#hi).boxed())
        }
    }
}

/// Strategies of (bad value, violation) for `ty`: one per constraint that can be broken
/// alone. `member` is the wire name errors use for this value.
fn breakers(member: &str, ty: &Ty, breakable: &BTreeSet<String>) -> Vec<TokenStream> {
    let mut out = Vec::new();
    let (min, max) = length_of(ty);
    for c in &ty.constraints {
        match (c, &ty.kind) {
            (Constraint::Length { .. }, TyKind::String) => {
                if let Some(min) = min.filter(|m| *m >= 1 && *m <= MAX_BUILT_LENGTH) {
                    let short = "a".repeat(min as usize - 1);
                    out.push(quote!(Just((#short.to_string(), Violation { member: #member, constraint: "length" })).boxed()));
                }
                if let Some(max) = max.filter(|m| *m < MAX_BUILT_LENGTH) {
                    let long = "a".repeat(max as usize + 1);
                    out.push(quote!(Just((#long.to_string(), Violation { member: #member, constraint: "length" })).boxed()));
                }
            }
            (Constraint::Length { .. }, TyKind::List(element)) => {
                let element = valid_value(element);
                if let Some(min) = min.filter(|m| *m >= 1 && *m <= 100) {
                    let n = min as usize - 1;
                    out.push(quote!(prop::collection::vec(#element, #n..=#n)
                        .prop_map(|v| (v, Violation { member: #member, constraint: "length" })).boxed()));
                }
                if let Some(max) = max.filter(|m| *m <= 100) {
                    let n = max as usize + 1;
                    out.push(quote!(prop::collection::vec(#element, #n..=#n)
                        .prop_map(|v| (v, Violation { member: #member, constraint: "length" })).boxed()));
                }
            }
            (Constraint::Range { min, max }, TyKind::I32 | TyKind::I64) => {
                let i32_type = matches!(ty.kind, TyKind::I32);
                for bound in [min.map(|m| m - 1.0), max.map(|m| m + 1.0)].into_iter().flatten() {
                    let fits = if i32_type {
                        bound >= i32::MIN as f64 && bound <= i32::MAX as f64
                    } else {
                        true
                    };
                    if fits {
                        let value = if i32_type {
                            let v = bound as i32;
                            quote!(#v)
                        } else {
                            let v = bound as i64;
                            quote!(#v)
                        };
                        out.push(quote!(Just((#value, Violation { member: #member, constraint: "range" })).boxed()));
                    }
                }
            }
            (Constraint::Pattern(p), TyKind::String) => {
                if let Some(bad) = non_matching(&p.regex, min.unwrap_or(0), max.unwrap_or(u64::MAX))
                {
                    out.push(quote!(Just((#bad.to_string(), Violation { member: #member, constraint: "pattern" })).boxed()));
                }
            }
            _ => {}
        }
    }
    match &ty.kind {
        TyKind::Struct(name) if breakable.contains(name) => {
            let f = invalid_fn(name);
            out.push(quote!(one_of(#f())));
        }
        TyKind::List(element) if min.unwrap_or(0) <= 1 && max.unwrap_or(1) >= 1 => {
            for b in breakers(member, element, breakable) {
                out.push(quote!((#b).prop_map(|(v, violation)| (vec![v], violation)).boxed()));
            }
        }
        _ => {}
    }
    out
}

fn member_breakers(m: &MemberDef, breakable: &BTreeSet<String>) -> Vec<(TokenStream, bool)> {
    let wire = &m.wire_name;
    let mut out: Vec<(TokenStream, bool)> =
        breakers(wire, &m.ty, breakable).into_iter().map(|b| (b, true)).collect();
    if m.required && !m.has_default {
        out.push((
            quote!(Just((None, Violation { member: #wire, constraint: "required" })).boxed()),
            false,
        ));
    }
    out
}

fn structure_strategies(s: &Structure, breakable: &BTreeSet<String>) -> TokenStream {
    let name = type_ident(&s.name);
    let valid = valid_fn(&s.name);
    let invalid = invalid_fn(&s.name);
    let fields: Vec<Ident> = s.members.iter().map(|m| snake_ident(&m.wire_name)).collect();
    let values: Vec<TokenStream> = s
        .members
        .iter()
        .map(|m| {
            let v = valid_value(&m.ty);
            if m.required || m.has_default {
                if m.has_default {
                    v
                } else {
                    quote!((#v).prop_map(Some).boxed())
                }
            } else {
                quote!(prop::option::of(#v).boxed())
            }
        })
        .collect();
    // Tuples of up to 8 strategies, nested, so any member count works.
    let chunks: Vec<(Vec<&Ident>, Vec<&TokenStream>)> = fields
        .chunks(8)
        .zip(values.chunks(8))
        .map(|(f, v)| (f.iter().collect(), v.iter().collect()))
        .collect();
    let strategy_tuple = chunks.iter().map(|(_, v)| quote!((#(#v,)*)));
    let pattern_tuple = chunks.iter().map(|(f, _)| quote!((#(#f,)*)));
    let valid_body = if fields.is_empty() {
        quote!(Just(#name::default()).boxed())
    } else {
        quote!((#(#strategy_tuple,)*).prop_map(|(#(#pattern_tuple,)*)| #name { #(#fields,)* }).boxed())
    };
    let breaks: Vec<TokenStream> = s
        .members
        .iter()
        .flat_map(|m| {
            let field = snake_ident(&m.wire_name);
            let valid = valid.clone();
            member_breakers(m, breakable).into_iter().map(move |(b, wrap)| {
                let assign = if wrap && !m.has_default { quote!(Some(bad)) } else { quote!(bad) };
                quote!((#valid(), #b).prop_map(|(mut value, (bad, violation))| {
                    value.#field = #assign;
                    (value, violation)
                }).boxed())
            })
        })
        .collect();
    quote! {
        /// Values that satisfy every constraint.
        pub fn #valid() -> BoxedStrategy<#name> {
            #valid_body
        }
        /// Values that break exactly one constraint, with the constraint they break.
        pub fn #invalid() -> Vec<BoxedStrategy<(#name, Violation)>> {
            vec![#(#breaks),*]
        }
    }
}

/// The whole `strategies.rs` module.
pub fn strategies(api: &Api) -> Result<TokenStream, ModelError> {
    let validated: Vec<&Structure> = api.structures.iter().filter(|s| s.validated).collect();
    check_acyclic(&validated)?;
    // Structures with at least one constraint that can be broken, to a fixpoint.
    let mut breakable = BTreeSet::new();
    loop {
        let next: BTreeSet<String> = validated
            .iter()
            .filter(|s| s.members.iter().any(|m| !member_breakers(m, &breakable).is_empty()))
            .map(|s| s.name.clone())
            .collect();
        if next == breakable {
            break;
        }
        breakable = next;
    }
    let per_structure = validated.iter().map(|s| structure_strategies(s, &breakable));
    let OperationIdents { ops, .. } = OperationIdents::of(api);
    let valid_inputs: Vec<Ident> = api.operations.iter().map(|o| valid_fn(&o.input)).collect();
    let invalid_inputs: Vec<Ident> = api.operations.iter().map(|o| invalid_fn(&o.input)).collect();
    Ok(quote! {
        use super::service::{EcrContext, Operation};
        use super::wire::*;
        use crate::runtime::NotImplemented;
        use proptest::prelude::*;

        /// The constraint an invalid value breaks: member (wire name) and kind
        /// (`required`, `length`, `range`, `pattern`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Violation {
            pub member: &'static str,
            pub constraint: &'static str,
        }

        fn matching(pattern: &str, min: usize, max: usize) -> BoxedStrategy<String> {
            proptest::string::string_regex(pattern)
                .expect("the model's patterns can be generated")
                .prop_filter("length within the model's bounds", move |s| {
                    let n = s.chars().count();
                    n >= min && n <= max
                })
                .boxed()
        }

        fn one_of<T: std::fmt::Debug + 'static>(options: Vec<BoxedStrategy<T>>) -> BoxedStrategy<T> {
            proptest::strategy::Union::new(options).boxed()
        }

        #(#per_structure)*

        /// For every operation: its valid inputs, as JSON bodies.
        pub fn valid_inputs() -> Vec<(Operation, BoxedStrategy<serde_json::Value>)> {
            vec![#(
                (Operation::#ops, #valid_inputs().prop_map(|v| serde_json::to_value(v).unwrap_or_default()).boxed()),
            )*]
        }

        /// Inputs as JSON that break one constraint, with the constraint they break.
        pub type Breaking = BoxedStrategy<(serde_json::Value, Violation)>;

        /// For every operation: inputs that break one constraint. Operations whose input has
        /// no constraint have an empty list.
        pub fn invalid_inputs() -> Vec<(Operation, Vec<Breaking>)> {
            vec![#(
                (
                    Operation::#ops,
                    #invalid_inputs()
                        .into_iter()
                        .map(|s| s.prop_map(|(v, violation)| (serde_json::to_value(v).unwrap_or_default(), violation)).boxed())
                        .collect(),
                ),
            )*]
        }

        /// Implements no operation: whatever reaches it passed parsing and validation.
        pub struct UnimplementedService;

        impl EcrContext for UnimplementedService {
            type Context = ();
            type Error = NotImplemented;
            fn not_implemented(_operation: Operation) -> NotImplemented {
                NotImplemented
            }
        }

        crate::ecr_not_implemented!(UnimplementedService => #(#ops),*);
    })
}

fn check_acyclic(structures: &[&Structure]) -> Result<(), ModelError> {
    fn refs(ty: &Ty, out: &mut Vec<String>) {
        match &ty.kind {
            TyKind::Struct(n) => out.push(n.clone()),
            TyKind::List(e) => refs(e, out),
            TyKind::Map(k, v) => {
                refs(k, out);
                refs(v, out);
            }
            _ => {}
        }
    }
    let graph: BTreeMap<&str, Vec<String>> = structures
        .iter()
        .map(|s| {
            let mut out = Vec::new();
            for m in &s.members {
                refs(&m.ty, &mut out);
            }
            (s.name.as_str(), out)
        })
        .collect();
    fn visit<'a>(
        n: &'a str, graph: &'a BTreeMap<&str, Vec<String>>, path: &mut Vec<&'a str>,
    ) -> Result<(), ModelError> {
        if path.contains(&n) {
            return Err(ModelError(format!(
                "recursive input structures are not supported: {path:?} -> {n}"
            )));
        }
        path.push(n);
        for child in graph.get(n).into_iter().flatten() {
            visit(child, graph, path)?;
        }
        path.pop();
        Ok(())
    }
    for n in graph.keys() {
        visit(n, &graph, &mut Vec::new())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_dropped_per_alternative() {
        assert_eq!(anchorless("^[0-9]{12}$"), "[0-9]{12}");
        assert_eq!(anchorless("^$|arn:aws:x$"), "|arn:aws:x");
        assert_eq!(anchorless("^a(b|^c)\\$$"), "a(b|^c)\\$");
    }

    #[test]
    fn repetitions_are_bounded_outside_classes() {
        assert_eq!(bounded("[a-z0-9]+(/[a-z+*]+)*"), "[a-z0-9]{1,3}(/[a-z+*]{1,3}){0,3}");
        assert_eq!(bounded("a\\+b"), "a\\+b");
    }

    #[test]
    fn non_matching_strings_respect_length() {
        assert_eq!(non_matching("^[0-9]{12}$", 0, 20).as_deref(), Some("!"));
        assert_eq!(non_matching("^\\S+$", 0, 10).as_deref(), Some(" "));
        assert_eq!(non_matching("^[a-z]+$", 3, 3).as_deref(), Some("!!!"));
    }
}
