//! Policy simulation: SimulateCustomPolicy and SimulatePrincipalPolicy.
//!
//! Each (action, resource) pair is decided with the same evaluation the dispatcher uses ([`policy::authorize`]),
//! and explained statement by statement with [`Policy::explain`]. Only the context entries the request supplies
//! are known to the simulation; condition keys the relevant statements need but did not get are reported as
//! `MissingContextValues`, as IAM does.

use std::sync::Arc;

use api::xml::XmlWriter;
use api::{ApiError, Call, Check, Plan, Reply};
use iam::{CallerKind, Iam, IamError};
use policy::{AuthzInput, Context, Outcome, Policy, PolicyKind, Principal, PrincipalKind, Request};

use crate::input::{check_len, plan as new_plan, validation, Req};
use crate::wire::{self, Out};
use crate::Input;

/// IAM's default page size for simulation results.
const DEFAULT_MAX_ITEMS: usize = 100;

const CONTEXT_KEY_TYPES: &[&str] = &[
    "string",
    "stringList",
    "numeric",
    "numericList",
    "boolean",
    "booleanList",
    "ip",
    "ipList",
    "binary",
    "binaryList",
    "date",
    "dateList",
];

/// A policy taking part in a simulation, named as IAM names it in `MatchedStatements`.
#[derive(Clone)]
struct Source {
    id: String,
    kind: &'static str,
    policy: Arc<Policy>,
}

/// Whose stored policies a principal simulation uses.
#[derive(Clone)]
enum Entity {
    User(String),
    Role(String),
}

pub(crate) struct Op {
    /// `Some` for SimulatePrincipalPolicy: the user or role whose policies are loaded at execution.
    entity: Option<(Entity, String)>,
    inputs: Vec<Source>,
    boundaries: Vec<Arc<Policy>>,
    resource_policy: Option<Arc<Policy>>,
    resource_owner: Option<String>,
    caller_arn: Option<String>,
    actions: Vec<String>,
    resources: Vec<String>,
    context: Context,
    marker: usize,
    max_items: usize,
}

pub(crate) fn plan(action: &str, req: &Req<'_>) -> Option<Result<Plan, ApiError>> {
    Some(match action {
        "SimulateCustomPolicy" => decode(req, false).and_then(|op| {
            new_plan(
                "SimulateCustomPolicy",
                true,
                vec![Check::own("iam:SimulateCustomPolicy", "*", req.account)],
                Input::Simulate(op),
            )
        }),
        "SimulatePrincipalPolicy" => decode(req, true).and_then(|op| {
            let source = op
                .entity
                .as_ref()
                .map(|(_, arn)| arn.clone())
                .unwrap_or_default();
            new_plan(
                "SimulatePrincipalPolicy",
                true,
                vec![Check::own(
                    "iam:SimulatePrincipalPolicy",
                    source,
                    req.account,
                )],
                Input::Simulate(op),
            )
        }),
        _ => return None,
    })
}

/// Parses a simulation input policy; a bad one is the caller's `MalformedPolicyDocument`.
fn parse_policy(doc: &str, kind: PolicyKind) -> Result<Arc<Policy>, ApiError> {
    Policy::parse(doc, kind)
        .map(Arc::new)
        .map_err(|e| ApiError::from(IamError::MalformedPolicyDocument(e.to_string())))
}

/// The account of an account id or an ARN naming one (`arn:aws:iam::123456789012:root`).
fn account_of(value: &str) -> Option<String> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.to_owned());
    }
    let rest = value.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let account = parts.nth(3)?;
    (!account.is_empty()).then(|| account.to_owned())
}

/// The user or role a `PolicySourceArn` names, which must be in the caller's account.
fn entity(arn: &str, account: &str) -> Result<Entity, ApiError> {
    let missing = || {
        ApiError::from(IamError::NoSuchEntity(format!(
            "Entity {arn} does not exist."
        )))
    };
    let rest = arn
        .strip_prefix("arn:aws:iam::")
        .ok_or_else(|| ApiError::from(IamError::InvalidInput(format!("Invalid ARN {arn}."))))?;
    let (acct, resource) = rest.split_once(':').ok_or_else(missing)?;
    if acct != account {
        return Err(missing());
    }
    let name = resource.rsplit('/').next().unwrap_or_default().to_owned();
    if resource.starts_with("user/") {
        Ok(Entity::User(name))
    } else if resource.starts_with("role/") {
        Ok(Entity::Role(name))
    } else {
        Err(missing())
    }
}

fn decode(req: &Req<'_>, principal: bool) -> Result<Op, ApiError> {
    let entity = if principal {
        let arn = req.arn("PolicySourceArn")?;
        Some((entity(&arn, req.account)?, arn))
    } else {
        None
    };
    let input_docs = req.params.list("PolicyInputList");
    if !principal && input_docs.is_empty() {
        req.required("PolicyInputList")?;
    }
    let mut inputs = Vec::new();
    for (i, doc) in input_docs.iter().enumerate() {
        check_len(doc, "PolicyInputList", 1, 131_072)?;
        inputs.push(Source {
            id: format!("PolicyInputList.{}", i + 1),
            kind: "IAM Policy",
            policy: parse_policy(doc, PolicyKind::Identity)?,
        });
    }
    let boundaries = req
        .params
        .list("PermissionsBoundaryPolicyInputList")
        .into_iter()
        .map(|doc| parse_policy(doc, PolicyKind::Identity))
        .collect::<Result<Vec<_>, _>>()?;
    let resource_policy = req
        .opt_document("ResourcePolicy")?
        .map(|doc| parse_policy(&doc, PolicyKind::Resource))
        .transpose()?;

    let actions: Vec<String> = req
        .params
        .list("ActionNames")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if actions.is_empty() {
        req.required("ActionNames")?;
    }
    for a in &actions {
        check_len(a, "ActionNames", 3, 128)?;
    }
    let mut resources: Vec<String> = req
        .params
        .list("ResourceArns")
        .into_iter()
        .map(str::to_owned)
        .collect();
    for r in &resources {
        check_len(r, "ResourceArns", 1, 2048)?;
    }
    if resources.is_empty() {
        resources.push("*".into());
    }
    let resource_owner = match req.opt("ResourceOwner") {
        Some(o) => Some(account_of(o).ok_or_else(|| {
            ApiError::from(IamError::InvalidInput(format!(
                "Invalid ResourceOwner {o}."
            )))
        })?),
        None => None,
    };
    let caller_arn = req.opt("CallerArn").map(str::to_owned);
    if let Some(c) = &caller_arn {
        check_len(c, "CallerArn", 1, 2048)?;
    }

    let mut context = Context::new();
    for entry in req.params.structs("ContextEntries") {
        let name = entry.get("ContextKeyName").cloned().unwrap_or_default();
        check_len(&name, "ContextKeyName", 5, 256)?;
        if let Some(t) = entry.get("ContextKeyType") {
            if !CONTEXT_KEY_TYPES.contains(&t.as_str()) {
                return Err(validation(
                    t,
                    "contextEntries.member.contextKeyType",
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        CONTEXT_KEY_TYPES.join(", ")
                    ),
                ));
            }
        }
        let mut values: Vec<(u32, String)> = entry
            .iter()
            .filter_map(|(k, v)| {
                let i = k
                    .strip_prefix("ContextKeyValues.member.")?
                    .parse::<u32>()
                    .ok()?;
                Some((i, v.clone()))
            })
            .collect();
        values.sort_by_key(|(i, _)| *i);
        context.insert_multi(&name, values.into_iter().map(|(_, v)| v).collect());
    }

    let marker = match req.marker()? {
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| ApiError::from(IamError::InvalidInput(format!("Invalid Marker {m}."))))?,
        None => 0,
    };
    let max_items = req
        .params
        .int("MaxItems", 1, 1000)?
        .map_or(DEFAULT_MAX_ITEMS, |n| n as usize);
    Ok(Op {
        entity,
        inputs,
        boundaries,
        resource_policy,
        resource_owner,
        caller_arn,
        actions,
        resources,
        context,
        marker,
        max_items,
    })
}

pub(crate) async fn execute(iam: &Iam, call: &Call, out: Out, op: Op) -> Result<Reply, ApiError> {
    if op.entity.is_some() {
        simulate_principal_policy(iam, call, out, op)
    } else {
        simulate_custom_policy(call, out, op)
    }
}

fn simulate_custom_policy(call: &Call, out: Out, op: Op) -> Result<Reply, ApiError> {
    let sources = op.inputs.clone();
    Ok(respond(
        out,
        &evaluate(call, &op, &sources, None),
        op.marker,
        op.max_items,
    ))
}

fn simulate_principal_policy(iam: &Iam, call: &Call, out: Out, op: Op) -> Result<Reply, ApiError> {
    let account = call.ctx.caller.account.as_str();
    let Some((entity, source_arn)) = op.entity.clone() else {
        return Err(ApiError::internal(
            "principal simulation without a policy source",
        ));
    };
    let mut sources = stored_policies(iam, account, &entity)?;
    sources.extend(op.inputs.iter().cloned());
    let role_arn = match &entity {
        Entity::Role(_) => Some(source_arn.clone()),
        Entity::User(_) => None,
    };
    let results = evaluate(call, &op, &sources, Some((source_arn, role_arn)));
    Ok(respond(out, &results, op.marker, op.max_items))
}

/// The inline and attached policies of a user or role, named as IAM names them in simulation results.
fn stored_policies(iam: &Iam, account: &str, entity: &Entity) -> Result<Vec<Source>, ApiError> {
    let (owner_kind, name, inline_kind) = match entity {
        Entity::User(n) => ("user", n.as_str(), "user"),
        Entity::Role(n) => ("role", n.as_str(), "role"),
    };
    let mut docs: Vec<(String, &'static str, String)> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = match entity {
            Entity::User(_) => iam.list_user_policies(account, name, marker.as_deref(), 1000)?,
            Entity::Role(_) => iam.list_role_policies(account, name, marker.as_deref(), 1000)?,
        };
        for policy_name in page.items {
            let doc = match entity {
                Entity::User(_) => iam.user_policy(account, name, &policy_name)?,
                Entity::Role(_) => iam.role_policy(account, name, &policy_name)?,
            };
            docs.push((policy_name, inline_kind, doc));
        }
        match page.marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    for (policy_name, arn) in iam.list_attached(account, owner_kind, name)? {
        let managed = iam.managed_policy(&arn)?;
        let kind = if managed.account == "aws" {
            "aws-managed"
        } else {
            "user-managed"
        };
        docs.push((policy_name, kind, managed.default_document().to_owned()));
    }
    Ok(docs
        .into_iter()
        .filter_map(
            |(id, kind, doc)| match Policy::parse(&doc, PolicyKind::Identity) {
                Ok(p) => Some(Source {
                    id,
                    kind,
                    policy: Arc::new(p),
                }),
                Err(_) => None,
            },
        )
        .collect())
}

/// One `EvaluationResult`.
struct Evaluation {
    action: String,
    resource: String,
    decision: &'static str,
    matched: Vec<(String, &'static str)>,
    missing: Vec<String>,
    allowed_by_boundary: Option<bool>,
}

/// The simulated caller: `CallerArn`, else the policy source, else the calling principal. Never the root
/// kind, whose implicit permissions would hide what the policies say.
fn simulated_principal(
    call: &Call,
    caller_arn: Option<&str>,
    source: Option<&(String, Option<String>)>,
) -> (String, Option<String>, PrincipalKind) {
    if let Some(arn) = caller_arn {
        if let Some((account, rest)) = arn
            .strip_prefix("arn:aws:sts::")
            .and_then(|r| r.split_once(':'))
        {
            if let Some(role) = rest
                .strip_prefix("assumed-role/")
                .and_then(|r| r.split('/').next())
            {
                return (
                    arn.to_owned(),
                    Some(format!("arn:aws:iam::{account}:role/{role}")),
                    PrincipalKind::AssumedRole,
                );
            }
        }
        if arn.contains(":role/") {
            return (
                arn.to_owned(),
                Some(arn.to_owned()),
                PrincipalKind::AssumedRole,
            );
        }
        return (arn.to_owned(), None, PrincipalKind::User);
    }
    if let Some((arn, role_arn)) = source {
        let kind = if role_arn.is_some() {
            PrincipalKind::AssumedRole
        } else {
            PrincipalKind::User
        };
        return (arn.clone(), role_arn.clone(), kind);
    }
    let caller = &call.ctx.caller;
    match &caller.kind {
        CallerKind::AssumedRole { role_arn, .. } => (
            caller.arn.clone(),
            Some(role_arn.clone()),
            PrincipalKind::AssumedRole,
        ),
        _ => (caller.arn.clone(), None, PrincipalKind::User),
    }
}

fn evaluate(
    call: &Call,
    op: &Op,
    sources: &[Source],
    source: Option<(String, Option<String>)>,
) -> Vec<Evaluation> {
    let (arn, role_arn, kind) =
        simulated_principal(call, op.caller_arn.as_deref(), source.as_ref());
    let principal_account = account_of(&arn).unwrap_or_else(|| call.ctx.caller.account.clone());
    let principal = Principal {
        kind,
        arn: &arn,
        account: &principal_account,
        role_arn: role_arn.as_deref(),
    };
    let resource_account = op
        .resource_owner
        .clone()
        .unwrap_or_else(|| principal_account.clone());
    let identity: Vec<&Policy> = sources.iter().map(|s| s.policy.as_ref()).collect();
    let mut results = Vec::with_capacity(op.actions.len() * op.resources.len());
    for action in &op.actions {
        for resource in &op.resources {
            let request = Request {
                principal: &principal,
                action,
                resource,
                context: &op.context,
            };
            let decision = policy::authorize(&AuthzInput {
                request,
                identity_policies: &identity,
                session_policy: None,
                resource_policy: op.resource_policy.as_deref(),
                resource_account: &resource_account,
                resource_policy_required: false,
            });
            let mut matched = Vec::new();
            let mut missing: Vec<String> = Vec::new();
            let mut note = |explanation: policy::Explanation, id: &str, kind: &'static str| {
                for _ in &explanation.matched {
                    if !matched.iter().any(|(i, _): &(String, &str)| i == id) {
                        matched.push((id.to_owned(), kind));
                    }
                }
                for k in explanation.missing_context_keys {
                    if !missing.iter().any(|m| m.eq_ignore_ascii_case(&k)) {
                        missing.push(k);
                    }
                }
            };
            for s in sources {
                note(s.policy.explain(&request), &s.id, s.kind);
            }
            if let Some(rp) = &op.resource_policy {
                note(rp.explain(&request), "ResourcePolicy", "resource");
            }
            let mut boundary = None;
            if !op.boundaries.is_empty() {
                let mut outcome = Outcome::NotApplicable;
                for (i, b) in op.boundaries.iter().enumerate() {
                    let e = b.explain(&request);
                    match e.outcome {
                        Outcome::Deny => outcome = Outcome::Deny,
                        Outcome::Allow if outcome != Outcome::Deny => outcome = Outcome::Allow,
                        _ => {}
                    }
                    note(
                        e,
                        &format!("PermissionsBoundaryPolicyInputList.{}", i + 1),
                        "IAM Policy",
                    );
                }
                boundary = Some(outcome);
            }
            missing.sort_by_key(|k| k.to_ascii_lowercase());
            let decision = if decision.reason.is_explicit_deny() || boundary == Some(Outcome::Deny)
            {
                "explicitDeny"
            } else if decision.allowed && boundary.is_none_or(|b| b == Outcome::Allow) {
                "allowed"
            } else {
                "implicitDeny"
            };
            results.push(Evaluation {
                action: action.clone(),
                resource: resource.clone(),
                decision,
                matched,
                missing,
                allowed_by_boundary: boundary.map(|b| b == Outcome::Allow),
            });
        }
    }
    results
}

fn respond(out: Out, results: &[Evaluation], marker: usize, max_items: usize) -> Reply {
    let end = results.len().min(marker.saturating_add(max_items));
    let page = results
        .get(marker.min(results.len())..end)
        .unwrap_or_default();
    let next = (end < results.len()).then(|| end.to_string());
    out.result(|w| {
        w.open("EvaluationResults");
        for r in page {
            write_evaluation(w, r);
        }
        w.close("EvaluationResults");
        wire::truncation(w, next.as_deref());
    })
}

fn write_evaluation(w: &mut XmlWriter, r: &Evaluation) {
    w.open("member")
        .elem("EvalActionName", &r.action)
        .elem("EvalResourceName", &r.resource)
        .elem("EvalDecision", r.decision);
    w.open("MatchedStatements");
    for (id, kind) in &r.matched {
        w.open("member")
            .elem("SourcePolicyId", id)
            .elem("SourcePolicyType", kind)
            .close("member");
    }
    w.close("MatchedStatements");
    w.open("MissingContextValues");
    for k in &r.missing {
        w.elem("member", k);
    }
    w.close("MissingContextValues");
    if let Some(allowed) = r.allowed_by_boundary {
        w.open("PermissionsBoundaryDecisionDetail")
            .elem(
                "AllowedByPermissionsBoundary",
                if allowed { "true" } else { "false" },
            )
            .close("PermissionsBoundaryDecisionDetail");
    }
    w.close("member");
}
