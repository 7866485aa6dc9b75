//! Database access: the connection pool, migrations, and queries shared by several handlers.

pub mod admins;
pub mod appointments;
pub mod calendar_connections;
pub mod call_totals;
pub mod calls;
pub mod customers;
pub mod local_cluster;
pub mod sms_opt_outs;
pub mod sms_threads;
pub mod stored_json;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::Config;
use local_cluster::LocalCluster;

/// The name of the development database inside the private cluster.
const DEV_DATABASE: &str = "deskringer";

/// Connections per server process. Handlers hold a connection only for the length of a
/// query or a short transaction, so a small pool serves many concurrent requests.
const MAX_CONNECTIONS: u32 = 20;

/// How long a request waits for a connection before it fails with 503 (also the longest a
/// request waits while the database is away).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the database lives: a configured server, or the private development cluster that
/// this process started (and stops again at shutdown).
#[derive(Debug)]
pub struct DatabaseTarget {
    /// Options for connecting to the application database.
    pub options: PgConnectOptions,
    /// The private development cluster, when this process started it (and so stops it).
    pub dev_cluster: Option<LocalCluster>,
}

impl DatabaseTarget {
    /// Resolves `DATABASE_URL`, or in development starts the private cluster under
    /// `dev_root` and creates its database.
    pub async fn resolve(config: &Config, dev_root: &Path) -> anyhow::Result<Self> {
        if let Some(url) = &config.database_url {
            let options = PgConnectOptions::from_str(url.expose_secret())
                .context("DATABASE_URL is not a valid PostgreSQL URL")?;
            return Ok(Self { options, dev_cluster: None });
        }
        let root = dev_root.to_owned();
        let (cluster, started_here) = tokio::task::spawn_blocking(move || -> anyhow::Result<(LocalCluster, bool)> {
            let cluster = LocalCluster::new(root)?;
            let already_running = cluster.is_running();
            cluster.start(&[])?;
            Ok((cluster, !already_running))
        })
        .await??;
        create_database_if_missing(&cluster.connect_options("postgres"), DEV_DATABASE).await?;
        tracing::info!(
            folder = %cluster.root().display(),
            psql = %cluster.psql_hint(DEV_DATABASE),
            "using the private development PostgreSQL (set DATABASE_URL to use another)"
        );
        // Only the process that started the cluster stops it: `create-admin` next to a
        // running `cargo run` must not take the server's database away.
        Ok(Self { options: cluster.connect_options(DEV_DATABASE), dev_cluster: started_here.then_some(cluster) })
    }

    /// Stops the development cluster, if this process started one.
    pub async fn shutdown(self) {
        if let Some(cluster) = self.dev_cluster {
            match tokio::task::spawn_blocking(move || cluster.stop()).await {
                Ok(Ok(())) => tracing::info!("stopped the development PostgreSQL"),
                Ok(Err(error)) => tracing::warn!(?error, "could not stop the development PostgreSQL"),
                Err(error) => tracing::warn!(?error, "could not stop the development PostgreSQL"),
            }
        }
    }
}

/// A row with the number of rows its query matched, selected as `(SELECT count(*) ...) AS
/// total`, so a page and its total come from one statement.
#[derive(Debug, sqlx::FromRow)]
pub struct Counted<T> {
    #[sqlx(flatten)]
    pub row: T,
    pub total: i64,
}

/// Opens the pool with bounded size and acquire timeout. The pool connects lazily, so the
/// server starts (and `/ready` reports) even while the database is briefly away.
pub fn pool(options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(with_session_settings(options))
}

/// The session settings every connection of the server uses.
///
/// `plan_cache_mode = force_generic_plan`: each statement is prepared once per connection
/// and planned once, instead of on every execution. In the default mode PostgreSQL plans
/// any statement with `LIMIT $n` again on every run (it prices the generic plan as if the
/// limit were a tenth of the table), and for the calls list planning cost as much as
/// running it (bench/RESULTS.md). The server's statements are lookups whose best plan does
/// not depend on the values bound: a filter that would change the plan is written as a
/// statement of its own rather than `$n IS NULL OR ...`.
pub fn with_session_settings(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("plan_cache_mode", "force_generic_plan")])
}

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Applies the embedded migrations. They take an advisory lock meanwhile, so several
/// instances starting together apply each migration once.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("database migration failed")
}

/// Creates `name` on the server unless it exists.
pub async fn create_database_if_missing(maintenance: &PgConnectOptions, name: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(maintenance).await.context("cannot connect to PostgreSQL")?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        // Audited: the name is quoted as an identifier.
        let sql = format!("CREATE DATABASE {}", quote_identifier(name));
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await?;
    }
    conn.close().await?;
    Ok(())
}

/// Quotes an SQL identifier (database names cannot be bound as parameters).
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
