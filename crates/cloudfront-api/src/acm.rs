//! The ACM subset (JSON 1.1, `X-Amz-Target: CertificateManager.<Op>`): ImportCertificate, ListCertificates,
//! DescribeCertificate, GetCertificate (certificate and chain, never the key) and DeleteCertificate. Audit
//! records carry the certificate ARN only — never certificates' or keys' bytes.

use api::{ApiError, Authorized, Call, Check, Plan, Protocol, Reply, Service};
use base64::Engine as _;
use cloudfront::{Certificate, CloudFront};
use serde_json::{json, Value};

use crate::engine_error;

const TARGET_PREFIX: &str = "CertificateManager.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The ACM service (`acm.amazonaws.com`), over the CloudFront engine that owns certificates.
pub struct AcmService {
    cf: CloudFront,
}

impl AcmService {
    pub fn new(cf: CloudFront) -> Self {
        Self { cf }
    }
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("ValidationException", message)
}

fn blob(body: &Value, name: &str) -> Result<Option<Vec<u8>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Some)
            .map_err(|_| validation(format!("{name} is not valid base64."))),
        Some(_) => Err(ApiError::bad_request(
            "SerializationException",
            format!("{name} must be a blob."),
        )),
    }
}

fn string(body: &Value, name: &str) -> Option<String> {
    body.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn epoch(t: time::OffsetDateTime) -> Value {
    Value::from(t.unix_timestamp())
}

fn status(c: &Certificate) -> &'static str {
    if c.not_after <= time::OffsetDateTime::now_utc() {
        "EXPIRED"
    } else {
        "ISSUED"
    }
}

/// The decoded request.
enum Op {
    Import {
        cert: Vec<u8>,
        key: zeroize::Zeroizing<Vec<u8>>,
        chain: Option<Vec<u8>>,
        arn: Option<String>,
    },
    List,
    Describe(String),
    Get(String),
    Delete(String),
}

fn decode(operation: &str, body: &Value) -> Result<Op, ApiError> {
    let arn =
        || string(body, "CertificateArn").ok_or_else(|| validation("CertificateArn is required."));
    Ok(match operation {
        "ImportCertificate" => Op::Import {
            cert: blob(body, "Certificate")?
                .ok_or_else(|| validation("Certificate is required."))?,
            key: zeroize::Zeroizing::new(
                blob(body, "PrivateKey")?.ok_or_else(|| validation("PrivateKey is required."))?,
            ),
            chain: blob(body, "CertificateChain")?,
            arn: string(body, "CertificateArn"),
        },
        "ListCertificates" => Op::List,
        "DescribeCertificate" => Op::Describe(arn()?),
        "GetCertificate" => Op::Get(arn()?),
        _ => Op::Delete(arn()?),
    })
}

#[async_trait::async_trait]
impl Service for AcmService {
    fn signing_name(&self) -> &'static str {
        "acm"
    }

    fn event_source(&self) -> &'static str {
        "acm.amazonaws.com"
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
        let name = target.strip_prefix(TARGET_PREFIX).unwrap_or_default();
        let (operation, read_only) = match name {
            "ImportCertificate" => ("ImportCertificate", false),
            "ListCertificates" => ("ListCertificates", true),
            "DescribeCertificate" => ("DescribeCertificate", true),
            "GetCertificate" => ("GetCertificate", true),
            "DeleteCertificate" => ("DeleteCertificate", false),
            _ => {
                return Err(ApiError::bad_request(
                    "UnknownOperationException",
                    format!("Unknown operation {target}"),
                ))
            }
        };
        let account = call.ctx.caller.account.clone();
        if account.is_empty() {
            return Err(ApiError::bad_request(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ));
        }
        let body: Result<Value, ApiError> = if call.body.is_empty() {
            Ok(json!({}))
        } else {
            serde_json::from_slice(&call.body).map_err(|_| {
                ApiError::bad_request(
                    "SerializationException",
                    "The request body is not valid JSON.",
                )
            })
        };
        let arn = body.as_ref().ok().and_then(|b| string(b, "CertificateArn"));
        let params = match &arn {
            Some(a) => json!({ "certificateArn": a }),
            None => Value::Null,
        };
        let resource = arn.unwrap_or_else(|| "*".to_owned());
        let decoded = body.and_then(|b| decode(operation, &b));
        let check = Check::own(format!("acm:{operation}"), resource, &account);
        Ok(Plan::new(operation, read_only, vec![check], decoded).with_parameters(params))
    }

    async fn execute(
        &self,
        call: &Call,
        plan: Plan,
        _proof: Authorized,
    ) -> Result<Reply, ApiError> {
        let op: Result<Op, ApiError> = plan.take_input()?;
        let account = call.ctx.caller.account.as_str();
        let cf = &self.cf;
        let out = match op? {
            Op::Import {
                cert,
                key,
                chain,
                arn,
            } => {
                let c = cf
                    .import_certificate(
                        account,
                        &call.ctx.region,
                        &cert,
                        &key,
                        chain.as_deref(),
                        arn.as_deref(),
                    )
                    .await
                    .map_err(engine_error)?;
                let reply = json!({ "CertificateArn": c.arn });
                return Ok(
                    Reply::new(200, CONTENT_TYPE, reply.to_string()).with_response_elements(reply)
                );
            }
            Op::List => {
                let list: Vec<Value> = cf
                    .list_certificates(account, &call.ctx.region)
                    .map_err(engine_error)?
                    .iter()
                    .map(|c| {
                        let in_use = !cf
                            .certificate_users(account, &c.arn)
                            .unwrap_or_default()
                            .is_empty();
                        json!({
                            "CertificateArn": c.arn,
                            "DomainName": c.domain_name,
                            "SubjectAlternativeNameSummaries": c.subject_alternative_names,
                            "HasAdditionalSubjectAlternativeNames": false,
                            "Status": status(c),
                            "Type": "IMPORTED",
                            "KeyAlgorithm": c.key_algorithm,
                            "InUse": in_use,
                            "NotBefore": epoch(c.not_before),
                            "NotAfter": epoch(c.not_after),
                            "CreatedAt": epoch(c.created),
                            "ImportedAt": epoch(c.imported),
                        })
                    })
                    .collect();
                json!({ "CertificateSummaryList": list })
            }
            Op::Describe(arn) => {
                let c = cf.certificate(account, &arn).map_err(engine_error)?;
                let users = cf.certificate_users(account, &arn).map_err(engine_error)?;
                json!({ "Certificate": {
                    "CertificateArn": c.arn,
                    "DomainName": c.domain_name,
                    "SubjectAlternativeNames": c.subject_alternative_names,
                    "Serial": c.serial,
                    "Subject": c.subject,
                    "Issuer": c.issuer,
                    "CreatedAt": epoch(c.created),
                    "ImportedAt": epoch(c.imported),
                    "Status": status(&c),
                    "NotBefore": epoch(c.not_before),
                    "NotAfter": epoch(c.not_after),
                    "KeyAlgorithm": c.key_algorithm,
                    "SignatureAlgorithm": c.signature_algorithm,
                    "InUseBy": users,
                    "Type": "IMPORTED",
                    "KeyUsages": [],
                    "ExtendedKeyUsages": [],
                    "RenewalEligibility": "INELIGIBLE",
                }})
            }
            Op::Get(arn) => {
                let c = cf.certificate(account, &arn).map_err(engine_error)?;
                let mut v = json!({ "Certificate": c.certificate_pem });
                if let Some(chain) = c.chain_pem {
                    v["CertificateChain"] = Value::String(chain);
                }
                v
            }
            Op::Delete(arn) => {
                cf.delete_certificate(account, &arn)
                    .await
                    .map_err(engine_error)?;
                return Ok(Reply::new(200, CONTENT_TYPE, ""));
            }
        };
        Ok(Reply::new(200, CONTENT_TYPE, out.to_string()))
    }
}
