//! Emits `oci.rs` from model/oci-distribution.json: the route enum and its path parser,
//! the error-code enum with HTTP statuses, and the media-type constants.

use crate::names::{const_ident, type_ident, variant_name};
use crate::smithy::ModelError;
use proc_macro2::TokenStream;
use quote::quote;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The parts of oci-distribution.json codegen reads.
#[derive(Debug, Deserialize)]
pub struct OciTables {
    endpoints: Vec<Endpoint>,
    errors: Vec<ErrorCode>,
    media_types: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    id: String,
    methods: Vec<String>,
    path: String,
}

#[derive(Debug, Deserialize)]
struct ErrorCode {
    code: String,
    meaning: String,
    http_status_in_distribution_reference_impl: u16,
    oci: bool,
}

impl OciTables {
    /// Parses oci-distribution.json.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        serde_json::from_str(text)
            .map_err(|e| ModelError(format!("invalid oci-distribution.json: {e}")))
    }
}

/// One route: the segments after `/v2/<name>/`, `None` for a variable.
struct Route {
    variant: String,
    /// False for paths without a repository name (`/v2/`, `/v2/_catalog`).
    has_name: bool,
    tail: Vec<Option<String>>,
    vars: Vec<String>,
    methods: Vec<String>,
    endpoint_ids: Vec<String>,
}

/// Route names by the literal shape of the path after the repository name.
fn route_variant(literals: &str) -> Result<&'static str, ModelError> {
    Ok(match literals {
        "" => "Base",
        "_catalog" => "Catalog",
        "blobs/*" => "Blob",
        "manifests/*" => "Manifest",
        "blobs/uploads" => "Uploads",
        "blobs/uploads/*" => "Upload",
        "tags/list" => "TagsList",
        "referrers/*" => "Referrers",
        other => return Err(ModelError(format!("no route name for path shape {other:?}"))),
    })
}

fn routes(tables: &OciTables) -> Result<Vec<Route>, ModelError> {
    let mut by_variant: BTreeMap<&'static str, Route> = BTreeMap::new();
    for e in &tables.endpoints {
        let rest = e
            .path
            .strip_prefix("/v2/")
            .ok_or_else(|| ModelError(format!("{}: path {} is not under /v2/", e.id, e.path)))?;
        let has_name = rest.starts_with("<name>");
        let rest = rest.strip_prefix("<name>").unwrap_or(rest);
        let rest = rest.trim_matches('/');
        let segments: Vec<&str> =
            if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
        let shape: Vec<&str> =
            segments.iter().map(|s| if s.starts_with('<') { "*" } else { s }).collect();
        let variant = route_variant(&shape.join("/"))?;
        let route = by_variant.entry(variant).or_insert_with(|| Route {
            variant: variant.to_string(),
            has_name,
            tail: segments.iter().map(|s| (!s.starts_with('<')).then(|| s.to_string())).collect(),
            vars: segments
                .iter()
                .filter(|s| s.starts_with('<'))
                .map(|s| s.trim_matches(|c| c == '<' || c == '>').to_string())
                .collect(),
            methods: Vec::new(),
            endpoint_ids: Vec::new(),
        });
        route.methods.extend(e.methods.iter().cloned());
        route.endpoint_ids.push(e.id.clone());
    }
    let mut routes: Vec<Route> = by_variant.into_values().collect();
    for r in &mut routes {
        r.methods.sort();
        r.methods.dedup();
        r.endpoint_ids.sort();
    }
    // Longest tails first, then the most literal segments, so `blobs/uploads/<id>` and
    // `blobs/uploads` win over `blobs/<digest>`.
    let literals = |r: &Route| r.tail.iter().filter(|s| s.is_some()).count();
    routes.sort_by(|a, b| {
        b.tail
            .len()
            .cmp(&a.tail.len())
            .then(literals(b).cmp(&literals(a)))
            .then(a.variant.cmp(&b.variant))
    });
    Ok(routes)
}

/// The whole `oci.rs` module.
pub fn oci(tables: &OciTables) -> Result<TokenStream, ModelError> {
    let routes = routes(tables)?;
    let variants = routes.iter().map(|r| {
        let v = type_ident(&r.variant);
        let doc = format!(" Endpoints {} ({}).", r.endpoint_ids.join(", "), r.methods.join(", "));
        let fields: Vec<_> = r.vars.iter().map(|f| type_ident(f)).collect();
        if !r.has_name {
            quote!(#[doc = #doc] #v,)
        } else {
            quote!(#[doc = #doc] #v { name: String, #( #fields: String, )* },)
        }
    });
    let exact = routes.iter().filter(|r| !r.has_name && !r.tail.is_empty()).map(|r| {
        let v = type_ident(&r.variant);
        let literals = r.tail.iter().flatten();
        quote! {
            if segments == [#(#literals),*] {
                return Some(OciRoute::#v);
            }
        }
    });
    let parsers = routes.iter().filter(|r| r.has_name).map(|r| {
        let v = type_ident(&r.variant);
        let pattern = r.tail.iter().map(|s| match s {
            Some(lit) => quote!(Some(#lit)),
            None => quote!(None),
        });
        let fields: Vec<_> = r.vars.iter().map(|f| type_ident(f)).collect();
        let indices = 0..fields.len();
        let vars = if fields.is_empty() { quote!(_) } else { quote!(vars) };
        quote! {
            if let Some((name, #vars)) = match_tail(&segments, &[#(#pattern),*]) {
                return Some(OciRoute::#v { name, #( #fields: vars[#indices].to_string(), )* });
            }
        }
    });
    let method_arms = routes.iter().map(|r| {
        let v = type_ident(&r.variant);
        let methods = &r.methods;
        let pat = if !r.has_name { quote!(OciRoute::#v) } else { quote!(OciRoute::#v { .. }) };
        quote!(#pat => &[#(#methods),*],)
    });

    let codes: Vec<_> = tables.errors.iter().map(|e| type_ident(&variant_name(&e.code))).collect();
    let code_strs: Vec<_> = tables.errors.iter().map(|e| e.code.as_str()).collect();
    let statuses: Vec<_> =
        tables.errors.iter().map(|e| e.http_status_in_distribution_reference_impl).collect();
    let meanings: Vec<_> = tables.errors.iter().map(|e| e.meaning.as_str()).collect();
    let code_docs: Vec<_> = tables
        .errors
        .iter()
        .map(|e| format!(" {}{}", e.meaning, if e.oci { "" } else { " (Docker legacy code)" }))
        .collect();

    let mut media = Vec::new();
    for (group, entries) in &tables.media_types {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        for (key, value) in entries {
            let Some(value) = value.as_str() else {
                continue;
            };
            if key.ends_with("_note") || key.contains('/') || !value.contains('/') {
                continue;
            }
            let id = const_ident(&format!("{group}_{key}"));
            media.push(quote!(#[doc = #value] pub const #id: &str = #value;));
        }
    }

    Ok(quote! {
        /// A request path under `/v2/`, as the OCI distribution endpoint table names it.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum OciRoute { #(#variants)* }

        impl OciRoute {
            /// Parses a path such as `/v2/team/app/manifests/latest`. Repository names contain
            /// `/`, so the path is matched from the right.
            pub fn parse(path: &str) -> Option<OciRoute> {
                let rest = path.strip_prefix("/v2")?;
                if rest.is_empty() || rest == "/" {
                    return Some(OciRoute::Base);
                }
                let rest = rest.strip_prefix('/')?;
                let rest = rest.strip_suffix('/').unwrap_or(rest);
                let segments: Vec<&str> = rest.split('/').collect();
                if segments.iter().any(|s| s.is_empty()) {
                    return None;
                }
                #(#exact)*
                #(#parsers)*
                None
            }

            /// The HTTP methods the endpoint table allows on this route.
            pub fn methods(&self) -> &'static [&'static str] {
                match self { #(#method_arms)* }
            }
        }

        /// Splits `segments` into a repository name and the variables of `tail`.
        fn match_tail<'a>(segments: &[&'a str], tail: &[Option<&str>]) -> Option<(String, Vec<&'a str>)> {
            if segments.len() <= tail.len() {
                return None;
            }
            let (name, rest) = segments.split_at(segments.len() - tail.len());
            let mut vars = Vec::new();
            for (segment, expected) in rest.iter().zip(tail) {
                match expected {
                    Some(literal) if segment != literal => return None,
                    Some(_) => {}
                    None => vars.push(*segment),
                }
            }
            Some((name.join("/"), vars))
        }

        /// The registry error codes, with the HTTP status the reference registry uses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum OciErrorCode { #( #[doc = #code_docs] #codes, )* }

        impl OciErrorCode {
            /// The code as written in `{"errors":[{"code": ...}]}`.
            pub fn as_str(&self) -> &'static str {
                match self { #( Self::#codes => #code_strs, )* }
            }
            /// The HTTP status to answer with.
            pub fn status(&self) -> u16 {
                match self { #( Self::#codes => #statuses, )* }
            }
            /// The table's one-line meaning, a default `message`.
            pub fn meaning(&self) -> &'static str {
                match self { #( Self::#codes => #meanings, )* }
            }
        }

        /// Media types of OCI and Docker manifests, configs and layers.
        pub mod media_types { #(#media)* }
    })
}
