//! The one AWS-compatible endpoint shared by every service.
//!
//! A request's service and region come from its SigV4 credential scope (anonymous requests go to S3). The
//! [`Dispatcher`] authenticates it, asks the service for a [`Plan`], authorizes every [`Check`] of the plan with
//! the identity, session and resource policies that apply, runs the operation, and appends one audit event.

mod authz;
mod conn;
pub mod context;
mod core;
mod dispatch;
pub mod error;
pub mod metrics;
pub mod query;
pub mod server;
pub mod service;
pub mod trail;
pub mod xml;

pub use crate::core::Core;
pub use authz::DenialStyle;
pub use conn::BodyTimeout;
pub use context::{format_time, AuthType, RequestContext, Via};
pub use dispatch::{
    ApiBody, Arrival, BoxError, Dispatcher, Peer, RawService, MAX_ANONYMOUS_BODY, MAX_BODY,
};
pub use error::{ApiError, AuthFailure, Protocol};
pub use metrics::Metrics;
pub use service::{Authorized, Call, Check, Plan, Reply, ResourcePolicy, Service};
pub use trail::CallRecord;
