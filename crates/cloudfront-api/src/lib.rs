//! CloudFront (REST-XML under `/2020-05-31/`) and the ACM certificate subset (JSON 1.1, [`AcmService`]) on the
//! shared endpoint.
//!
//! A CloudFront request is routed by method and path, its XML body decoded into the engine's typed
//! configuration, and planned as one `cloudfront:<Operation>` check on the resource's ARN (`*` for creates,
//! lists, public keys and key groups, as AWS's authorization reference has it), evaluated against the caller's
//! identity policies. Only after the dispatcher has authorized the plan does anything touch the
//! [`cloudfront::CloudFront`] engine. Shapes are split by resource: distributions (and invalidations),
//! policies (OACs and cache policies), keys (public keys and key groups); `acm` is the certificate service.

mod acm;
mod distributions;
mod edge_state;
mod keys;
mod policies;
mod xml;

use api::{ApiError, Authorized, Call, Check, Plan, Protocol, Reply, Service};
use cloudfront::{
    CachePolicyConfig, CfError, CloudFront, DistributionConfig, Element, KeyGroupConfig, OacConfig,
    PublicKeyConfig,
};
use http::{HeaderName, HeaderValue, Method};

pub use acm::AcmService;
pub use edge_state::{EdgeIdentity, EdgeStateService};

use crate::xml::{leaf, node, Read};

/// Reads a `DistributionConfig` request body (CreateDistribution, UpdateDistribution) as the API does: XML into
/// CloudFront's typed configuration, with CloudFront's error for bad input. Pure; the entry point for fuzzing the
/// XML reader and the configuration parser.
pub fn parse_distribution_config(body: &[u8]) -> Result<DistributionConfig, api::ApiError> {
    distributions::parse_config(&xml::root(body, "DistributionConfig")?)
}

/// Reads a `CachePolicyConfig` request body (CreateCachePolicy, UpdateCachePolicy) as the API does. Pure.
pub fn parse_cache_policy_config(body: &[u8]) -> Result<CachePolicyConfig, api::ApiError> {
    policies::parse_cache_policy(&xml::root(body, "CachePolicyConfig")?)
}

/// CloudFront's XML namespace.
pub(crate) const XMLNS: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";
const PREFIX: &str = "/2020-05-31/";
/// List operations' default and largest page.
const DEFAULT_MAX_ITEMS: usize = 100;

/// The wire error of an engine failure.
pub(crate) fn engine_error(e: CfError) -> ApiError {
    match e {
        CfError::Client {
            code,
            status,
            message,
        } => ApiError::new(status, code, message),
        other => ApiError::internal(other),
    }
}

/// Marker and MaxItems of a list request.
struct Paging {
    marker: Option<String>,
    max: usize,
}

/// A decoded request.
enum Op {
    CreateOac(OacConfig),
    GetOac(String),
    GetOacConfig(String),
    ListOacs(Paging),
    UpdateOac(String, Option<String>, OacConfig),
    DeleteOac(String, Option<String>),
    CreateDistribution(Box<DistributionConfig>),
    GetDistribution(String),
    GetDistributionConfig(String),
    ListDistributions(Paging),
    UpdateDistribution(String, Option<String>, Box<DistributionConfig>),
    DeleteDistribution(String, Option<String>),
    CreateInvalidation {
        dist: String,
        caller: String,
        paths: Vec<String>,
    },
    GetInvalidation {
        dist: String,
        id: String,
    },
    ListInvalidations(String, Paging),
    CreateCachePolicy(CachePolicyConfig),
    GetCachePolicy(String),
    GetCachePolicyConfig(String),
    ListCachePolicies(Option<String>, Paging),
    UpdateCachePolicy(String, Option<String>, CachePolicyConfig),
    DeleteCachePolicy(String, Option<String>),
    CreatePublicKey(PublicKeyConfig),
    GetPublicKey(String),
    GetPublicKeyConfig(String),
    ListPublicKeys(Paging),
    DeletePublicKey(String, Option<String>),
    CreateKeyGroup(KeyGroupConfig),
    GetKeyGroup(String),
    GetKeyGroupConfig(String),
    ListKeyGroups(Paging),
    DeleteKeyGroup(String, Option<String>),
}

/// The CloudFront service (`cloudfront.amazonaws.com`).
pub struct CloudFrontService {
    cf: CloudFront,
}

impl CloudFrontService {
    pub fn new(cf: CloudFront) -> Self {
        Self { cf }
    }
}

/// Which operation a method and path name: (operation, read-only, resource kind, ids from the path).
fn route<'a>(
    method: &Method,
    path: &'a str,
) -> Option<(&'static str, bool, &'static str, Vec<&'a str>)> {
    let rest = path.strip_prefix(PREFIX)?;
    let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let m = method.as_str();
    let r = |op, ro, kind, ids| Some((op, ro, kind, ids));
    match (m, segs.as_slice()) {
        ("POST", ["origin-access-control"]) => r("CreateOriginAccessControl", false, "*", vec![]),
        ("GET", ["origin-access-control"]) => r("ListOriginAccessControls", true, "*", vec![]),
        ("GET", ["origin-access-control", id]) => r(
            "GetOriginAccessControl",
            true,
            "origin-access-control",
            vec![id],
        ),
        ("GET", ["origin-access-control", id, "config"]) => r(
            "GetOriginAccessControlConfig",
            true,
            "origin-access-control",
            vec![id],
        ),
        ("PUT", ["origin-access-control", id, "config"]) => r(
            "UpdateOriginAccessControl",
            false,
            "origin-access-control",
            vec![id],
        ),
        ("DELETE", ["origin-access-control", id]) => r(
            "DeleteOriginAccessControl",
            false,
            "origin-access-control",
            vec![id],
        ),
        ("POST", ["distribution"]) => r("CreateDistribution", false, "*", vec![]),
        ("GET", ["distribution"]) => r("ListDistributions", true, "*", vec![]),
        ("GET", ["distribution", id]) => r("GetDistribution", true, "distribution", vec![id]),
        ("GET", ["distribution", id, "config"]) => {
            r("GetDistributionConfig", true, "distribution", vec![id])
        }
        ("PUT", ["distribution", id, "config"]) => {
            r("UpdateDistribution", false, "distribution", vec![id])
        }
        ("DELETE", ["distribution", id]) => {
            r("DeleteDistribution", false, "distribution", vec![id])
        }
        ("POST", ["distribution", id, "invalidation"]) => {
            r("CreateInvalidation", false, "distribution", vec![id])
        }
        ("GET", ["distribution", id, "invalidation"]) => {
            r("ListInvalidations", true, "distribution", vec![id])
        }
        ("GET", ["distribution", id, "invalidation", inv]) => {
            r("GetInvalidation", true, "distribution", vec![id, inv])
        }
        ("POST", ["cache-policy"]) => r("CreateCachePolicy", false, "*", vec![]),
        ("GET", ["cache-policy"]) => r("ListCachePolicies", true, "*", vec![]),
        ("GET", ["cache-policy", id]) => r("GetCachePolicy", true, "cache-policy", vec![id]),
        ("GET", ["cache-policy", id, "config"]) => {
            r("GetCachePolicyConfig", true, "cache-policy", vec![id])
        }
        ("PUT", ["cache-policy", id]) => r("UpdateCachePolicy", false, "cache-policy", vec![id]),
        ("DELETE", ["cache-policy", id]) => r("DeleteCachePolicy", false, "cache-policy", vec![id]),
        ("POST", ["public-key"]) => r("CreatePublicKey", false, "*", vec![]),
        ("GET", ["public-key"]) => r("ListPublicKeys", true, "*", vec![]),
        ("GET", ["public-key", id]) => r("GetPublicKey", true, "*", vec![id]),
        ("GET", ["public-key", id, "config"]) => r("GetPublicKeyConfig", true, "*", vec![id]),
        ("DELETE", ["public-key", id]) => r("DeletePublicKey", false, "*", vec![id]),
        ("POST", ["key-group"]) => r("CreateKeyGroup", false, "*", vec![]),
        ("GET", ["key-group"]) => r("ListKeyGroups", true, "*", vec![]),
        ("GET", ["key-group", id]) => r("GetKeyGroup", true, "*", vec![id]),
        ("GET", ["key-group", id, "config"]) => r("GetKeyGroupConfig", true, "*", vec![id]),
        ("DELETE", ["key-group", id]) => r("DeleteKeyGroup", false, "*", vec![id]),
        _ => None,
    }
}

fn query_param(call: &Call, name: &str) -> Option<String> {
    call.parts.uri.query()?.split('&').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn paging(call: &Call) -> Result<Paging, ApiError> {
    let max = match query_param(call, "MaxItems") {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| xml::invalid("MaxItems must be a positive integer."))?
            .min(1000),
        None => DEFAULT_MAX_ITEMS,
    };
    Ok(Paging {
        marker: query_param(call, "Marker").filter(|m| !m.is_empty()),
        max,
    })
}

fn if_match(call: &Call) -> Option<String> {
    call.parts
        .headers
        .get(http::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Decodes the request of `operation`.
fn decode(operation: &str, ids: &[&str], call: &Call) -> Result<Op, ApiError> {
    let id = || ids.first().map(|s| (*s).to_owned()).unwrap_or_default();
    let body = |name: &str| xml::root(&call.body, name);
    Ok(match operation {
        "CreateOriginAccessControl" => {
            Op::CreateOac(policies::parse_oac(&body("OriginAccessControlConfig")?)?)
        }
        "ListOriginAccessControls" => Op::ListOacs(paging(call)?),
        "GetOriginAccessControl" => Op::GetOac(id()),
        "GetOriginAccessControlConfig" => Op::GetOacConfig(id()),
        "UpdateOriginAccessControl" => Op::UpdateOac(
            id(),
            if_match(call),
            policies::parse_oac(&body("OriginAccessControlConfig")?)?,
        ),
        "DeleteOriginAccessControl" => Op::DeleteOac(id(), if_match(call)),
        "CreateDistribution" => Op::CreateDistribution(Box::new(distributions::parse_config(
            &body("DistributionConfig")?,
        )?)),
        "ListDistributions" => Op::ListDistributions(paging(call)?),
        "GetDistribution" => Op::GetDistribution(id()),
        "GetDistributionConfig" => Op::GetDistributionConfig(id()),
        "UpdateDistribution" => Op::UpdateDistribution(
            id(),
            if_match(call),
            Box::new(distributions::parse_config(&body("DistributionConfig")?)?),
        ),
        "DeleteDistribution" => Op::DeleteDistribution(id(), if_match(call)),
        "CreateInvalidation" => {
            let b = body("InvalidationBatch")?;
            Op::CreateInvalidation {
                dist: id(),
                caller: b.req_text("CallerReference")?,
                paths: b.strings("Paths", "Path")?,
            }
        }
        "ListInvalidations" => Op::ListInvalidations(id(), paging(call)?),
        "GetInvalidation" => Op::GetInvalidation {
            dist: id(),
            id: ids.get(1).map(|s| (*s).to_owned()).unwrap_or_default(),
        },
        "CreateCachePolicy" => {
            Op::CreateCachePolicy(policies::parse_cache_policy(&body("CachePolicyConfig")?)?)
        }
        "ListCachePolicies" => {
            let kind = query_param(call, "Type");
            if kind
                .as_deref()
                .is_some_and(|k| k != "managed" && k != "custom")
            {
                return Err(xml::invalid("Type must be managed or custom."));
            }
            Op::ListCachePolicies(kind, paging(call)?)
        }
        "GetCachePolicy" => Op::GetCachePolicy(id()),
        "GetCachePolicyConfig" => Op::GetCachePolicyConfig(id()),
        "UpdateCachePolicy" => Op::UpdateCachePolicy(
            id(),
            if_match(call),
            policies::parse_cache_policy(&body("CachePolicyConfig")?)?,
        ),
        "DeleteCachePolicy" => Op::DeleteCachePolicy(id(), if_match(call)),
        "CreatePublicKey" => {
            Op::CreatePublicKey(keys::parse_public_key(&body("PublicKeyConfig")?)?)
        }
        "ListPublicKeys" => Op::ListPublicKeys(paging(call)?),
        "GetPublicKey" => Op::GetPublicKey(id()),
        "GetPublicKeyConfig" => Op::GetPublicKeyConfig(id()),
        "DeletePublicKey" => Op::DeletePublicKey(id(), if_match(call)),
        "CreateKeyGroup" => Op::CreateKeyGroup(keys::parse_key_group(&body("KeyGroupConfig")?)?),
        "ListKeyGroups" => Op::ListKeyGroups(paging(call)?),
        "GetKeyGroup" => Op::GetKeyGroup(id()),
        "GetKeyGroupConfig" => Op::GetKeyGroupConfig(id()),
        "DeleteKeyGroup" => Op::DeleteKeyGroup(id(), if_match(call)),
        other => return Err(ApiError::internal(format!("unrouted operation {other}"))),
    })
}

/// What CloudTrail records of a request: ids from the path, the If-Match, and the body (never secrets; CloudFront
/// bodies carry none).
fn request_parameters(call: &Call, ids: &[&str], operation: &str) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    let id_names: &[&str] = match operation {
        "CreateInvalidation" | "ListInvalidations" => &["distributionId"],
        "GetInvalidation" => &["distributionId", "id"],
        _ => &["id"],
    };
    for (name, v) in id_names.iter().zip(ids) {
        m.insert((*name).into(), serde_json::Value::String((*v).to_owned()));
    }
    if let Some(v) = if_match(call) {
        m.insert("ifMatch".into(), v.into());
    }
    if !call.body.is_empty() {
        if let Ok(el) = xml::parse(&call.body) {
            m.insert(xml::camel(&el.name), xml::to_json(&el));
        }
    }
    if m.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::Object(m)
    }
}

/// A response document with its ETag (and Location, for creates).
struct Out {
    status: u16,
    body: Option<Element>,
    etag: Option<String>,
    location: Option<String>,
}

impl Out {
    fn ok(body: Element, etag: Option<&str>) -> Out {
        Out {
            status: 200,
            body: Some(body),
            etag: etag.map(str::to_owned),
            location: None,
        }
    }

    fn created(body: Element, etag: Option<&str>, path: &str) -> Out {
        Out {
            status: 201,
            location: Some(format!("https://cloudfront.amazonaws.com{PREFIX}{path}")),
            ..Out::ok(body, etag)
        }
    }

    fn deleted() -> Out {
        Out {
            status: 204,
            body: None,
            etag: None,
            location: None,
        }
    }
}

/// A list document: `<name><Marker/>…<MaxItems/><IsTruncated/><Quantity/><Items/></name>`.
fn list_doc(
    name: &str,
    p: &Paging,
    next: Option<String>,
    items: Vec<Element>,
    truncated_flag: bool,
) -> Element {
    let mut x = Vec::new();
    if truncated_flag {
        x.push(leaf("Marker", p.marker.clone().unwrap_or_default()));
    }
    if let Some(n) = &next {
        x.push(leaf("NextMarker", n.as_str()));
    }
    x.push(leaf("MaxItems", p.max.to_string()));
    if truncated_flag {
        x.push(leaf("IsTruncated", next.is_some().to_string()));
    }
    x.push(leaf("Quantity", items.len().to_string()));
    if !items.is_empty() {
        x.push(node("Items", items));
    }
    node(name, x)
}

impl CloudFrontService {
    async fn run(&self, account: &str, op: Op) -> Result<Out, CfError> {
        let cf = &self.cf;
        let now = time::OffsetDateTime::now_utc();
        let in_progress = |dist: &str| -> Result<usize, CfError> {
            Ok(cf
                .list_invalidations(account, dist)?
                .iter()
                .filter(|i| i.status(now) == "InProgress")
                .count())
        };
        Ok(match op {
            Op::CreateOac(c) => {
                let o = cf.create_oac(account, c).await?;
                Out::created(
                    policies::render_oac(&o),
                    Some(&o.etag),
                    &format!("origin-access-control/{}", o.id),
                )
            }
            Op::GetOac(id) => {
                let o = cf.oac(account, &id)?;
                Out::ok(policies::render_oac(&o), Some(&o.etag))
            }
            Op::GetOacConfig(id) => {
                let o = cf.oac(account, &id)?;
                Out::ok(policies::render_oac_config(&o.config), Some(&o.etag))
            }
            Op::ListOacs(p) => {
                let (items, next) = cloudfront::page(
                    cf.list_oacs(account)?,
                    |o| &o.id,
                    p.marker.as_deref(),
                    p.max,
                );
                let items = items.iter().map(policies::render_oac_summary).collect();
                Out::ok(
                    list_doc("OriginAccessControlList", &p, next, items, true),
                    None,
                )
            }
            Op::UpdateOac(id, m, c) => {
                let o = cf.update_oac(account, &id, m.as_deref(), c).await?;
                Out::ok(policies::render_oac(&o), Some(&o.etag))
            }
            Op::DeleteOac(id, m) => {
                cf.delete_oac(account, &id, m.as_deref()).await?;
                Out::deleted()
            }
            Op::CreateDistribution(c) => {
                let d = cf.create_distribution(account, *c).await?;
                Out::created(
                    distributions::render_distribution(&d, 0, now),
                    Some(&d.etag),
                    &format!("distribution/{}", d.id),
                )
            }
            Op::GetDistribution(id) => {
                let d = cf.distribution(account, &id)?;
                Out::ok(
                    distributions::render_distribution(&d, in_progress(&id)?, now),
                    Some(&d.etag),
                )
            }
            Op::GetDistributionConfig(id) => {
                let d = cf.distribution(account, &id)?;
                Out::ok(distributions::render_config(&d.config), Some(&d.etag))
            }
            Op::ListDistributions(p) => {
                let (items, next) = cloudfront::page(
                    cf.list_distributions(account)?,
                    |d| &d.id,
                    p.marker.as_deref(),
                    p.max,
                );
                let items = items
                    .iter()
                    .map(|d| distributions::render_summary(d, now))
                    .collect();
                Out::ok(list_doc("DistributionList", &p, next, items, true), None)
            }
            Op::UpdateDistribution(id, m, c) => {
                let d = cf
                    .update_distribution(account, &id, m.as_deref(), *c)
                    .await?;
                Out::ok(
                    distributions::render_distribution(&d, in_progress(&id)?, now),
                    Some(&d.etag),
                )
            }
            Op::DeleteDistribution(id, m) => {
                cf.delete_distribution(account, &id, m.as_deref()).await?;
                Out::deleted()
            }
            Op::CreateInvalidation {
                dist,
                caller,
                paths,
            } => {
                let i = cf
                    .create_invalidation(account, &dist, &caller, paths)
                    .await?;
                Out::created(
                    distributions::render_invalidation(&i, now),
                    None,
                    &format!("distribution/{dist}/invalidation/{}", i.id),
                )
            }
            Op::GetInvalidation { dist, id } => {
                let i = cf.invalidation(account, &dist, &id)?;
                Out::ok(distributions::render_invalidation(&i, now), None)
            }
            Op::ListInvalidations(dist, p) => {
                let all = cf.list_invalidations(account, &dist)?;
                // Newest first: the marker is the last id of the previous page, by position.
                let start = p
                    .marker
                    .as_deref()
                    .and_then(|m| all.iter().position(|i| i.id == m).map(|i| i + 1))
                    .unwrap_or(0);
                let rest: Vec<_> = all.into_iter().skip(start).collect();
                let next = (rest.len() > p.max).then(|| rest[p.max - 1].id.clone());
                let items = rest
                    .iter()
                    .take(p.max)
                    .map(|i| distributions::render_invalidation_summary(i, now))
                    .collect();
                Out::ok(list_doc("InvalidationList", &p, next, items, true), None)
            }
            Op::CreateCachePolicy(c) => {
                let p = cf.create_cache_policy(account, c).await?;
                Out::created(
                    policies::render_cache_policy(&p),
                    Some(&p.etag),
                    &format!("cache-policy/{}", p.id),
                )
            }
            Op::GetCachePolicy(id) => {
                let p = cf.cache_policy(account, &id)?;
                Out::ok(policies::render_cache_policy(&p), Some(&p.etag))
            }
            Op::GetCachePolicyConfig(id) => {
                let p = cf.cache_policy(account, &id)?;
                Out::ok(
                    policies::render_cache_policy_config(&p.config),
                    Some(&p.etag),
                )
            }
            Op::ListCachePolicies(kind, p) => {
                let all = cf.list_cache_policies(account, kind.as_deref())?;
                let (items, next) = cloudfront::page(all, |c| &c.id, p.marker.as_deref(), p.max);
                let items = items
                    .iter()
                    .map(policies::render_cache_policy_summary)
                    .collect();
                Out::ok(list_doc("CachePolicyList", &p, next, items, false), None)
            }
            Op::UpdateCachePolicy(id, m, c) => {
                let p = cf
                    .update_cache_policy(account, &id, m.as_deref(), c)
                    .await?;
                Out::ok(policies::render_cache_policy(&p), Some(&p.etag))
            }
            Op::DeleteCachePolicy(id, m) => {
                cf.delete_cache_policy(account, &id, m.as_deref()).await?;
                Out::deleted()
            }
            Op::CreatePublicKey(c) => {
                let k = cf.create_public_key(account, c).await?;
                Out::created(
                    keys::render_public_key(&k),
                    Some(&k.etag),
                    &format!("public-key/{}", k.id),
                )
            }
            Op::GetPublicKey(id) => {
                let k = cf.public_key(account, &id)?;
                Out::ok(keys::render_public_key(&k), Some(&k.etag))
            }
            Op::GetPublicKeyConfig(id) => {
                let k = cf.public_key(account, &id)?;
                Out::ok(keys::render_public_key_config(&k.config), Some(&k.etag))
            }
            Op::ListPublicKeys(p) => {
                let (items, next) = cloudfront::page(
                    cf.list_public_keys(account)?,
                    |k| &k.id,
                    p.marker.as_deref(),
                    p.max,
                );
                let items = items.iter().map(keys::render_public_key_summary).collect();
                Out::ok(list_doc("PublicKeyList", &p, next, items, false), None)
            }
            Op::DeletePublicKey(id, m) => {
                cf.delete_public_key(account, &id, m.as_deref()).await?;
                Out::deleted()
            }
            Op::CreateKeyGroup(c) => {
                let g = cf.create_key_group(account, c).await?;
                Out::created(
                    keys::render_key_group(&g),
                    Some(&g.etag),
                    &format!("key-group/{}", g.id),
                )
            }
            Op::GetKeyGroup(id) => {
                let g = cf.key_group(account, &id)?;
                Out::ok(keys::render_key_group(&g), Some(&g.etag))
            }
            Op::GetKeyGroupConfig(id) => {
                let g = cf.key_group(account, &id)?;
                Out::ok(keys::render_key_group_config(&g.config), Some(&g.etag))
            }
            Op::ListKeyGroups(p) => {
                let (items, next) = cloudfront::page(
                    cf.list_key_groups(account)?,
                    |g| &g.id,
                    p.marker.as_deref(),
                    p.max,
                );
                let items = items.iter().map(keys::render_key_group_summary).collect();
                Out::ok(list_doc("KeyGroupList", &p, next, items, false), None)
            }
            Op::DeleteKeyGroup(id, m) => {
                cf.delete_key_group(account, &id, m.as_deref()).await?;
                Out::deleted()
            }
        })
    }
}

#[async_trait::async_trait]
impl Service for CloudFrontService {
    fn signing_name(&self) -> &'static str {
        "cloudfront"
    }

    fn event_source(&self) -> &'static str {
        "cloudfront.amazonaws.com"
    }

    fn protocol(&self) -> Protocol {
        Protocol::RestXmlWrapped { xmlns: XMLNS }
    }

    async fn plan(&self, call: &Call) -> Result<Plan, ApiError> {
        let path = call.parts.uri.path();
        let Some((operation, read_only, kind, ids)) = route(&call.parts.method, path) else {
            return Err(ApiError::new(
                404,
                "InvalidURI",
                format!("Could not parse the specified URI: {path}"),
            ));
        };
        let account = &call.ctx.caller.account;
        if account.is_empty() {
            return Err(ApiError::new(
                403,
                "MissingAuthenticationToken",
                "Missing Authentication Token",
            ));
        }
        let resource = match (kind, ids.first()) {
            ("*", _) | (_, None) => "*".to_owned(),
            (kind, Some(id)) => format!("arn:aws:cloudfront::{account}:{kind}/{id}"),
        };
        let params = request_parameters(call, &ids, operation);
        let decoded = decode(operation, &ids, call);
        let check = Check::own(format!("cloudfront:{operation}"), resource, account);
        Ok(Plan::new(operation, read_only, vec![check], decoded).with_parameters(params))
    }

    async fn execute(
        &self,
        call: &Call,
        plan: Plan,
        _proof: Authorized,
    ) -> Result<Reply, ApiError> {
        let read_only = plan.read_only;
        let op: Result<Op, ApiError> = plan.take_input()?;
        let out = self
            .run(&call.ctx.caller.account, op?)
            .await
            .map_err(engine_error)?;
        let body = out.body.as_ref().map(xml::document).unwrap_or_default();
        let mut reply = Reply::new(out.status, "text/xml", body);
        if out.body.is_none() {
            reply.headers.clear();
        }
        if let Some(e) = out
            .etag
            .as_deref()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            reply.headers.push((http::header::ETAG, e));
        }
        if let Some(l) = out
            .location
            .as_deref()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            reply.headers.push((HeaderName::from_static("location"), l));
        }
        if !read_only {
            if let Some(b) = &out.body {
                let mut m = serde_json::Map::new();
                m.insert(xml::camel(&b.name), xml::to_json(b));
                if let Some(e) = &out.etag {
                    m.insert("eTag".into(), e.clone().into());
                }
                reply = reply.with_response_elements(serde_json::Value::Object(m));
            }
        }
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_bodies_get_errors_not_panics() {
        for body in [
            &b""[..],
            b"<",
            b"<DistributionConfig>",
            b"<DistributionConfig></Other>",
            b"<Other/>",
            b"<DistributionConfig>&unknown;</DistributionConfig>",
            b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><DistributionConfig>&a;</DistributionConfig>",
            b"<DistributionConfig><Origins><Quantity>99999999999999999999</Quantity></Origins></DistributionConfig>",
            b"\xff\xfe<\x00>",
        ] {
            assert!(parse_distribution_config(body).is_err(), "{body:?}");
            assert!(parse_cache_policy_config(body).is_err(), "{body:?}");
        }
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(parse_distribution_config(deep.as_bytes()).is_err());
        // Bytes from a fixed pseudo-random sequence: never a panic.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let body: Vec<u8> = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let alphabet = b"<>/=\"&;DistributionConfig Origins Items Quantity 1";
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse_distribution_config(&body);
        }
    }
}
