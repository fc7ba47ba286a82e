//! Building the CloudTrail-shaped audit event of a call.

use iam::CallerKind;

use crate::context::RequestContext;
use crate::error::ApiError;

/// What the audit trail records of one call, besides its context. Services fill it; nothing in it may be a
/// secret, plaintext or ciphertext.
#[derive(Debug, Clone, Default)]
pub struct CallRecord {
    /// The AWS operation name (eventName).
    pub operation: String,
    pub read_only: bool,
    /// Management events versus data events (S3 object reads and writes).
    pub management: bool,
    pub resources: Vec<audit::Resource>,
    pub request_parameters: serde_json::Value,
    pub response_elements: serde_json::Value,
    pub additional_event_data: Option<serde_json::Value>,
    /// The error the caller received, if any.
    pub error: Option<ApiError>,
}

/// The CloudTrail-shaped audit event of one call.
pub fn event(event_source: &str, ctx: &RequestContext, record: &CallRecord) -> audit::Event {
    let resources = &record.resources;
    let caller = &ctx.caller;
    let identity_type = match caller.kind {
        CallerKind::Root => audit::IdentityType::Root,
        CallerKind::User { .. } => audit::IdentityType::IamUser,
        CallerKind::AssumedRole { .. } => audit::IdentityType::AssumedRole,
        CallerKind::Service { .. } => audit::IdentityType::AwsService,
        CallerKind::Anonymous => audit::IdentityType::Unknown,
    };
    let session_context = match (&caller.kind, &caller.session) {
        (
            CallerKind::AssumedRole {
                role_name,
                role_arn,
                ..
            },
            Some(s),
        ) => Some(audit::SessionContext {
            session_issuer: Some(audit::SessionIssuer {
                issuer_type: "Role".into(),
                principal_id: caller
                    .principal_id
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                arn: role_arn.clone(),
                account_id: caller.account.clone(),
                user_name: role_name.clone(),
            }),
            attributes: audit::SessionAttributes {
                creation_date: s.created,
                mfa_authenticated: false,
            },
        }),
        _ => None,
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let user_identity = audit::UserIdentity {
        identity_type,
        principal_id: match caller.kind {
            CallerKind::Anonymous | CallerKind::Service { .. } => None,
            _ => non_empty(&caller.principal_id),
        },
        arn: match caller.kind {
            CallerKind::Anonymous | CallerKind::Service { .. } => None,
            _ => non_empty(&caller.arn),
        },
        account_id: non_empty(&caller.account),
        access_key_id: caller.access_key_id.clone(),
        user_name: match &caller.kind {
            CallerKind::User { name } => Some(name.clone()),
            _ => None,
        },
        invoked_by: match (&ctx.via, &caller.kind) {
            (Some(via), _) => Some(via.service_principal.clone()),
            (None, CallerKind::Service { name }) => Some(name.clone()),
            _ => None,
        },
        session_context,
    };
    let (error_code, error_message) = match &record.error {
        Some(e) => (Some(e.code.clone()), Some(e.message.clone())),
        None => (None, None),
    };
    let recipient = resources
        .first()
        .map(|r| r.account_id.clone())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| caller.account.clone());
    audit::Event {
        event_version: audit::EVENT_VERSION.into(),
        user_identity,
        event_time: ctx.time,
        event_source: event_source.into(),
        event_name: record.operation.clone(),
        aws_region: ctx.region.clone(),
        source_ip_address: match &ctx.via {
            Some(via) => via.service_principal.clone(),
            None => ctx
                .source_ip
                .map_or_else(|| "AWS Internal".to_owned(), |ip| ip.to_string()),
        },
        user_agent: ctx.user_agent.clone(),
        error_code,
        error_message,
        request_parameters: record.request_parameters.clone(),
        response_elements: record.response_elements.clone(),
        additional_event_data: with_source(record.additional_event_data.clone(), ctx),
        request_id: ctx.request_id.clone(),
        event_id: uuid::Uuid::new_v4(),
        read_only: record.read_only,
        resources: (!resources.is_empty()).then(|| resources.to_vec()),
        event_type: audit::EventType::AwsApiCall,
        management_event: record.management,
        recipient_account_id: recipient,
        event_category: if record.management {
            audit::EventCategory::Management
        } else {
            audit::EventCategory::Data
        },
        tls_details: None,
    }
}

/// A call a service made on behalf of a resource (CloudFront for a distribution, and S3 calling KMS for it)
/// records that resource as `sourceArn` and `sourceAccount` in `additionalEventData`, so the trail says which
/// distribution a decrypt was for.
fn with_source(data: Option<serde_json::Value>, ctx: &RequestContext) -> Option<serde_json::Value> {
    let Some(arn) = &ctx.source_arn else {
        return data;
    };
    let mut data = match data {
        Some(serde_json::Value::Object(m)) => m,
        Some(other) => return Some(other),
        None => serde_json::Map::new(),
    };
    data.insert("sourceArn".into(), arn.clone().into());
    if let Some(account) = &ctx.source_account {
        data.insert("sourceAccount".into(), account.clone().into());
    }
    Some(serde_json::Value::Object(data))
}
