//! Decoding JSON 1.1 request bodies with the constraints of botocore's KMS model: member types, required
//! members, length limits, ranges and enums, with KMS's `ValidationException` wording.

use std::collections::BTreeMap;

use api::query::lower_first;
use api::ApiError;
use base64::Engine as _;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// An encryption context: string pairs bound to a ciphertext as additional authenticated data.
pub(crate) type EncryptionContext = BTreeMap<String, String>;

/// KMS's enum of encryption algorithms; only `SYMMETRIC_DEFAULT` applies to the keys coffer makes.
pub(crate) const ENCRYPTION_ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];

/// The operations a grant can allow (`GrantOperation`), as the engine defines them.
pub(crate) use kms::GRANT_OPERATIONS;

/// A `ValidationException` in KMS's wording for one failed constraint of `member`.
pub(crate) fn validation(value: &str, member: &str, constraint: &str) -> ApiError {
    ApiError::bad_request(
        "ValidationException",
        format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: {constraint}",
            lower_first(member)
        ),
    )
}

/// A member of the wrong JSON type: the SDKs never send one, so AWS answers with a serialization error.
fn serialization(member: &str, expected: &str) -> ApiError {
    ApiError::bad_request(
        "SerializationException",
        format!("{member} must be {expected}."),
    )
}

/// A decoded request body: a JSON object whose members are read with the model's constraints.
#[derive(Debug, Default)]
pub(crate) struct Body {
    map: Map<String, Value>,
}

impl Body {
    /// Parses a body; an empty body is an empty object, as the SDKs send `{}` for operations without input.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self { map }),
            Ok(_) => Err(ApiError::bad_request(
                "SerializationException",
                "The request body must be a JSON object.",
            )),
            Err(_) => Err(ApiError::bad_request(
                "SerializationException",
                "The request body is not valid JSON.",
            )),
        }
    }

    /// The raw members, for the audit record.
    pub fn members(&self) -> &Map<String, Value> {
        &self.map
    }

    /// A member's value; JSON `null` counts as absent, as in the SDKs' serializers.
    fn get(&self, member: &str) -> Option<&Value> {
        self.map.get(member).filter(|v| !v.is_null())
    }

    /// An optional string of `min..=max` characters.
    pub fn string(&self, member: &str, min: usize, max: usize) -> Result<Option<String>, ApiError> {
        let Some(v) = self.get(member) else {
            return Ok(None);
        };
        let s = v
            .as_str()
            .ok_or_else(|| serialization(member, "a string"))?;
        check_len(s, member, min, max)?;
        Ok(Some(s.to_owned()))
    }

    /// A required string of `min..=max` characters.
    pub fn required_string(
        &self,
        member: &str,
        min: usize,
        max: usize,
    ) -> Result<String, ApiError> {
        self.string(member, min, max)?
            .ok_or_else(|| missing(member))
    }

    /// A required `KeyIdType` (key id, key ARN, alias name or alias ARN; 1 to 2048 characters).
    pub fn key_id(&self, member: &str) -> Result<String, ApiError> {
        self.required_string(member, 1, 2048)
    }

    pub fn opt_key_id(&self, member: &str) -> Result<Option<String>, ApiError> {
        self.string(member, 1, 2048)
    }

    /// An optional integer within `[min, max]`.
    pub fn int(&self, member: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(member) else {
            return Ok(None);
        };
        let n = v
            .as_i64()
            .ok_or_else(|| serialization(member, "an integer"))?;
        if n < min {
            return Err(validation(
                &n.to_string(),
                member,
                &format!("Member must have value greater than or equal to {min}"),
            ));
        }
        if n > max {
            return Err(validation(
                &n.to_string(),
                member,
                &format!("Member must have value less than or equal to {max}"),
            ));
        }
        Ok(Some(n))
    }

    pub fn bool(&self, member: &str) -> Result<Option<bool>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(serialization(member, "a boolean")),
        }
    }

    /// An optional value of an enum.
    pub fn enumerated(&self, member: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        let Some(v) = self.string(member, 0, usize::MAX)? else {
            return Ok(None);
        };
        if !allowed.contains(&v.as_str()) {
            return Err(validation(
                &v,
                member,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(Some(v))
    }

    /// An optional base64 blob of `min..=max` bytes, decoded into zeroizing memory (it may be plaintext).
    pub fn blob(
        &self,
        member: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, ApiError> {
        let Some(v) = self.get(member) else {
            return Ok(None);
        };
        let s = v
            .as_str()
            .ok_or_else(|| serialization(member, "a base64 string"))?;
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| serialization(member, "valid base64"))?,
        );
        // Blob values never appear in messages: they may be plaintext.
        if bytes.len() < min {
            return Err(validation(
                "java.nio.HeapByteBuffer",
                member,
                &format!("Member must have length greater than or equal to {min}"),
            ));
        }
        if bytes.len() > max {
            return Err(validation(
                "java.nio.HeapByteBuffer",
                member,
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
        Ok(Some(bytes))
    }

    /// An optional encryption context (a map of strings); absent means empty.
    pub fn context(&self, member: &str) -> Result<EncryptionContext, ApiError> {
        let Some(v) = self.get(member) else {
            return Ok(EncryptionContext::new());
        };
        string_map(v, member)
    }

    /// An optional list of strings.
    pub fn strings(&self, member: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(v) = self.get(member) else {
            return Ok(None);
        };
        let items = v
            .as_array()
            .ok_or_else(|| serialization(member, "a list"))?;
        items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| serialization(member, "a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `GrantTokens`: at most 10 tokens of 1 to 8192 characters. coffer's grants take effect immediately, so
    /// tokens are accepted and need not be presented.
    pub fn grant_tokens(&self) -> Result<Vec<String>, ApiError> {
        let tokens = self.strings("GrantTokens")?.unwrap_or_default();
        if tokens.len() > 10 {
            return Err(validation(
                "[…]",
                "GrantTokens",
                "Member must have length less than or equal to 10",
            ));
        }
        for t in &tokens {
            check_len(t, "GrantTokens", 1, 8192)?;
        }
        Ok(tokens)
    }

    /// An optional `TagList`: `[{TagKey, TagValue}]` with keys of 1 to 128 and values of 0 to 256 characters.
    pub fn tags(&self, member: &str) -> Result<Option<Vec<(String, String)>>, ApiError> {
        let Some(v) = self.get(member) else {
            return Ok(None);
        };
        let items = v
            .as_array()
            .ok_or_else(|| serialization(member, "a list"))?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let o = item
                .as_object()
                .ok_or_else(|| serialization(member, "a list of tags"))?;
            let key = match o.get("TagKey") {
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(serialization("TagKey", "a string")),
                None => return Err(missing("TagKey")),
            };
            let value = match o.get("TagValue") {
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(serialization("TagValue", "a string")),
                None => return Err(missing("TagValue")),
            };
            check_len(&key, "TagKey", 1, 128)?;
            check_len(&value, "TagValue", 0, 256)?;
            out.push((key, value));
        }
        Ok(Some(out))
    }

    /// The optional `Constraints` of a grant.
    pub fn constraints(&self) -> Result<Option<GrantConstraints>, ApiError> {
        let Some(v) = self.get("Constraints") else {
            return Ok(None);
        };
        let o = v
            .as_object()
            .ok_or_else(|| serialization("Constraints", "a structure"))?;
        let read = |m: &str| -> Result<Option<EncryptionContext>, ApiError> {
            match o.get(m).filter(|v| !v.is_null()) {
                None => Ok(None),
                Some(v) => string_map(v, m).map(Some),
            }
        };
        Ok(Some(GrantConstraints {
            subset: read("EncryptionContextSubset")?,
            equals: read("EncryptionContextEquals")?,
        }))
    }

    /// `Limit` (1 to 1000) and `Marker` of a list operation.
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.int("Limit", 1, 1000)?.map(|n| n as usize);
        let marker = self.string("Marker", 1, 1024)?;
        if let Some(m) = &marker {
            if !m.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c)) {
                return Err(validation(
                    m,
                    "Marker",
                    "Member must satisfy regular expression pattern: [\\u0020-\\u00FF]*",
                ));
            }
        }
        Ok(Page { limit, marker })
    }

    /// A policy document (`PolicyType`): 1 to 131072 characters of tab, newline and U+0020–U+00FF; KMS itself
    /// limits key policies to 32 KB.
    pub fn policy(&self, member: &str) -> Result<Option<String>, ApiError> {
        let Some(doc) = self.string(member, 1, 131_072)? else {
            return Ok(None);
        };
        if !doc
            .chars()
            .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
        {
            return Err(validation(
                "",
                member,
                "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
            ));
        }
        if doc.len() > 32 * 1024 {
            return Err(ApiError::bad_request(
                "LimitExceededException",
                "The key policy exceeds the maximum size of 32768 bytes.",
            ));
        }
        Ok(Some(doc))
    }

    /// A string matching `pattern_ok`, reported with the model's `pattern` when it does not.
    pub fn patterned(
        &self,
        member: &str,
        min: usize,
        max: usize,
        pattern: &str,
        pattern_ok: impl Fn(char) -> bool,
    ) -> Result<Option<String>, ApiError> {
        let Some(v) = self.string(member, min, max)? else {
            return Ok(None);
        };
        if !v.chars().all(pattern_ok) {
            return Err(validation(
                &v,
                member,
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            ));
        }
        Ok(Some(v))
    }

    /// A principal (`PrincipalIdType`: 1 to 256 characters of `[\w+=,.@:/-]`).
    pub fn principal(&self, member: &str) -> Result<Option<String>, ApiError> {
        self.patterned(member, 1, 256, "^[\\w+=,.@:/-]+$", |c| {
            c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c)
        })
    }

    /// An alias name (`AliasNameType`: 1 to 256 characters of `[a-zA-Z0-9:/_-]`).
    pub fn alias_name(&self, member: &str) -> Result<String, ApiError> {
        self.patterned(member, 1, 256, "^[a-zA-Z0-9:/_-]+$", |c| {
            c.is_ascii_alphanumeric() || ":/_-".contains(c)
        })?
        .ok_or_else(|| missing(member))
    }

    /// A region (`RegionType`: `^([a-z]+-){2,3}\d+$`).
    pub fn region(&self, member: &str) -> Result<String, ApiError> {
        let v = self.required_string(member, 1, 32)?;
        if !is_region(&v) {
            return Err(validation(
                &v,
                member,
                "Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$",
            ));
        }
        Ok(v)
    }
}

/// The constraints of a grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GrantConstraints {
    pub subset: Option<EncryptionContext>,
    pub equals: Option<EncryptionContext>,
}

/// The paging members of a list operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    pub limit: Option<usize>,
    pub marker: Option<String>,
}

impl Page {
    /// KMS's default page size is 100 for most lists (50 for grants, which sets its own).
    pub fn limit_or(&self, default: usize) -> usize {
        self.limit.unwrap_or(default)
    }
}

/// `^([a-z]+-){2,3}\d+$`.
pub(crate) fn is_region(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    if !(3..=4).contains(&parts.len()) {
        return false;
    }
    let (last, words) = parts.split_last().expect("at least three parts");
    !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

/// A required member that is absent.
pub(crate) fn missing(member: &str) -> ApiError {
    ApiError::bad_request(
        "ValidationException",
        format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(member)
        ),
    )
}

fn check_len(value: &str, member: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len < min {
        return Err(validation(
            value,
            member,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        let shown: String = value.chars().take(64).collect();
        return Err(validation(
            &shown,
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn string_map(v: &Value, member: &str) -> Result<EncryptionContext, ApiError> {
    let o = v
        .as_object()
        .ok_or_else(|| serialization(member, "a map"))?;
    o.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(serialization(member, "a map of strings")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Body {
        Body::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn empty_bodies_are_empty_objects_and_other_json_is_refused() {
        assert!(Body::parse(b"").unwrap().members().is_empty());
        assert_eq!(
            Body::parse(b"[1]").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            Body::parse(b"{nope").unwrap_err().code,
            "SerializationException"
        );
    }

    #[test]
    fn required_and_length_constraints_use_kms_wording() {
        let e = body("{}").key_id("KeyId").unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.contains("Value null at 'keyId'"), "{}", e.message);
        let e = body(r#"{"KeyId":""}"#).key_id("KeyId").unwrap_err();
        assert!(e
            .message
            .contains("Member must have length greater than or equal to 1"));
        let long = "a".repeat(2049);
        let e = body(&format!(r#"{{"KeyId":"{long}"}}"#))
            .key_id("KeyId")
            .unwrap_err();
        assert!(e
            .message
            .contains("Member must have length less than or equal to 2048"));
        let e = body(r#"{"KeyId":7}"#).key_id("KeyId").unwrap_err();
        assert_eq!(e.code, "SerializationException");
    }

    #[test]
    fn ranges_enums_and_blobs() {
        let b = body(r#"{"NumberOfBytes":0,"KeySpec":"AES_512","Plaintext":"aGk=","Bad":"!!"}"#);
        assert!(b
            .int("NumberOfBytes", 1, 1024)
            .unwrap_err()
            .message
            .contains("greater than or equal to 1"));
        assert!(b
            .enumerated("KeySpec", &["AES_256", "AES_128"])
            .unwrap_err()
            .message
            .contains("enum value set: [AES_256, AES_128]"));
        assert_eq!(
            b.blob("Plaintext", 1, 4096).unwrap().unwrap().as_slice(),
            b"hi"
        );
        assert!(b.blob("Plaintext", 3, 4096).is_err());
        assert_eq!(
            b.blob("Bad", 1, 10).unwrap_err().code,
            "SerializationException"
        );
        assert!(b.blob("Missing", 1, 10).unwrap().is_none());
    }

    #[test]
    fn contexts_tags_and_constraints() {
        let b = body(
            r#"{"EncryptionContext":{"b":"2","a":"1"},"Tags":[{"TagKey":"k","TagValue":""}],
                "Constraints":{"EncryptionContextSubset":{"Dept":"IT"}},"Ctx2":{"a":1},"T2":[{"TagKey":""}]}"#,
        );
        let ctx = b.context("EncryptionContext").unwrap();
        assert_eq!(ctx.keys().collect::<Vec<_>>(), vec!["a", "b"]);
        assert!(b.context("Absent").unwrap().is_empty());
        assert_eq!(
            b.context("Ctx2").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            b.tags("Tags").unwrap().unwrap(),
            vec![("k".into(), "".into())]
        );
        assert!(b.tags("T2").is_err());
        let c = b.constraints().unwrap().unwrap();
        assert_eq!(c.subset.unwrap()["Dept"], "IT");
        assert!(c.equals.is_none());
    }

    #[test]
    fn names_regions_and_principals() {
        let b = body(
            r#"{"A":"alias/ok-1","B":"alias/no spaces","R":"eu-west-1","S":"eu-west","P":"arn:aws:iam::1:role/x"}"#,
        );
        assert_eq!(b.alias_name("A").unwrap(), "alias/ok-1");
        assert!(b
            .alias_name("B")
            .unwrap_err()
            .message
            .contains("regular expression pattern"));
        assert_eq!(b.region("R").unwrap(), "eu-west-1");
        assert!(b.region("S").is_err());
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("US-east-1"));
        assert!(b.principal("P").unwrap().is_some());
    }

    #[test]
    fn policies_are_limited_to_32_kb() {
        let big = format!(r#"{{"Policy":"{}"}}"#, "x".repeat(32 * 1024 + 1));
        assert_eq!(
            body(&big).policy("Policy").unwrap_err().code,
            "LimitExceededException"
        );
        let bad = body("{\"Policy\":\"\\u0001\"}");
        assert_eq!(
            bad.policy("Policy").unwrap_err().code,
            "ValidationException"
        );
    }
}
