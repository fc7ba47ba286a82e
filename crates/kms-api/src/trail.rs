//! What CloudTrail records of a KMS call: request parameters and response elements with CloudTrail's
//! camelCase member names, never plaintext, ciphertext, data keys or grant tokens.

use api::query::lower_first;
use serde_json::{Map, Value};

/// Members never recorded: secrets, bearer tokens and blobs.
const SECRET_MEMBERS: &[&str] = &[
    "Plaintext",
    "CiphertextBlob",
    "CiphertextForRecipient",
    "GrantToken",
    "GrantTokens",
    "Recipient",
];

/// Map-typed members whose keys are the caller's own (encryption contexts), kept verbatim.
const VERBATIM_MAPS: &[&str] = &[
    "EncryptionContext",
    "SourceEncryptionContext",
    "DestinationEncryptionContext",
    "EncryptionContextSubset",
    "EncryptionContextEquals",
];

/// A request body or response as CloudTrail records it; `null` when nothing remains.
pub(crate) fn record(members: &Map<String, Value>) -> Value {
    let out = convert_object(members);
    if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    }
}

fn convert_object(members: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in members {
        if SECRET_MEMBERS.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        let value = if VERBATIM_MAPS.contains(&k.as_str()) {
            v.clone()
        } else {
            convert(v)
        };
        out.insert(lower_first(k), value);
    }
    out
}

fn convert(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(convert_object(o)),
        Value::Array(items) => Value::Array(items.iter().map(convert).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_camel_case_and_secrets_are_dropped() {
        let body = json!({
            "KeyId": "alias/app",
            "Plaintext": "c2VjcmV0",
            "CiphertextBlob": "AAAA",
            "GrantTokens": ["t"],
            "EncryptionContext": {"Department": "IT"},
            "Constraints": {"EncryptionContextSubset": {"Dept": "IT"}},
            "Tags": [{"TagKey": "a", "TagValue": "b"}],
        });
        let rec = record(body.as_object().unwrap());
        assert_eq!(
            rec,
            json!({
                "keyId": "alias/app",
                "encryptionContext": {"Department": "IT"},
                "constraints": {"encryptionContextSubset": {"Dept": "IT"}},
                "tags": [{"tagKey": "a", "tagValue": "b"}],
            })
        );
        assert_eq!(record(&Map::new()), Value::Null);
    }
}
