//! Durable background work on graphile_worker: a PostgreSQL-backed queue, so a restart or
//! an outage of a third-party service loses nothing, and several instances can run the
//! worker against one database without doing a job twice.
//!
//! After a call: [`post_call::SummarizeCall`] writes the summary, then enqueues
//! [`notify::EmailOwner`] and [`notify::TextOwner`], separate jobs so one failing does not
//! repeat the other. Each is retried with exponential backoff until it succeeds.

pub mod billing;
pub mod notify;
pub mod numbers;
pub mod post_call;

use std::sync::Arc;

use anyhow::Context;
use graphile_worker::{JobSpec, Worker, WorkerOptions, WorkerUtils};
use sqlx::{PgPool, Postgres, Transaction};

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
    WorkerUtils::new(db.clone(), SCHEMA)
        .with_executor(&mut **tx)
        .add_job(job, JobSpec { job_key: Some(key), ..JobSpec::default() })
        .await
        .context("cannot enqueue a job")?;
    Ok(())
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
        .define_job::<billing::ExpireTrials>()
        .define_job::<numbers::ReleaseLapsedNumbers>()
        .define_job::<numbers::ProvisionNumber>()
        .define_job::<numbers::NumberNotice>()
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
