//! The AWS IAM policy language: parse and validate policy documents, evaluate them against requests, and
//! combine identity, session and resource policies into one decision the way AWS does.
//!
//! Everything is compiled at parse time (lowercased actions, component-split ARN patterns, parsed numbers,
//! dates and IP ranges, lowercased condition keys), so [`Policy::evaluate`] and [`authorize`] do no parsing of
//! the policy and no allocation on the common path. The crate is pure: no I/O, no clock (the current time
//! arrives as the `aws:CurrentTime`/`aws:EpochTime` context keys), fully deterministic.
//!
//! ```
//! use policy::{Context, Outcome, Policy, PolicyKind, Principal, PrincipalKind, Request};
//!
//! let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*",
//!               "Resource":"arn:aws:s3:::photos/${aws:username}/*"}}"#;
//! let policy = Policy::parse(doc, PolicyKind::Identity).unwrap();
//! let mut context = Context::new();
//! context.insert("aws:username", "alice");
//! let alice = Principal { kind: PrincipalKind::User, arn: "arn:aws:iam::111122223333:user/alice",
//!                         account: "111122223333", role_arn: None };
//! let req = Request { principal: &alice, action: "s3:GetObject",
//!                     resource: "arn:aws:s3:::photos/alice/cat.jpg", context: &context };
//! assert_eq!(policy.evaluate(&req), Outcome::Allow);
//! ```

mod arn;
mod authorize;
mod condition;
mod context;
mod error;
mod glob;
mod parse;
mod policy;
mod request;
mod scalar;
mod statement;

pub use authorize::{authorize, AuthzInput, Decision, Reason};
pub use condition::{Condition, SetOperator};
pub use context::Context;
pub use error::PolicyError;
pub use policy::{Explanation, MatchedStatement, Outcome, Policy, PolicyKind, Version};
pub use request::{Principal, PrincipalKind, Request};
pub use statement::{Effect, PrincipalEntry, PrincipalType, Statement};
