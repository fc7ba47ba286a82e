//! SSE-C: the customer's key is used for one request and forgotten. The object's data key is
//! `HKDF(customer key, random salt, label ‖ object ARN)`; what is stored is `envelope::customer_key_check`
//! (a salted HMAC of the key, as AWS stores) sealed under a key derived from the S3 master key. A check that
//! opens but does not match is a wrong key (403); a check that does not open is damaged metadata (500).

use api::ApiError;
use crypto::RootKey;
use objects::Encryption;
use s3_api::{ObjectIdentity, PutKey, ReadKey, SseRequest, SseResponse};

use crate::descriptor::{b64, unb64, unb64_32, CustomerManaged, Descriptor, DESCRIPTOR_VERSION};
use crate::master::{derive, SSE_C_CHECK_SEAL_LABEL, SSE_C_DATA_KEY_LABEL};
use crate::request::{self, CustomerKey, CUSTOMER_ALGORITHM};
use crate::{errors, KeyManager};

/// The associated data of a sealed check value.
const CHECK_AAD: &[u8] = b"coffer:sse-c-check:1";

pub(crate) fn response(md5: &str) -> SseResponse {
    SseResponse {
        customer_algorithm: Some(CUSTOMER_ALGORITHM.into()),
        customer_key_md5: Some(md5.to_owned()),
        ..SseResponse::default()
    }
}

fn check_seal_key(master: &RootKey, salt: &[u8; 32]) -> RootKey {
    RootKey::from_bytes(*derive(master.expose(), salt, SSE_C_CHECK_SEAL_LABEL, b""))
}

fn data_key(
    key: &CustomerKey,
    salt: &[u8; 32],
    object: &ObjectIdentity,
) -> zeroize::Zeroizing<[u8; 32]> {
    derive(
        &key.key,
        salt,
        SSE_C_DATA_KEY_LABEL,
        object.object_arn().as_bytes(),
    )
}

impl KeyManager {
    pub(crate) async fn put_customer(
        &self,
        object: &ObjectIdentity,
        key: CustomerKey,
    ) -> Result<PutKey, ApiError> {
        let master = self.inner.master.get_or_create().await?;
        let key_salt = crypto::random_array::<32>();
        let check_salt = crypto::random_array::<32>();
        let check = envelope::customer_key_check(&key.key, &check_salt);
        let sealed = crypto::seal(&check_seal_key(&master, &check_salt), CHECK_AAD, &check);
        let descriptor = Descriptor::Customer(CustomerManaged {
            v: DESCRIPTOR_VERSION,
            algorithm: CUSTOMER_ALGORITHM.into(),
            key_salt: b64(&key_salt),
            check_salt: b64(&check_salt),
            check: b64(&sealed),
        });
        Ok(PutKey {
            encryption: Encryption {
                data_key: data_key(&key, &key_salt, object),
                descriptor: descriptor.to_stored()?,
            },
            response: response(&key.md5),
        })
    }

    /// The request's customer key, verified against the stored check.
    pub(crate) fn verify_customer(
        &self,
        d: &CustomerManaged,
        sse: &SseRequest,
    ) -> Result<CustomerKey, ApiError> {
        // A key of the wrong length can never be the right one: S3 answers a read with it as a wrong key.
        let key = match request::customer_key(sse, false) {
            Err(e) if e.message == errors::customer_bad_key().message => {
                return Err(errors::customer_wrong_key())
            }
            other => other?,
        };
        let master = self
            .inner
            .master
            .existing()?
            .ok_or_else(|| errors::damaged("SSE-C object but no S3 master key exists"))?;
        let check_salt = unb64_32(&d.check_salt, "check salt")?;
        let sealed = unb64(&d.check, "check")?;
        let check = crypto::open(&check_seal_key(&master, &check_salt), CHECK_AAD, &sealed)
            .map_err(|_| errors::damaged("the SSE-C key check does not authenticate"))?;
        let check: [u8; 32] = check[..]
            .try_into()
            .map_err(|_| errors::damaged("the SSE-C key check has the wrong length"))?;
        if !envelope::verify_customer_key(&key.key, &check_salt, &check) {
            return Err(errors::customer_wrong_key());
        }
        Ok(key)
    }

    pub(crate) fn get_customer(
        &self,
        object: &ObjectIdentity,
        d: &CustomerManaged,
        sse: &SseRequest,
    ) -> Result<ReadKey, ApiError> {
        let key = self.verify_customer(d, sse)?;
        let key_salt = unb64_32(&d.key_salt, "key salt")?;
        Ok(ReadKey {
            data_key: data_key(&key, &key_salt, object),
            response: response(&key.md5),
        })
    }
}
