//! Emits the ECR part of generated/: types, errors, validation, the service trait and dispatcher.

use crate::emit_wire::{is_required, twinned};
use crate::ir::{Api, Constraint, EnumDef, MemberDef, Structure, Ty, TyKind};
use crate::names::{const_ident, snake_ident, type_ident, variant_name};
use proc_macro2::{Literal, TokenStream};
use quote::quote;
use std::collections::{BTreeMap, BTreeSet};

/// `ecr/types.rs`: every non-error structure and every enum.
pub fn types(api: &Api) -> TokenStream {
    let twins = twinned(api);
    let structs = api.structures.iter().map(|s| structure(s, twins.contains(&s.name), &twins));
    let enums = api.enums.iter().map(enumeration);
    let names: Vec<_> = api.structures.iter().map(|s| type_ident(&s.name)).collect();
    let labels: Vec<&str> = api.structures.iter().map(|s| s.name.as_str()).collect();
    quote! {
        use crate::runtime::{Blob, Timestamp};
        use serde::{Deserialize, Serialize};
        use std::collections::BTreeMap;
        #(#structs)*
        #(#enums)*

        #[cfg(test)]
        mod positional_tests {
            use super::*;

            /// Every structure refuses serde's positional form (`[...]` for an object),
            /// as AWS answers SerializationException for it; non-objects too.
            #[test]
            fn structures_are_read_from_objects_only() {
                #(
                    for body in ["[]", "[true]", "1", "\"x\""] {
                        assert!(serde_json::from_str::<#names>(body).is_err(), "{} from {}", #labels, body);
                    }
                )*
            }
        }
    }
}

/// `ecr/errors.rs`: the error structures and one error enum per operation.
pub fn errors(api: &Api) -> TokenStream {
    let structs = api.errors.iter().map(|s| structure(s, false, &BTreeSet::new()));
    let faults: BTreeMap<&str, bool> = api
        .errors
        .iter()
        .map(|e| (e.name.as_str(), e.fault.as_deref() == Some("server")))
        .collect();
    let only_message: BTreeMap<&str, bool> = api
        .errors
        .iter()
        .map(|e| (e.name.as_str(), e.members.iter().all(|m| m.wire_name == "message")))
        .collect();
    let enums = api.operations.iter().map(|op| {
        let name = type_ident(&format!("{}Error", op.name));
        let doc = format!("Every error that {} declares in the model.", op.name);
        let variants: Vec<_> = op.errors.iter().map(|e| type_ident(e)).collect();
        let type_names: Vec<_> = op.errors.iter().map(String::as_str).collect();
        let server_faults: Vec<bool> = op.errors.iter().map(|e| faults[e.as_str()]).collect();
        let rest: Vec<_> = op
            .errors
            .iter()
            .map(|e| if only_message[e.as_str()] { quote!() } else { quote!(..Default::default()) })
            .collect();
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq)]
            pub enum #name {
                #( #variants(#variants), )*
            }
            impl ModeledError for #name {
                fn type_name(&self) -> &'static str {
                    match self { #( Self::#variants(_) => #type_names, )* }
                }
                fn is_server_fault(&self) -> bool {
                    match self { #( Self::#variants(_) => #server_faults, )* }
                }
                fn to_json(&self) -> serde_json::Value {
                    match self { #( Self::#variants(e) => serde_json::to_value(e).unwrap_or_default(), )* }
                }
                fn from_message(type_name: &str, message: String) -> Option<Self> {
                    match type_name {
                        #( #type_names => Some(Self::#variants(#variants { message: Some(message), #rest })), )*
                        _ => None,
                    }
                }
            }
            #(
                impl From<#variants> for #name {
                    fn from(e: #variants) -> Self { Self::#variants(e) }
                }
            )*
        }
    });
    quote! {
        use crate::runtime::ModeledError;
        use serde::{Deserialize, Serialize};
        #(#structs)*
        #(#enums)*
    }
}

/// A structure. `plain` (the `types` form of a structure with a wire twin) makes its
/// required members plain fields; otherwise every member without a default is optional.
pub(crate) fn structure(s: &Structure, plain: bool, twins: &BTreeSet<String>) -> TokenStream {
    let name = type_ident(&s.name);
    let doc = doc_attr(s.doc.as_deref());
    let fields = s.members.iter().map(|m| {
        let field = snake_ident(&m.wire_name);
        let wire = &m.wire_name;
        let ty = rust_type(&m.ty);
        let doc = doc_attr(m.doc.as_deref());
        if m.has_default {
            quote! { #doc #[serde(rename = #wire, default)] pub #field: #ty, }
        } else if plain && is_required(m) {
            quote! { #doc #[serde(rename = #wire)] pub #field: #ty, }
        } else {
            quote! {
                #doc
                #[serde(rename = #wire, default, skip_serializing_if = "Option::is_none")]
                pub #field: Option<#ty>,
            }
        }
    });
    let default = if plain
        && !s.members.iter().filter(|m| is_required(m)).all(|m| has_default_value(&m.ty, twins))
    {
        quote!()
    } else {
        quote!(Default,)
    };
    // `remote = "Self"` turns the derives into inherent functions, which the trait impls
    // call: deserialization goes through `StructAsMap`, so a positional array is refused.
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq, #default Serialize, Deserialize)]
        #[serde(remote = "Self")]
        pub struct #name { #(#fields)* }
        impl Serialize for #name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                #name::serialize(self, serializer)
            }
        }
        impl<'de> Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #name::deserialize(crate::runtime::StructAsMap(deserializer))
            }
        }
    }
}

/// True when the plain form of `ty` has a `Default` (enums have none; nor has a twinned
/// structure with a required enum).
fn has_default_value(ty: &Ty, twins: &BTreeSet<String>) -> bool {
    match &ty.kind {
        TyKind::Enum(_) => false,
        TyKind::Struct(n) => !twins.contains(n),
        _ => true,
    }
}

fn enumeration(e: &EnumDef) -> TokenStream {
    let name = type_ident(&e.name);
    let doc = doc_attr(e.doc.as_deref());
    let variants: Vec<_> = e.values.iter().map(|v| type_ident(&variant_name(v))).collect();
    let values = &e.values;
    quote! {
        #doc
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum #name {
            #( #[serde(rename = #values)] #variants, )*
        }
        impl #name {
            /// Every value the model allows, in model order.
            pub const ALL: &'static [Self] = &[ #( Self::#variants, )* ];
            /// The value as it is written on the wire.
            pub fn as_str(&self) -> &'static str {
                match self { #( Self::#variants => #values, )* }
            }
            /// Parses a wire value; unknown values are refused.
            pub fn from_wire(value: &str) -> Option<Self> {
                match value { #( #values => Some(Self::#variants), )* _ => None }
            }
        }
    }
}

fn rust_type(ty: &Ty) -> TokenStream {
    match &ty.kind {
        TyKind::String => quote!(String),
        TyKind::Bool => quote!(bool),
        TyKind::I32 => quote!(i32),
        TyKind::I64 => quote!(i64),
        TyKind::F64 => quote!(f64),
        TyKind::Timestamp => quote!(Timestamp),
        TyKind::Blob => quote!(Blob),
        TyKind::Enum(n) | TyKind::Struct(n) => {
            let n = type_ident(n);
            quote!(#n)
        }
        TyKind::List(e) => {
            let e = rust_type(e);
            quote!(Vec<#e>)
        }
        TyKind::Map(k, v) => {
            let (k, v) = (rust_type(k), rust_type(v));
            quote!(BTreeMap<#k, #v>)
        }
    }
}

fn doc_attr(doc: Option<&str>) -> TokenStream {
    match doc {
        Some(d) => {
            let d = format!(" {d}");
            quote!(#[doc = #d])
        }
        None => quote!(),
    }
}

/// `ecr/validate.rs`: `Validate` for every structure an input reaches, and the pattern statics.
pub fn validation(api: &Api) -> TokenStream {
    let mut patterns = BTreeMap::new();
    let impls: Vec<_> = api
        .structures
        .iter()
        .chain(&api.errors)
        .filter(|s| s.validated)
        .map(|s| validate_impl(s, &mut patterns))
        .collect();
    let statics = patterns.iter().map(|(shape, regex)| {
        let id = pattern_static(shape);
        quote! {
            static #id: LazyLock<Regex> =
                LazyLock::new(|| Regex::new(#regex).expect("every @pattern of the model compiles"));
        }
    });
    let forced = patterns.keys().map(|shape| pattern_static(shape));
    quote! {
        use super::wire::*;
        use crate::runtime::{check, Validate, ValidationError};
        use regex::Regex;
        use std::sync::LazyLock;
        #(#statics)*
        #(#impls)*
        #[cfg(test)]
        mod tests {
            use super::*;
            #[test]
            fn every_pattern_compiles() {
                #( LazyLock::force(&#forced); )*
            }
        }
    }
}

fn pattern_static(shape: &str) -> proc_macro2::Ident {
    let c = const_ident(shape);
    type_ident(&format!("RE_{c}"))
}

fn validate_impl(s: &Structure, patterns: &mut BTreeMap<String, String>) -> TokenStream {
    let name = type_ident(&s.name);
    let checks = s.members.iter().map(|m| member_checks(m, patterns));
    quote! {
        impl Validate for #name {
            fn validate(&self) -> Result<(), ValidationError> {
                #(#checks)*
                Ok(())
            }
        }
    }
}

fn member_checks(m: &MemberDef, patterns: &mut BTreeMap<String, String>) -> TokenStream {
    let field = snake_ident(&m.wire_name);
    let wire = &m.wire_name;
    let value_checks = value_checks(wire, &quote!(value), &m.ty, patterns);
    let required = if m.required && !m.has_default {
        quote!(check::required(#wire, &self.#field)?;)
    } else {
        quote!()
    };
    if value_checks.is_empty() {
        return required;
    }
    if m.has_default {
        quote! { #required { let value = &self.#field; #value_checks } }
    } else {
        quote! { #required if let Some(value) = &self.#field { #value_checks } }
    }
}

/// Checks for one value; `expr` is a reference to it. Empty when nothing needs checking.
fn value_checks(
    member: &str, expr: &TokenStream, ty: &Ty, patterns: &mut BTreeMap<String, String>,
) -> TokenStream {
    let mut out = TokenStream::new();
    for c in &ty.constraints {
        out.extend(match c {
            Constraint::Length { min, max } => {
                let (min, max) = (opt_u64(*min), opt_u64(*max));
                quote!(check::length(#member, check::Len::len(#expr), #min, #max)?;)
            }
            Constraint::Range { min, max } => {
                let (min, max) = (opt_f64(*min), opt_f64(*max));
                quote!(check::range(#member, check::AsF64::as_f64(#expr), #min, #max)?;)
            }
            Constraint::Pattern(p) => {
                patterns.insert(p.shape.clone(), p.regex.clone());
                let id = pattern_static(&p.shape);
                let display = &p.display;
                quote!(check::pattern(#member, #expr, &#id, #display)?;)
            }
        });
    }
    match &ty.kind {
        TyKind::Struct(_) => out.extend(quote!(#expr.validate()?;)),
        TyKind::List(element) => {
            let inner = value_checks(member, &quote!(item), element, patterns);
            if !inner.is_empty() {
                out.extend(quote!(for item in #expr.iter() { #inner }));
            }
        }
        TyKind::Map(k, v) => {
            let key = value_checks(member, &quote!(key), k, patterns);
            let val = value_checks(member, &quote!(item), v, patterns);
            out.extend(match (key.is_empty(), val.is_empty()) {
                (true, true) => quote!(),
                (false, true) => quote!(for key in #expr.keys() { #key }),
                (true, false) => quote!(for item in #expr.values() { #val }),
                (false, false) => quote!(for (key, item) in #expr.iter() { #key #val }),
            });
        }
        _ => {}
    }
    out
}

/// `Some(100)`: unsuffixed, the parameter's type says what it is.
fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(v) => {
            let v = Literal::u64_unsuffixed(v);
            quote!(Some(#v))
        }
        None => quote!(None),
    }
}

fn opt_f64(v: Option<f64>) -> TokenStream {
    match v {
        Some(v) => {
            let v = Literal::f64_unsuffixed(v);
            quote!(Some(#v))
        }
        None => quote!(None),
    }
}
