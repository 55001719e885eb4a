//! argon2id password hashing (m = 19 MiB, t = 2, p = 1), off the async workers, with bounded
//! concurrency so a sign-in flood queues here instead of starving every other request.

use std::sync::Arc;

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
    /// One permit per hash that may run; a permit moves into the blocking task and is released
    /// only when the hash has finished, whatever happens to the request that asked for it.
    permits: Arc<Semaphore>,
    /// Places in the queue (running or waiting). A place is an owned permit held by the request,
    /// so a request dropped while it waits gives its place back (cancel-safe).
    places: Arc<Semaphore>,
    /// Verified against for unknown logins, so they cost the same as known ones.
    dummy_hash: String,
}

impl Hasher {
    pub fn new(concurrency: usize) -> ApiResult<Hasher> {
        let concurrency = concurrency.max(1);
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(concurrency)),
            places: Arc::new(Semaphore::new(concurrency + MAX_WAITING)),
            dummy_hash: hash_blocking("carebill dummy password for unknown logins")?,
        })
    }

    async fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> ApiResult<R> {
        let Ok(place) = Arc::clone(&self.places).try_acquire_owned() else {
            return Err(ApiError::new(ErrorCode::RateLimited).retry_after(1));
        };
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("hasher closed"))?;
        tokio::task::spawn_blocking(move || {
            // Both are released when the work ends, not when the request goes away: a cancelled
            // request can neither leak its place nor let more hashes run than there are permits.
            let _held = (permit, place);
            f()
        })
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

    /// Review finding 3: requests dropped while they wait (clients that give up) never use up
    /// the queue, and dropped requests whose hash is running never let more hashes run at once
    /// than the concurrency allows.
    #[tokio::test]
    async fn cancelled_requests_give_their_place_back_and_never_exceed_the_cap() {
        let h = Arc::new(Hasher::new(1).unwrap());
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // Hold the only hashing slot with a slow job.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = {
            let h = Arc::clone(&h);
            tokio::spawn(async move {
                h.run(move || {
                    let _ = released.recv();
                })
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // Far more than the queue holds, each abandoned while it waits.
        for _ in 0..(MAX_WAITING + 50) {
            let _ = tokio::time::timeout(
                std::time::Duration::from_millis(1),
                h.verify("wrong password".into(), None),
            )
            .await;
        }
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        // Abandoned while running: the first job starts and its request is dropped at once; the
        // next request may not start another hash until that one has finished.
        for _ in 0..5 {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            let job = h.run(move || {
                let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(100));
                running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
            let _ = tokio::time::timeout(std::time::Duration::from_millis(10), job).await;
        }
        // Sign-in still works, and at most one hash ever ran at a time.
        let hash = h.hash("correct horse battery staple".into()).await.unwrap();
        assert!(
            h.verify("correct horse battery staple".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(most.load(std::sync::atomic::Ordering::SeqCst) <= 1);
    }
}
