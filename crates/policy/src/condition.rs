//! Condition operators: compiled once from the policy, evaluated against the request context.

use std::cmp::Ordering;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::arn::ArnPattern;
use crate::context::Context;
use crate::glob::Template;
use crate::scalar::{decode_base64, parse_date, parse_ip, parse_net, Num};

/// `ForAllValues:` / `ForAnyValue:` set qualifiers for multi-valued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOperator {
    ForAllValues,
    ForAnyValue,
}

/// How a numeric or date comparison orders the context value against the policy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Cmp::Eq => ord == Ordering::Equal,
            Cmp::Lt => ord == Ordering::Less,
            Cmp::Le => ord != Ordering::Greater,
            Cmp::Gt => ord == Ordering::Greater,
            Cmp::Ge => ord != Ordering::Less,
        }
    }
}

/// The compiled policy values of one condition, typed by operator family. Values that do not parse for their
/// operator are kept as `None`: they never match, the way AWS treats them.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// String operators; `ci` for the IgnoreCase forms.
    Str {
        patterns: Box<[Template]>,
        ci: bool,
    },
    Arn(Box<[ArnPattern]>),
    Num(Cmp, Box<[Option<Num>]>),
    Date(Cmp, Box<[Option<i128>]>),
    Bool(Box<[Box<str>]>),
    Binary(Box<[Option<Vec<u8>>]>),
    Ip(Box<[Option<IpNet>]>),
    /// `Null`: each value is true ("key must be absent") or false ("key must be present").
    Null(Box<[bool]>),
}

/// One `"Operator": { "key": values }` entry of a statement's `Condition` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    operator: Box<str>,
    key: Box<str>,
    key_lower: Box<str>,
    raw_values: Box<[String]>,
    negated: bool,
    if_exists: bool,
    set: Option<SetOperator>,
    values: Values,
}

/// How one context value fared against all the policy values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueMatch {
    Match,
    NoMatch,
    /// The context value does not parse for this operator: it satisfies neither the operator nor its negation.
    Invalid,
}

/// Why a condition could not be compiled; the caller adds the statement it belongs to.
pub(crate) enum ConditionError {
    UnknownOperator,
    NullValue(String),
}

impl Condition {
    /// Compiles one operator/key pair. `variables` is true for Version 2012-10-17 policies.
    pub(crate) fn compile(
        operator: &str,
        key: &str,
        raw_values: Vec<String>,
        variables: bool,
    ) -> Result<Condition, ConditionError> {
        let (set, rest) = if let Some(r) = operator.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), r)
        } else if let Some(r) = operator.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), r)
        } else {
            (None, operator)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let strs = |wildcards: bool, ci: bool| Values::Str {
            patterns: raw_values
                .iter()
                .map(|v| Template::compile(v, wildcards, variables, ci))
                .collect(),
            ci,
        };
        let nums = |c: Cmp| Values::Num(c, raw_values.iter().map(|v| Num::parse(v)).collect());
        let dates = |c: Cmp| Values::Date(c, raw_values.iter().map(|v| parse_date(v)).collect());
        let arns = || {
            Values::Arn(
                raw_values
                    .iter()
                    .map(|v| ArnPattern::compile(v, variables))
                    .collect(),
            )
        };
        let (values, negated) = match base {
            "StringEquals" => (strs(false, false), false),
            "StringNotEquals" => (strs(false, false), true),
            "StringEqualsIgnoreCase" => (strs(false, true), false),
            "StringNotEqualsIgnoreCase" => (strs(false, true), true),
            "StringLike" => (strs(true, false), false),
            "StringNotLike" => (strs(true, false), true),
            "NumericEquals" => (nums(Cmp::Eq), false),
            "NumericNotEquals" => (nums(Cmp::Eq), true),
            "NumericLessThan" => (nums(Cmp::Lt), false),
            "NumericLessThanEquals" => (nums(Cmp::Le), false),
            "NumericGreaterThan" => (nums(Cmp::Gt), false),
            "NumericGreaterThanEquals" => (nums(Cmp::Ge), false),
            "DateEquals" => (dates(Cmp::Eq), false),
            "DateNotEquals" => (dates(Cmp::Eq), true),
            "DateLessThan" => (dates(Cmp::Lt), false),
            "DateLessThanEquals" => (dates(Cmp::Le), false),
            "DateGreaterThan" => (dates(Cmp::Gt), false),
            "DateGreaterThanEquals" => (dates(Cmp::Ge), false),
            "Bool" => (
                Values::Bool(
                    raw_values
                        .iter()
                        .map(|v| v.to_ascii_lowercase().into())
                        .collect(),
                ),
                false,
            ),
            "BinaryEquals" => (
                Values::Binary(raw_values.iter().map(|v| decode_base64(v)).collect()),
                false,
            ),
            "IpAddress" => (
                Values::Ip(raw_values.iter().map(|v| parse_net(v)).collect()),
                false,
            ),
            "NotIpAddress" => (
                Values::Ip(raw_values.iter().map(|v| parse_net(v)).collect()),
                true,
            ),
            "ArnEquals" | "ArnLike" => (arns(), false),
            "ArnNotEquals" | "ArnNotLike" => (arns(), true),
            // Null tests presence itself, so "Null if it exists" is meaningless and AWS rejects it.
            "Null" if !if_exists => {
                let mut flags = Vec::with_capacity(raw_values.len());
                for v in &raw_values {
                    match v.to_ascii_lowercase().as_str() {
                        "true" => flags.push(true),
                        "false" => flags.push(false),
                        _ => return Err(ConditionError::NullValue(v.clone())),
                    }
                }
                (Values::Null(flags.into()), false)
            }
            _ => return Err(ConditionError::UnknownOperator),
        };
        Ok(Condition {
            operator: operator.into(),
            key: key.into(),
            key_lower: key.to_ascii_lowercase().into(),
            raw_values: raw_values.into(),
            negated,
            if_exists,
            set,
            values,
        })
    }

    /// The operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// The condition key as written, e.g. `aws:SourceArn`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The policy values as written (numbers and booleans in their JSON text form).
    pub fn values(&self) -> &[String] {
        &self.raw_values
    }

    /// True for the negated operators (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, …).
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    pub fn if_exists(&self) -> bool {
        self.if_exists
    }

    pub fn set_operator(&self) -> Option<SetOperator> {
        self.set
    }

    /// True for `Null`.
    pub fn is_null_check(&self) -> bool {
        matches!(self.values, Values::Null(_))
    }

    pub(crate) fn key_lower(&self) -> &str {
        &self.key_lower
    }

    /// Lowercased names of the context keys that the policy values reference as `${...}` variables.
    pub(crate) fn variable_names(&self) -> Vec<(&str, &str)> {
        match &self.values {
            Values::Str { patterns, .. } => patterns.iter().flat_map(Template::var_names).collect(),
            Values::Arn(p) => p
                .iter()
                .flat_map(|a| a.templates().iter().flat_map(Template::var_names))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn evaluate(&self, ctx: &Context) -> bool {
        let present = ctx.get(&self.key_lower).filter(|v| !v.is_empty());
        if let Values::Null(flags) = &self.values {
            // "true" means the key must be absent, "false" that it must be present; listed values OR.
            return flags
                .iter()
                .any(|&want_absent| want_absent == present.is_none());
        }
        let Some(values) = present else {
            return match (self.set, self.if_exists) {
                (_, true) | (Some(SetOperator::ForAllValues), _) => true,
                (Some(SetOperator::ForAnyValue), _) => false,
                // A missing key can never equal anything, so only the negated operators hold.
                (None, false) => self.negated,
            };
        };
        // A positive operator needs a context value that matches; a negated one a value that matches none.
        let wanted = if self.negated {
            ValueMatch::NoMatch
        } else {
            ValueMatch::Match
        };
        let hit = |v: &String| self.match_value(v, ctx) == wanted;
        match self.set {
            Some(SetOperator::ForAllValues) => values.iter().all(hit),
            Some(SetOperator::ForAnyValue) => values.iter().any(hit),
            // Without a set qualifier a multi-valued key matches when any value does, and its negation holds only
            // when every value matches none.
            None if self.negated => values.iter().all(hit),
            None => values.iter().any(hit),
        }
    }

    /// Compares one context value with every policy value (they OR).
    fn match_value(&self, v: &str, ctx: &Context) -> ValueMatch {
        let any = |b: bool| {
            if b {
                ValueMatch::Match
            } else {
                ValueMatch::NoMatch
            }
        };
        match &self.values {
            Values::Str { patterns, ci } => any(patterns.iter().any(|p| p.matches(v, *ci, ctx))),
            Values::Arn(patterns) => any(patterns.iter().any(|p| p.matches(v, ctx))),
            Values::Num(cmp, nums) => match Num::parse(v) {
                Some(n) => any(nums
                    .iter()
                    .flatten()
                    .any(|p| n.compare(*p).is_some_and(|o| cmp.holds(o)))),
                None => ValueMatch::Invalid,
            },
            Values::Date(cmp, dates) => match parse_date(v) {
                Some(d) => any(dates.iter().flatten().any(|p| cmp.holds(d.cmp(p)))),
                None => ValueMatch::Invalid,
            },
            Values::Bool(bools) => any(bools.iter().any(|b| v.trim().eq_ignore_ascii_case(b))),
            Values::Binary(blobs) => match decode_base64(v) {
                Some(bytes) => any(blobs.iter().flatten().any(|b| *b == bytes)),
                None => ValueMatch::Invalid,
            },
            Values::Ip(nets) => match parse_ip(v) {
                Some(ip) => any(nets.iter().flatten().any(|n| net_contains(n, ip))),
                None => ValueMatch::Invalid,
            },
            Values::Null(_) => ValueMatch::NoMatch,
        }
    }
}

fn net_contains(net: &IpNet, ip: IpAddr) -> bool {
    net.contains(&ip)
}
