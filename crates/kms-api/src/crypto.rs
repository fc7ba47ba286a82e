//! Cryptography: Encrypt, Decrypt, ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom.
//! Every KeyId in a response is the full key ARN (the AWS Encryption SDK checks it); plaintext only ever travels
//! in the response body (or, for in-process callers, in zeroizing memory) and never into the audit trail.

use api::{ApiError, Call, Reply};
use kms::{DataKeySpec, KeyRecord};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::authz::{cond, KeyUse, Planned, Req, Target};
use crate::client::handoff;
use crate::input::{missing, EncryptionContext, ENCRYPTION_ALGORITHMS};
use crate::{engine_error, wire, Input, KmsService};

const DATA_KEY_SPECS: &[&str] = &["AES_256", "AES_128"];
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
/// The largest plaintext Encrypt accepts (`PlaintextType`).
const MAX_PLAINTEXT: usize = 4096;
/// The largest ciphertext Decrypt and ReEncrypt accept (`CiphertextType`).
const MAX_CIPHERTEXT: usize = 6144;

pub(crate) enum Op {
    Encrypt {
        key: KeyRecord,
        plaintext: Zeroizing<Vec<u8>>,
        context: EncryptionContext,
        dry_run: bool,
    },
    Decrypt {
        key: KeyRecord,
        blob: Vec<u8>,
        context: EncryptionContext,
        dry_run: bool,
    },
    ReEncrypt {
        source: KeyRecord,
        destination: KeyRecord,
        blob: Vec<u8>,
        source_context: EncryptionContext,
        destination_context: EncryptionContext,
        dry_run: bool,
    },
    GenerateDataKey {
        key: KeyRecord,
        spec: DataKeySpec,
        context: EncryptionContext,
        with_plaintext: bool,
        dry_run: bool,
    },
    GenerateRandom {
        bytes: usize,
    },
}

pub(crate) fn plan(req: &Req<'_>) -> Option<Result<Planned, ApiError>> {
    Some(match req.operation {
        "Encrypt" => plan_encrypt(req),
        "Decrypt" => plan_decrypt(req),
        "ReEncrypt" => plan_re_encrypt(req),
        "GenerateDataKey" => plan_generate_data_key(req, true),
        "GenerateDataKeyWithoutPlaintext" => plan_generate_data_key(req, false),
        "GenerateRandom" => plan_generate_random(req),
        _ => return None,
    })
}

/// An `EncryptionAlgorithm` member: only `SYMMETRIC_DEFAULT` applies to symmetric keys.
fn algorithm(req: &Req<'_>, member: &str) -> Result<(), ApiError> {
    match req.body.enumerated(member, ENCRYPTION_ALGORITHMS)? {
        Some(a) if a != SYMMETRIC_DEFAULT => Err(ApiError::bad_request(
            "InvalidKeyUsageException",
            format!("The encryption algorithm {a} is not compatible with the key spec SYMMETRIC_DEFAULT."),
        )),
        _ => Ok(()),
    }
}

/// The checks' use of a key for a cryptographic operation: its context and `kms:EncryptionAlgorithm`.
fn crypto_use(context: &EncryptionContext) -> KeyUse<'_> {
    KeyUse {
        context: Some(context),
        extra: vec![cond("kms:EncryptionAlgorithm", SYMMETRIC_DEFAULT)],
    }
}

/// Grant tokens are checked for shape; grants take effect at once here, so they are never needed.
fn grant_tokens(req: &Req<'_>) -> Result<(), ApiError> {
    let tokens = req.body.grant_tokens()?;
    req.kms.check_grant_tokens(&tokens).map_err(engine_error)
}

fn dry_run(req: &Req<'_>) -> Result<bool, ApiError> {
    Ok(req.body.bool("DryRun")?.unwrap_or(false))
}

fn plan_encrypt(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let plaintext = req
        .body
        .blob("Plaintext", 1, MAX_PLAINTEXT)?
        .ok_or_else(|| missing("Plaintext"))?;
    let context = req.body.context("EncryptionContext")?;
    algorithm(req, "EncryptionAlgorithm")?;
    grant_tokens(req)?;
    let check = req.key_check(&target, "Encrypt", crypto_use(&context))?;
    Ok(Planned::new(Input::Crypto(Op::Encrypt {
        key: target.key.clone(),
        plaintext,
        context,
        dry_run: dry_run(req)?,
    }))
    .on_key(&target.key)
    .check(check)
    .default_param("encryptionAlgorithm", json!(SYMMETRIC_DEFAULT)))
}

/// The ciphertext member `member` (1 to 6144 bytes, required).
fn ciphertext(req: &Req<'_>, member: &str) -> Result<Vec<u8>, ApiError> {
    Ok(req
        .body
        .blob(member, 1, MAX_CIPHERTEXT)?
        .ok_or_else(|| missing(member))?
        .to_vec())
}

/// The key a Decrypt-like request uses: the one it names (authorized as named; a blob under another key is
/// `IncorrectKeyException` once authorized), else the one the ciphertext header names.
fn decrypting_key(req: &Req<'_>, key_member: &str, blob: &[u8]) -> Result<Target, ApiError> {
    match req.body.opt_key_id(key_member)? {
        Some(key_ref) => req.resolve(&key_ref),
        None => {
            let key = req
                .kms
                .resolve_ciphertext_key(req.account(), req.region(), blob)
                .map_err(engine_error)?;
            Ok(Target { key, alias: None })
        }
    }
}

fn plan_decrypt(req: &Req<'_>) -> Result<Planned, ApiError> {
    let blob = ciphertext(req, "CiphertextBlob")?;
    let context = req.body.context("EncryptionContext")?;
    algorithm(req, "EncryptionAlgorithm")?;
    grant_tokens(req)?;
    let target = decrypting_key(req, "KeyId", &blob)?;
    let check = req.key_check(&target, "Decrypt", crypto_use(&context))?;
    Ok(Planned::new(Input::Crypto(Op::Decrypt {
        key: target.key.clone(),
        blob,
        context,
        dry_run: dry_run(req)?,
    }))
    .on_key(&target.key)
    .check(check)
    .default_param("encryptionAlgorithm", json!(SYMMETRIC_DEFAULT)))
}

fn plan_re_encrypt(req: &Req<'_>) -> Result<Planned, ApiError> {
    let blob = ciphertext(req, "CiphertextBlob")?;
    let source_context = req.body.context("SourceEncryptionContext")?;
    let destination_context = req.body.context("DestinationEncryptionContext")?;
    algorithm(req, "SourceEncryptionAlgorithm")?;
    algorithm(req, "DestinationEncryptionAlgorithm")?;
    grant_tokens(req)?;
    let source = decrypting_key(req, "SourceKeyId", &blob)?;
    let destination = req.key("DestinationKeyId")?;
    let same = if source.key.arn() == destination.key.arn() {
        "true"
    } else {
        "false"
    };
    let mut from = crypto_use(&source_context);
    from.extra.push(cond("kms:ReEncryptOnSameKey", same));
    let mut to = crypto_use(&destination_context);
    to.extra.push(cond("kms:ReEncryptOnSameKey", same));
    let from_check = req.key_check(&source, "ReEncryptFrom", from)?;
    let to_check = req.key_check(&destination, "ReEncryptTo", to)?;
    Ok(Planned::new(Input::Crypto(Op::ReEncrypt {
        source: source.key.clone(),
        destination: destination.key.clone(),
        blob,
        source_context,
        destination_context,
        dry_run: dry_run(req)?,
    }))
    .on_key(&source.key)
    .on_key(&destination.key)
    .check(from_check)
    .check(to_check))
}

fn plan_generate_data_key(req: &Req<'_>, with_plaintext: bool) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let context = req.body.context("EncryptionContext")?;
    let spec = match (
        req.body.enumerated("KeySpec", DATA_KEY_SPECS)?,
        req.body.int("NumberOfBytes", 1, 1024)?,
    ) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "ValidationException",
                "Please specify either number of bytes or key spec.",
            ))
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "ValidationException",
                "Please specify either number of bytes or key spec.",
            ))
        }
        (Some(s), None) if s == "AES_128" => DataKeySpec::Aes128,
        (Some(_), None) => DataKeySpec::Aes256,
        (None, Some(n)) => DataKeySpec::Bytes(n as usize),
    };
    grant_tokens(req)?;
    let action = if with_plaintext {
        "GenerateDataKey"
    } else {
        "GenerateDataKeyWithoutPlaintext"
    };
    let check = req.key_check(&target, action, crypto_use(&context))?;
    Ok(Planned::new(Input::Crypto(Op::GenerateDataKey {
        key: target.key.clone(),
        spec,
        context,
        with_plaintext,
        dry_run: dry_run(req)?,
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_generate_random(req: &Req<'_>) -> Result<Planned, ApiError> {
    let bytes = req
        .body
        .int("NumberOfBytes", 1, 1024)?
        .ok_or_else(|| missing("NumberOfBytes"))?;
    if req.body.string("CustomKeyStoreId", 1, 64)?.is_some() {
        return Err(ApiError::bad_request(
            "UnsupportedOperationException",
            "Custom key stores are not supported.",
        ));
    }
    Ok(Planned::new(Input::Crypto(Op::GenerateRandom {
        bytes: bytes as usize,
    }))
    .check(req.identity_check("GenerateRandom", "*", Vec::new())))
}

/// AWS's answer to a dry run that would have succeeded.
fn dry_run_succeeded() -> ApiError {
    ApiError::bad_request(
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
}

/// `additionalEventData` of a cryptographic call: the key material used.
fn material(id: &str) -> Value {
    json!({ "keyMaterialId": id })
}

/// Returns plaintext to the caller: in zeroizing memory for an in-process caller, else in the body.
fn plaintext_member(call: &Call, body: &mut Value, plaintext: Zeroizing<Vec<u8>>) {
    match handoff(call) {
        Some(h) => h.put(plaintext),
        None => body["Plaintext"] = json!(wire::b64(&plaintext)),
    }
}

pub(crate) async fn execute(svc: &KmsService, call: &Call, op: Op) -> Result<Reply, ApiError> {
    let kms = &svc.kms;
    match op {
        Op::Encrypt {
            key,
            plaintext,
            context,
            dry_run,
        } => {
            if dry_run {
                return Err(dry_run_succeeded());
            }
            let blob = kms
                .encrypt(&key, &plaintext, &context)
                .map_err(engine_error)?;
            let body = json!({
                "CiphertextBlob": wire::b64(&blob),
                "KeyId": key.arn(),
                "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
            });
            Ok(wire::reply(&body).with_additional_event_data(material(key.current_material_id())))
        }
        Op::Decrypt {
            key,
            blob,
            context,
            dry_run,
        } => {
            if dry_run {
                return Err(dry_run_succeeded());
            }
            let out = kms.decrypt(&key, &blob, &context).map_err(engine_error)?;
            let mut body = json!({
                "KeyId": key.arn(),
                "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
                "KeyMaterialId": out.material_id,
            });
            let additional = material(&out.material_id);
            plaintext_member(call, &mut body, out.plaintext);
            Ok(wire::reply(&body).with_additional_event_data(additional))
        }
        Op::ReEncrypt {
            source,
            destination,
            blob,
            source_context,
            destination_context,
            dry_run,
        } => {
            if dry_run {
                return Err(dry_run_succeeded());
            }
            let opened = kms
                .decrypt(&source, &blob, &source_context)
                .map_err(engine_error)?;
            let sealed = kms
                .encrypt(&destination, &opened.plaintext, &destination_context)
                .map_err(engine_error)?;
            let body = json!({
                "CiphertextBlob": wire::b64(&sealed),
                "SourceKeyId": source.arn(),
                "KeyId": destination.arn(),
                "SourceEncryptionAlgorithm": SYMMETRIC_DEFAULT,
                "DestinationEncryptionAlgorithm": SYMMETRIC_DEFAULT,
                "SourceKeyMaterialId": opened.material_id,
                "DestinationKeyMaterialId": destination.current_material_id(),
            });
            Ok(wire::reply(&body).with_additional_event_data(json!({
                "sourceKeyMaterialId": opened.material_id,
                "keyMaterialId": destination.current_material_id(),
            })))
        }
        Op::GenerateDataKey {
            key,
            spec,
            context,
            with_plaintext,
            dry_run,
        } => {
            if dry_run {
                return Err(dry_run_succeeded());
            }
            let dk = kms
                .generate_data_key(&key, spec, &context)
                .map_err(engine_error)?;
            let mut body = json!({
                "CiphertextBlob": wire::b64(&dk.ciphertext),
                "KeyId": key.arn(),
                "KeyMaterialId": dk.material_id,
            });
            let additional = material(&dk.material_id);
            if with_plaintext {
                plaintext_member(call, &mut body, dk.plaintext);
            }
            Ok(wire::reply(&body).with_additional_event_data(additional))
        }
        Op::GenerateRandom { bytes } => {
            let random = Zeroizing::new(kms.generate_random(bytes).map_err(engine_error)?);
            let mut body = json!({});
            plaintext_member(call, &mut body, random);
            Ok(wire::reply(&body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_answers_with_aws_code() {
        assert_eq!(dry_run_succeeded().code, "DryRunOperationException");
    }

    #[test]
    fn crypto_checks_carry_context_and_algorithm() {
        let ctx: EncryptionContext = [("k".to_owned(), "v".to_owned())].into();
        let u = crypto_use(&ctx);
        assert_eq!(u.context, Some(&ctx));
        assert_eq!(
            u.extra,
            vec![cond("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT")]
        );
    }
}
