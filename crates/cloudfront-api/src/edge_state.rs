//! The feed edge nodes follow (`coffer-edge` signing name, `GET /edge/state`): the deployment's edge identity
//! asks with the generation it holds, its invalidation cursor and how long it may wait; the answer comes as soon
//! as the configuration changes or an invalidation arrives, else when the wait is over. It carries every
//! account's distributions and the private keys of their certificates, so only the edge identity may call it —
//! an account's root user included, everyone else is refused.

use std::time::Duration;

use api::{ApiError, Authorized, Call, Check, Plan, Protocol, Reply, Service};
use cloudfront::CloudFront;
use iam::{Caller, CallerKind};

use crate::engine_error;

/// The longest an edge's request is held open.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// The IAM identity edge nodes sign with: a user of the deployment's system account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeIdentity {
    pub account: String,
    pub user: String,
}

impl EdgeIdentity {
    /// Whether `caller` is this identity.
    pub fn is(&self, caller: &Caller) -> bool {
        caller.account == self.account
            && matches!(&caller.kind, CallerKind::User { name } if *name == self.user)
    }
}

/// The edge feed service.
pub struct EdgeStateService {
    cf: CloudFront,
    edge: EdgeIdentity,
}

impl EdgeStateService {
    pub fn new(cf: CloudFront, edge: EdgeIdentity) -> Self {
        Self { cf, edge }
    }
}

struct Ask {
    generation: String,
    cursor: u64,
    wait: Duration,
}

fn parse(call: &Call) -> Result<Ask, ApiError> {
    if call.parts.method != http::Method::GET || call.parts.uri.path() != "/edge/state" {
        return Err(ApiError::new(
            404,
            "UnknownOperationException",
            "The edge feed has one operation: GET /edge/state.",
        ));
    }
    let params = api::query::Params::parse(call.parts.uri.query().unwrap_or("").as_bytes())?;
    let cursor = params.int("cursor", 0, i64::MAX)?.unwrap_or(0) as u64;
    let wait = params
        .int("wait", 0, MAX_WAIT.as_secs() as i64)?
        .unwrap_or(0) as u64;
    Ok(Ask {
        generation: params.get("generation").unwrap_or("").to_owned(),
        cursor,
        wait: Duration::from_secs(wait),
    })
}

#[async_trait::async_trait]
impl Service for EdgeStateService {
    fn signing_name(&self) -> &'static str {
        "coffer-edge"
    }

    fn event_source(&self) -> &'static str {
        "cloudfront.amazonaws.com"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Json
    }

    async fn plan(&self, call: &Call) -> Result<Plan, ApiError> {
        let ask = parse(call)?;
        if !self.edge.is(&call.ctx.caller) {
            return Err(ApiError::new(
                403,
                "AccessDenied",
                "Only the deployment's edge identity may read the edge feed.",
            ));
        }
        let mut check = Check::own("cloudfront:GetEdgeState", "*", &call.ctx.caller.account);
        check.granted = true;
        let parameters = serde_json::json!({ "generation": ask.generation, "cursor": ask.cursor });
        Ok(Plan::new("GetEdgeState", true, vec![check], ask).with_parameters(parameters))
    }

    async fn execute(
        &self,
        _call: &Call,
        plan: Plan,
        _proof: Authorized,
    ) -> Result<Reply, ApiError> {
        let ask: Ask = plan.take_input()?;
        // Every committed change, invalidations included, moves the generation.
        if !ask.wait.is_zero() {
            self.cf.changed(&ask.generation, ask.wait).await;
        }
        let state = self.cf.edge_state(ask.cursor).map_err(engine_error)?;
        let body = serde_json::to_vec(&state).map_err(ApiError::internal)?;
        Ok(Reply::new(200, "application/json", body))
    }
}
