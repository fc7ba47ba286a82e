//! AWS KMS on the shared endpoint, speaking JSON 1.1 (`X-Amz-Target: TrentService.<Op>`).

mod input;
