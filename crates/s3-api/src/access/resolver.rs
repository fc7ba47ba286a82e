//! The seam for requests a service signs on behalf of a resource — the edge fetching from a bucket for a
//! CloudFront distribution (Origin Access Control).
//!
//! The edge signs its origin requests with its own service credentials (an ordinary IAM identity of the
//! deployment) and names the distribution it acts for in a signed `x-amz-*` header. After the signature is
//! verified, the access check asks the deployment's [`ServicePrincipalResolver`] whether the authenticated
//! caller is such a service; if so the request is evaluated as the service principal
//! (`Caller::service("cloudfront.amazonaws.com")`) with `aws:SourceArn` (the distribution ARN) and
//! `aws:SourceAccount` (the distribution's account) in the request context — so bucket and key policies
//! written for AWS (`"Principal": {"Service": "cloudfront.amazonaws.com"}` with an `AWS:SourceArn`
//! condition) work as written. Because only `x-amz-*` headers covered by the signature are honoured, a
//! viewer cannot forge the header, and an identity the resolver does not recognise gets no substitution.
//!
//! The default, [`NoServicePrincipals`], never substitutes.

use api::{ApiError, Via};
use iam::Caller;

/// The identity a request is evaluated as, when a service acts on behalf of one of its resources.
#[derive(Debug, Clone)]
pub struct SubstitutedCaller {
    /// Usually `Caller::service("cloudfront.amazonaws.com")`.
    pub caller: Caller,
    /// `aws:SourceArn`, e.g. `arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE`.
    pub source_arn: Option<String>,
    /// `aws:SourceAccount`.
    pub source_account: Option<String>,
    /// The calling service, when it should appear as `invokedBy` in the audit trail.
    pub via: Option<Via>,
}

/// Decides whether an authenticated request is a service acting for a resource.
pub trait ServicePrincipalResolver: Send + Sync + 'static {
    /// Called once per authenticated request after its signature and session token were verified.
    /// `Ok(None)`: evaluate the request as `caller`. An error refuses the request (e.g. the edge names a
    /// distribution that does not exist).
    fn resolve(
        &self,
        caller: &Caller,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Result<Option<SubstitutedCaller>, ApiError>;
}

/// No service principals: every request is evaluated as its signer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoServicePrincipals;

impl ServicePrincipalResolver for NoServicePrincipals {
    fn resolve(
        &self,
        _caller: &Caller,
        _method: &http::Method,
        _uri: &http::Uri,
        _headers: &http::HeaderMap,
    ) -> Result<Option<SubstitutedCaller>, ApiError> {
        Ok(None)
    }
}
