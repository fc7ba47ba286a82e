//! Authentication for s3s: the secret of an access key, from the identity engine. s3s verifies the
//! signature with it (header, presigned, aws-chunked and POST forms); who the key belongs to and whether its
//! session token is right is decided afterwards by the access check.

use iam::Iam;
use s3s::auth::{S3Auth, SecretKey};
use s3s::S3Result;

pub(crate) struct IamAuth {
    pub(crate) iam: Iam,
}

#[async_trait::async_trait]
impl S3Auth for IamAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.iam.authenticate(access_key) {
            Ok(Some(c)) if c.active => Ok(SecretKey::from(c.secret.as_str())),
            Ok(_) => Err(crate::error::to_s3(
                api::AuthFailure::UnknownKey.to_api_error("s3"),
            )),
            Err(e) => Err(crate::error::to_s3(api::ApiError::internal(e))),
        }
    }
}
