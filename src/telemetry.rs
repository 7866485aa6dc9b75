//! Logging: human-readable lines by default, JSON with `RUST_LOG_FORMAT=json`, filtered by
//! `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("RUST_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().flatten_event(true).with_current_span(true).init();
    } else {
        builder.init();
    }
}

/// Logs through the test writer (shown for failing tests) when `TEST_LOG` is set.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug"));
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}

/// Records one third-party call in the metrics: latency, and an error count when it failed.
pub fn record_external(service: &'static str, started: std::time::Instant, ok: bool) {
    metrics::histogram!("external_request_duration_seconds", "service" => service)
        .record(started.elapsed().as_secs_f64());
    if !ok {
        metrics::counter!("external_request_errors_total", "service" => service).increment(1);
    }
}

/// Hands memory that glibc keeps free in its heaps back to the system. After thousands of
/// connections close (each had its buffers), glibc keeps their pages for reuse, and RSS
/// stayed ~40 MB above where it started (bench/RESULTS.md, slow clients). Walking the
/// arenas takes about a millisecond, so it runs only after many connections closed.
/// Elsewhere (musl, macOS) this does nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: glibc's malloc_trim is thread-safe and only returns free pages to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Makes glibc serve allocations of 1 MiB and more with their own mappings, returned to the
/// system when freed. By default glibc raises that threshold after the first large free and
/// then keeps such blocks (Argon2's memory) in its heap, where they fragment and stay
/// resident. Elsewhere (musl, macOS) this does nothing.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: glibc's mallopt is thread-safe and only changes allocator tuning.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
