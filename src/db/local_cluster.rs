//! A private PostgreSQL server run from the machine's installed PostgreSQL binaries.
//!
//! `cargo run` without `DATABASE_URL` keeps one under the project (data survives restarts);
//! the test suite starts a throwaway one in a temporary folder. The server listens only on a
//! Unix socket inside its own folder, so it never clashes with another PostgreSQL on the
//! machine or with another cluster's port.
//!
//! `initdb` refuses to run as root, so as root every PostgreSQL command runs as the
//! `postgres` system user (through `runuser`) and the cluster's folder belongs to it.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail, ensure};
use sqlx::postgres::PgConnectOptions;

/// Unix socket paths are limited to 107 bytes; PostgreSQL appends `/.s.PGSQL.5432`.
const MAX_SOCKET_DIR_LEN: usize = 90;
/// The socket name's port: nothing listens on TCP, so the default is always free.
const PORT: u16 = 5432;
/// The database superuser `initdb` creates.
const SUPERUSER: &str = "postgres";

/// Settings that make a throwaway cluster fast; its data is never worth keeping.
const THROWAWAY_SETTINGS: &[&str] =
    &["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300"];

/// A PostgreSQL cluster in a folder of our own.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    bin_dir: PathBuf,
    root: PathBuf,
    /// `Some("postgres")` when running as root.
    run_as: Option<String>,
}

impl LocalCluster {
    /// Prepares a cluster rooted at `root` (created if missing); nothing is started yet.
    pub fn new(root: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let bin_dir = find_binaries()?;
        let root = root.into();
        std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
        let root = root.canonicalize().with_context(|| format!("cannot resolve {}", root.display()))?;
        ensure!(
            root.as_os_str().len() <= MAX_SOCKET_DIR_LEN,
            "the folder {} is too long for a PostgreSQL socket path; set DATABASE_URL instead",
            root.display()
        );
        let run_as = running_as_root().then(|| SUPERUSER.to_owned());
        if run_as.is_some() {
            let (uid, gid) = system_user_ids(SUPERUSER)?;
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))
                .with_context(|| format!("cannot hand {} to the postgres user", root.display()))?;
        }
        let cluster = Self { bin_dir, root, run_as };
        if cluster.run_as.is_some() {
            let reachable = cluster
                .command_in("/", "test", ["-w".as_ref(), cluster.root.as_os_str()])
                .status()
                .is_ok_and(|status| status.success());
            ensure!(
                reachable,
                "the postgres user cannot reach {}: make its parent folders traversable (chmod o+x) or set DATABASE_URL",
                cluster.root.display()
            );
        }
        Ok(cluster)
    }

    /// The folder holding the data directory, the socket and the server log.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    /// Creates the cluster if it does not exist yet and starts it unless it already runs.
    /// `settings` are extra `name=value` server settings.
    pub fn start(&self, settings: &[&str]) -> anyhow::Result<()> {
        if !self.data_dir().join("PG_VERSION").exists() {
            self.run(
                "initdb",
                [
                    "-D".as_ref(),
                    self.data_dir().as_os_str(),
                    "-U".as_ref(),
                    SUPERUSER.as_ref(),
                    "--auth=trust".as_ref(),
                    "--encoding=UTF8".as_ref(),
                    "--no-instructions".as_ref(),
                ],
            )
            .context("initdb failed")?;
        }
        if self.is_running() {
            return Ok(());
        }
        let mut options = format!("-k {} -c listen_addresses='' -p {PORT}", shell_quote(&self.root));
        for setting in settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        self.run(
            "pg_ctl",
            [
                "start".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-D".as_ref(),
                self.data_dir().as_os_str(),
                "-l".as_ref(),
                self.log_file().as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
            ],
        )
        .with_context(|| format!("PostgreSQL did not start; see {}", self.log_file().display()))?;
        Ok(())
    }

    /// Whether the server of this cluster runs.
    pub fn is_running(&self) -> bool {
        self.command("pg_ctl", ["status".as_ref(), "-D".as_ref(), self.data_dir().as_os_str()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Stops the server (fast shutdown: running sessions are ended, data is kept).
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        self.run(
            "pg_ctl",
            [
                "stop".as_ref(),
                "-w".as_ref(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-D".as_ref(),
                self.data_dir().as_os_str(),
            ],
        )
    }

    /// Connection options for `database` on this cluster.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.root).port(PORT).username(SUPERUSER).database(database)
    }

    /// A `psql` command line an operator can paste to look inside.
    pub fn psql_hint(&self, database: &str) -> String {
        format!("psql -h {} -p {PORT} -U {SUPERUSER} {database}", shell_quote(&self.root))
    }

    /// Starts a throwaway cluster in a new temporary folder. It is stopped and its folder
    /// removed when the returned guard's process exits, however it exits: a watcher process
    /// waits for our end of a pipe to close, then cleans up.
    pub fn start_throwaway() -> anyhow::Result<ThrowawayCluster> {
        let root = std::env::temp_dir().join(format!("deskringer-pg-{}-{}", std::process::id(), rand::random::<u32>()));
        let cluster = LocalCluster::new(&root)?;
        let watcher = cluster.spawn_cleanup_watcher()?;
        cluster.start(THROWAWAY_SETTINGS)?;
        Ok(ThrowawayCluster { cluster, _watcher: watcher })
    }

    fn spawn_cleanup_watcher(&self) -> anyhow::Result<Child> {
        let stop = self.command_line("pg_ctl", &["stop", "-m", "immediate", "-D", &self.data_dir().to_string_lossy()]);
        // `cat` returns when every writer of its stdin is gone, i.e. when this process exits.
        let script = format!("cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf {}", shell_quote(&self.root));
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so a Ctrl-C aimed at the test run does not stop the cleanup.
            .process_group(0)
            .spawn()
            .context("cannot start the cleanup watcher (sh)")
    }

    fn command<I, S>(&self, program: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command_in(&self.root, self.bin_dir.join(program), args);
        command.current_dir(&self.root);
        command
    }

    /// `program` run as the cluster's user, from `dir`.
    fn command_in<I, S>(&self, dir: impl AsRef<Path>, program: impl AsRef<OsStr>, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.args(args).stdin(Stdio::null()).current_dir(dir);
        command
    }

    fn command_line(&self, program: &str, args: &[&str]) -> String {
        let program = shell_quote(&self.bin_dir.join(program));
        let args: Vec<String> = args.iter().map(|arg| shell_quote(Path::new(arg))).collect();
        match &self.run_as {
            Some(user) => format!("runuser -u {user} -- {program} {}", args.join(" ")),
            None => format!("{program} {}", args.join(" ")),
        }
    }

    fn run<I, S>(&self, program: &str, args: I) -> anyhow::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let output = self.command(program, args).output().with_context(|| format!("cannot run {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} exited with {}: {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }
}

/// A cluster that disappears with the process that started it.
#[derive(Debug)]
pub struct ThrowawayCluster {
    cluster: LocalCluster,
    /// Holding the watcher's stdin open keeps the cluster alive.
    _watcher: Child,
}

impl std::ops::Deref for ThrowawayCluster {
    type Target = LocalCluster;

    fn deref(&self) -> &LocalCluster {
        &self.cluster
    }
}

/// Finds the folder holding `initdb` and `pg_ctl`: on `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian and Ubuntu keep them there).
pub fn find_binaries() -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir))
    {
        return Ok(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "no PostgreSQL found (initdb/pg_ctl not on PATH nor under /usr/lib/postgresql/*/bin): \
             install it (Debian/Ubuntu: `apt-get install postgresql`) or set DATABASE_URL"
        ),
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

fn system_user_ids(user: &str) -> anyhow::Result<(u32, u32)> {
    let id = |flag: &str| -> anyhow::Result<u32> {
        let output = Command::new("id").args([flag, user]).output().context("cannot run `id`")?;
        ensure!(
            output.status.success(),
            "running as root needs a `{user}` system user to run PostgreSQL \
             (create one with `useradd --system {user}`) or set DATABASE_URL"
        );
        Ok(String::from_utf8_lossy(&output.stdout).trim().parse()?)
    };
    Ok((id("-u")?, id("-g")?))
}

/// Quotes a path for `sh`: inside single quotes nothing is special but `'` itself.
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_survives_quotes_and_spaces() {
        assert_eq!(shell_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
