//! A compiled policy document and its evaluation against a single request.

use crate::error::PolicyError;
use crate::parse::parse_document;
use crate::request::Request;
use crate::statement::{Effect, PrincipalMatch, Statement};

/// Where a policy is attached, which decides whether it names principals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user, group, role or session: `Principal`/`NotPrincipal` are forbidden, `Resource` required.
    Identity,
    /// A bucket, key or role trust policy: `Principal`/`NotPrincipal` required, `Resource` optional.
    Resource,
}

/// The policy language version; only 2012-10-17 substitutes `${...}` policy variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2008_10_17 => "2008-10-17",
            Version::V2012_10_17 => "2012-10-17",
        }
    }
}

/// The result of evaluating one policy on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allow,
    /// An explicit `Deny` statement applied.
    Deny,
    /// No statement applied.
    NotApplicable,
}

/// A statement that applied to a request, for simulation output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// Zero-based position in the `Statement` list.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
}

/// The outcome of [`Policy::explain`]: what `evaluate` decides, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub outcome: Outcome,
    /// Every statement that applied, in document order.
    pub matched: Vec<MatchedStatement>,
    /// Context keys (as the policy spells them, sorted, without duplicates) that conditions or policy variables
    /// of statements matching the action, resource and principal reference but the request did not supply.
    pub missing_context_keys: Vec<String>,
}

/// What one policy says about a request, as the combined evaluation needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Scan {
    pub(crate) deny: bool,
    /// Allowed by a statement naming the caller itself (or any identity-policy statement).
    pub(crate) allow_direct: bool,
    /// Allowed by a statement naming the caller's role.
    pub(crate) allow_role: bool,
    /// Allowed by a statement naming only the caller's account.
    pub(crate) allow_account: bool,
}

impl Scan {
    pub(crate) fn allows(&self) -> bool {
        self.allow_direct || self.allow_role || self.allow_account
    }
}

/// A parsed, validated and compiled policy document. Immutable and cheap to share between threads.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    kind: PolicyKind,
    version: Version,
    id: Option<String>,
    statements: Vec<Statement>,
}

impl Policy {
    /// Parses and validates a JSON policy document, compiling every pattern and value for evaluation.
    pub fn parse(json: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let parsed = parse_document(json, kind)?;
        Ok(Policy {
            kind,
            version: parsed.version,
            id: parsed.id,
            statements: parsed.statements,
        })
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Evaluates this policy alone: `Deny` if any Deny statement applies, else `Allow` if any Allow statement
    /// applies, else `NotApplicable`. A principal that matches only through its account (an account id or
    /// `:root` ARN) counts as applying here; [`crate::authorize`] is where that becomes a mere delegation.
    /// Never allocates unless a policy variable must be resolved (and then only for base64/binary values).
    pub fn evaluate(&self, req: &Request<'_>) -> Outcome {
        let scan = self.scan(req);
        if scan.deny {
            Outcome::Deny
        } else if scan.allows() {
            Outcome::Allow
        } else {
            Outcome::NotApplicable
        }
    }

    /// Like [`Policy::evaluate`], listing the statements that applied and the context keys that were missing.
    pub fn explain(&self, req: &Request<'_>) -> Explanation {
        let ctx = req.context;
        let mut matched = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        let mut note_missing = |key_lower: &str, name: &str| {
            if ctx.get(key_lower).is_none() && !missing.iter().any(|m| m.eq_ignore_ascii_case(name))
            {
                missing.push(name.to_owned());
            }
        };
        for (index, st) in self.statements.iter().enumerate() {
            if !st.action_matches(req.action, ctx)
                || st.principal_match(req.principal) == PrincipalMatch::None
            {
                continue;
            }
            // Variables in resources are reported even when they stop the resource from matching: that
            // is exactly the case a simulation user needs to hear about.
            for r in st.resources.iter().flatten() {
                for t in r.templates() {
                    t.var_names().for_each(|(k, n)| note_missing(k, n));
                }
            }
            if !st.resource_matches(req.resource, ctx) {
                continue;
            }
            for c in st.conditions() {
                note_missing(c.key_lower(), c.key());
                c.variable_names()
                    .into_iter()
                    .for_each(|(k, n)| note_missing(k, n));
            }
            if st.conditions_hold(ctx) {
                matched.push(MatchedStatement {
                    index,
                    sid: st.sid().map(str::to_owned),
                    effect: st.effect(),
                });
            }
        }
        missing.sort_unstable_by_key(|k| k.to_ascii_lowercase());
        let outcome = if matched.iter().any(|m| m.effect == Effect::Deny) {
            Outcome::Deny
        } else if matched.is_empty() {
            Outcome::NotApplicable
        } else {
            Outcome::Allow
        };
        Explanation {
            outcome,
            matched,
            missing_context_keys: missing,
        }
    }

    /// One pass over the statements, stopping at the first applicable Deny since nothing can outweigh it.
    pub(crate) fn scan(&self, req: &Request<'_>) -> Scan {
        let mut scan = Scan::default();
        for st in &self.statements {
            match (st.effect, st.applies(req)) {
                (_, PrincipalMatch::None) => {}
                (Effect::Deny, _) => {
                    scan.deny = true;
                    return scan;
                }
                (Effect::Allow, PrincipalMatch::Direct) => scan.allow_direct = true,
                (Effect::Allow, PrincipalMatch::Role) => scan.allow_role = true,
                (Effect::Allow, PrincipalMatch::Account) => scan.allow_account = true,
            }
        }
        scan
    }
}
