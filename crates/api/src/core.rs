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
    pub fn authorize(
        &self,
        style: DenialStyle,
        ctx: &RequestContext,
        checks: &[Check],
    ) -> Result<Authorized, ApiError> {
        authz::authorize(&self.iam, style, ctx, checks)?;
        Ok(Authorized::new())
    }

    /// Appends the audit event of one call; waits until it is as durable as `audit.sync` promises.
    pub async fn record(&self, event_source: &str, ctx: &RequestContext, record: &CallRecord) {
        let event = trail::event(event_source, ctx, record);
        if let Err(e) = self.audit.append(event).await {
            tracing::error!("audit append failed: {e}");
        }
    }
}
