//! Image lifecycle: policies (parsed and checked as ECR checks them) and their evaluation
//! (a pure function). Running it in the background, the preview and the deletions come
//! with the rest of the lifecycle issue.

pub mod evaluate;
pub mod policy;

pub use evaluate::{evaluate, Decision, LifecycleImage};
pub use policy::{compact, LifecyclePolicy};
