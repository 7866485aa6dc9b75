//! One chromedriver per test process, started on first use on a free local port and
//! stopped (with every Chromium it started) when the process exits, however it exits.

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What a test needs to open a browser.
pub struct Driver {
    /// Where chromedriver listens.
    pub address: SocketAddr,
    /// The Chromium it is to start.
    pub chromium: PathBuf,
    /// Holding its stdin open keeps chromedriver running (see [`spawn`]).
    _watcher: Child,
}

/// Why browser tests cannot run here: nothing to run them with.
struct Missing(String);

static DRIVER: OnceLock<Result<Driver, Missing>> = OnceLock::new();

/// The shared chromedriver; `None` (after one line on stderr saying why) when Chromium or
/// chromedriver is not installed, so `cargo test` still passes on a machine without them.
/// In CI (`CI` set) a missing browser fails the test instead: CI must never pass without
/// running them. A browser that is installed but does not start always fails.
pub fn driver() -> Option<&'static Driver> {
    match DRIVER.get_or_init(start) {
        Ok(driver) => Some(driver),
        Err(Missing(why)) if in_ci() => {
            panic!("browser tests must run in CI (CI is set), but {why}: install chromium chromium-driver")
        }
        Err(Missing(why)) => {
            // Straight to stderr: `eprintln!` in a passing test is captured and never shown.
            let test = std::thread::current().name().unwrap_or("a browser test").to_owned();
            let line = format!("skipped {test}: {why}; to run the browser tests, install chromium chromium-driver\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
            None
        }
    }
}

/// Whether this is a CI run (`CI` set, as CI services and `.ci/run` do).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

fn start() -> Result<Driver, Missing> {
    let chromedriver = executable("CHROMEDRIVER", &["chromedriver"])
        .ok_or_else(|| Missing("chromedriver is not installed (or CHROMEDRIVER names no program)".into()))?;
    let chromium = executable("CHROME", &["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"])
        .ok_or_else(|| Missing("Chromium is not installed (or CHROME names no program)".into()))?;
    let address = free_port();
    let watcher = spawn(&chromedriver, address.port());
    wait_until_ready(address);
    Ok(Driver { address, chromium, _watcher: watcher })
}

/// The program named by `variable`, or the first of `names` on `PATH`.
fn executable(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable).filter(|path| !path.is_empty()) {
        return Some(PathBuf::from(path)).filter(|path| is_executable(path));
    }
    let path = std::env::var_os("PATH")?;
    names.iter().flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name))).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A port nobody listens on now (the OS's choice; chromedriver takes no port 0).
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("no free local port")
}

/// Starts chromedriver under a shell that waits for our end of its stdin to close (when this
/// process exits, even by a panic or a signal), then ends its process group: chromedriver
/// and every browser it started. Its own group, so a Ctrl-C aimed at the test run does not
/// stop the cleanup first.
fn spawn(chromedriver: &Path, port: u16) -> Child {
    let script = r#""$0" --port="$1" </dev/null >/dev/null 2>&1 & cat >/dev/null; kill -TERM 0"#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(chromedriver)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromedriver ({}): {e}", chromedriver.display()))
}

/// Waits (polling) until chromedriver answers `/status` as ready.
fn wait_until_ready(address: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match request(address, "GET", "/status", None) {
            Ok((200, body)) if body.contains("\"ready\":true") => return,
            answer => {
                assert!(Instant::now() < deadline, "chromedriver on {address} did not become ready: {answer:?}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A plain HTTP/1.1 request to chromedriver; its status and body. For the few calls made
/// outside a fantoccini session: readiness, closing a session from `Drop`, browser logs.
pub fn request(address: SocketAddr, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // chromedriver says `Connection: close` but keeps the socket open: read by length.
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok((status, body))
}
