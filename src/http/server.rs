//! Serving HTTP/1.1 connections with bounds a client cannot stretch: how long it may take
//! to send a request's headers, how long a kept-alive connection may sit idle, how many
//! header bytes it may make us hold, how many connections are open at once, and how long
//! shutdown waits.
//!
//! Why not `axum::serve`: it configures no timer, so hyper's header-read timeout is off
//! and a client that sends nothing (or one byte a second) holds its connection for ever.
//! Why not hyper's own `header_read_timeout` either: its clock starts whenever hyper waits
//! for a request head, including between requests on a kept-alive connection, so one
//! setting would have to serve as both the header timeout (seconds) and the idle timeout
//! (longer than a load balancer's keep-alive, or the balancer reuses a connection we are
//! closing and its request fails). So each connection carries a small record of where it
//! is, fed by its socket and its requests, and a watchdog in the connection's own task
//! closes it when the phase it is in has lasted too long:
//!
//! - waiting for a request's headers (a new connection, or bytes after an idle spell):
//!   [`ServerLimits::header_read_timeout`];
//! - idle between requests: [`ServerLimits::idle_timeout`];
//! - a request in progress with no byte moving either way (a client that stops reading
//!   its answer): the request timeout plus a margin (handlers are cut at the request
//!   timeout by the router's own layer);
//! - upgraded to a WebSocket (Twilio's media streams): never here; the stream keeps its
//!   own rules (the wait for `start`, the idle check-in, the call length).
//!
//! Only HTTP/1.1 is served: Twilio, Stripe and browsers reach us through a TLS-terminating
//! proxy that speaks HTTP/1.1 to us, and one protocol means one set of limits.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::App;

/// The bounds every connection is held to. Built from the configuration by
/// [`ServerLimits::from_config`]; tests build their own.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Longest time to receive a request's headers, counted from the connection's start or
    /// from the first byte after an idle spell.
    pub header_read_timeout: Duration,
    /// Longest idle spell between two requests on a kept-alive connection.
    pub idle_timeout: Duration,
    /// Most bytes of request line and headers held for one request; more is answered 431.
    pub max_header_bytes: usize,
    /// Most connections open at once (upgraded media streams included); at the cap new
    /// connections wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Longest a request in progress may go without a byte read or written.
    pub stall_timeout: Duration,
    /// How long shutdown lets requests in flight finish before closing what remains.
    pub shutdown_grace: Duration,
}

/// hyper's read buffer grows with what a client sends, by default up to ~400 KB. Bodies are
/// streamed, so a small buffer costs nothing measurable and bounds what a connection holds.
const MAX_READ_BUFFER_BYTES: usize = 64 * 1024;
/// Shortest time between two "connection cap reached" warnings.
const CAP_WARNING_INTERVAL: Duration = Duration::from_secs(60);
/// File handles kept back from the connection cap: the database pool, outbound HTTP
/// clients, logs.
const RESERVED_FILE_HANDLES: u64 = 256;

impl ServerLimits {
    /// The configured bounds, with the connection cap kept below the file-handle limit:
    /// every inbound connection may come with an outbound one (a realtime call's model
    /// session), so at most half of the handles left after the reserve go to connections.
    pub fn from_config(config: &crate::config::Config, file_handle_limit: u64) -> Self {
        let server = &config.server;
        let fit = (file_handle_limit.saturating_sub(RESERVED_FILE_HANDLES) / 2).max(1);
        let max_connections = server.max_connections.min(usize::try_from(fit).unwrap_or(usize::MAX));
        if max_connections < server.max_connections {
            tracing::warn!(
                configured = server.max_connections,
                used = max_connections,
                file_handle_limit,
                "MAX_CONNECTIONS is above what the file-handle limit allows; using the lower cap"
            );
        }
        ServerLimits {
            header_read_timeout: server.header_read_timeout,
            idle_timeout: server.idle_timeout,
            max_header_bytes: server.max_header_bytes,
            max_connections,
            stall_timeout: super::REQUEST_TIMEOUT + Duration::from_secs(5),
            shutdown_grace: super::REQUEST_TIMEOUT,
        }
    }
}

/// Raises the soft limit on open files to the hard limit and logs both; returns the soft
/// limit now in force (the connection cap is kept below it).
pub fn raise_file_handle_limit() -> u64 {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(0);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            let hard = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(now, |(_, hard)| hard);
            tracing::info!(soft_before = before, soft = now, hard, "open-file limit");
            now
        }
        Err(error) => {
            tracing::warn!(%error, soft = before, "cannot raise the open-file limit");
            before
        }
    }
}

/// What the accept loop has seen, for the log and for tests.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Times the connection cap was reached (counted as logged: at most once a minute).
    cap_reached: AtomicU64,
    /// Connections closed by a timeout (headers, idle or stalled).
    timed_out: AtomicU64,
    /// Connections still open when the shutdown grace ran out.
    cut_at_shutdown: AtomicU64,
    /// Connections closed, for returning their memory (see [`trim_after_closures`]).
    closed: AtomicU64,
}

impl ServerStats {
    /// Times the connection cap was reached.
    pub fn cap_reached(&self) -> u64 {
        self.cap_reached.load(Ordering::Relaxed)
    }

    /// Connections closed by a timeout.
    pub fn timed_out(&self) -> u64 {
        self.timed_out.load(Ordering::Relaxed)
    }

    /// Connections closed because shutdown's grace ran out.
    pub fn cut_at_shutdown(&self) -> u64 {
        self.cut_at_shutdown.load(Ordering::Relaxed)
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets requests in flight finish for at most `limits.shutdown_grace`, closes
/// what remains and returns.
pub async fn serve(
    listener: TcpListener,
    app: App,
    limits: ServerLimits,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = Arc::new(limits);
    let gate = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_connections, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut last_cap_warning = None;
    tokio::pin!(shutdown);
    let trimmer = tokio::spawn(trim_after_closures(stats.clone()));

    loop {
        while connections.try_join_next().is_some() {}
        let permit = match gate.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Under a flood every freed place is taken at once and the cap is reached
                // again: one line a minute says so, not one per connection.
                if last_cap_warning.is_none_or(|at: Instant| at.elapsed() >= CAP_WARNING_INTERVAL) {
                    last_cap_warning = Some(Instant::now());
                    stats.cap_reached.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection cap reached: new connections wait until one closes"
                    );
                }
                tokio::select! {
                    permit = gate.clone().acquire_owned() => permit.expect("the gate is never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // No Nagle delay: a media stream writes small messages (audio, then its mark) that
        // must leave at once; with Nagle, a write waiting on the peer's delayed ACK held a
        // frame up to 40 ms (bench/RESULTS.md, realtime).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let connection = Connection::new(stream, peer, permit, limits.clone(), stats.clone());
        connections.spawn(connection.run(app.clone(), stopping.clone()));
    }

    // Stop accepting: new connections are refused from here on.
    drop(listener);
    trimmer.abort();
    let _ = stop_connections.send(true);
    let drained =
        tokio::time::timeout(limits.shutdown_grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        let left = connections.len();
        stats.cut_at_shutdown.fetch_add(left as u64, Ordering::Relaxed);
        tracing::warn!(connections = left, "shutdown grace is over: closing the connections still open");
        connections.shutdown().await;
    }
    Ok(())
}

/// Connections closed since the last trim that make another worthwhile.
const CLOSURES_PER_TRIM: u64 = 256;

/// Every few seconds, once many connections have closed since the last look, gives the
/// memory their buffers held back to the system (glibc keeps it otherwise).
async fn trim_after_closures(stats: Arc<ServerStats>) {
    let mut trimmed_at = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let closed = stats.closed.load(Ordering::Relaxed);
        if closed - trimmed_at >= CLOSURES_PER_TRIM {
            trimmed_at = closed;
            let _ = tokio::task::spawn_blocking(crate::telemetry::release_free_memory).await;
        }
    }
}

/// An accept error: a connection that failed before we took it is the peer's business; any
/// other (out of file handles, out of memory) is logged and waited out briefly, so the loop
/// does not spin on it.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
    let now = now_millis();
    let last = LAST_LOGGED.load(Ordering::Relaxed);
    if last == 0 || now.saturating_sub(last) > 60_000 {
        LAST_LOGGED.store(now.max(1), Ordering::Relaxed);
        tracing::error!(%error, "cannot accept connections");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Milliseconds since the first call: a cheap clock the socket and the watchdog share.
fn now_millis() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Where a connection is; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Waiting for a request's headers.
    Headers = 0,
    /// At least one request in progress.
    Busy = 1,
    /// Kept alive between requests.
    Idle = 2,
    /// Handed over to a WebSocket.
    Upgraded = 3,
}

impl Phase {
    fn from_u8(raw: u8) -> Phase {
        match raw {
            0 => Phase::Headers,
            1 => Phase::Busy,
            2 => Phase::Idle,
            _ => Phase::Upgraded,
        }
    }
}

/// A connection's phase, when it began, and when a byte last moved. Written by the socket
/// (reads and writes), the requests (start and end) and read by the watchdog; the three run
/// in the connection's task, so relaxed atomics are enough.
#[derive(Debug)]
struct Progress {
    phase: AtomicU8,
    phase_since: AtomicU64,
    last_io: AtomicU64,
    in_flight: AtomicU32,
}

impl Progress {
    fn new() -> Self {
        let now = now_millis();
        Progress {
            phase: AtomicU8::new(Phase::Headers as u8),
            phase_since: AtomicU64::new(now),
            last_io: AtomicU64::new(now),
            in_flight: AtomicU32::new(0),
        }
    }

    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.phase_since.store(now_millis(), Ordering::Relaxed);
    }

    /// Bytes arrived: after an idle spell they begin the next request's headers.
    fn on_read(&self) {
        self.last_io.store(now_millis(), Ordering::Relaxed);
        if self.phase() == Phase::Idle {
            self.enter(Phase::Headers);
        }
    }

    fn on_write(&self) {
        self.last_io.store(now_millis(), Ordering::Relaxed);
    }

    fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        if self.phase() != Phase::Upgraded {
            self.enter(Phase::Busy);
        }
        RequestGuard(self.clone())
    }

    /// When the connection must be closed, if nothing happens before: `None` while
    /// upgraded (the stream keeps its own rules).
    fn deadline(&self, limits: &ServerLimits) -> Option<u64> {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let since = self.phase_since.load(Ordering::Relaxed);
        match self.phase() {
            Phase::Headers => Some(since.saturating_add(millis(limits.header_read_timeout))),
            Phase::Idle => Some(since.saturating_add(millis(limits.idle_timeout))),
            Phase::Busy => Some(self.last_io.load(Ordering::Relaxed).saturating_add(millis(limits.stall_timeout))),
            Phase::Upgraded => None,
        }
    }
}

/// Held by a request until its answer has been written (or dropped): the connection is
/// busy while any is held.
struct RequestGuard(Arc<Progress>);

impl RequestGuard {
    fn upgraded(&self) {
        self.0.enter(Phase::Upgraded);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 && self.0.phase() == Phase::Busy {
            self.0.enter(Phase::Idle);
        }
    }
}

/// An answer's body that keeps its request counted until hyper has written all of it.
struct GuardedBody {
    body: Body,
    _guard: RequestGuard,
}

impl http_body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, reporting every byte it moves, and holding the connection's place under the
/// cap for as long as the socket lives (an upgraded media stream keeps it).
struct TrackedStream {
    stream: TcpStream,
    progress: Arc<Progress>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for TrackedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.progress.on_read();
        }
        polled
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.progress.on_write();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.progress.on_write();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// One accepted connection and what it needs to be served and watched.
struct Connection {
    stream: TrackedStream,
    peer: SocketAddr,
    limits: Arc<ServerLimits>,
    stats: Arc<ServerStats>,
}

impl Connection {
    fn new(
        stream: TcpStream,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
        limits: Arc<ServerLimits>,
        stats: Arc<ServerStats>,
    ) -> Self {
        let stream = TrackedStream { stream, progress: Arc::new(Progress::new()), _permit: permit };
        Connection { stream, peer, limits, stats }
    }

    /// Serves the connection until it ends, its phase outlasts its limit, or shutdown's
    /// grace runs out (the accept loop then drops this task).
    async fn run(self, app: App, stopping: watch::Receiver<bool>) {
        let stats = self.stats.clone();
        self.serve(app, stopping).await;
        stats.closed.fetch_add(1, Ordering::Relaxed);
    }

    async fn serve(self, app: App, mut stopping: watch::Receiver<bool>) {
        let Connection { stream, peer, limits, stats } = self;
        let progress = stream.progress.clone();
        let service = {
            let progress = progress.clone();
            hyper::service::service_fn(move |request: Request<Incoming>| {
                let guard = progress.request_started();
                let mut request = request.map(Body::new);
                // For per-client login limits (`ConnectInfo<SocketAddr>`).
                request.extensions_mut().insert(ConnectInfo(peer));
                let app = app.clone();
                async move {
                    let response = tower::ServiceExt::oneshot(app, request).await?;
                    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                        guard.upgraded();
                    }
                    Ok::<_, Infallible>(response.map(|body| GuardedBody { body, _guard: guard }))
                }
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .max_header_size(limits.max_header_bytes)
            .max_buf_size(MAX_READ_BUFFER_BYTES.max(limits.max_header_bytes));
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        tokio::pin!(connection);

        let mut draining = *stopping.borrow();
        if draining {
            connection.as_mut().graceful_shutdown();
        }
        loop {
            let wake = progress.deadline(&limits);
            let sleep = async {
                match wake {
                    Some(at) => {
                        let wait = at.saturating_sub(now_millis());
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                () = sleep => {
                    // The phase may have moved on while we slept: only its own deadline counts.
                    if progress.deadline(&limits).is_some_and(|at| at <= now_millis()) {
                        stats.timed_out.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(phase = ?progress.phase(), "closing a connection that outlasted its limit");
                        return;
                    }
                }
                changed = stopping.changed(), if !draining => {
                    if changed.is_err() || *stopping.borrow() {
                        draining = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_header_bytes: 16 * 1024,
            max_connections: 10,
            stall_timeout: Duration::from_secs(35),
            shutdown_grace: Duration::from_secs(30),
        }
    }

    #[test]
    fn each_phase_has_its_own_deadline() {
        let progress = Arc::new(Progress::new());
        let since = progress.phase_since.load(Ordering::Relaxed);
        assert_eq!(progress.deadline(&limits()), Some(since + 10_000), "a new connection waits for headers");

        let guard = progress.request_started();
        assert_eq!(progress.phase(), Phase::Busy);
        let last_io = progress.last_io.load(Ordering::Relaxed);
        assert_eq!(progress.deadline(&limits()), Some(last_io + 35_000));

        drop(guard);
        assert_eq!(progress.phase(), Phase::Idle);
        let idle_since = progress.phase_since.load(Ordering::Relaxed);
        assert_eq!(progress.deadline(&limits()), Some(idle_since + 75_000));

        progress.on_read();
        assert_eq!(progress.phase(), Phase::Headers, "bytes after an idle spell start the next headers");
    }

    #[test]
    fn an_upgraded_connection_has_no_deadline_here() {
        let progress = Arc::new(Progress::new());
        let guard = progress.request_started();
        guard.upgraded();
        drop(guard);
        assert_eq!(progress.phase(), Phase::Upgraded);
        progress.on_read();
        assert_eq!(progress.deadline(&limits()), None);
    }

    #[test]
    fn a_connection_stays_busy_until_its_last_request_ends() {
        let progress = Arc::new(Progress::new());
        let (first, second) = (progress.request_started(), progress.request_started());
        drop(first);
        assert_eq!(progress.phase(), Phase::Busy);
        drop(second);
        assert_eq!(progress.phase(), Phase::Idle);
    }

    #[test]
    fn the_cap_stays_below_the_file_handle_limit() {
        let mut config = crate::config::Config::for_tests();
        config.server.max_connections = 100_000;
        assert_eq!(ServerLimits::from_config(&config, 20_000).max_connections, (20_000 - 256) / 2);
        config.server.max_connections = 500;
        assert_eq!(ServerLimits::from_config(&config, 20_000).max_connections, 500);
        assert_eq!(ServerLimits::from_config(&config, 100).max_connections, 1);
    }
}
