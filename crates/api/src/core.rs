//! The shared core of every request path: authorization with the policy engine, the audit trail, metrics.
//! The dispatcher uses it for `Service`s; raw services (S3 through s3s) call it from their own hooks, so every
//! service authorizes and audits through the same code.

use std::sync::Arc;

use iam::Iam;

use crate::authz::{self, DenialStyle};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::service::{Authorized, Check};
use crate::trail::{self, CallRecord};

/// Authorization, audit and metrics, shared by the dispatcher and raw services. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    iam: Iam,
    audit: Arc<audit::AuditLog>,
    metrics: Arc<Metrics>,
}

impl Core {
    pub fn new(iam: Iam, audit: Arc<audit::AuditLog>, metrics: Arc<Metrics>) -> Self {
        Self {
            iam,
            audit,
            metrics,
        }
    }

    pub fn iam(&self) -> &Iam {
        &self.iam
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Evaluates every check; all must be allowed. The proof it returns is what service operations require.
    ///
    /// Nothing is authorized while the audit trail cannot be written ([`ApiError::audit_unavailable`]): every
    /// decision is audited, so a request whose event could not be recorded must not run.
    pub fn authorize(
        &self,
        style: DenialStyle,
        ctx: &RequestContext,
        checks: &[Check],
    ) -> Result<Authorized, ApiError> {
        self.audit_ready()?;
        authz::authorize(&self.iam, style, ctx, checks)?;
        Ok(Authorized::new())
    }

    /// Whether the audit trail accepts events; `/health` reports the same. A failed trail stays failed until
    /// the process restarts (see [`audit::AuditLog::failure`]).
    pub fn audit_ready(&self) -> Result<(), ApiError> {
        match self.audit.failure() {
            None => Ok(()),
            Some(why) => {
                tracing::error!("refusing requests: the audit trail cannot be written ({why})");
                Err(ApiError::audit_unavailable())
            }
        }
    }

    /// The reason the audit trail cannot be written, if it cannot.
    pub fn audit_failure(&self) -> Option<String> {
        self.audit.failure()
    }

    /// Appends the audit event of one call; waits until it is as durable as `audit.sync` promises. An event
    /// that could not be made durable is [`ApiError::audit_unavailable`]: the caller must answer with it
    /// instead of the call's own outcome, never report success without its record.
    pub async fn record(
        &self,
        event_source: &str,
        ctx: &RequestContext,
        record: &CallRecord,
    ) -> Result<(), ApiError> {
        let event = trail::event(event_source, ctx, record);
        match self.audit.append(event).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(
                    request_id = %ctx.request_id,
                    operation = %record.operation,
                    "audit append failed: {e}"
                );
                Err(ApiError::audit_unavailable())
            }
        }
    }
}
