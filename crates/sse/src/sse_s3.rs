//! SSE-S3: a random data key per object, wrapped with AES-256-GCM (`crypto::seal`) under
//! `HKDF(master key, random salt, label ‖ object ARN)`, with the object ARN as associated data. A per-object
//! wrapping key keeps the master key far from AES-GCM's random-nonce limits however many objects it protects.

use api::ApiError;
use crypto::RootKey;
use objects::Encryption;
use s3_api::{ObjectIdentity, PutKey, ReadKey, SseResponse};
use zeroize::Zeroizing;

use crate::descriptor::{b64, unb64, unb64_32, Descriptor, S3Managed, DESCRIPTOR_VERSION};
use crate::master::{derive, MASTER_KEY_ID, SSE_S3_WRAP_LABEL};
use crate::{errors, KeyManager};

pub(crate) fn response() -> SseResponse {
    SseResponse {
        algorithm: Some("AES256".into()),
        ..SseResponse::default()
    }
}

/// The associated data of a wrapped SSE-S3 data key.
fn aad(object: &ObjectIdentity) -> Vec<u8> {
    format!("coffer:sse-s3:1:{}", object.object_arn()).into_bytes()
}

fn wrapping_key(master: &RootKey, salt: &[u8; 32], object: &ObjectIdentity) -> RootKey {
    let k = derive(
        master.expose(),
        salt,
        SSE_S3_WRAP_LABEL,
        object.object_arn().as_bytes(),
    );
    RootKey::from_bytes(*k)
}

impl KeyManager {
    pub(crate) async fn put_s3(&self, object: &ObjectIdentity) -> Result<PutKey, ApiError> {
        let master = self.inner.master.get_or_create().await?;
        let data_key = Zeroizing::new(crypto::random_array::<32>());
        let salt = crypto::random_array::<32>();
        let wrapped = crypto::seal(
            &wrapping_key(&master, &salt, object),
            &aad(object),
            &data_key[..],
        );
        let descriptor = Descriptor::S3(S3Managed {
            v: DESCRIPTOR_VERSION,
            mk: MASTER_KEY_ID,
            salt: b64(&salt),
            wrapped: b64(&wrapped),
        });
        Ok(PutKey {
            encryption: Encryption {
                data_key,
                descriptor: descriptor.to_stored()?,
            },
            response: response(),
        })
    }

    pub(crate) fn get_s3(
        &self,
        object: &ObjectIdentity,
        d: &S3Managed,
    ) -> Result<ReadKey, ApiError> {
        if d.mk != MASTER_KEY_ID {
            return Err(errors::damaged(&format!("unknown S3 master key {}", d.mk)));
        }
        let master = self
            .inner
            .master
            .existing()?
            .ok_or_else(|| errors::damaged("SSE-S3 object but no S3 master key exists"))?;
        let salt = unb64_32(&d.salt, "salt")?;
        let wrapped = unb64(&d.wrapped, "wrapped key")?;
        let plain = crypto::open(
            &wrapping_key(&master, &salt, object),
            &aad(object),
            &wrapped,
        )
        .map_err(|_| errors::damaged("the SSE-S3 data key does not unwrap"))?;
        let mut data_key = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            return Err(errors::damaged("the SSE-S3 data key has the wrong length"));
        }
        data_key.copy_from_slice(&plain);
        Ok(ReadKey {
            data_key,
            response: response(),
        })
    }
}
