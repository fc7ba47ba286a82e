//! Data-driven tests: every case in `cases_eval.json` (single-policy `evaluate`) and `cases_authorize.json`
//! (combined `authorize`) must produce its expected outcome; principals come from `principals.json`.

use std::collections::BTreeMap;

use policy::{
    authorize, AuthzInput, Context, Outcome, Policy, PolicyKind, Principal, PrincipalKind, Reason,
    Request,
};
use serde::Deserialize;
use serde_json::Value;

const DEFAULT_PRINCIPAL: &str = "alice";
const DEFAULT_ACTION: &str = "s3:GetObject";
const DEFAULT_RESOURCE: &str = "arn:aws:s3:::bucket/key";
const OWNER_ACCOUNT: &str = "111122223333";

#[derive(Deserialize)]
struct PrincipalDef {
    kind: String,
    arn: String,
    account: String,
    role_arn: Option<String>,
}

#[derive(Deserialize)]
struct EvalGroup {
    name: String,
    #[serde(default)]
    kind: Option<String>,
    policy: Value,
    cases: Vec<EvalCase>,
}

#[derive(Deserialize)]
struct EvalCase {
    principal: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    #[serde(default)]
    context: BTreeMap<String, Value>,
    expect: String,
}

#[derive(Deserialize)]
struct AuthzFile {
    policies: BTreeMap<String, Value>,
    cases: Vec<AuthzCase>,
}

#[derive(Deserialize)]
struct AuthzCase {
    name: String,
    principal: String,
    action: Option<String>,
    resource: Option<String>,
    #[serde(default)]
    context: BTreeMap<String, Value>,
    #[serde(default)]
    identity: Vec<String>,
    session_policy: Option<String>,
    resource_policy: Option<String>,
    resource_account: Option<String>,
    #[serde(default)]
    kms: bool,
    expect: String,
}

fn principals() -> BTreeMap<String, PrincipalDef> {
    serde_json::from_str(include_str!("principals.json")).expect("principals.json")
}

fn principal<'a>(defs: &'a BTreeMap<String, PrincipalDef>, name: &str) -> Principal<'a> {
    let d = defs
        .get(name)
        .unwrap_or_else(|| panic!("unknown principal {name}"));
    let kind = match d.kind.as_str() {
        "Anonymous" => PrincipalKind::Anonymous,
        "Root" => PrincipalKind::Root,
        "User" => PrincipalKind::User,
        "AssumedRole" => PrincipalKind::AssumedRole,
        "FederatedUser" => PrincipalKind::FederatedUser,
        "Service" => PrincipalKind::Service,
        other => panic!("unknown principal kind {other}"),
    };
    Principal {
        kind,
        arn: &d.arn,
        account: &d.account,
        role_arn: d.role_arn.as_deref(),
    }
}

fn context(map: &BTreeMap<String, Value>) -> Context {
    let mut ctx = Context::new();
    for (k, v) in map {
        match v {
            Value::String(s) => ctx.insert(k, s.clone()),
            Value::Array(items) => ctx.insert_multi(
                k,
                items
                    .iter()
                    .map(|i| i.as_str().expect("string values").to_owned())
                    .collect(),
            ),
            other => panic!("context value for {k} must be a string or array, got {other}"),
        }
    }
    ctx
}

fn outcome(s: &str) -> Outcome {
    match s {
        "Allow" => Outcome::Allow,
        "Deny" => Outcome::Deny,
        "NotApplicable" => Outcome::NotApplicable,
        other => panic!("unknown outcome {other}"),
    }
}

fn reason(s: &str) -> Reason {
    match s {
        "Allowed" => Reason::Allowed,
        "ExplicitDenyIdentity" => Reason::ExplicitDenyIdentity,
        "ExplicitDenySession" => Reason::ExplicitDenySession,
        "ExplicitDenyResource" => Reason::ExplicitDenyResource,
        "NoIdentityAllow" => Reason::NoIdentityAllow,
        "NoResourceAllow" => Reason::NoResourceAllow,
        "NoSessionAllow" => Reason::NoSessionAllow,
        other => panic!("unknown reason {other}"),
    }
}

#[test]
fn evaluate_table() {
    let defs = principals();
    let groups: Vec<EvalGroup> =
        serde_json::from_str(include_str!("cases_eval.json")).expect("cases_eval.json");
    let (mut total, mut failures) = (0usize, Vec::new());
    for g in &groups {
        let kind = match g.kind.as_deref() {
            None | Some("Identity") => PolicyKind::Identity,
            Some("Resource") => PolicyKind::Resource,
            Some(other) => panic!("unknown kind {other}"),
        };
        let policy = Policy::parse(&g.policy.to_string(), kind)
            .unwrap_or_else(|e| panic!("group {:?}: policy does not parse: {e}", g.name));
        for (i, c) in g.cases.iter().enumerate() {
            total += 1;
            let p = principal(&defs, c.principal.as_deref().unwrap_or(DEFAULT_PRINCIPAL));
            let ctx = context(&c.context);
            let req = Request {
                principal: &p,
                action: c.action.as_deref().unwrap_or(DEFAULT_ACTION),
                resource: c.resource.as_deref().unwrap_or(DEFAULT_RESOURCE),
                context: &ctx,
            };
            let got = policy.evaluate(&req);
            let explained = policy.explain(&req).outcome;
            let want = outcome(&c.expect);
            if got != want || explained != want {
                failures.push(format!(
                    "{} #{i} ({} {} {:?}): expected {want:?}, evaluate gave {got:?}, explain gave {explained:?}",
                    g.name, req.action, req.resource, c.context
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 150, "the evaluate table shrank to {total} cases");
}

#[test]
fn authorize_table() {
    let defs = principals();
    let file: AuthzFile =
        serde_json::from_str(include_str!("cases_authorize.json")).expect("cases_authorize.json");
    let kind_of = |name: &str| {
        if name.starts_with("id_") || name.starts_with("sess_") {
            PolicyKind::Identity
        } else {
            PolicyKind::Resource
        }
    };
    let policies: BTreeMap<&str, Policy> = file
        .policies
        .iter()
        .map(|(name, doc)| {
            let p = Policy::parse(&doc.to_string(), kind_of(name))
                .unwrap_or_else(|e| panic!("policy {name} does not parse: {e}"));
            (name.as_str(), p)
        })
        .collect();
    let get = |name: &str| {
        policies
            .get(name)
            .unwrap_or_else(|| panic!("unknown policy {name}"))
    };
    let mut failures = Vec::new();
    for c in &file.cases {
        let p = principal(&defs, &c.principal);
        let ctx = context(&c.context);
        let identity: Vec<&Policy> = c.identity.iter().map(|n| get(n)).collect();
        let input = AuthzInput {
            request: Request {
                principal: &p,
                action: c.action.as_deref().unwrap_or(DEFAULT_ACTION),
                resource: c.resource.as_deref().unwrap_or(DEFAULT_RESOURCE),
                context: &ctx,
            },
            identity_policies: &identity,
            session_policy: c.session_policy.as_deref().map(get),
            resource_policy: c.resource_policy.as_deref().map(get),
            resource_account: c.resource_account.as_deref().unwrap_or(OWNER_ACCOUNT),
            resource_policy_required: c.kms,
        };
        let decision = authorize(&input);
        let want = reason(&c.expect);
        if decision.reason != want || decision.allowed != (want == Reason::Allowed) {
            failures.push(format!("{}: expected {want:?}, got {decision:?}", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        file.cases.len(),
        failures.join("\n")
    );
    assert!(
        file.cases.len() >= 60,
        "the authorize table shrank to {} cases",
        file.cases.len()
    );
}
