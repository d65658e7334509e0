//! Emits `ecr/wire.rs`: the input structures as they arrive, before validation.
//!
//! A structure that an input reaches and that has a @required member (or holds one that
//! has) exists twice: in `wire` with every member optional, as JSON may leave it out, and
//! in `types` with its required members as plain fields. The dispatcher parses the wire
//! form, validates it, and hands the handler the plain form, so no handler re-checks a
//! required member. Every other structure and enum is the same in both, and `wire`
//! re-exports it, so `wire` is the whole namespace of an input on the wire.

use crate::emit_ecr::structure;
use crate::ir::{Api, Structure, Ty, TyKind};
use crate::names::{snake_ident, type_ident};
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::BTreeSet;

/// The structures that have a wire twin: validated ones with a required member, or with a
/// member whose type holds a twinned structure, to a fixpoint.
pub fn twinned(api: &Api) -> BTreeSet<String> {
    let validated: Vec<&Structure> = api.structures.iter().filter(|s| s.validated).collect();
    let mut out: BTreeSet<String> = validated
        .iter()
        .filter(|s| s.members.iter().any(is_required))
        .map(|s| s.name.clone())
        .collect();
    loop {
        let before = out.len();
        for s in &validated {
            if s.members.iter().any(|m| holds_twin(&m.ty, &out)) {
                out.insert(s.name.clone());
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// A member that must be present and has no model default: a plain field once validated.
pub fn is_required(m: &crate::ir::MemberDef) -> bool {
    m.required && !m.has_default
}

fn holds_twin(ty: &Ty, twins: &BTreeSet<String>) -> bool {
    match &ty.kind {
        TyKind::Struct(n) => twins.contains(n),
        TyKind::List(e) => holds_twin(e, twins),
        TyKind::Map(k, v) => holds_twin(k, twins) || holds_twin(v, twins),
        _ => false,
    }
}

/// `ecr/wire.rs`.
pub fn wire(api: &Api) -> TokenStream {
    let twins = twinned(api);
    let shared = api
        .structures
        .iter()
        .filter(|s| !twins.contains(&s.name))
        .map(|s| type_ident(&s.name))
        .chain(api.enums.iter().map(|e| type_ident(&e.name)));
    let structs = api.structures.iter().filter(|s| twins.contains(&s.name)).map(|s| {
        let wire_struct = structure(s, false, &twins);
        let conversion = into_valid(s, &twins);
        quote! { #wire_struct #conversion }
    });
    quote! {
        use super::types;
        #[allow(unused_imports)]
        use crate::runtime::{Blob, Timestamp};
        use crate::runtime::ValidationError;
        use serde::{Deserialize, Serialize};
        #[allow(unused_imports)]
        use std::collections::BTreeMap;
        pub use super::types::{ #(#shared),* };
        #(#structs)*
    }
}

/// `into_valid`: the plain form, once `validate` has passed (a missing required member is
/// still refused with ECR's words rather than trusted).
fn into_valid(s: &Structure, twins: &BTreeSet<String>) -> TokenStream {
    let name = type_ident(&s.name);
    let fields = s.members.iter().map(|m| {
        let field = snake_ident(&m.wire_name);
        let wire = &m.wire_name;
        let value = quote!(self.#field);
        if m.has_default {
            let converted = convert(&value, &m.ty, twins);
            quote!(#field: #converted,)
        } else if is_required(m) && !holds_twin(&m.ty, twins) {
            quote!(#field: #value.ok_or_else(|| ValidationError::required(#wire))?,)
        } else if is_required(m) {
            let taken = quote!(value);
            let converted = convert(&taken, &m.ty, twins);
            quote! {
                #field: {
                    let value = #value.ok_or_else(|| ValidationError::required(#wire))?;
                    #converted
                },
            }
        } else if holds_twin(&m.ty, twins) {
            let taken = quote!(value);
            let converted = convert(&taken, &m.ty, twins);
            quote!(#field: match #value { Some(value) => Some(#converted), None => None },)
        } else {
            quote!(#field: #value,)
        }
    });
    quote! {
        impl #name {
            /// The validated form, with required members as plain fields.
            pub fn into_valid(self) -> Result<types::#name, ValidationError> {
                Ok(types::#name { #(#fields)* })
            }
        }
    }
}

/// `expr` (of wire type `ty`) as its plain type.
fn convert(expr: &TokenStream, ty: &Ty, twins: &BTreeSet<String>) -> TokenStream {
    if !holds_twin(ty, twins) {
        return expr.clone();
    }
    let result = converted(expr, ty, twins);
    quote!(#result?)
}

/// `expr` (of wire type `ty`, holding a twin) as a `Result` of its plain type.
fn converted(expr: &TokenStream, ty: &Ty, twins: &BTreeSet<String>) -> TokenStream {
    match &ty.kind {
        TyKind::List(e) if holds_twin(e, twins) => {
            let item = converted(&quote!(item), e, twins);
            quote!(#expr.into_iter().map(|item| #item).collect::<Result<Vec<_>, ValidationError>>())
        }
        TyKind::Map(_, v) if holds_twin(v, twins) => {
            let item = converted(&quote!(item), v, twins);
            quote!(#expr.into_iter().map(|(key, item)| #item.map(|item| (key, item))).collect::<Result<BTreeMap<_, _>, ValidationError>>())
        }
        _ => quote!(#expr.into_valid()),
    }
}
