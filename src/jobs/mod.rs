//! Durable background work on graphile_worker: a PostgreSQL-backed queue, so a restart or
//! an outage of a third-party service loses nothing, and several instances can run the
//! worker against one database without doing a job twice.
//!
//! After a call: [`post_call::SummarizeCall`] writes the summary, then enqueues
//! [`notify::EmailOwner`] and [`notify::TextOwner`], separate jobs so one failing does not
//! repeat the other. Each is retried with exponential backoff until it succeeds.
//!
//! A text conversation: [`notify::EmailOwnerOfThread`] and [`notify::TextOwnerOfThread`]
//! tell the owner it started (then at most once an hour). A call that ended before the
//! caller said anything: [`missed_call::TextMissedCaller`] texts the business's
//! `missed_call_text`, at most once a day per number.
//!
//! After a change in the diary: [`appointments`] texts the caller (a confirmation, a move,
//! a cancellation, and a reminder at its time) and tells the owner, one job per message.

pub mod appointments;
pub mod billing;
pub mod calendar;
pub mod missed_call;
pub mod notify;
pub mod numbers;
pub mod post_call;

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use graphile_worker::{JobSpec, TaskHandler, Worker, WorkerContext, WorkerOptions, WorkerUtils};
use sqlx::{PgPool, Postgres, Transaction};
use tracing::Instrument as _;

use crate::clients::Clients;
use crate::config::Config;

/// The PostgreSQL schema holding the queue.
pub const SCHEMA: &str = "graphile_worker";
/// Jobs run at once per instance.
const CONCURRENCY: usize = 4;

/// What jobs can reach (a worker extension).
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The database.
    pub db: PgPool,
    /// The configuration.
    pub config: Arc<Config>,
    /// Third-party clients.
    pub clients: Arc<Clients>,
}

/// Creates or upgrades the queue's tables (graphile_worker's own migrations).
pub async fn migrate(db: &PgPool) -> anyhow::Result<()> {
    WorkerUtils::new(db.clone(), SCHEMA).migrate().await.context("job queue migration failed")
}

/// Adds `job` to the queue inside `tx`, so it exists exactly when the transaction commits.
/// `key` deduplicates: a pending job with the same key is replaced, not doubled.
pub async fn enqueue<T: graphile_worker::TaskHandler>(
    db: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    job: T,
    key: String,
) -> anyhow::Result<()> {
    add(db, tx, job, JobSpec { job_key: Some(key), ..JobSpec::default() }).await
}

/// Adds `job` to the queue inside `tx` to run at `run_at`. A pending job with the same
/// `key` is replaced, its time included (a moved appointment's reminder moves with it).
pub async fn enqueue_at<T: graphile_worker::TaskHandler>(
    db: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    job: T,
    key: String,
    run_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    add(db, tx, job, JobSpec { job_key: Some(key), run_at: Some(run_at), ..JobSpec::default() }).await
}

/// Removes the pending job with `key` inside `tx`, if any (one already running finishes,
/// and is not retried).
pub async fn dequeue(db: &PgPool, tx: &mut Transaction<'_, Postgres>, key: &str) -> anyhow::Result<()> {
    WorkerUtils::new(db.clone(), SCHEMA)
        .with_executor(&mut **tx)
        .remove_job(key)
        .await
        .context("cannot remove a queued job")
}

async fn add<T: graphile_worker::TaskHandler>(
    db: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    job: T,
    spec: JobSpec,
) -> anyhow::Result<()> {
    WorkerUtils::new(db.clone(), SCHEMA)
        .with_executor(&mut **tx)
        .add_job(job, spec)
        .await
        .context("cannot enqueue a job")?;
    Ok(())
}

/// Runs a job's `work` inside `span` (which names what the job is about, such as
/// `appointment.id`) and logs a failure once, with the attempt: the queue retries it with
/// exponential backoff. Every job handler's `run` goes through here rather than repeating
/// the logging.
pub async fn run_logged<T: TaskHandler>(
    ctx: &WorkerContext,
    span: tracing::Span,
    work: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let job = ctx.job();
    async {
        let result = work.await;
        if let Err(error) = &result {
            tracing::warn!(
                job = T::IDENTIFIER,
                attempt = job.attempts(),
                max_attempts = job.max_attempts(),
                error = format!("{error:#}"),
                "job failed; will retry"
            );
        }
        result
    }
    .instrument(span)
    .await
}

/// Builds the worker that runs every job type until `shutdown` completes; running jobs
/// then get a grace period to finish, and unfinished ones return to the queue.
pub async fn worker(
    context: JobContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Worker> {
    WorkerOptions::default()
        .pg_pool(context.db.clone())
        .schema(SCHEMA)
        .concurrency(CONCURRENCY)
        .define_job::<post_call::SummarizeCall>()
        .define_job::<notify::EmailOwner>()
        .define_job::<notify::TextOwner>()
        .define_job::<notify::WelcomeOwner>()
        .define_job::<notify::EmailOwnerOfThread>()
        .define_job::<notify::TextOwnerOfThread>()
        .define_job::<missed_call::TextMissedCaller>()
        .define_job::<billing::ExpireTrials>()
        .define_job::<numbers::ReleaseLapsedNumbers>()
        .define_job::<numbers::ProvisionNumber>()
        .define_job::<numbers::NumberNotice>()
        .define_job::<appointments::TextCaller>()
        .define_job::<appointments::RemindCaller>()
        .define_job::<appointments::EmailOwner>()
        .define_job::<appointments::TextOwner>()
        .define_job::<calendar::SyncCalendarEvent>()
        .define_job::<calendar::EmailReconnect>()
        .with_cron(
            graphile_worker::Cron::daily_at::<billing::ExpireTrials>(4, 0)
                .context("the trial-expiry schedule is invalid")?,
        )
        .with_cron(
            graphile_worker::Cron::daily_at::<numbers::ReleaseLapsedNumbers>(5, 0)
                .context("the number-release schedule is invalid")?,
        )
        .add_extension(context)
        .listen_os_shutdown_signals(false)
        .shutdown_signal(shutdown)
        .shutdown_grace_period(std::time::Duration::from_secs(20))
        .init()
        .await
        .context("cannot start the job worker")
}

/// The job context of a running job.
fn context(ctx: &graphile_worker::WorkerContext) -> anyhow::Result<&JobContext> {
    ctx.get_ext::<JobContext>().context("the worker was built without a JobContext")
}
