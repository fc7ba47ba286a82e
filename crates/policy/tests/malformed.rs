//! Malformed and invalid policy documents: each must be rejected with a message naming the statement and
//! the problem, in AWS's wording.

use policy::{Policy, PolicyKind};

/// (document, kind, expected statement index, expected Display text)
const CASES: &[(&str, PolicyKind, Option<usize>, &str)] = &[
    ("not json", PolicyKind::Identity, None, "Syntax errors in policy."),
    ("[1,2]", PolicyKind::Identity, None, "Syntax errors in policy."),
    (r#"{"Version":"2012-10-17"}"#, PolicyKind::Identity, None, "Missing required field Statement"),
    (r#"{"Version":"2012-10-17","Statement":[]}"#, PolicyKind::Identity, None, "Policy document must contain at least one statement"),
    (r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, PolicyKind::Identity, None, "The policy must contain a valid version string"),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"},"Extra":1}"#, PolicyKind::Identity, None, "Policy document contains unknown element Extra"),
    (r#"{"Statement":"nope"}"#, PolicyKind::Identity, None, "Statement must be an object or an array of objects"),
    (r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}, 5]}"#, PolicyKind::Identity, Some(1), "Statement 1: Statement must be an object"),
    (r#"{"Statement":{"Sid":"S","Action":"s3:*","Resource":"*"}}"#, PolicyKind::Identity, Some(0), r#"Statement 0 (Sid "S"): Missing required field Effect"#),
    (r#"{"Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}"#, PolicyKind::Identity, Some(0), r#"Statement 0: Invalid effect: "allow""#),
    (r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Policy statement must contain actions."),
    (r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Policy statement must contain actions."),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Statement cannot contain both Action and NotAction"),
    (r#"{"Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    (r#"{"Statement":{"Effect":"Allow","Action":["s3:GetObject", 7],"Resource":"*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Action must be a string or an array of strings"),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Policy statement must contain resources."),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket/*"}}"#, PolicyKind::Identity, Some(0), r#"Statement 0: Resource bucket/* must be in ARN format or "*"."#),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Statement cannot contain both Resource and NotResource"),
    (r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#, PolicyKind::Identity, Some(1), r#"Statement 1 (Sid "A"): Statement IDs (SID) in a single policy must be unique."#),
    (r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Policy document should not specify a principal."),
    (r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Policy document should not specify a principal."),
    (r#"{"Statement":{"Sid":"NoP","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, PolicyKind::Resource, Some(0), r#"Statement 0 (Sid "NoP"): Missing required field Principal"#),
    (r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"s3:*","Resource":"*"}}"#, PolicyKind::Resource, Some(0), r#"Statement 0: Invalid principal in policy: "AWS":"arn:aws:iam::*:root""#),
    (r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"s3:*","Resource":"*"}}"#, PolicyKind::Resource, Some(0), r#"Statement 0: Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:user/*""#),
    (r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:*","Resource":"*"}}"#, PolicyKind::Resource, Some(0), r#"Statement 0: Invalid principal in policy: "AWS":"bob""#),
    (r#"{"Statement":{"Effect":"Allow","Principal":{"Group":"x"},"Action":"s3:*","Resource":"*"}}"#, PolicyKind::Resource, Some(0), r#"Statement 0: Invalid principal in policy: "Group""#),
    (r#"{"Statement":{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"s3:*","Resource":"*"}}"#, PolicyKind::Resource, Some(0), r#"Statement 0: Invalid principal in policy: "arn:aws:iam::111122223333:root""#),
    (r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"DenyUnencrypted","Effect":"Deny","Action":"s3:PutObject","Resource":"*","Condition":{"StringEqualz":{"s3:x-amz-server-side-encryption":"AES256"}}}]}"#, PolicyKind::Identity, Some(1), r#"Statement 1 (Sid "DenyUnencrypted"): Invalid Condition type : StringEqualz"#),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NullIfExists":{"aws:TokenIssueTime":"true"}}}}"#, PolicyKind::Identity, Some(0), "Statement 0: Invalid Condition type : NullIfExists"),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForEveryValue:StringEquals":{"aws:TagKeys":"a"}}}}"#, PolicyKind::Identity, Some(0), "Statement 0: Invalid Condition type : ForEveryValue:StringEquals"),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"yes"}}}}"#, PolicyKind::Identity, Some(0), "Statement 0: Invalid value for the Null condition on aws:TokenIssueTime: yes (expected true or false)"),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:username":{"a":1}}}}}"#, PolicyKind::Identity, Some(0), r#"Statement 0: Invalid Condition value for key aws:username: {"a":1}"#),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:username":[null]}}}}"#, PolicyKind::Identity, Some(0), "Statement 0: Invalid Condition value for key aws:username: [null]"),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}}"#, PolicyKind::Identity, Some(0), "Statement 0: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":"aws:username"}}}"#, PolicyKind::Identity, Some(0), "Statement 0: Condition StringEquals must map condition keys to values"),
    (r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Foo":1}}"#, PolicyKind::Identity, Some(0), "Statement 0: Statement contains unknown element Foo"),
    (r#"{"Statement":{"Sid":5,"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, PolicyKind::Identity, Some(0), "Statement 0: Sid must be a string"),
];

#[test]
fn malformed_documents_are_rejected_with_clear_messages() {
    let mut failures = Vec::new();
    for (doc, kind, index, want) in CASES {
        match Policy::parse(doc, *kind) {
            Ok(_) => failures.push(format!("accepted: {doc}")),
            Err(e) => {
                if e.to_string() != *want || e.statement_index() != *index {
                    failures.push(format!("{doc}\n  expected: {want} (statement {index:?})\n  got:      {e} (statement {:?})", e.statement_index()));
                }
                // message() is the problem alone: the Display text minus the statement prefix.
                if !want.ends_with(e.message()) {
                    failures.push(format!(
                        "{doc}: message() {:?} is not the tail of {want:?}",
                        e.message()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(CASES.len() >= 20);
}

#[test]
fn valid_edge_documents_are_accepted() {
    let ok: &[(&str, PolicyKind)] = &[
        // Trust and key policies may omit Resource.
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#,
            PolicyKind::Resource,
        ),
        // Numbers and booleans are valid condition values; arrays of them too.
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":[10, "20"]},"Bool":{"aws:SecureTransport":true}}}}"#,
            PolicyKind::Identity,
        ),
        // Unparseable typed values are accepted and simply never match (as AWS does).
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}}"#,
            PolicyKind::Identity,
        ),
        (
            r#"{"Id":"x","Statement":{"Effect":"Allow","Principal":{"CanonicalUser":"abc","AWS":["111122223333","arn:aws:iam::111122223333:root"]},"Action":"s3:*"}}"#,
            PolicyKind::Resource,
        ),
    ];
    for (doc, kind) in ok {
        if let Err(e) = Policy::parse(doc, *kind) {
            panic!("{doc} rejected: {e}");
        }
    }
}
