//! Building the CloudTrail-shaped audit event of a call.

use iam::CallerKind;

use crate::error::ApiError;
use crate::service::{Call, Service};

/// The audit event for one call. `outcome` carries the response elements or the error; neither may contain
/// secrets (services are responsible for what they put in request parameters and response elements).
#[allow(clippy::too_many_arguments)]
pub(crate) fn event(
    service: &dyn Service,
    call: &Call,
    operation: &str,
    read_only: bool,
    management: bool,
    resources: &[audit::Resource],
    request_parameters: Option<serde_json::Value>,
    outcome: Result<&crate::service::Reply, &ApiError>,
) -> audit::Event {
    let ctx = &call.ctx;
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
    let (error_code, error_message, response_elements, additional_event_data) = match outcome {
        Ok(r) => (
            None,
            None,
            r.response_elements.clone(),
            r.additional_event_data.clone(),
        ),
        Err(e) => (
            Some(e.code.clone()),
            Some(e.message.clone()),
            serde_json::Value::Null,
            None,
        ),
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
        event_source: service.event_source().into(),
        event_name: operation.into(),
        aws_region: ctx.region.clone(),
        source_ip_address: match &ctx.via {
            Some(via) => via.service_principal.clone(),
            None => ctx.source_ip.to_string(),
        },
        user_agent: ctx.user_agent.clone(),
        error_code,
        error_message,
        request_parameters: request_parameters.unwrap_or(serde_json::Value::Null),
        response_elements,
        additional_event_data,
        request_id: ctx.request_id.clone(),
        event_id: uuid::Uuid::new_v4(),
        read_only,
        resources: (!resources.is_empty()).then(|| resources.to_vec()),
        event_type: audit::EventType::AwsApiCall,
        management_event: management,
        recipient_account_id: recipient,
        event_category: if management {
            audit::EventCategory::Management
        } else {
            audit::EventCategory::Data
        },
        tls_details: None,
    }
}
