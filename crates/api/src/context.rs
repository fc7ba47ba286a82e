//! The request context: who is calling, from where, how, and on whose behalf — everything authorization and the
//! audit trail need, built once by the dispatcher.

use std::net::IpAddr;

use iam::{Caller, CallerKind};
use time::OffsetDateTime;

/// How the request was authenticated (for `s3:authType`, `s3:signatureAge` and the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthType {
    Anonymous,
    /// SigV4 in the Authorization header.
    Header,
    /// SigV4 in the query string (a presigned URL).
    Query,
    /// A call made inside the process by another service on a principal's behalf.
    Internal,
}

/// A service acting on behalf of a principal or a resource: S3 calling KMS for a caller
/// (`kms:ViaService`, `aws:CalledVia`), or CloudFront calling S3 for a distribution (`aws:SourceArn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The calling service's endpoint name, e.g. `s3.us-east-1.amazonaws.com` (the value of `kms:ViaService`).
    pub service_endpoint: String,
    /// The calling service's principal, e.g. `s3.amazonaws.com` (the value of `aws:CalledVia`, `invokedBy`).
    pub service_principal: String,
}

/// Everything known about a request before its operation runs.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    /// The region from the credential scope, or the deployment's default region for anonymous requests.
    pub region: String,
    /// The signing name of the service the request is for (`s3`, `kms`, `iam`, `sts`…).
    pub service: String,
    pub caller: Caller,
    /// The caller's address: `aws:SourceIp`. `None` for a request a service makes on behalf of one of its
    /// resources (the edge for a distribution): AWS evaluates those with the service's own address, which no
    /// network condition of a customer's policy matches, so the key is left out rather than let the edge's
    /// (often internal) address satisfy an `IpAddress` allow or escape a `NotIpAddress` deny.
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    pub user_agent: String,
    pub time: OffsetDateTime,
    pub auth_type: AuthType,
    /// Seconds between signing and receipt, for `s3:signatureAge` (milliseconds in AWS; we keep ms).
    pub signature_age_ms: Option<u64>,
    pub via: Option<Via>,
    /// For requests a service signs on behalf of a resource (the edge for a distribution).
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
}

impl RequestContext {
    /// The global condition keys every policy evaluation of this request sees.
    pub fn policy_context(&self) -> policy::Context {
        let mut c = policy::Context::new();
        let caller = &self.caller;
        if !matches!(caller.kind, CallerKind::Anonymous) {
            c.insert("aws:PrincipalArn", caller.principal_arn());
            if !caller.account.is_empty() {
                c.insert("aws:PrincipalAccount", caller.account.clone());
            }
            c.insert("aws:userid", caller.principal_id.clone());
        } else {
            c.insert("aws:userid", "anonymous");
        }
        c.insert("aws:PrincipalType", caller.principal_type());
        if let CallerKind::User { name } = &caller.kind {
            c.insert("aws:username", name.clone());
        }
        if let Some(s) = &caller.session {
            c.insert("aws:TokenIssueTime", format_time(s.created));
        }
        if let Some(ip) = self.source_ip {
            c.insert("aws:SourceIp", ip.to_string());
        }
        c.insert(
            "aws:SecureTransport",
            if self.secure_transport {
                "true"
            } else {
                "false"
            },
        );
        c.insert("aws:CurrentTime", format_time(self.time));
        c.insert("aws:EpochTime", self.time.unix_timestamp().to_string());
        c.insert("aws:RequestedRegion", self.region.clone());
        if !self.user_agent.is_empty() {
            c.insert("aws:UserAgent", self.user_agent.clone());
        }
        match &self.via {
            Some(via) => {
                c.insert("aws:ViaAWSService", "true");
                c.insert_multi("aws:CalledVia", vec![via.service_principal.clone()]);
                c.insert("aws:CalledViaFirst", via.service_principal.clone());
                c.insert("aws:CalledViaLast", via.service_principal.clone());
            }
            None => c.insert("aws:ViaAWSService", "false"),
        }
        if let Some(arn) = &self.source_arn {
            c.insert("aws:SourceArn", arn.clone());
        }
        if let Some(acct) = &self.source_account {
            c.insert("aws:SourceAccount", acct.clone());
        }
        c
    }
}

/// ISO 8601 with whole seconds, as condition keys and CloudTrail print times.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
