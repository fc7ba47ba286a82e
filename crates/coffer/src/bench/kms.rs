//! KMS workloads (JSON 1.1: a signed POST with `X-Amz-Target`), and the `CreateKey` the S3 workloads use for
//! SSE-KMS.

use anyhow::Context;
use bytes::Bytes;

use super::{call, BenchClient, RequestShape, Target, Workload};

/// A KMS request: `target` is the `X-Amz-Target` operation, e.g. `TrentService.Decrypt`.
fn request(target: &'static str, body: serde_json::Value) -> RequestShape {
    RequestShape::post(
        "kms",
        vec![
            (
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/x-amz-json-1.1"),
            ),
            (
                http::HeaderName::from_static("x-amz-target"),
                http::HeaderValue::from_static(target),
            ),
        ],
        Bytes::from(body.to_string()),
    )
}

fn json(b: &Bytes) -> anyhow::Result<serde_json::Value> {
    serde_json::from_slice(b).context("the endpoint's answer is not JSON")
}

/// Creates a symmetric KMS key and returns its id.
pub(super) async fn create_key(client: &BenchClient, target: &Target) -> anyhow::Result<String> {
    let created = call(
        client,
        target,
        &request(
            "TrentService.CreateKey",
            serde_json::json!({"Description": "coffer bench"}),
        ),
    )
    .await?;
    Ok(json(&created)?["KeyMetadata"]["KeyId"]
        .as_str()
        .context("CreateKey returned no KeyId")?
        .to_owned())
}

/// `kms:GenerateDataKey` on a new key, or `kms:Decrypt` of a data key generated under it.
pub(super) async fn prepare(
    client: &BenchClient,
    target: &Target,
    workload: Workload,
) -> anyhow::Result<RequestShape> {
    let key_id = create_key(client, target).await?;
    let context = serde_json::json!({"purpose": "bench"});
    let gdk = request(
        "TrentService.GenerateDataKey",
        serde_json::json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": context}),
    );
    if workload == Workload::KmsGenerateDataKey {
        return Ok(gdk);
    }
    let generated = json(&call(client, target, &gdk).await?)?;
    let blob = generated["CiphertextBlob"]
        .as_str()
        .context("GenerateDataKey returned no blob")?;
    Ok(request(
        "TrentService.Decrypt",
        serde_json::json!({"CiphertextBlob": blob, "EncryptionContext": context}),
    ))
}
