//! The in-process KMS client other services (S3, later the edge path) use to get and open data keys on a
//! caller's behalf. Each call is a real KMS request run through [`api::Dispatcher::call_internal`]: planned,
//! authorized against the key policy and grants (with `kms:ViaService` and the caller's own context) and audited
//! like an HTTP call, with `userIdentity.invokedBy` naming the calling service.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use api::{ApiError, AuthType, Call, Dispatcher, RequestContext, Via};
use base64::Engine as _;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::wire::CONTENT_TYPE;

/// A late-bound reference to the dispatcher. Services that call KMS are registered in the same dispatcher, so
/// they are built before it exists; the binary binds the handle once the dispatcher is in its `Arc`. The
/// reference is weak so the dispatcher and its services do not keep each other alive.
#[derive(Debug, Clone, Default)]
pub struct DispatcherHandle(Arc<OnceLock<Weak<Dispatcher>>>);

impl DispatcherHandle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds the handle; later binds are ignored (there is one dispatcher per process).
    pub fn bind(&self, dispatcher: &Arc<Dispatcher>) {
        let _ = self.0.set(Arc::downgrade(dispatcher));
    }

    fn get(&self) -> Result<Arc<Dispatcher>, ApiError> {
        self.0.get().and_then(Weak::upgrade).ok_or_else(|| {
            ApiError::internal("the KMS client was used before the dispatcher was bound")
        })
    }
}

/// The length of a data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKeySpec {
    Aes256,
    Aes128,
}

impl DataKeySpec {
    pub fn as_str(self) -> &'static str {
        match self {
            DataKeySpec::Aes256 => "AES_256",
            DataKeySpec::Aes128 => "AES_128",
        }
    }
}

/// A new data key: the plaintext in zeroizing memory, and the same key encrypted under the KMS key.
pub struct DataKey {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub ciphertext: Vec<u8>,
    /// The full ARN of the KMS key that encrypted it.
    pub key_arn: String,
    pub key_material_id: Option<String>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("key_arn", &self.key_arn)
            .field("key_material_id", &self.key_material_id)
            .finish_non_exhaustive()
    }
}

/// A decrypted data key.
pub struct Decrypted {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub key_arn: String,
    pub key_material_id: Option<String>,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field("key_arn", &self.key_arn)
            .finish_non_exhaustive()
    }
}

/// Where an internal call's plaintext is handed back, instead of travelling base64-encoded in the response
/// body. Only calls built in this process can carry one: the extension cannot come from the network.
#[derive(Clone, Default)]
pub(crate) struct Handoff(Arc<Mutex<Option<Zeroizing<Vec<u8>>>>>);

impl Handoff {
    /// Deposits the plaintext of the call.
    pub fn put(&self, plaintext: Zeroizing<Vec<u8>>) {
        *self.0.lock().expect("handoff lock") = Some(plaintext);
    }

    fn take(&self) -> Option<Zeroizing<Vec<u8>>> {
        self.0.lock().expect("handoff lock").take()
    }
}

/// The plaintext channel of `call`, when it is an internal call that brought one.
pub(crate) fn handoff(call: &Call) -> Option<&Handoff> {
    if call.ctx.auth_type != AuthType::Internal {
        return None;
    }
    call.parts.extensions.get::<Handoff>()
}

/// KMS as seen by another service of this process.
#[derive(Debug, Clone)]
pub struct KmsClient {
    dispatcher: DispatcherHandle,
    /// The calling service's signing name (`s3`): it forms `kms:ViaService` and `invokedBy`.
    service: String,
}

impl KmsClient {
    /// A client for the service named `service` (`s3`), using the dispatcher `dispatcher` will be bound to.
    pub fn new(dispatcher: DispatcherHandle, service: &str) -> Self {
        Self {
            dispatcher,
            service: service.to_owned(),
        }
    }

    /// GenerateDataKey on behalf of the principal of `on_behalf`.
    pub async fn generate_data_key(
        &self,
        on_behalf: &RequestContext,
        key_ref: &str,
        context: &BTreeMap<String, String>,
        spec: DataKeySpec,
    ) -> Result<DataKey, ApiError> {
        let body = json!({
            "KeyId": key_ref,
            "EncryptionContext": context,
            "KeySpec": spec.as_str(),
        });
        let handoff = Handoff::default();
        let out = self
            .call(on_behalf, "GenerateDataKey", &body, handoff.clone())
            .await?;
        Ok(DataKey {
            plaintext: handoff
                .take()
                .ok_or_else(|| ApiError::internal("GenerateDataKey returned no plaintext"))?,
            ciphertext: blob(&out, "CiphertextBlob")?,
            key_arn: string(&out, "KeyId")?,
            key_material_id: out
                .get("KeyMaterialId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// Decrypt on behalf of the principal of `on_behalf`; the key is found from the ciphertext.
    pub async fn decrypt(
        &self,
        on_behalf: &RequestContext,
        ciphertext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<Decrypted, ApiError> {
        let body = json!({
            "CiphertextBlob": crate::wire::b64(ciphertext),
            "EncryptionContext": context,
        });
        let handoff = Handoff::default();
        let out = self
            .call(on_behalf, "Decrypt", &body, handoff.clone())
            .await?;
        Ok(Decrypted {
            plaintext: handoff
                .take()
                .ok_or_else(|| ApiError::internal("Decrypt returned no plaintext"))?,
            key_arn: string(&out, "KeyId")?,
            key_material_id: out
                .get("KeyMaterialId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// Builds the internal call — the original caller, region and source context, with `via` naming the
    /// calling service — and runs it through the dispatcher.
    async fn call(
        &self,
        on_behalf: &RequestContext,
        operation: &str,
        body: &Value,
        handoff: Handoff,
    ) -> Result<Value, ApiError> {
        let dispatcher = self.dispatcher.get()?;
        let (mut parts, ()) = http::Request::builder()
            .method("POST")
            .uri("/")
            .header("x-amz-target", format!("TrentService.{operation}"))
            .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(())
            .map_err(ApiError::internal)?
            .into_parts();
        parts.extensions.insert(handoff);
        let service_principal = format!("{}.amazonaws.com", self.service);
        let mut ctx = on_behalf.clone();
        ctx.request_id = uuid::Uuid::new_v4().to_string();
        ctx.service = "kms".to_owned();
        ctx.auth_type = AuthType::Internal;
        ctx.user_agent = service_principal.clone();
        ctx.via = Some(Via {
            service_endpoint: format!("{}.{}.amazonaws.com", self.service, on_behalf.region),
            service_principal,
        });
        let call = Call {
            ctx,
            parts,
            body: body.to_string().into(),
        };
        let reply = dispatcher.call_internal("kms", call).await?;
        serde_json::from_slice(&reply.body).map_err(ApiError::internal)
    }
}

fn string(v: &Value, member: &str) -> Result<String, ApiError> {
    v.get(member)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::internal(format!("KMS response without {member}")))
}

fn blob(v: &Value, member: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(string(v, member)?)
        .map_err(ApiError::internal)
}
