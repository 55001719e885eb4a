//! argon2id password hashing (m = 19 MiB, t = 2, p = 1), off the async workers, with bounded
//! concurrency so a sign-in flood queues here instead of starving every other request.

use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use carebill_api::ErrorCode;
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;
/// Requests allowed to wait for a hashing slot before new ones are turned away (429).
const MAX_WAITING: usize = 256;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password synchronously (command-line tools, seeding).
pub fn hash_blocking(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("argon2: {e}")))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

pub struct Hasher {
    permits: Semaphore,
    waiting: AtomicUsize,
    /// Verified against for unknown logins, so they cost the same as known ones.
    dummy_hash: String,
}

impl Hasher {
    pub fn new(concurrency: usize) -> ApiResult<Hasher> {
        Ok(Hasher {
            permits: Semaphore::new(concurrency.max(1)),
            waiting: AtomicUsize::new(0),
            dummy_hash: hash_blocking("carebill dummy password for unknown logins")?,
        })
    }

    async fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> ApiResult<R> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::new(ErrorCode::RateLimited).retry_after(1));
        }
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let _permit = permit.map_err(|_| ApiError::internal("hasher closed"))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ApiError::internal(format!("hash task: {e}")))
    }

    pub async fn hash(&self, password: String) -> ApiResult<String> {
        self.run(move || hash_blocking(&password)).await?
    }

    /// Checks `password` against `hash`; with no hash (unknown login) runs the same work
    /// against a dummy and answers false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> ApiResult<bool> {
        let dummy = self.dummy_hash.clone();
        self.run(move || match hash {
            Some(h) => verify_blocking(&password, &h),
            None => {
                let _ = verify_blocking(&password, &dummy);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_chosen_parameters_and_verify() {
        let h = Hasher::new(2).unwrap();
        let hash = h.hash("correct horse battery staple".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(
            h.verify("correct horse battery staple".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!h.verify("wrong horse battery staple".into(), Some(hash)).await.unwrap());
        assert!(!h.verify("anything".into(), None).await.unwrap());
    }
}
