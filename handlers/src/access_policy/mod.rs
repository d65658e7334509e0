//! Resource policies (repository and registry permissions policies) as IAM reads them:
//! parsed into a `PolicyDocument` when they are put, and evaluated for each cross-account
//! request and replication.

mod document;
mod evaluate;

pub use document::{
    Condition, Effect, InvalidPolicy, Operator, Patterns, PolicyDocument, Principals, Statement,
};
pub use evaluate::{evaluate, glob, statement_applies, AccessRequest, Decision};
