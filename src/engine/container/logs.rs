//! `logs`: read a container's json-file log, filtered and framed for the API, and follow it
//! with inotify (no polling) until the container stops.

use std::io::{BufRead, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::engine::error::Result;
use crate::engine::supervisor::logs::{parse_line, LogEntry};
use crate::engine::Engine;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    /// Unix seconds (fractional) bounds.
    pub since: Option<f64>,
    pub until: Option<f64>,
    pub timestamps: bool,
    pub tail: Option<usize>,
    pub follow: bool,
}

/// Frame one entry: Docker's 8-byte multiplexing header unless the container has a TTY.
pub fn frame(entry: &LogEntry, tty: bool, timestamps: bool) -> Bytes {
    let mut payload = Vec::with_capacity(entry.log.len() + 40);
    if timestamps {
        payload.extend_from_slice(entry.time.as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(entry.log.as_bytes());
    if tty {
        return Bytes::from(payload);
    }
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.push(if entry.stream == "stderr" { 2 } else { 1 });
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    Bytes::from(out)
}

fn entry_time(e: &LogEntry) -> f64 {
    chrono::DateTime::parse_from_rfc3339(&e.time)
        .map(|t| t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9)
        .unwrap_or(0.0)
}

fn wanted(e: &LogEntry, o: &LogOptions) -> bool {
    let stream_ok = (e.stream == "stdout" && o.stdout) || (e.stream == "stderr" && o.stderr);
    if !stream_ok {
        return false;
    }
    let t = entry_time(e);
    if o.since.is_some_and(|s| t < s) {
        return false;
    }
    if o.until.is_some_and(|u| t > u) {
        return false;
    }
    true
}

/// Parse `since`/`until`: unix seconds (`1700000000.5`), RFC 3339, or a duration ago (`10m`).
pub fn parse_time(s: &str) -> Option<f64> {
    if s.is_empty() || s == "0" {
        return None;
    }
    if let Ok(v) = s.parse::<f64>() {
        return Some(v);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9);
    }
    let d = crate::util::duration::parse_duration(s).ok()?;
    let now = chrono::Utc::now();
    Some(now.timestamp() as f64 + now.timestamp_subsec_nanos() as f64 / 1e9 - d.as_secs_f64())
}

impl Engine {
    /// Stream a container's logs; the bool says whether it has a TTY (raw stream).
    pub fn container_logs(
        self: &Arc<Self>,
        key: &str,
        opts: LogOptions,
    ) -> Result<(bool, mpsc::Receiver<Bytes>)> {
        let rec = self.containers.resolve(key)?;
        let tty = rec.tty();
        let path = self
            .containers
            .dir(&rec.id)
            .join(format!("{}-json.log", rec.id));
        let (tx, rx) = mpsc::channel(64);
        let engine = self.clone();
        let id = rec.id.clone();
        tokio::spawn(async move {
            // Subscribe before reading so a stop between the read and the wait is not missed.
            let mut bus = engine.events.subscribe();
            let (ntx, mut nrx) = mpsc::unbounded_channel::<()>();
            let _watcher = if opts.follow {
                use notify::Watcher;
                let mut w =
                    notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
                        let _ = ntx.send(());
                    })
                    .ok();
                if let Some(w) = &mut w {
                    if !path.exists() {
                        let _ = std::fs::File::create(&path);
                    }
                    let _ = w.watch(&path, notify::RecursiveMode::NonRecursive);
                }
                w
            } else {
                None
            };
            let mut pos = 0u64;
            let mut first = true;
            loop {
                let (entries, new_pos) = read_from(&path, pos);
                pos = new_pos;
                let mut selected: Vec<LogEntry> =
                    entries.into_iter().filter(|e| wanted(e, &opts)).collect();
                if first {
                    if let Some(n) = opts.tail {
                        let skip = selected.len().saturating_sub(n);
                        selected.drain(..skip);
                    }
                    first = false;
                }
                for e in &selected {
                    if tx.send(frame(e, tty, opts.timestamps)).await.is_err() {
                        return;
                    }
                }
                if !opts.follow {
                    return;
                }
                let running = engine
                    .containers
                    .get(&id)
                    .map(|r| r.state.is_running())
                    .unwrap_or(false);
                if !running {
                    // One last read: the final lines may have landed after the previous one.
                    let (entries, _) = read_from(&path, pos);
                    for e in entries.iter().filter(|e| wanted(e, &opts)) {
                        let _ = tx.send(frame(e, tty, opts.timestamps)).await;
                    }
                    return;
                }
                tokio::select! {
                    _ = nrx.recv() => {}
                    ev = bus.recv() => {
                        if let Ok(ev) = ev {
                            let same = ev.actor.as_ref().and_then(|a| a.id.as_deref()) == Some(id.as_str());
                            if !same { continue; }
                        }
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        Ok((tty, rx))
    }
}

/// Read complete lines from `pos`; returns the entries and the position after the last one.
fn read_from(path: &std::path::Path, pos: u64) -> (Vec<LogEntry>, u64) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return (Vec::new(), pos);
    };
    if f.seek(SeekFrom::Start(pos)).is_err() {
        return (Vec::new(), pos);
    }
    let mut reader = std::io::BufReader::new(f);
    let mut out = Vec::new();
    let mut at = pos;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(n) => {
                if !line.ends_with('\n') {
                    break; // torn line: read it again next time
                }
                at += n as u64;
                if let Some(e) = parse_line(&line) {
                    out.push(e);
                }
            }
            Err(_) => break,
        }
    }
    (out, at)
}
