//! The command line: `serve` (the default), `migrate`, `create-admin` and
//! `reseal-calendar-secrets`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use crate::auth::password::{check_new_password, hash_password};
use crate::config::Config;
use crate::db::{self, DatabaseTarget};
use crate::http::{self, AppState};
use crate::jobs;

/// DeskRinger: an AI receptionist that answers the phone for small businesses.
#[derive(Debug, Parser)]
#[command(name = "deskringer", version, about)]
pub struct Cli {
    /// What to do; `serve` when left out.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an admin account for the dashboard.
    CreateAdmin {
        /// The admin's login email.
        #[arg(long)]
        email: String,
        /// The admin's display name.
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Re-seal every stored calendar secret under CALENDAR_TOKEN_KEY, opening each with it or
    /// with CALENDAR_TOKEN_KEY_PREVIOUS (the middle step of a key rotation; see the README).
    ResealCalendarSecrets,
}

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            with_database(&config, |_| async { Ok(()) }).await?;
            tracing::info!("migrations are up to date");
            Ok(())
        }
        Command::CreateAdmin { email, name, password_stdin } => {
            let email = crate::http::validate::email("email", &email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let password = read_password(password_stdin)?;
            check_new_password(password.expose_secret()).map_err(|reason| anyhow::anyhow!("password {reason}"))?;
            with_database(&config, |pool| async move {
                let hash = hash_password(password).await?;
                match db::admins::insert(&pool, &email, name.as_deref(), &hash).await {
                    Ok(admin) => {
                        println!("Admin {} created (id {}).", admin.email, admin.id);
                        Ok(())
                    }
                    Err(sqlx::Error::Database(e)) if e.constraint() == Some(db::admins::EMAIL_UNIQUE_CONSTRAINT) => {
                        bail!("an admin with the email {email} already exists")
                    }
                    Err(e) => Err(e.into()),
                }
            })
            .await
        }
        Command::ResealCalendarSecrets => {
            let key = config
                .calendar
                .token_key
                .clone()
                .context("CALENDAR_TOKEN_KEY is not set: it is the key to re-seal the calendar secrets under")?;
            with_database(&config, |pool| async move {
                let resealed = reseal_calendar_secrets(&pool, &key).await?;
                println!(
                    "{} calendar secret(s) re-sealed under the current key (id {}); {} already were.",
                    resealed.resealed,
                    key.id(),
                    resealed.current
                );
                if !resealed.unreadable.is_empty() {
                    let businesses: Vec<String> = resealed.unreadable.iter().map(i64::to_string).collect();
                    bail!(
                        "{} calendar secret(s) open with neither CALENDAR_TOKEN_KEY nor CALENDAR_TOKEN_KEY_PREVIOUS \
                         (businesses {}): set the key they were sealed with as CALENDAR_TOKEN_KEY_PREVIOUS and run \
                         this again, or have those businesses connect their calendar again",
                        businesses.len(),
                        businesses.join(", ")
                    );
                }
                Ok(())
            })
            .await
        }
    }
}

/// What [`reseal_calendar_secrets`] did.
#[derive(Debug, Default)]
pub struct Resealed {
    /// Secrets now sealed under the current key that were not before.
    pub resealed: u64,
    /// Secrets that already were (or were replaced meanwhile by a new connection).
    pub current: u64,
    /// The businesses whose secret neither key opens (left as they are).
    pub unreadable: Vec<i64>,
}

/// Re-seals every `calendar_connections.secret` not sealed under `key` (opened with `key`'s
/// previous key, or as a value from before key ids) under `key`. Safe to run again, and while
/// the server runs: a row is only replaced if it has not changed since it was read.
pub async fn reseal_calendar_secrets(pool: &PgPool, key: &crate::secrets::SecretKey) -> anyhow::Result<Resealed> {
    let rows = sqlx::query!("SELECT customer_id, secret FROM calendar_connections ORDER BY customer_id")
        .fetch_all(pool)
        .await?;
    let mut done = Resealed::default();
    for row in rows {
        if !key.is_stale(&row.secret) {
            done.current += 1;
            continue;
        }
        let Ok(plaintext) = key.open(&row.secret) else {
            done.unreadable.push(row.customer_id);
            continue;
        };
        let sealed = key.seal(&plaintext).context("cannot seal a calendar secret")?;
        let replaced = sqlx::query!(
            "UPDATE calendar_connections SET secret = $3 WHERE customer_id = $1 AND secret = $2",
            row.customer_id,
            row.secret,
            sealed
        )
        .execute(pool)
        .await?
        .rows_affected();
        if replaced == 1 {
            done.resealed += 1;
        } else {
            done.current += 1;
        }
    }
    tracing::info!(resealed = done.resealed, unreadable = done.unreadable.len(), "calendar secrets re-sealed");
    Ok(done)
}

/// Refuses to serve in production without `CALENDAR_TOKEN_KEY` once a calendar is
/// connected: the stored tokens could not be opened, and every booking would fail.
async fn check_calendar_key(config: &Config, pool: &PgPool) -> anyhow::Result<()> {
    if !config.is_production() || config.calendar.token_key.is_some() {
        return Ok(());
    }
    let connected = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM calendar_connections) AS "connected!""#)
        .fetch_one(pool)
        .await?;
    if connected {
        anyhow::bail!(
            "CALENDAR_TOKEN_KEY is required: calendars are connected and their tokens are sealed with it \
             (set the same key they were stored with)"
        );
    }
    Ok(())
}

/// Runs `serve`: database, migrations, the first admin in development, then the server
/// until SIGINT/SIGTERM; finally stops the development database if this process started it.
async fn serve(config: Config) -> anyhow::Result<()> {
    for line in config.disabled_services() {
        tracing::info!("{line}");
    }
    let target = DatabaseTarget::resolve(&config, &dev_database_dir()).await?;
    let pool = db::pool(target.options.clone());
    let result = async {
        crate::migrate(&pool).await?;
        check_calendar_key(&config, &pool).await?;
        create_bootstrap_admin(&config, &pool).await?;
        let address = SocketAddr::from(([0, 0, 0, 0], config.port));
        let listener =
            tokio::net::TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address}"))?;
        let file_handle_limit = http::server::raise_file_handle_limit();
        let limits = http::ServerLimits::from_config(&config, file_handle_limit);
        let state = AppState::new(pool.clone(), config)?;

        // One shutdown signal, shared by the HTTP server and the job worker.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let stop_requested = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });

        if state.config.is_production() && state.clients.twilio.is_configured() {
            // Mis-wired numbers lose calls silently: say so in the log at every start.
            let state = state.clone();
            tokio::spawn(async move { http::phone_numbers::numbers(&state).log_audit().await });
        }
        let worker = jobs::worker(state.job_context(), stop_requested()).await?;
        tracing::info!(%address, "DeskRinger API listening");
        let stats = Arc::default();
        let server = http::serve(listener, http::app(state), limits, stats, stop_requested());
        let (served, worked) = tokio::join!(server, worker.run());
        if let Err(error) = worked {
            tracing::error!(?error, "the job worker stopped with an error");
        }
        served.context("server failed")
    }
    .await;
    // Work cut at the end of the shutdown grace may not have returned its database
    // connections; closing waits for them only briefly.
    if tokio::time::timeout(std::time::Duration::from_secs(5), pool.close()).await.is_err() {
        tracing::warn!("database connections still in use at exit");
    }
    target.shutdown().await;
    result
}

/// Connects, migrates, runs `work`, and stops a development database started for it.
async fn with_database<F, Fut>(config: &Config, work: F) -> anyhow::Result<()>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let target = DatabaseTarget::resolve(config, &dev_database_dir()).await?;
    let pool = db::pool(target.options.clone());
    let result = async {
        crate::migrate(&pool).await?;
        work(pool.clone()).await
    }
    .await;
    pool.close().await;
    target.shutdown().await;
    result
}

/// In development, creates the first admin from `ADMIN_EMAIL`/`ADMIN_PASSWORD` when no
/// admin exists yet.
async fn create_bootstrap_admin(config: &Config, pool: &PgPool) -> anyhow::Result<()> {
    let Some((email, password)) = config.bootstrap_admin.clone() else {
        return Ok(());
    };
    if db::admins::any_exists(pool).await? {
        return Ok(());
    }
    let email = crate::http::validate::email("ADMIN_EMAIL", &email).map_err(|e| anyhow::anyhow!("{e}"))?;
    check_new_password(password.expose_secret()).map_err(|reason| anyhow::anyhow!("ADMIN_PASSWORD {reason}"))?;
    let hash = hash_password(password).await?;
    let admin = db::admins::insert(pool, &email, Some("Admin"), &hash).await?;
    tracing::info!(admin.id = admin.id, "created the first admin from ADMIN_EMAIL/ADMIN_PASSWORD");
    Ok(())
}

/// The private development database lives in `.dev-pg/` of the project (git-ignored), or
/// in `DESKRINGER_DEV_DB_DIR` (the benchmark and fuzzing scripts use a throwaway folder).
fn dev_database_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DESKRINGER_DEV_DB_DIR") {
        return PathBuf::from(dir);
    }
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let base = if project.is_dir() { project } else { std::env::current_dir().unwrap_or_default() };
    base.join(".dev-pg")
}

/// The password from stdin (`--password-stdin`) or a prompt without echo, asked twice.
fn read_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin")?;
        return Ok(SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned()));
    }
    let first = rpassword::prompt_password("Password: ").context("cannot read the password (use --password-stdin)")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(SecretString::from(first))
}

/// Completes on Ctrl-C or SIGTERM (what container platforms send to stop a service).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
