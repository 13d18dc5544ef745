//! The phase trace: with `WHARF_TRACE=FILE`, the CLI, the daemon, each supervisor and the
//! container's init (until its `execve`) append one line per closed `phase` span to FILE. The
//! times are CLOCK_MONOTONIC, which every process on the host shares, so one `run --rm` reads
//! as one timeline across four processes; `wharf __trace FILE...` ([`super::trace_report`])
//! prints it as a table (`bench/trace.sh` runs it).
//!
//! Unset, nothing is installed in the CLI and the supervisor (their spans are no-ops) and the
//! daemon's log filter disables the spans at their callsites, so the switch costs nothing.
//!
//! A line is tab-separated: `process pid name start_ns end_ns depth detail`. Each line is one
//! `write(2)` on an `O_APPEND` descriptor, so lines of concurrent processes never interleave.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The environment variable that names the trace file.
pub const ENV: &str = "WHARF_TRACE";
/// The target of every phase span and mark (`tracing::debug_span!(target: "phase", ...)`).
pub const TARGET: &str = "phase";

/// Which process writes: the label of its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Process {
    Cli = 0,
    Daemon = 1,
    Supervisor = 2,
    /// The container's first process, from its clone to its `execve`.
    Init = 3,
}

const LABELS: [&str; 4] = ["cli", "daemon", "supervisor", "init"];
static PROCESS: AtomicU8 = AtomicU8::new(0);

/// Label this process's lines from now on (the container's init, after its clone).
pub fn set_process(p: Process) {
    PROCESS.store(p as u8, Ordering::Relaxed);
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a plain syscall writing into our timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

static FILE: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();

/// Whether this process writes a trace.
pub fn enabled() -> bool {
    FILE.get().is_some()
}

/// Write one line (a span that closed, or a mark when `start == end`).
pub fn record(name: &str, start: u64, end: u64, depth: usize, detail: &str) {
    let Some(file) = FILE.get() else { return };
    let label = LABELS[PROCESS.load(Ordering::Relaxed) as usize % LABELS.len()];
    let line = format!(
        "{label}\t{}\t{name}\t{start}\t{end}\t{depth}\t{}\n",
        std::process::id(),
        detail.replace(['\t', '\n'], " ")
    );
    let _ = (&*file).write_all(line.as_bytes());
}

/// The layer that writes the lines.
pub struct PhaseLayer;

impl PhaseLayer {
    /// `None` when `WHARF_TRACE` is unset or its file cannot be opened.
    pub fn from_env(process: Process) -> Option<Self> {
        let path = std::env::var_os(ENV).filter(|p| !p.is_empty())?;
        set_process(process);
        if FILE.get().is_none() {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(&path)
                .map_err(|e| eprintln!("wharf: {ENV}={}: {e}", path.to_string_lossy()))
                .ok()?;
            let _ = FILE.set(file);
        }
        Some(PhaseLayer)
    }
}

/// Only the phase spans go to the trace.
pub fn filter() -> tracing_subscriber::filter::Targets {
    tracing_subscriber::filter::Targets::new().with_target(TARGET, tracing::Level::TRACE)
}

/// Install the trace as the only subscriber (the CLI, the supervisor) when `WHARF_TRACE` is set.
pub fn init(process: Process) {
    use tracing_subscriber::layer::SubscriberExt;
    if let Some(layer) = PhaseLayer::from_env(process) {
        let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter()));
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
}

struct Started {
    at: u64,
    detail: String,
}

#[derive(Default)]
struct Detail(String);

impl Visit for Detail {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
}

impl<S> Layer<S> for PhaseLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut detail = Detail::default();
        attrs.record(&mut detail);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Started {
                at: now_ns(),
                detail: detail.0,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(started) = span.extensions_mut().get_mut::<Started>() {
                let mut more = Detail(std::mem::take(&mut started.detail));
                values.record(&mut more);
                started.detail = more.0;
            }
        }
    }

    /// An event is a mark: a phase of no length (the `execve`, a child's exit).
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut detail = Detail::default();
        event.record(&mut detail);
        let depth = ctx.event_scope(event).map_or(0, |s| s.count());
        let now = now_ns();
        let (name, rest) = match detail.0.split_once(' ') {
            Some((n, r)) => (n.to_string(), r.to_string()),
            None => (detail.0.clone(), String::new()),
        };
        record(name.trim_matches('"'), now, now, depth, &rest);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let depth = span.scope().count().saturating_sub(1);
        let ext = span.extensions();
        if let Some(started) = ext.get::<Started>() {
            record(span.name(), started.at, now_ns(), depth, &started.detail);
        }
    }
}
