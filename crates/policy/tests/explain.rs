//! `Policy::explain` (simulation output), statement inspection, and the AccessDenied message wording.

use policy::{
    authorize, AuthzInput, Context, Effect, Outcome, Policy, PolicyKind, Principal, PrincipalKind,
    PrincipalType, Reason, Request,
};

const ALICE: Principal<'static> = Principal {
    kind: PrincipalKind::User,
    arn: "arn:aws:iam::111122223333:user/alice",
    account: "111122223333",
    role_arn: None,
};

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"},
  {"Sid":"Tls","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"StringEquals":{"aws:PrincipalTag/Team":"${aws:PrincipalAccount}"}}},
  {"Sid":"Other","Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"Null":{"kms:ViaService":"false"}}}]}"#;

#[test]
fn explain_lists_matched_statements_and_missing_keys() {
    let p = Policy::parse(DOC, PolicyKind::Identity).unwrap();
    let ctx = Context::new();
    let req = Request {
        principal: &ALICE,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::b/alice/k",
        context: &ctx,
    };
    let e = p.explain(&req);
    assert_eq!(e.outcome, Outcome::NotApplicable);
    assert!(e.matched.is_empty());
    // Keys from statements 0-2 (which match the action); statement 3 is about kms:* and is not reported.
    assert_eq!(
        e.missing_context_keys,
        [
            "aws:PrincipalAccount",
            "aws:PrincipalTag/Team",
            "aws:SecureTransport",
            "aws:SourceIp",
            "aws:username"
        ]
    );

    let mut ctx = Context::new();
    ctx.insert("aws:username", "alice");
    ctx.insert("aws:SecureTransport", "false");
    let req = Request {
        principal: &ALICE,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::b/alice/k",
        context: &ctx,
    };
    let e = p.explain(&req);
    assert_eq!(e.outcome, Outcome::Deny);
    assert_eq!(p.evaluate(&req), Outcome::Deny);
    let matched: Vec<(usize, Option<&str>, Effect)> = e
        .matched
        .iter()
        .map(|m| (m.index, m.sid.as_deref(), m.effect))
        .collect();
    assert_eq!(
        matched,
        [
            (0, Some("Read"), Effect::Allow),
            (1, Some("Tls"), Effect::Deny)
        ]
    );
}

#[test]
fn statements_can_be_inspected() {
    let doc = r#"{"Version":"2012-10-17","Statement":[
      {"Sid":"Public","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"},
      {"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"],"Service":"cloudfront.amazonaws.com"},"NotAction":"s3:Get*",
       "Condition":{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*"]}}}]}"#;
    let p = Policy::parse(doc, PolicyKind::Resource).unwrap();
    let [public, deny] = p.statements() else {
        panic!("two statements")
    };
    assert_eq!(public.sid(), Some("Public"));
    assert!(public.principals().unwrap()[0].is_wildcard());
    assert_eq!(
        public.resources(),
        Some(&["arn:aws:s3:::b/*".to_string()][..])
    );
    assert!(deny.is_not_principal() && deny.is_not_action() && deny.resources().is_none());
    let entries = deny.principals().unwrap();
    assert!(entries
        .iter()
        .any(|e| e.kind() == PrincipalType::Aws && e.account() == Some("111122223333")));
    assert!(entries
        .iter()
        .any(|e| e.kind() == PrincipalType::Service && e.value() == "cloudfront.amazonaws.com"));
    let c = &deny.conditions()[0];
    assert_eq!(
        (c.operator(), c.key(), c.values()),
        (
            "ForAnyValue:StringLikeIfExists",
            "aws:TagKeys",
            &["a*".to_string()][..]
        )
    );
    assert!(c.if_exists() && !c.is_negated());
}

#[test]
fn denial_messages_use_aws_wording() {
    let identity = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    let ctx = Context::new();
    let req = Request {
        principal: &ALICE,
        action: "iam:CreateUser",
        resource: "arn:aws:iam::111122223333:user/bob",
        context: &ctx,
    };
    let ids = [&identity];
    let d = authorize(&AuthzInput {
        request: req,
        identity_policies: &ids,
        session_policy: None,
        resource_policy: None,
        resource_account: "111122223333",
        resource_policy_required: false,
    });
    assert_eq!(d.reason, Reason::NoIdentityAllow);
    assert_eq!(
        d.denial_message(&req),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: iam:CreateUser on resource: \
         arn:aws:iam::111122223333:user/bob because no identity-based policy allows the iam:CreateUser action"
    );
    assert_eq!(
        Reason::ExplicitDenyResource.phrase("s3:GetObject"),
        "with an explicit deny in a resource-based policy"
    );
    assert_eq!(
        Reason::ExplicitDenyIdentity.phrase("s3:GetObject"),
        "with an explicit deny in an identity-based policy"
    );
    assert_eq!(
        Reason::ExplicitDenySession.phrase("s3:GetObject"),
        "with an explicit deny in a session policy"
    );
    assert_eq!(
        Reason::NoResourceAllow.phrase("kms:Decrypt"),
        "because no resource-based policy allows the kms:Decrypt action"
    );
    assert_eq!(
        Reason::NoSessionAllow.phrase("s3:PutObject"),
        "because no session policy allows the s3:PutObject action"
    );
    assert_eq!(Reason::Allowed.phrase("s3:PutObject"), "");
}

#[test]
fn policy_error_display_names_statement_and_sid() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
      {"Effect":"Allow","Action":"s3:*","Resource":"*"},
      {"Sid":"DenyUnencrypted","Effect":"Deny","Action":"s3:PutObject","Resource":"*","Condition":{"StringEqualz":{"s3:x":"y"}}}]}"#;
    let e = Policy::parse(doc, PolicyKind::Identity).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"Statement 2 (Sid "DenyUnencrypted"): Invalid Condition type : StringEqualz"#
    );
    assert_eq!(e.message(), "Invalid Condition type : StringEqualz");
    assert_eq!(
        (e.statement_index(), e.sid()),
        (Some(2), Some("DenyUnencrypted"))
    );
}
