//! Turning a JSON policy document into compiled statements, with AWS's validation rules and messages.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::arn::ArnPattern;
use crate::condition::{Condition, ConditionError};
use crate::error::PolicyError;
use crate::glob::Template;
use crate::policy::{PolicyKind, Version};
use crate::statement::{Effect, PrincipalBlock, PrincipalEntry, PrincipalType, Statement};

const VENDOR_MESSAGE: &str =
    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
const STATEMENT_FIELDS: [&str; 9] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
];

pub(crate) struct Parsed {
    pub(crate) version: Version,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

pub(crate) fn parse_document(json: &str, kind: PolicyKind) -> Result<Parsed, PolicyError> {
    let doc: Value = serde_json::from_str(json)
        .map_err(|_| PolicyError::document("Syntax errors in policy."))?;
    let Value::Object(doc) = doc else {
        return Err(PolicyError::document("Syntax errors in policy."));
    };
    if let Some(unknown) = doc
        .keys()
        .find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
    {
        return Err(PolicyError::document(format!(
            "Policy document contains unknown element {unknown}"
        )));
    }
    let version = match doc.get("Version") {
        None => Version::V2008_10_17,
        Some(Value::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
        Some(Value::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
        Some(_) => {
            return Err(PolicyError::document(
                "The policy must contain a valid version string",
            ))
        }
    };
    let id = match doc.get("Id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(PolicyError::document("Id must be a string")),
    };
    let raw: Vec<&Value> = match doc.get("Statement") {
        None => return Err(PolicyError::document("Missing required field Statement")),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => {
            return Err(PolicyError::document(
                "Statement must be an object or an array of objects",
            ))
        }
    };
    if raw.is_empty() {
        return Err(PolicyError::document(
            "Policy document must contain at least one statement",
        ));
    }
    let mut seen = HashSet::new();
    let mut statements = Vec::with_capacity(raw.len());
    for (index, value) in raw.into_iter().enumerate() {
        let st = StatementParser {
            index,
            sid: None,
            kind,
            variables: version == Version::V2012_10_17,
        }
        .parse(value)?;
        if let Some(sid) = &st.sid {
            if !seen.insert(sid.clone()) {
                return Err(PolicyError::statement(
                    index,
                    Some(sid),
                    "Statement IDs (SID) in a single policy must be unique.",
                ));
            }
        }
        statements.push(st);
    }
    Ok(Parsed {
        version,
        id,
        statements,
    })
}

struct StatementParser<'s> {
    index: usize,
    sid: Option<&'s str>,
    kind: PolicyKind,
    variables: bool,
}

impl<'s> StatementParser<'s> {
    fn err(&self, message: impl Into<String>) -> PolicyError {
        PolicyError::statement(self.index, self.sid, message)
    }

    fn parse(mut self, value: &'s Value) -> Result<Statement, PolicyError> {
        let Value::Object(st) = value else {
            return Err(self.err("Statement must be an object"));
        };
        // Read the Sid first so every later error can name it.
        self.sid = match st.get("Sid") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(self.err("Sid must be a string")),
        };
        if let Some(unknown) = st.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
            return Err(self.err(format!("Statement contains unknown element {unknown}")));
        }
        let effect = match st.get("Effect") {
            None => return Err(self.err("Missing required field Effect")),
            Some(Value::String(e)) if e == "Allow" => Effect::Allow,
            Some(Value::String(e)) if e == "Deny" => Effect::Deny,
            Some(other) => return Err(self.err(format!("Invalid effect: {}", display(other)))),
        };
        let (not_action, actions_raw) = self.pair(st, "Action", "NotAction")?;
        let Some(actions_raw) = actions_raw.filter(|a| !a.is_empty()) else {
            return Err(self.err("Policy statement must contain actions."));
        };
        for a in &actions_raw {
            if a != "*" && a.find(':').is_none_or(|i| i == 0) {
                return Err(self.err(VENDOR_MESSAGE));
            }
        }
        let actions = actions_raw
            .iter()
            .map(|a| Template::compile(a, true, false, true))
            .collect();

        let (not_resource, resources_raw) = self.pair(st, "Resource", "NotResource")?;
        match &resources_raw {
            Some(list) if list.is_empty() => {
                return Err(self.err("Policy statement must contain resources."))
            }
            None if self.kind == PolicyKind::Identity => {
                return Err(self.err("Policy statement must contain resources."))
            }
            Some(list) => {
                if let Some(bad) = list.iter().find(|r| *r != "*" && !r.starts_with("arn:")) {
                    return Err(self.err(format!("Resource {bad} must be in ARN format or \"*\".")));
                }
            }
            None => {}
        }
        let resources = resources_raw.as_ref().map(|list| {
            list.iter()
                .map(|r| ArnPattern::compile(r, self.variables))
                .collect()
        });

        let principal = self.principal(st)?;
        let conditions = match st.get("Condition") {
            None => Vec::new(),
            Some(c) => self.conditions(c)?,
        };
        Ok(Statement {
            sid: self.sid.map(Into::into),
            effect,
            not_action,
            actions_raw: actions_raw.into(),
            actions,
            not_resource,
            resources_raw: resources_raw.map(Into::into),
            resources,
            principal,
            conditions: conditions.into(),
        })
    }

    /// Reads an element that comes as a positive/negated pair (Action/NotAction, Resource/NotResource).
    fn pair(
        &self,
        st: &Map<String, Value>,
        pos: &str,
        neg: &str,
    ) -> Result<(bool, Option<Vec<String>>), PolicyError> {
        match (st.get(pos), st.get(neg)) {
            (Some(_), Some(_)) => {
                Err(self.err(format!("Statement cannot contain both {pos} and {neg}")))
            }
            (Some(v), None) => Ok((false, Some(self.strings(pos, v)?))),
            (None, Some(v)) => Ok((true, Some(self.strings(neg, v)?))),
            (None, None) => Ok((false, None)),
        }
    }

    fn strings(&self, field: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
        let bad = || self.err(format!("{field} must be a string or an array of strings"));
        match v {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned).ok_or_else(bad))
                .collect(),
            _ => Err(bad()),
        }
    }

    fn principal(&self, st: &Map<String, Value>) -> Result<Option<PrincipalBlock>, PolicyError> {
        let (negated, value) = match (st.get("Principal"), st.get("NotPrincipal")) {
            (Some(_), Some(_)) => {
                return Err(self.err("Statement cannot contain both Principal and NotPrincipal"))
            }
            (Some(v), None) => (false, v),
            (None, Some(v)) => (true, v),
            (None, None) if self.kind == PolicyKind::Resource => {
                return Err(self.err("Missing required field Principal"))
            }
            (None, None) => return Ok(None),
        };
        if self.kind == PolicyKind::Identity {
            return Err(self.err("Policy document should not specify a principal."));
        }
        let field = if negated { "NotPrincipal" } else { "Principal" };
        let mut entries = Vec::new();
        match value {
            Value::String(s) if s == "*" => {
                entries.push(PrincipalEntry::new(PrincipalType::Aws, "*").ok_or_else(|| {
                    self.err(format!("Invalid principal in policy: {}", display(value)))
                })?)
            }
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let kind = match k.as_str() {
                        "AWS" => PrincipalType::Aws,
                        "Service" => PrincipalType::Service,
                        "Federated" => PrincipalType::Federated,
                        "CanonicalUser" => PrincipalType::CanonicalUser,
                        _ => return Err(self.err(format!("Invalid principal in policy: {k:?}"))),
                    };
                    let values = self.strings(field, v)?;
                    if values.is_empty() {
                        return Err(self.err(format!("Invalid principal in policy: {k:?}:[]")));
                    }
                    for s in values {
                        let entry = PrincipalEntry::new(kind, &s).ok_or_else(|| {
                            self.err(format!("Invalid principal in policy: {k:?}:{s:?}"))
                        })?;
                        entries.push(entry);
                    }
                }
            }
            _ => return Err(self.err(format!("Invalid principal in policy: {}", display(value)))),
        }
        Ok(Some(PrincipalBlock {
            negated,
            entries: entries.into(),
        }))
    }

    fn conditions(&self, block: &Value) -> Result<Vec<Condition>, PolicyError> {
        let Value::Object(ops) = block else {
            return Err(self.err("Condition must be an object"));
        };
        let mut out = Vec::new();
        for (op, keys) in ops {
            let Value::Object(keys) = keys else {
                return Err(self.err(format!("Condition {op} must map condition keys to values")));
            };
            for (key, values) in keys {
                if key.find(':').is_none_or(|i| i == 0) {
                    return Err(self.err(VENDOR_MESSAGE));
                }
                let raw = self.condition_values(key, values)?;
                let cond = Condition::compile(op, key, raw, self.variables).map_err(|e| match e {
                    ConditionError::UnknownOperator => self.err(format!("Invalid Condition type : {op}")),
                    ConditionError::NullValue(v) => {
                        self.err(format!("Invalid value for the Null condition on {key}: {v} (expected true or false)"))
                    }
                })?;
                out.push(cond);
            }
            // An operator with no keys is still checked, so typos in empty blocks are reported too.
            if keys.is_empty() {
                Condition::compile(op, "aws:none", Vec::new(), self.variables)
                    .map_err(|_| self.err(format!("Invalid Condition type : {op}")))?;
            }
        }
        Ok(out)
    }

    /// Condition values: a string, number or boolean, or an array of them (JSON text form kept for numbers).
    fn condition_values(&self, key: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let bad = || {
            self.err(format!(
                "Invalid Condition value for key {key}: {}",
                display(v)
            ))
        };
        match v {
            Value::Array(items) => items.iter().map(|i| scalar(i).ok_or_else(bad)).collect(),
            _ => scalar(v).map(|s| vec![s]).ok_or_else(bad),
        }
    }
}

/// Renders a JSON value compactly for an error message, truncated so huge inputs do not bloat the error.
fn display(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 100 {
        let cut = (0..=100)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(cut);
        s.push('…');
    }
    s
}
