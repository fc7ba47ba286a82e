//! S3 on the shared endpoint.
//!
//! [`S3Frontend`] is an [`api::RawService`]: the dispatcher hands it every request whose credential scope
//! names `s3` and every unsigned request. The REST protocol (routing, SigV4 in its header, presigned,
//! aws-chunked and POST forms, typed inputs and outputs, XML) is the pinned `s3s` crate; everything that
//! decides who may do what is ours and runs in this order for every request:
//!
//! 1. [`front`] — CORS preflight; [`route`]: the AWS operation the request is, by AWS's model (anything
//!    coffer does not handle is `NotImplemented` here); [`auth`]: the one authentication mechanism and its
//!    claims (SigV2 verified here); the per-request state in the request extensions;
//! 2. `s3s` verifies the signature with the secret our [`auth`] module looks up in IAM;
//! 3. [`access`] `check` — s3s picked the operation [`route`] did; the caller (the key s3s verified is the
//!    claimed one, session tokens, the unsigned-`x-amz-*`-header rule, the [`ServicePrincipalResolver`] seam
//!    for the edge) and the [`api::RequestContext`];
//! 4. [`access`] per-operation hooks — the [`api::Check`]s of the operation (actions, ARNs, the bucket
//!    policy with Block Public Access applied, S3's condition keys), authorized through
//!    [`api::Core::authorize`]; the proof goes into the request extensions;
//! 5. the operation ([`buckets`], [`objects`](mod@objects), [`multipart`], [`config`]…) takes the proof out
//!    and refuses to run without it, then calls the storage engine (`objects` crate);
//! 6. [`audit`] — one CloudTrail event per request through [`api::Core::record`].
//!
//! Nothing of `s3s` appears in this crate's public API.

mod access;
mod audit;
mod auth;
mod buckets;
mod config;
mod cors;
mod error;
mod front;
mod host;
mod listing;
mod multipart;
mod objects;
mod post;
mod route;
mod service;
mod sse;
mod state;

pub use access::public::{is_public_policy, is_public_statement};
pub use access::resolver::{NoServicePrincipals, ServicePrincipalResolver, SubstitutedCaller};
pub use front::{S3Frontend, S3Options, MAX_BUCKET_POLICY, MAX_XML_BODY};
pub use sse::{
    KeyService, ObjectIdentity, PutKey, ReadKey, SseRequest, SseResponse, SseS3Only, SSE_HEADERS,
};
