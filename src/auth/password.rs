//! Argon2id password hashing at one of OWASP's recommended costs: 7 MiB, 5 iterations,
//! 1 lane.
//!
//! OWASP lists five Argon2id settings that "provide an equal level of defense" and differ
//! only in trading memory for CPU (19 MiB with 2 iterations ... 7 MiB with 5). This server
//! runs in a small container, so it takes the least memory. Hashes made with any other
//! setting (their PHC string names it) still verify.
//!
//! Hashing runs on dedicated threads (one fewer than the cores, at least one), never on the
//! async runtime, so a flood of logins queues there and cannot take every core or unbounded
//! memory from other requests. A thread reuses its Argon2 memory while hashes are waiting
//! and frees it when none is: allocating it per hash made glibc's allocator fragment (RSS
//! grew by hundreds of MiB under a login flood), and keeping it forever cost memory idle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use secrecy::{ExposeSecret, SecretString};

/// Shortest password accepted anywhere.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted; anything longer is surely not typed by a person.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Salt length (the PHC recommendation).
const SALT_LEN: usize = 16;
/// Hash output length.
const OUTPUT_LEN: usize = 32;
/// Argon2 memory in KiB (7 MiB).
const MEMORY_KIB: u32 = 7 * 1024;
/// Argon2 passes over the memory.
const ITERATIONS: u32 = 5;

/// The cost new hashes use (see the module documentation).
fn params() -> Params {
    Params::new(MEMORY_KIB, ITERATIONS, 1, Some(OUTPUT_LEN)).expect("the Argon2 parameters are valid")
}

/// Checks a new password's length; the message names the rule.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(format!("must be at most {MAX_PASSWORD_LEN} characters"));
    }
    Ok(())
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$m=7168,t=5,p=1$...`) with a
/// random salt.
pub async fn hash_password(password: SecretString) -> Result<String, HashError> {
    run_on_pool(move |memory| new_hash(password.expose_secret().as_bytes(), memory)).await
}

/// A PHC string of `password` at [`params`], with a random salt.
fn new_hash(password: &[u8], memory: &mut Memory) -> anyhow::Result<String> {
    let salt: [u8; SALT_LEN] = rand::random();
    let params = params();
    let mut output = [0u8; OUTPUT_LEN];
    argon2id(params.clone())
        .hash_password_into_with_memory(password, &salt, &mut output, memory.blocks(&params))
        .map_err(|e| anyhow!("hashing the password failed: {e}"))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(output)
    ))
}

/// Whether `password` matches `hash`. When no account exists pass `None`: a hash is still
/// checked, so the answer takes as long as for a real account and does not reveal which
/// emails are registered.
pub async fn verify_password(password: SecretString, hash: Option<String>) -> Result<bool, HashError> {
    run_on_pool(move |memory| {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow!("stored password hash is invalid: {e}"))?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| anyhow!("unsupported hash: {e}"))?;
        let version = parsed.version.map(Version::try_from).transpose().map_err(|e| anyhow!("bad version: {e}"))?;
        let params = Params::try_from(&parsed).map_err(|e| anyhow!("bad hash parameters: {e}"))?;
        let salt = parsed.salt.context("stored password hash has no salt")?;
        let expected = parsed.hash.context("stored password hash has no output")?;
        let mut output = vec![0u8; expected.len()];
        Argon2::new(algorithm, version.unwrap_or_default(), params.clone())
            .hash_password_into_with_memory(
                password.expose_secret().as_bytes(),
                salt.as_ref(),
                &mut output,
                memory.blocks(&params),
            )
            .map_err(|e| anyhow!("checking the password failed: {e}"))?;
        let matches = aws_lc_rs::constant_time::verify_slices_are_equal(&output, expected.as_ref()).is_ok();
        Ok(known && matches)
    })
    .await
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password, checked when the account does not exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let password: [u8; 16] = rand::random();
    new_hash(&password, &mut Memory::default()).expect("hashing random bytes cannot fail")
});

/// A hashing thread's Argon2 memory, grown once to the size a hash needs and reused.
#[derive(Default)]
struct Memory(Vec<Block>);

impl Memory {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let needed = params.block_count();
        if self.0.len() != needed {
            self.0 = vec![Block::default(); needed];
        }
        &mut self.0
    }
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Hashes a thread may have waiting before new ones are refused. A hash takes about 30 ms
/// here, so a full queue is about a second of work: past that a login flood gets 503 with
/// `Retry-After` at once instead of queueing without bound.
const QUEUE_PER_THREAD: usize = 32;
/// How long a refused caller waits before hearing so. A flood that retries at once would
/// otherwise spin on instant refusals and take the CPU the bound protects (in the benchmark,
/// `/health` during a login flood went from 3 ms to 15 ms at p99); waiting costs nothing.
const REFUSAL_DELAY: Duration = Duration::from_millis(250);

/// Why a hash was not computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are waiting; retry in a moment.
    #[error("too many password checks are waiting")]
    Busy,
    /// Hashing failed (a corrupt stored hash, or the hashing threads are gone).
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Dedicated hashing threads behind a bounded queue.
struct HashPool {
    sender: Sender<Job>,
    /// Hashes queued or running.
    pending: Arc<AtomicUsize>,
    /// Most hashes queued or running at once.
    capacity: usize,
}

impl HashPool {
    fn start(threads: usize, capacity: usize) -> Self {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let pending = Arc::new(AtomicUsize::new(0));
        for n in 0..threads {
            let (receiver, pending): (Arc<Mutex<Receiver<Job>>>, _) = (receiver.clone(), pending.clone());
            std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || {
                    let mut memory = Memory::default();
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        job(&mut memory);
                        if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                            // Nothing else waiting: give the memory back.
                            memory = Memory::default();
                        }
                    }
                })
                .expect("cannot start a password hashing thread");
        }
        HashPool { sender, pending, capacity }
    }

    /// Runs `work` on a hashing thread, inside the caller's tracing span. Refused at once
    /// when the queue is full; skipped if the caller has gone (its request timed out or the
    /// client hung up) by the time a thread is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        if self.pending.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            tokio::time::sleep(REFUSAL_DELAY).await;
            return Err(HashError::Busy);
        }
        let (done, result) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |memory| {
            if done.is_closed() {
                return;
            }
            let _ = done.send(span.in_scope(|| work(memory)));
        });
        if self.sender.send(job).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return Err(anyhow!("the password hashing threads are gone").into());
        }
        Ok(result.await.context("password hashing task failed")??)
    }
}

/// The hashing threads (one fewer than the cores, at least one), started on first use.
static POOL: LazyLock<HashPool> = LazyLock::new(|| {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
    HashPool::start(threads, threads * QUEUE_PER_THREAD)
});

/// Runs `work` on the shared hashing threads.
async fn run_on_pool<T: Send + 'static>(
    work: impl FnOnce(&mut Memory) -> anyhow::Result<T> + Send + 'static,
) -> Result<T, HashError> {
    POOL.run(work).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings() {
        // The reference implementation verifies ours, and we verify its (made with its
        // default cost, OWASP's 19 MiB setting).
        let ours = hash_password("interop-pass".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"interop-pass", &parsed).is_ok());
        let theirs = {
            use argon2::password_hash::PasswordHasher;
            Argon2::default().hash_password(b"their-pass").unwrap().to_string()
        };
        assert!(verify_password("their-pass".into(), Some(theirs)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_corrupt_hash_is_an_error_not_a_match() {
        assert!(verify_password("x".into(), Some("not-a-phc-string".into())).await.is_err());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_a_gone_caller_is_skipped() {
        let pool: &'static HashPool = Box::leak(Box::new(HashPool::start(1, 2)));
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let first = tokio::spawn({
            let run = pool.run(move |_| {
                let _ = started_tx.send(());
                blocked.recv().ok();
                Ok(1)
            });
            async move { run.await.unwrap() }
        });
        started.await.unwrap();

        // The thread is busy and one more fits in the queue; the next is refused at once.
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let abandoned = pool.run(move |_| {
            flag.store(true, Ordering::SeqCst);
            Ok(2)
        });
        let abandoned = tokio::spawn(abandoned);
        tokio::task::yield_now().await;
        while pool.pending.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(pool.run(|_| Ok(3)).await, Err(HashError::Busy)));

        // Its caller goes away before a thread is free: the work is skipped.
        abandoned.abort();
        let _ = abandoned.await;
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), 1);
        // The thread counts a job done just after its caller hears the answer.
        while pool.pending.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(pool.run(|_| Ok(4)).await.unwrap(), 4);
        assert!(!ran.load(Ordering::SeqCst), "the abandoned hash ran");
    }

    #[test]
    fn new_passwords_need_eight_characters() {
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}
