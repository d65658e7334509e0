//! Image lifecycle: policies (parsed and checked as ECR checks them). The evaluator, the
//! preview and the background evaluation come with the rest of the lifecycle issue.

pub mod policy;

pub use policy::{compact, LifecyclePolicy};
