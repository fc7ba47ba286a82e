//! Compiled policy statements and how each element (action, resource, principal, condition) matches a request.

use crate::arn::ArnPattern;
use crate::condition::Condition;
use crate::context::Context;
use crate::glob::Template;
use crate::request::{Principal, PrincipalKind, Request};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// The key under which a policy names a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `"AWS"`, and also the bare `"Principal": "*"` form.
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

/// How one principal entry is matched, decided once at parse time.
#[derive(Debug, Clone, PartialEq)]
enum EntryMatcher {
    Any,
    /// An account id or `arn:aws:iam::<id>:root`: the whole account (a delegation, except for its root).
    Account(Box<str>),
    /// `arn:aws:iam::<id>:role/...`: every session of the role.
    Role(Box<str>),
    /// Any other ARN (user, assumed-role session, federated user): exact match on the caller's ARN.
    Arn(Box<str>),
    Service(Box<str>),
    Federated(Box<str>),
    /// Accepted for compatibility (S3 canonical user ids); no coffer principal has one.
    Never,
}

/// One principal named in a `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalEntry {
    kind: PrincipalType,
    value: Box<str>,
    matcher: EntryMatcher,
}

/// How strongly a statement's principal element matched the caller; the order matters (strongest last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    None,
    /// Matched only because the caller belongs to the named account: AWS treats this as delegating to the
    /// account's own IAM policies rather than as a grant.
    Account,
    /// Matched through the caller's role ARN: a grant to the role, which a session policy still limits.
    Role,
    /// Matched the caller itself (its exact ARN, `*`, its service name, or its account's root).
    Direct,
}

impl PrincipalEntry {
    /// Builds an entry, or returns `None` when the value is not a valid principal of that type.
    pub(crate) fn new(kind: PrincipalType, value: &str) -> Option<PrincipalEntry> {
        let has_wildcard = value.contains(['*', '?']);
        let matcher = match kind {
            _ if value == "*" && matches!(kind, PrincipalType::Aws) => EntryMatcher::Any,
            // Only a lone "*" may be a wildcard: "arn:aws:iam::*:root" would silently grant to everyone.
            _ if has_wildcard || value.is_empty() => return None,
            PrincipalType::Aws => aws_matcher(value)?,
            PrincipalType::Service => EntryMatcher::Service(value.to_ascii_lowercase().into()),
            PrincipalType::Federated => EntryMatcher::Federated(value.into()),
            PrincipalType::CanonicalUser => EntryMatcher::Never,
        };
        Some(PrincipalEntry {
            kind,
            value: value.into(),
            matcher,
        })
    }

    pub fn kind(&self) -> PrincipalType {
        self.kind
    }

    /// The value as written.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// True for `"*"` / `{"AWS": "*"}`: everyone, including anonymous callers.
    pub fn is_wildcard(&self) -> bool {
        self.matcher == EntryMatcher::Any
    }

    /// The account this entry names as a whole (account id or `:root` ARN), if it does.
    pub fn account(&self) -> Option<&str> {
        match &self.matcher {
            EntryMatcher::Account(a) => Some(a),
            _ => None,
        }
    }

    fn matches(&self, p: &Principal<'_>) -> PrincipalMatch {
        let iam_caller = !matches!(p.kind, PrincipalKind::Anonymous | PrincipalKind::Service);
        let direct = |b: bool| {
            if b {
                PrincipalMatch::Direct
            } else {
                PrincipalMatch::None
            }
        };
        match &self.matcher {
            EntryMatcher::Any => PrincipalMatch::Direct,
            EntryMatcher::Account(acct) if iam_caller && p.account == &**acct => {
                if p.kind == PrincipalKind::Root {
                    PrincipalMatch::Direct
                } else {
                    PrincipalMatch::Account
                }
            }
            EntryMatcher::Account(_) => PrincipalMatch::None,
            EntryMatcher::Role(arn) if iam_caller && p.arn == &**arn => PrincipalMatch::Direct,
            EntryMatcher::Role(arn) if iam_caller && p.role_arn == Some(&**arn) => {
                PrincipalMatch::Role
            }
            EntryMatcher::Role(_) => PrincipalMatch::None,
            EntryMatcher::Arn(arn) => direct(iam_caller && p.arn == &**arn),
            EntryMatcher::Service(name) => {
                direct(p.kind == PrincipalKind::Service && p.arn.eq_ignore_ascii_case(name))
            }
            EntryMatcher::Federated(v) => {
                direct(p.kind == PrincipalKind::FederatedUser && p.arn == &**v)
            }
            EntryMatcher::Never => PrincipalMatch::None,
        }
    }
}

/// Classifies an `"AWS"` principal value: a 12-digit account id or an ARN.
fn aws_matcher(value: &str) -> Option<EntryMatcher> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(EntryMatcher::Account(value.into()));
    }
    let mut parts = value.splitn(6, ':');
    let (arn, _partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn != "arn" || account.is_empty() {
        return None;
    }
    Some(match (service, resource) {
        ("iam", "root") => EntryMatcher::Account(account.into()),
        ("iam", r) if r.starts_with("role/") => EntryMatcher::Role(value.into()),
        _ => EntryMatcher::Arn(value.into()),
    })
}

/// A `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PrincipalBlock {
    pub(crate) negated: bool,
    pub(crate) entries: Box<[PrincipalEntry]>,
}

impl PrincipalBlock {
    fn matches(&self, p: &Principal<'_>) -> PrincipalMatch {
        if self.negated {
            // Everyone not listed: as broad as "*".
            return if self.excludes(p) {
                PrincipalMatch::None
            } else {
                PrincipalMatch::Direct
            };
        }
        self.entries
            .iter()
            .map(|e| e.matches(p))
            .max()
            .unwrap_or(PrincipalMatch::None)
    }

    /// Whether `NotPrincipal` spares the caller. AWS evaluates it against every identity a request carries
    /// (the caller's ARN, its role for a session, and its account), and spares the caller only when all of
    /// them are listed; that is why AWS's documentation insists on listing the account (and the role) next
    /// to a user or session. Listing just the account therefore spares only the root user.
    fn excludes(&self, p: &Principal<'_>) -> bool {
        let listed = |f: &dyn Fn(&EntryMatcher) -> bool| {
            self.entries
                .iter()
                .any(|e| e.matcher == EntryMatcher::Any || f(&e.matcher))
        };
        let arn_listed = || {
            listed(&|m| match m {
                EntryMatcher::Arn(a) | EntryMatcher::Role(a) | EntryMatcher::Federated(a) => {
                    **a == *p.arn
                }
                _ => false,
            })
        };
        let role_listed =
            || listed(&|m| matches!(m, EntryMatcher::Role(a) if p.role_arn == Some(&**a)));
        let account_listed =
            || listed(&|m| matches!(m, EntryMatcher::Account(a) if **a == *p.account));
        match p.kind {
            PrincipalKind::Anonymous => listed(&|_| false),
            PrincipalKind::Service => self
                .entries
                .iter()
                .any(|e| e.matches(p) == PrincipalMatch::Direct),
            PrincipalKind::Root => account_listed(),
            PrincipalKind::User | PrincipalKind::FederatedUser => arn_listed() && account_listed(),
            PrincipalKind::AssumedRole => arn_listed() && role_listed() && account_listed(),
        }
    }
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) sid: Option<Box<str>>,
    pub(crate) effect: Effect,
    pub(crate) not_action: bool,
    pub(crate) actions_raw: Box<[String]>,
    /// Lowercased action patterns, matched case-insensitively.
    pub(crate) actions: Box<[Template]>,
    pub(crate) not_resource: bool,
    pub(crate) resources_raw: Option<Box<[String]>>,
    pub(crate) resources: Option<Box<[ArnPattern]>>,
    pub(crate) principal: Option<PrincipalBlock>,
    pub(crate) conditions: Box<[Condition]>,
}

impl Statement {
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The `Action` (or `NotAction`, see [`Statement::is_not_action`]) values as written.
    pub fn actions(&self) -> &[String] {
        &self.actions_raw
    }

    pub fn is_not_action(&self) -> bool {
        self.not_action
    }

    /// The `Resource` (or `NotResource`) values as written; `None` when the statement has neither (allowed in
    /// key and trust policies, where the resource is implied).
    pub fn resources(&self) -> Option<&[String]> {
        self.resources_raw.as_deref()
    }

    pub fn is_not_resource(&self) -> bool {
        self.not_resource
    }

    /// The `Principal` (or `NotPrincipal`) entries; `None` in identity policies.
    pub fn principals(&self) -> Option<&[PrincipalEntry]> {
        self.principal.as_ref().map(|p| &*p.entries)
    }

    pub fn is_not_principal(&self) -> bool {
        self.principal.as_ref().is_some_and(|p| p.negated)
    }

    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    pub(crate) fn action_matches(&self, action: &str, ctx: &Context) -> bool {
        self.actions.iter().any(|a| a.matches(action, true, ctx)) != self.not_action
    }

    pub(crate) fn resource_matches(&self, resource: &str, ctx: &Context) -> bool {
        match &self.resources {
            None => true,
            Some(list) => list.iter().any(|r| r.matches(resource, ctx)) != self.not_resource,
        }
    }

    /// Identity policies have no principal element: they always apply to the caller they are attached to.
    pub(crate) fn principal_match(&self, p: &Principal<'_>) -> PrincipalMatch {
        self.principal
            .as_ref()
            .map_or(PrincipalMatch::Direct, |b| b.matches(p))
    }

    pub(crate) fn conditions_hold(&self, ctx: &Context) -> bool {
        self.conditions.iter().all(|c| c.evaluate(ctx))
    }

    /// How this statement applies to the request: `PrincipalMatch::None` when it does not.
    pub(crate) fn applies(&self, req: &Request<'_>) -> PrincipalMatch {
        let ctx = req.context;
        if !self.action_matches(req.action, ctx) || !self.resource_matches(req.resource, ctx) {
            return PrincipalMatch::None;
        }
        let m = self.principal_match(req.principal);
        if m == PrincipalMatch::None || !self.conditions_hold(ctx) {
            return PrincipalMatch::None;
        }
        m
    }
}
