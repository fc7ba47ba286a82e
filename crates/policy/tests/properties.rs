//! Property tests for the invariants the rest of coffer relies on: an applicable explicit deny always wins,
//! removing an Allow never grants more, and no input makes parsing or evaluation panic.

use policy::{
    authorize, AuthzInput, Context, Outcome, Policy, PolicyKind, Principal, PrincipalKind, Request,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const ACTIONS: &[&str] = &[
    "*",
    "s3:*",
    "s3:GetObject",
    "s3:Put*",
    "kms:Decrypt",
    "iam:?etUser",
    "S3:getobject",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:s3:::b/${aws:userid, 'x'}/k",
    "arn:aws:kms:*:111122223333:key/*",
    "arn:aws:s3:::b/k?y",
];
const REQ_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "kms:Decrypt",
    "iam:GetUser",
    "sts:AssumeRole",
];
const REQ_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b/alice/k",
    "arn:aws:s3:::b/key",
    "arn:aws:kms:eu-west-1:111122223333:key/1",
    "arn:aws:s3:::b/x/k",
];

fn principals() -> Vec<Principal<'static>> {
    let p = |kind, arn, account, role_arn| Principal {
        kind,
        arn,
        account,
        role_arn,
    };
    vec![
        p(
            PrincipalKind::User,
            "arn:aws:iam::111122223333:user/alice",
            "111122223333",
            None,
        ),
        p(
            PrincipalKind::Root,
            "arn:aws:iam::111122223333:root",
            "111122223333",
            None,
        ),
        p(
            PrincipalKind::AssumedRole,
            "arn:aws:sts::111122223333:assumed-role/App/s1",
            "111122223333",
            Some("arn:aws:iam::111122223333:role/App"),
        ),
        p(
            PrincipalKind::User,
            "arn:aws:iam::444455556666:user/bob",
            "444455556666",
            None,
        ),
        p(PrincipalKind::Anonymous, "", "", None),
        p(PrincipalKind::Service, "cloudfront.amazonaws.com", "", None),
    ]
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!({"Bool": {"aws:SecureTransport": "true"}}))),
        Just(Some(
            json!({"StringEquals": {"aws:username": ["alice", "bob"]}})
        )),
        Just(Some(json!({"StringNotLike": {"s3:prefix": "tmp/*"}}))),
        Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        Just(Some(
            json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
        )),
        Just(Some(
            json!({"NumericLessThanIfExists": {"s3:max-keys": 10}})
        )),
        Just(Some(
            json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})
        )),
        Just(Some(
            json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}})
        )),
        Just(Some(
            json!({"ForAllValues:StringLike": {"aws:TagKeys": ["e*"]}})
        )),
        Just(Some(json!({"Null": {"aws:TokenIssueTime": "true"}}))),
        Just(Some(
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:cloudfront::*:distribution/*"}})
        )),
    ]
}

fn principal_element() -> impl Strategy<Value = (bool, Value)> {
    let values = prop_oneof![
        Just(json!("*")),
        Just(json!({"AWS": "111122223333"})),
        Just(json!({"AWS": "arn:aws:iam::444455556666:root"})),
        Just(json!({"AWS": "arn:aws:iam::111122223333:user/alice"})),
        Just(json!({"AWS": "arn:aws:iam::111122223333:role/App"})),
        Just(json!({"AWS": ["arn:aws:sts::111122223333:assumed-role/App/s1", "111122223333"]})),
        Just(json!({"Service": "cloudfront.amazonaws.com"})),
    ];
    (prop::bool::weighted(0.15), values)
}

/// One random statement; `resource_kind` adds a Principal/NotPrincipal element.
fn statement(resource_kind: bool) -> impl Strategy<Value = Value> {
    (
        prop::bool::ANY,
        prop::bool::weighted(0.2),
        prop::sample::subsequence(ACTIONS, 1..3),
        prop::bool::weighted(0.2),
        prop::sample::subsequence(RESOURCES, 1..3),
        condition(),
        principal_element(),
    )
        .prop_map(
            move |(
                allow,
                not_action,
                actions,
                not_resource,
                resources,
                cond,
                (not_principal, principal),
            )| {
                let mut st = serde_json::Map::new();
                st.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
                st.insert(
                    (if not_action { "NotAction" } else { "Action" }).into(),
                    json!(actions),
                );
                st.insert(
                    (if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    })
                    .into(),
                    json!(resources),
                );
                if let Some(c) = cond {
                    st.insert("Condition".into(), c);
                }
                if resource_kind {
                    st.insert(
                        (if not_principal {
                            "NotPrincipal"
                        } else {
                            "Principal"
                        })
                        .into(),
                        principal,
                    );
                }
                Value::Object(st)
            },
        )
}

fn statements(resource_kind: bool) -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(statement(resource_kind), 0..6)
}

fn document(statements: &[Value]) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn context() -> impl Strategy<Value = Context> {
    (
        prop::option::of(prop::sample::select(vec!["true", "false"])),
        prop::option::of(prop::sample::select(vec!["alice", "bob", "eve"])),
        prop::option::of(prop::sample::select(vec!["10.1.2.3", "8.8.8.8", "junk"])),
        prop::option::of(prop::sample::subsequence(vec!["env", "team", "cost"], 0..3)),
        prop::option::of(prop::sample::select(vec!["5", "50", "x"])),
    )
        .prop_map(|(tls, user, ip, tags, max_keys)| {
            let mut c = Context::new();
            c.insert("aws:CurrentTime", "2025-06-01T00:00:00Z");
            if let Some(v) = tls {
                c.insert("aws:SecureTransport", v);
            }
            if let Some(v) = user {
                c.insert("aws:username", v);
            }
            if let Some(v) = ip {
                c.insert("aws:SourceIp", v);
            }
            if let Some(v) = tags {
                c.insert_multi("aws:TagKeys", v.into_iter().map(str::to_owned).collect());
            }
            if let Some(v) = max_keys {
                c.insert("s3:max-keys", v);
            }
            c
        })
}

fn request_parts() -> impl Strategy<Value = (usize, &'static str, &'static str, Context)> {
    (
        0..principals().len(),
        prop::sample::select(REQ_ACTIONS),
        prop::sample::select(REQ_RESOURCES),
        context(),
    )
}

fn parse(statements: &[Value], kind: PolicyKind) -> Option<Policy> {
    if statements.is_empty() {
        return None;
    }
    Some(Policy::parse(&document(statements), kind).expect("generated policies are valid"))
}

struct PolicySet {
    identity: Vec<Policy>,
    session: Option<Policy>,
    resource: Option<Policy>,
}

fn decide(set: &PolicySet, req: Request<'_>, owner: &str, kms: bool) -> policy::Decision {
    let identity: Vec<&Policy> = set.identity.iter().collect();
    authorize(&AuthzInput {
        request: req,
        identity_policies: &identity,
        session_policy: set.session.as_ref(),
        resource_policy: set.resource.as_ref(),
        resource_account: owner,
        resource_policy_required: kms,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever else the identity, session and resource policies say, one applicable Deny decides.
    #[test]
    fn explicit_deny_always_wins(
        identity in prop::collection::vec(statements(false), 0..3),
        session in statements(false),
        resource in statements(true),
        slot in 0..3usize,
        (pi, action, res, ctx) in request_parts(),
        kms in prop::bool::ANY,
        owner in prop::sample::select(vec!["111122223333", "444455556666"]),
    ) {
        let principals = principals();
        let mut identity: Vec<Vec<Value>> = identity;
        let (mut session, mut resource) = (session, resource);
        match slot {
            0 => {
                identity.push(Vec::new());
                identity.last_mut().unwrap().push(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}));
            }
            1 => session.push(json!({"Effect": "Deny", "NotAction": "none:None", "Resource": "*"})),
            _ => resource.push(json!({"Effect": "Deny", "Principal": "*", "Action": "*"})),
        }
        let set = PolicySet {
            identity: identity.iter().filter_map(|s| parse(s, PolicyKind::Identity)).collect(),
            session: parse(&session, PolicyKind::Identity),
            resource: parse(&resource, PolicyKind::Resource),
        };
        let req = Request { principal: &principals[pi], action, resource: res, context: &ctx };
        let d = decide(&set, req, owner, kms);
        prop_assert!(!d.allowed);
        prop_assert!(d.reason.is_explicit_deny(), "{:?}", d);
        let denying = match slot {
            0 => set.identity.last(),
            1 => set.session.as_ref(),
            _ => set.resource.as_ref(),
        };
        prop_assert_eq!(denying.unwrap().evaluate(&req), Outcome::Deny);
    }

    /// Removing an Allow statement can only take permissions away, for one policy and for the combination.
    #[test]
    fn removing_an_allow_never_grants(
        identity in statements(false),
        session in prop::option::of(statements(false)),
        resource in statements(true),
        which in 0..3usize,
        pick in any::<prop::sample::Index>(),
        (pi, action, res, ctx) in request_parts(),
        kms in prop::bool::ANY,
        owner in prop::sample::select(vec!["111122223333", "444455556666"]),
    ) {
        let principals = principals();
        let req = Request { principal: &principals[pi], action, resource: res, context: &ctx };
        let build = |identity: &[Value], session: &Option<Vec<Value>>, resource: &[Value]| PolicySet {
            identity: parse(identity, PolicyKind::Identity).into_iter().collect(),
            session: session.as_ref().and_then(|s| parse(s, PolicyKind::Identity)),
            resource: parse(resource, PolicyKind::Resource),
        };
        let before = build(&identity, &session, &resource);
        let (mut identity2, mut session2, mut resource2) = (identity.clone(), session.clone(), resource.clone());
        let target: &mut Vec<Value> = match which {
            0 => &mut identity2,
            1 => match session2.as_mut() { Some(s) => s, None => &mut identity2 },
            _ => &mut resource2,
        };
        let allows: Vec<usize> = (0..target.len()).filter(|&i| target[i]["Effect"] == "Allow").collect();
        prop_assume!(!allows.is_empty());
        let removed = allows[pick.index(allows.len())];
        let single_before = parse(target, if which == 2 { PolicyKind::Resource } else { PolicyKind::Identity });
        target.remove(removed);
        let single_after = parse(target, if which == 2 { PolicyKind::Resource } else { PolicyKind::Identity });
        // A session policy that loses its last statement would vanish, which lifts the session limit rather
        // than tightening it; keep the scenario meaningful by skipping that case.
        prop_assume!(!(which == 1 && session2.as_ref().is_some_and(Vec::is_empty)));
        let after = build(&identity2, &session2, &resource2);

        let outcome_before = single_before.map_or(Outcome::NotApplicable, |p| p.evaluate(&req));
        let outcome_after = single_after.map_or(Outcome::NotApplicable, |p| p.evaluate(&req));
        if outcome_before != Outcome::Allow {
            prop_assert_ne!(outcome_after, Outcome::Allow);
        }
        if !decide(&before, req, owner, kms).allowed {
            prop_assert!(!decide(&after, req, owner, kms).allowed);
        }
    }

    /// Arbitrary text never panics the parser.
    #[test]
    fn parse_never_panics_on_text(s in ".{0,200}") {
        let _ = Policy::parse(&s, PolicyKind::Identity);
        let _ = Policy::parse(&s, PolicyKind::Resource);
    }

    /// Arbitrary JSON in every slot of a statement never panics parsing, evaluation or explanation.
    #[test]
    fn parse_and_evaluate_never_panic_on_json(
        fields in prop::collection::btree_map(
            prop::sample::select(vec!["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition", "Bogus"]),
            json_value(),
            0..7,
        ),
        version in prop::sample::select(vec![None, Some("2012-10-17"), Some("2008-10-17"), Some("bad")]),
        (pi, action, res, ctx) in request_parts(),
    ) {
        let principals = principals();
        let mut doc = json!({"Statement": [fields]});
        if let Some(v) = version {
            doc["Version"] = json!(v);
        }
        let text = doc.to_string();
        for kind in [PolicyKind::Identity, PolicyKind::Resource] {
            if let Ok(p) = Policy::parse(&text, kind) {
                let req = Request { principal: &principals[pi], action, resource: res, context: &ctx };
                let _ = p.evaluate(&req);
                let _ = p.explain(&req);
            }
        }
    }
}

/// Random JSON biased toward the shapes the policy grammar uses.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "*",
            "Allow",
            "Deny",
            "s3:*",
            "arn:aws:s3:::b/*",
            "arn:",
            "${",
            "${aws:username",
            "${*}",
            "?*?",
            "arn:aws:iam::111122223333:root",
            "111122223333",
            "cloudfront.amazonaws.com",
            "10.0.0.0/8",
            "2024-01-01",
            "true",
            "",
            "::",
            "\u{e9}\u{1f600}",
        ])
        .prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "AWS",
                    "Service",
                    "Federated",
                    "CanonicalUser",
                    "StringEquals",
                    "StringLikeIfExists",
                    "ForAllValues:IpAddress",
                    "ForAnyValue:NumericLessThan",
                    "Null",
                    "DateGreaterThan",
                    "BinaryEquals",
                    "ArnNotLike",
                    "aws:SourceIp",
                    "aws:username",
                    "x",
                ]),
                inner,
                0..3,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}
