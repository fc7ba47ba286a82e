//! Decoding Query parameters with the constraints of botocore's IAM and STS models, and the pieces of a plan
//! every handler shares: who the request is about and which ARN an IAM check names.

use api::query::{lower_first, Params};
use api::{ApiError, Call};
use iam::{Caller, CallerKind, Iam, IamError};
use ids::{IamName, IamNameKind, IamPath};
use serde_json::{Map, Value};

/// IAM's default page size for list operations.
const DEFAULT_MAX_ITEMS: usize = 100;

/// A request being planned: the engine (for read-only lookups), the call and its decoded parameters.
pub(crate) struct Req<'a> {
    pub iam: &'a Iam,
    pub call: &'a Call,
    pub params: Params,
    /// The caller's account: every IAM entity a request names lives there.
    pub account: &'a str,
}

/// Whose access keys (or identity) an operation is about when `UserName` may be omitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    /// The account's root user.
    Root,
    User(String),
}

impl Subject {
    pub fn user(&self) -> Option<&str> {
        match self {
            Subject::Root => None,
            Subject::User(n) => Some(n),
        }
    }
}

/// A `ValidationError` in AWS's wording for one failed constraint.
pub(crate) fn validation(value: &str, field: &str, constraint: &str) -> ApiError {
    ApiError::bad_request(
        "ValidationError",
        format!("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"),
    )
}

/// Maps an identifier that failed to parse to IAM's `ValidationError`.
pub(crate) fn invalid(e: ids::InvalidId) -> ApiError {
    ApiError::from(IamError::from(e))
}

/// Checks a name-like value (`[\w+=,.@-]+` in AWS's models) against its length limits.
fn check_name(value: &str, member: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let field = lower_first(member);
    let len = value.chars().count();
    if len < min || len > max {
        return Err(validation(
            value,
            &field,
            &format!("Member must have length between {min} and {max}"),
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
    {
        return Err(validation(
            value,
            &field,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        ));
    }
    Ok(())
}

/// Checks a length limit only.
pub(crate) fn check_len(value: &str, member: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    let field = lower_first(member);
    if len < min {
        return Err(validation(
            value,
            &field,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(validation(
            value,
            &field,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

impl<'a> Req<'a> {
    /// Decodes the call's parameters. IAM and STS serve only authenticated principals of an account.
    pub fn new(iam: &'a Iam, call: &'a Call) -> Result<Self, ApiError> {
        if call.ctx.caller.account.is_empty() {
            return Err(ApiError::new(
                403,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            ));
        }
        Ok(Self {
            iam,
            call,
            params: Params::from_request(&call.parts, &call.body)?,
            account: &call.ctx.caller.account,
        })
    }

    pub fn caller(&self) -> &Caller {
        &self.call.ctx.caller
    }

    pub fn required(&self, member: &str) -> Result<&str, ApiError> {
        self.params.required(member)
    }

    pub fn opt(&self, member: &str) -> Option<&str> {
        self.params.get(member)
    }

    /// A required name of an entity being created, validated with IAM's rules for its kind.
    pub fn new_name(&self, member: &str, kind: IamNameKind) -> Result<String, ApiError> {
        let v = self.required(member)?;
        IamName::parse(v, kind)
            .map(|n| n.to_string())
            .map_err(invalid)
    }

    /// A required name of an existing entity (`existingUserNameType`, `roleNameType`, `policyNameType`…).
    pub fn name(&self, member: &str, max: usize) -> Result<String, ApiError> {
        let v = self.required(member)?;
        check_name(v, member, 1, max)?;
        Ok(v.to_owned())
    }

    pub fn opt_name(&self, member: &str, max: usize) -> Result<Option<String>, ApiError> {
        match self.opt(member) {
            None => Ok(None),
            Some(v) => check_name(v, member, 1, max).map(|()| Some(v.to_owned())),
        }
    }

    /// An optional entity path (`/` or `/a/b/`).
    pub fn path(&self, member: &str) -> Result<Option<String>, ApiError> {
        self.opt(member)
            .map(|p| {
                IamPath::parse(p)
                    .map(|p| p.as_str().to_owned())
                    .map_err(invalid)
            })
            .transpose()
    }

    /// An optional `PathPrefix` (`/` followed by printable ASCII).
    pub fn path_prefix(&self) -> Result<Option<String>, ApiError> {
        let Some(p) = self.opt("PathPrefix") else {
            return Ok(None);
        };
        check_len(p, "PathPrefix", 1, 512)?;
        if !p.starts_with('/') || !p.bytes().all(|b| (0x21..=0x7f).contains(&b)) {
            return Err(validation(
                p,
                "pathPrefix",
                "Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*",
            ));
        }
        Ok(Some(p.to_owned()))
    }

    /// A required policy document (`policyDocumentType`): 1 to 131072 characters of tab, newline and
    /// U+0020–U+00FF. The engine validates the policy language itself.
    pub fn document(&self, member: &str) -> Result<String, ApiError> {
        let v = self.required(member)?;
        check_len(v, member, 1, 131_072)?;
        if !v
            .chars()
            .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
        {
            return Err(validation(
                "",
                &lower_first(member),
                "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
            ));
        }
        Ok(v.to_owned())
    }

    pub fn opt_document(&self, member: &str) -> Result<Option<String>, ApiError> {
        if self.opt(member).is_none() {
            return Ok(None);
        }
        self.document(member).map(Some)
    }

    /// A required ARN (`arnType`: 20 to 2048 characters).
    pub fn arn(&self, member: &str) -> Result<String, ApiError> {
        let v = self.required(member)?;
        check_len(v, member, 20, 2048)?;
        Ok(v.to_owned())
    }

    pub fn max_items(&self) -> Result<usize, ApiError> {
        Ok(self
            .params
            .int("MaxItems", 1, 1000)?
            .map_or(DEFAULT_MAX_ITEMS, |n| n as usize))
    }

    pub fn marker(&self) -> Result<Option<String>, ApiError> {
        let Some(m) = self.opt("Marker") else {
            return Ok(None);
        };
        check_len(m, "Marker", 1, 320)?;
        Ok(Some(m.to_owned()))
    }

    /// The user an operation with an optional `UserName` is about: the named one, else the caller itself.
    /// Role sessions must name a user, as in IAM.
    pub fn subject(&self) -> Result<Subject, ApiError> {
        if let Some(name) = self.opt_name("UserName", 128)? {
            return Ok(Subject::User(name));
        }
        match &self.caller().kind {
            CallerKind::Root => Ok(Subject::Root),
            CallerKind::User { name } => Ok(Subject::User(name.clone())),
            _ => Err(ApiError::bad_request(
                "ValidationError",
                "Must specify userName when calling with non-User credentials",
            )),
        }
    }

    /// The ARN IAM authorizes against for `subject`: the user's ARN (with its stored path), or the root ARN.
    pub fn subject_arn(&self, subject: &Subject) -> String {
        match subject {
            Subject::Root => format!("arn:aws:iam::{}:root", self.account),
            Subject::User(name) => self.user_arn(name),
        }
    }

    /// The ARN of a user of the caller's account: the stored one when the user exists (it carries the path),
    /// else the path-less form IAM uses for names it cannot find. A lookup, never a write.
    pub fn user_arn(&self, name: &str) -> String {
        self.iam
            .user(self.account, name)
            .map(|u| u.arn)
            .unwrap_or_else(|_| format!("arn:aws:iam::{}:user/{name}", self.account))
    }

    /// The ARN of a role of the caller's account, like [`Req::user_arn`].
    pub fn role_arn(&self, name: &str) -> String {
        self.iam
            .role(self.account, name)
            .map(|r| r.arn)
            .unwrap_or_else(|_| format!("arn:aws:iam::{}:role/{name}", self.account))
    }

    /// The request as CloudTrail records it: every parameter but `Action` and `Version`, with camelCase names,
    /// `X.member.N` lists as arrays and their structures as objects. IAM and STS requests carry no secrets.
    pub fn request_parameters(&self) -> Value {
        let mut root = Map::new();
        for (k, v) in self.params.iter() {
            if k == "Action" || k == "Version" {
                continue;
            }
            let segments: Vec<&str> = k.split('.').collect();
            insert_parameter(&mut root, &segments, v);
        }
        if root.is_empty() {
            Value::Null
        } else {
            Value::Object(root)
        }
    }
}

/// The largest list index kept in audit parameters; AWS's lists are far shorter.
const MAX_AUDIT_INDEX: usize = 1000;

fn insert_parameter(obj: &mut Map<String, Value>, segments: &[&str], value: &str) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let key = lower_first(first);
    if rest.is_empty() {
        obj.insert(key, scalar(first, value));
        return;
    }
    if rest.len() >= 2 && rest[0] == "member" {
        let Ok(index) = rest[1].parse::<usize>() else {
            return;
        };
        if index == 0 || index > MAX_AUDIT_INDEX {
            return;
        }
        let entry = obj.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(items) = entry else { return };
        if items.len() < index {
            items.resize(index, Value::Null);
        }
        let slot = &mut items[index - 1];
        if rest.len() == 2 {
            *slot = Value::String(value.to_owned());
        } else {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(m) = slot {
                insert_parameter(m, &rest[2..], value);
            }
        }
        return;
    }
    let entry = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = entry {
        insert_parameter(m, rest, value);
    }
}

/// Numbers and booleans as CloudTrail types them; everything else as strings.
fn scalar(member: &str, value: &str) -> Value {
    match member {
        "DurationSeconds" | "MaxSessionDuration" | "MaxItems" => value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(value)),
        "OnlyAttached" => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            v => Value::from(v),
        },
        _ => Value::from(value),
    }
}

/// Builds a check-ready plan input; a shorthand so handler modules read as tables.
pub(crate) fn plan(
    operation: &'static str,
    read_only: bool,
    checks: Vec<api::Check>,
    input: crate::Input,
) -> Result<api::Plan, ApiError> {
    Ok(api::Plan::new(operation, read_only, checks, input))
}
