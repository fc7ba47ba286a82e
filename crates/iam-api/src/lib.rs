//! The IAM and STS services on the shared endpoint, speaking the AWS Query protocol.
//!
//! Each request is decoded into a [`api::Plan`] naming exactly the permission checks AWS makes for the
//! operation (resource ARNs formed as IAM forms them), then run against the [`iam::Iam`] engine once the
//! dispatcher has authorized it. Handlers are split by resource: users, access keys, inline policies, managed
//! policies, roles, policy simulation and STS.

mod inline;
mod input;
mod keys;
mod policies;
mod roles;
mod simulate;
mod sts;
mod users;
mod wire;

use api::{ApiError, Authorized, Call, Plan, Protocol, Reply, Service};
use iam::Iam;

use crate::input::Req;

const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// A decoded IAM or STS request, carried from `plan` to `execute`.
pub(crate) enum Input {
    Users(users::Op),
    Keys(keys::Op),
    Inline(inline::Op),
    Policies(policies::Op),
    Roles(roles::Op),
    Simulate(simulate::Op),
    Sts(sts::Op),
}

/// The IAM service (`iam.amazonaws.com`).
pub struct IamService {
    iam: Iam,
}

impl IamService {
    pub fn new(iam: Iam) -> Self {
        Self { iam }
    }
}

/// The STS service (`sts.amazonaws.com`).
pub struct StsService {
    iam: Iam,
}

impl StsService {
    pub fn new(iam: Iam) -> Self {
        Self { iam }
    }
}

/// IAM's answer to an unknown `Action`.
fn invalid_action(action: &str, version: &str) -> ApiError {
    ApiError::bad_request(
        "InvalidAction",
        format!("Could not find operation {action} for version {version}"),
    )
}

/// The action of a Query request; a request without one is rejected as AWS does.
fn action(req: &Req<'_>) -> Result<String, ApiError> {
    req.params
        .get("Action")
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("MissingAction", "Missing Action"))
}

#[async_trait::async_trait]
impl Service for IamService {
    fn signing_name(&self) -> &'static str {
        "iam"
    }

    fn event_source(&self) -> &'static str {
        "iam.amazonaws.com"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Query { xmlns: IAM_XMLNS }
    }

    async fn plan(&self, call: &Call) -> Result<Plan, ApiError> {
        let req = Req::new(&self.iam, call)?;
        let action = action(&req)?;
        let planned = users::plan(&action, &req)
            .or_else(|| keys::plan(&action, &req))
            .or_else(|| inline::plan(&action, &req))
            .or_else(|| policies::plan(&action, &req))
            .or_else(|| roles::plan(&action, &req))
            .or_else(|| simulate::plan(&action, &req));
        match planned {
            Some(plan) => plan.map(|p| p.with_parameters(req.request_parameters())),
            None => Err(invalid_action(&action, "2010-05-08")),
        }
    }

    async fn execute(
        &self,
        call: &Call,
        plan: Plan,
        _proof: Authorized,
    ) -> Result<Reply, ApiError> {
        let operation = plan.operation;
        let out = wire::Out::new(IAM_XMLNS, operation, &call.ctx.request_id);
        match plan.take_input::<Input>()? {
            Input::Users(op) => users::execute(&self.iam, call, out, op).await,
            Input::Keys(op) => keys::execute(&self.iam, call, out, op).await,
            Input::Inline(op) => inline::execute(&self.iam, call, out, op).await,
            Input::Policies(op) => policies::execute(&self.iam, call, out, op).await,
            Input::Roles(op) => roles::execute(&self.iam, call, out, op).await,
            Input::Simulate(op) => simulate::execute(&self.iam, call, out, op).await,
            Input::Sts(_) => Err(ApiError::internal("an STS plan reached the IAM service")),
        }
    }
}

#[async_trait::async_trait]
impl Service for StsService {
    fn signing_name(&self) -> &'static str {
        "sts"
    }

    fn event_source(&self) -> &'static str {
        "sts.amazonaws.com"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Query { xmlns: STS_XMLNS }
    }

    async fn plan(&self, call: &Call) -> Result<Plan, ApiError> {
        let req = Req::new(&self.iam, call)?;
        let action = action(&req)?;
        match sts::plan(&action, &req) {
            Some(plan) => plan.map(|p| p.with_parameters(req.request_parameters())),
            None => Err(invalid_action(&action, "2011-06-15")),
        }
    }

    async fn execute(
        &self,
        call: &Call,
        plan: Plan,
        _proof: Authorized,
    ) -> Result<Reply, ApiError> {
        let operation = plan.operation;
        let out = wire::Out::new(STS_XMLNS, operation, &call.ctx.request_id);
        match plan.take_input::<Input>()? {
            Input::Sts(op) => sts::execute(&self.iam, call, out, op).await,
            _ => Err(ApiError::internal("an IAM plan reached the STS service")),
        }
    }
}
