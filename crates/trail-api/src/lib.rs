//! CloudTrail on the shared endpoint: `LookupEvents` over the audit trail, in CloudTrail's JSON 1.1 shapes, so
//! `aws cloudtrail lookup-events` works. Each account sees only the events recorded for it.

use std::sync::Arc;

use api::{ApiError, Authorized, Call, Check, Plan, Protocol, Reply, Service};
use audit::{AuditLog, LookupAttribute, LookupQuery};
use serde_json::{json, Value};
use time::OffsetDateTime;

const TARGET_PREFIX: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";

/// The CloudTrail service.
pub struct CloudTrailService {
    log: Arc<AuditLog>,
}

impl CloudTrailService {
    pub fn new(log: Arc<AuditLog>) -> Self {
        Self { log }
    }
}

fn invalid(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, message)
}

/// A JSON 1.1 timestamp: epoch seconds (botocore sends a number; accept numeric strings and ISO 8601 too).
fn timestamp(v: &Value, field: &str) -> Result<OffsetDateTime, ApiError> {
    let bad = || invalid("ValidationException", format!("Invalid value for {field}"));
    let secs = match v {
        Value::Number(n) => n.as_f64().ok_or_else(bad)?,
        Value::String(s) => match s.parse::<f64>() {
            Ok(f) => f,
            Err(_) => {
                return OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| bad())
            }
        },
        _ => return Err(bad()),
    };
    OffsetDateTime::from_unix_timestamp(secs.floor() as i64).map_err(|_| bad())
}

struct Lookup {
    query: LookupQuery,
}

fn parse_lookup(body: &Value) -> Result<LookupQuery, ApiError> {
    let mut q = LookupQuery::default();
    if let Some(attrs) = body.get("LookupAttributes") {
        let attrs = attrs.as_array().ok_or_else(|| {
            invalid(
                "InvalidLookupAttributesException",
                "LookupAttributes must be a list.",
            )
        })?;
        if attrs.len() > 1 {
            return Err(invalid(
                "InvalidLookupAttributesException",
                "You cannot specify more than one lookup attribute.",
            ));
        }
        if let Some(a) = attrs.first() {
            let key = a
                .get("AttributeKey")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let value = a
                .get("AttributeValue")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let key = match key {
                "EventId" => LookupAttribute::EventId,
                "EventName" => LookupAttribute::EventName,
                "ReadOnly" => LookupAttribute::ReadOnly,
                "Username" => LookupAttribute::Username,
                "ResourceType" => LookupAttribute::ResourceType,
                "ResourceName" => LookupAttribute::ResourceName,
                "EventSource" => LookupAttribute::EventSource,
                "AccessKeyId" => LookupAttribute::AccessKeyId,
                other => {
                    return Err(invalid(
                        "InvalidLookupAttributesException",
                        format!("The attribute key {other} is not valid."),
                    ))
                }
            };
            if value.is_empty() || value.len() > 2000 {
                return Err(invalid(
                    "InvalidLookupAttributesException",
                    "AttributeValue must be between 1 and 2000 characters.",
                ));
            }
            if key == LookupAttribute::ReadOnly && value != "true" && value != "false" {
                return Err(invalid(
                    "InvalidLookupAttributesException",
                    "ReadOnly must be true or false.",
                ));
            }
            q.attribute = Some((key, value.to_owned()));
        }
    }
    if let Some(v) = body.get("StartTime") {
        q.start = Some(timestamp(v, "StartTime")?);
    }
    if let Some(v) = body.get("EndTime") {
        q.end = Some(timestamp(v, "EndTime")?);
    }
    if let (Some(s), Some(e)) = (q.start, q.end) {
        if s > e {
            return Err(invalid(
                "InvalidTimeRangeException",
                "Start time must be earlier than or equal to end time.",
            ));
        }
    }
    if let Some(v) = body.get("MaxResults") {
        let n = v.as_i64().filter(|n| (1..=50).contains(n)).ok_or_else(|| {
            invalid(
                "InvalidMaxResultsException",
                "MaxResults must be between 1 and 50.",
            )
        })?;
        q.max_results = n as usize;
    }
    if let Some(t) = body.get("NextToken") {
        q.next_token = Some(
            t.as_str()
                .ok_or_else(|| invalid("InvalidNextTokenException", "The NextToken is not valid."))?
                .to_owned(),
        );
    }
    if body
        .get("EventCategory")
        .and_then(Value::as_str)
        .is_some_and(|c| c != "insight")
    {
        return Err(invalid(
            "InvalidEventCategoryException",
            "EventCategory must be insight.",
        ));
    }
    Ok(q)
}

/// One event in LookupEvents' shape.
fn event_json(e: &audit::StoredEvent) -> Value {
    let ev = &e.event;
    let username = ev.user_identity.user_name.clone().or_else(|| {
        // CloudTrail shows the session name for role sessions and "root" for the root user.
        match ev.user_identity.identity_type {
            audit::IdentityType::AssumedRole => ev
                .user_identity
                .arn
                .as_deref()
                .and_then(|a| a.rsplit('/').next())
                .map(str::to_owned),
            audit::IdentityType::Root => Some("root".into()),
            _ => None,
        }
    });
    let resources: Vec<Value> = ev
        .resources
        .iter()
        .flatten()
        .map(|r| json!({"ResourceType": r.resource_type, "ResourceName": r.arn}))
        .collect();
    let mut o = json!({
        "EventId": ev.event_id.to_string(),
        "EventName": ev.event_name,
        "ReadOnly": if ev.read_only { "true" } else { "false" },
        "EventTime": ev.event_time.unix_timestamp(),
        "EventSource": ev.event_source,
        "Resources": resources,
        "CloudTrailEvent": e.raw_json,
    });
    if let Some(k) = &ev.user_identity.access_key_id {
        o["AccessKeyId"] = json!(k);
    }
    if let Some(u) = username {
        o["Username"] = json!(u);
    }
    o
}

#[async_trait::async_trait]
impl Service for CloudTrailService {
    fn signing_name(&self) -> &'static str {
        "cloudtrail"
    }

    fn event_source(&self) -> &'static str {
        "cloudtrail.amazonaws.com"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Json
    }

    fn access_denied_code(&self) -> &'static str {
        "AccessDeniedException"
    }

    fn access_denied_status(&self) -> u16 {
        400
    }

    async fn plan(&self, call: &Call) -> Result<Plan, ApiError> {
        let target = call
            .parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let op = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
        if op != "LookupEvents" {
            return Err(invalid(
                "UnknownOperationException",
                format!("Unknown operation {op}"),
            ));
        }
        let body: Value = if call.body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&call.body).map_err(|_| {
                invalid(
                    "SerializationException",
                    "The request body is not valid JSON.",
                )
            })?
        };
        let query = parse_lookup(&body)?;
        let account = call.ctx.caller.account.clone();
        let mut params = body.clone();
        if let Some(o) = params.as_object_mut() {
            o.remove("NextToken");
        }
        Ok(Plan::new(
            "LookupEvents",
            true,
            vec![Check::own("cloudtrail:LookupEvents", "*", &account)],
            Lookup { query },
        )
        .with_parameters(params))
    }

    async fn execute(
        &self,
        call: &Call,
        plan: Plan,
        _proof: Authorized,
    ) -> Result<Reply, ApiError> {
        let Lookup { mut query } = plan.take_input()?;
        // The log holds every account's events; a caller sees only those recorded for its own account.
        query.account = Some(call.ctx.caller.account.clone());
        let log = self.log.clone();
        let page = tokio::task::spawn_blocking(move || log.lookup(&query))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| match e {
                audit::Error::InvalidNextToken => {
                    invalid("InvalidNextTokenException", "The NextToken is not valid.")
                }
                audit::Error::InvalidQuery(m) => invalid("InvalidParameterException", m),
                other => ApiError::internal(other),
            })?;
        let events: Vec<Value> = page.events.iter().map(event_json).collect();
        let next = page.next_token;
        let mut body = json!({ "Events": events });
        if let Some(t) = next {
            body["NextToken"] = json!(t);
        }
        Ok(Reply::new(
            200,
            "application/x-amz-json-1.1",
            body.to_string(),
        ))
    }
}
