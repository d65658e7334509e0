//! Emits `ecr/service.rs`: the operation list, one trait per operation, the dispatcher, and
//! the `ecr_not_implemented!` macro for operations whose behaviour is not built yet.
//!
//! One trait per operation (not one trait with 62 methods) lets each operation be
//! implemented in the file of its area; `EcrService` is every one of them, so a service
//! that lacks an operation fails to build with an error naming that operation's trait.

use crate::emit_wire::twinned;
use crate::ir::Api;
use crate::names::{snake_ident, type_ident};
use crate::smithy::ModelError;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;
use std::collections::BTreeSet;

/// `ecr/service.rs`.
pub fn service(api: &Api) -> Result<TokenStream, ModelError> {
    check_names(api)?;
    let twins = twinned(api);
    let service_name = &api.service_name;
    let count = Literal::usize_unsuffixed(api.operations.len());
    let OperationIdents { ops, methods, inputs, outputs, errors } = OperationIdents::of(api);
    let names: Vec<_> = api.operations.iter().map(|o| o.name.as_str()).collect();
    let docs: Vec<_> = api
        .operations
        .iter()
        .map(|o| {
            let d = format!(" {}", o.doc.as_deref().unwrap_or(&o.name));
            quote!(#[doc = #d])
        })
        .collect();
    let declared = api.operations.iter().map(|o| {
        let e = &o.errors;
        quote!(&[ #(#e),* ])
    });
    let into_valid = api.operations.iter().map(|o| {
        if twins.contains(&o.input) {
            quote!(let input = input.into_valid()?;)
        } else {
            quote!()
        }
    });
    let not_implemented = not_implemented_macro(&ops, &methods, &inputs, &outputs);
    let every_doc = every_operation_doc(&names);
    Ok(quote! {
        use super::errors::*;
        use super::types::*;
        use super::wire;
        use crate::runtime::{self, ErrorShape, OperationError, Validate, WireError};
        use std::future::Future;

        /// The service name: `X-Amz-Target` is `<SERVICE_NAME>.<Operation>`.
        pub const SERVICE_NAME: &str = #service_name;

        /// Every operation of the model.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation { #( #docs #ops, )* }

        impl Operation {
            /// All operations, sorted by name.
            pub const ALL: [Operation; #count] = [ #( Operation::#ops, )* ];
            /// The operation's name as in the model.
            pub fn name(self) -> &'static str {
                match self { #( Operation::#ops => #names, )* }
            }
            /// Reads an `X-Amz-Target` header value.
            pub fn from_target(target: &str) -> Option<Self> {
                let name = target.strip_prefix(SERVICE_NAME)?.strip_prefix('.')?;
                match name { #( #names => Some(Operation::#ops), )* _ => None }
            }
            /// The error shapes the model declares for the operation: the only ones it may answer.
            pub fn declared_errors(self) -> &'static [&'static str] {
                match self { #( Operation::#ops => #declared, )* }
            }
        }

        /// What every operation trait shares: who is calling, and the service's own error type,
        /// which the dispatcher turns into the operation's declared errors.
        pub trait EcrContext: Send + Sync {
            /// Who is calling: account, region, whatever the server resolved from the request.
            type Context: Send + Sync;
            /// The service's domain error; the server says how it looks on the wire.
            type Error: Send;
            /// The error for an operation whose behaviour is not built yet.
            fn not_implemented(operation: Operation) -> Self::Error;
        }

        #(
            #docs
            pub trait #ops: EcrContext {
                #[doc = " Handles one validated request."]
                fn #methods(
                    &self,
                    cx: &Self::Context,
                    input: #inputs,
                ) -> impl Future<Output = Result<#outputs, Self::Error>> + Send;
            }
        )*

        #every_doc
        pub trait EcrService: EcrContext #( + #ops )* {}

        impl<S: EcrContext #( + #ops )*> EcrService for S {}

        /// Parses and validates the JSON body for `operation`, calls the service, and
        /// returns the JSON response body or the error to put on the wire; `shape` renders
        /// the service's own errors, which then must be ones the operation declares.
        pub async fn dispatch<S: EcrService>(
            service: &S,
            cx: &S::Context,
            operation: Operation,
            body: &[u8],
            shape: fn(S::Error) -> ErrorShape,
        ) -> Result<Vec<u8>, WireError> {
            match operation {
                #(
                    Operation::#ops => {
                        let input: wire::#inputs = runtime::parse_input(body)?;
                        input.validate()?;
                        #into_valid
                        let output = service
                            .#methods(cx, input)
                            .await
                            .map_err(|e| OperationError::<#errors>::from_shape(shape(e)).into_wire(#names))?;
                        runtime::write_output(&output)
                    }
                )*
            }
        }

        #not_implemented
    })
}

/// `ecr_not_implemented!(Service => OperationA, OperationB)`: implements each named
/// operation's trait by answering `EcrContext::not_implemented`.
fn not_implemented_macro(
    ops: &[Ident], methods: &[Ident], inputs: &[Ident], outputs: &[Ident],
) -> TokenStream {
    quote! {
        /// Implements the named operations' traits for a service by answering its
        /// `not_implemented` error: for operations whose behaviour a later change builds.
        #[macro_export]
        macro_rules! ecr_not_implemented {
            ($service:ty => $($operation:ident),* $(,)?) => {
                $( $crate::ecr_not_implemented!(@one $service, $operation); )*
            };
            #(
                (@one $service:ty, #ops) => {
                    impl $crate::ecr::#ops for $service {
                        async fn #methods(
                            &self,
                            _cx: &<Self as $crate::ecr::EcrContext>::Context,
                            _input: $crate::ecr::#inputs,
                        ) -> Result<$crate::ecr::#outputs, <Self as $crate::ecr::EcrContext>::Error> {
                            Err(<Self as $crate::ecr::EcrContext>::not_implemented(
                                $crate::ecr::Operation::#ops,
                            ))
                        }
                    }
                };
            )*
        }
    }
}

/// The doc of `EcrService`, with two doc tests: a service with every operation builds,
/// and one without the first operation does not, failing on that operation's trait bound.
fn every_operation_doc(names: &[&str]) -> TokenStream {
    let service = |names: &[&str]| {
        format!(
            "struct Partial;\n\
             impl berth_generated::ecr::EcrContext for Partial {{\n\
             \x20   type Context = ();\n\
             \x20   type Error = berth_generated::runtime::NotImplemented;\n\
             \x20   fn not_implemented(_: berth_generated::ecr::Operation) -> Self::Error {{\n\
             \x20       berth_generated::runtime::NotImplemented\n\
             \x20   }}\n\
             }}\n\
             berth_generated::ecr_not_implemented!(Partial => {});\n\
             fn serve<S: berth_generated::ecr::EcrService>() {{}}\n\
             serve::<Partial>();",
            names.join(", ")
        )
    };
    let text = format!(
        "Every operation: what the dispatcher needs. A service that lacks one does not \
         build, and the error names the missing operation's trait (here {}):\n\n\
         ```compile_fail,E0277\n{}\n```\n\n\
         With all of them it does:\n\n```\n{}\n```",
        names[0],
        service(&names[1..]),
        service(names)
    );
    let lines = text.lines().map(|l| format!(" {l}"));
    quote!( #( #[doc = #lines] )* )
}

/// Operation traits and error enums share the type namespace with the shapes: refuse a
/// model where they would clash.
fn check_names(api: &Api) -> Result<(), ModelError> {
    let mut seen: BTreeSet<String> = api
        .structures
        .iter()
        .chain(&api.errors)
        .map(|s| s.name.clone())
        .chain(api.enums.iter().map(|e| e.name.clone()))
        .collect();
    for op in &api.operations {
        for name in [op.name.clone(), format!("{}Error", op.name)] {
            if !seen.insert(name.clone()) {
                return Err(ModelError(format!(
                    "operation trait or error enum {name} clashes with another name"
                )));
            }
        }
    }
    Ok(())
}

/// The identifiers each operation needs, in operation order: variant (and trait), method,
/// input, output and error types.
pub(crate) struct OperationIdents {
    pub ops: Vec<Ident>,
    pub methods: Vec<Ident>,
    pub inputs: Vec<Ident>,
    pub outputs: Vec<Ident>,
    pub errors: Vec<Ident>,
}

impl OperationIdents {
    pub(crate) fn of(api: &Api) -> Self {
        let each =
            |f: &dyn Fn(&crate::ir::Operation) -> Ident| api.operations.iter().map(f).collect();
        OperationIdents {
            ops: each(&|o| type_ident(&o.name)),
            methods: each(&|o| snake_ident(&o.name)),
            inputs: each(&|o| type_ident(&o.input)),
            outputs: each(&|o| type_ident(&o.output)),
            errors: each(&|o| type_ident(&format!("{}Error", o.name))),
        }
    }
}
