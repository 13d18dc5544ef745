//! A daemon's JSON progress stream (pull, push, load, import) shown as the docker CLI shows
//! it (its `jsonmessage` package): on a terminal one live line per layer id, with docker's bar,
//! the bytes and the speed while bytes move; otherwise one line per status, without the byte
//! counts (`Downloading` and `Extracting` ticks), which docker prints only on a terminal.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::api::client::next_chunk;
use crate::cli::{CliResult, Exit};
use crate::util::bytesize::human_size;

/// Where the lines go: the command's output (pull, push) or stderr (a `run`'s implicit pull).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Out {
    Stdout,
    Stderr,
}

impl Out {
    fn is_terminal(self) -> bool {
        match self {
            Out::Stdout => std::io::stdout().is_terminal(),
            Out::Stderr => std::io::stderr().is_terminal(),
        }
    }
    fn line(self, text: &str) {
        let _ = match self {
            Out::Stdout => writeln!(std::io::stdout().lock(), "{text}"),
            Out::Stderr => writeln!(std::io::stderr().lock(), "{text}"),
        };
    }
    fn text(self, text: &str) {
        let _ = match self {
            Out::Stdout => write!(std::io::stdout().lock(), "{text}"),
            Out::Stderr => write!(std::io::stderr().lock(), "{text}"),
        };
    }
}

/// Show a JSON-lines progress body as it streams; an `{"error": ...}` line ends the command
/// with that message (after `error_prefix`).
pub async fn show(
    resp: hyper::Response<hyper::body::Incoming>,
    quiet: bool,
    error_prefix: &str,
    out: Out,
) -> CliResult {
    let mut view = if quiet {
        View::Quiet
    } else if out.is_terminal() {
        View::Tty(Bars::new(out))
    } else {
        View::Plain(out)
    };
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await? {
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let v: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
            if let Some(e) = v["error"].as_str() {
                view.finish();
                return Err(Exit::msg(1, format!("{error_prefix}{e}")));
            }
            view.show(&v);
        }
    }
    view.finish();
    Ok(())
}

enum View {
    Quiet,
    Plain(Out),
    Tty(Bars),
}

impl View {
    fn show(&mut self, v: &serde_json::Value) {
        let (stream, id, status) = (v["stream"].as_str(), v["id"].as_str(), v["status"].as_str());
        let ticking = v["progressDetail"]["current"].is_u64();
        match self {
            View::Quiet => {}
            View::Plain(out) => match (stream, id, status) {
                (Some(text), _, _) => out.text(text),
                (None, _, Some(_)) if ticking => {}
                (None, Some(id), Some(status)) => out.line(&format!("{id}: {status}")),
                (None, None, Some(status)) => out.line(status),
                _ => {}
            },
            View::Tty(bars) => match (stream, id, status) {
                (Some(text), _, _) => bars.println(text.trim_end_matches('\n')),
                (None, Some(id), Some(status)) => bars.layer(id, status, v),
                (None, None, Some(status)) => bars.println(status),
                _ => {}
            },
        }
    }

    fn finish(&mut self) {
        if let View::Tty(bars) = self {
            bars.finish();
        }
    }
}

/// One line per layer id, in the order the ids came.
struct Bars {
    multi: MultiProgress,
    layers: HashMap<String, Layer>,
}

struct Layer {
    bar: ProgressBar,
    /// The status shown, and since when (a phase's speed counts from its start).
    phase: String,
    since: Instant,
}

impl Bars {
    fn new(out: Out) -> Self {
        let target = match out {
            Out::Stdout => ProgressDrawTarget::stdout(),
            Out::Stderr => ProgressDrawTarget::stderr(),
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            layers: HashMap::new(),
        }
    }

    fn println(&self, text: &str) {
        let _ = self.multi.println(text);
    }

    fn layer(&mut self, id: &str, status: &str, v: &serde_json::Value) {
        let multi = &self.multi;
        let layer = self.layers.entry(id.to_string()).or_insert_with(|| {
            let style = ProgressStyle::with_template("{prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = ProgressBar::hidden()
                .with_style(style)
                .with_prefix(id.to_string());
            Layer {
                bar: multi.add(bar),
                phase: String::new(),
                since: Instant::now(),
            }
        });
        if layer.phase != status {
            layer.phase = status.to_string();
            layer.since = Instant::now();
        }
        let detail = &v["progressDetail"];
        let text = match detail["current"].as_u64() {
            Some(current) => format!(
                "{status} {}",
                bytes_line(current, detail["total"].as_u64(), layer.since.elapsed())
            ),
            None => status.to_string(),
        };
        layer.bar.set_message(text);
    }

    fn finish(&mut self) {
        for layer in self.layers.values() {
            layer.bar.set_message(layer.phase.clone());
            layer.bar.finish();
        }
    }
}

/// `[=====>     ]  12.3MB/28.6MB  45.2MB/s`: docker's bar and sizes (decimal units), and the
/// speed since the phase began.
fn bytes_line(current: u64, total: Option<u64>, elapsed: Duration) -> String {
    let size = |n: u64| human_size(n as i64);
    let mut s = match total.filter(|t| *t > 0) {
        Some(t) => {
            const WIDTH: u64 = 50;
            let done = current.min(t) * WIDTH / t;
            let arrow = if done < WIDTH { ">" } else { "" };
            let pad = (WIDTH - done).saturating_sub(arrow.len() as u64);
            format!(
                "[{}{arrow}{}] {:>8}/{}",
                "=".repeat(done as usize),
                " ".repeat(pad as usize),
                size(current),
                size(t)
            )
        }
        None => format!("{:>8}", size(current)),
    };
    let secs = elapsed.as_secs_f64();
    if secs >= 0.05 {
        s.push_str(&format!("  {}/s", size((current as f64 / secs) as u64)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_sizes_and_speed() {
        let line = bytes_line(5_000_000, Some(10_000_000), Duration::from_secs(2));
        assert!(
            line.starts_with(&format!("[{}>{}]", "=".repeat(25), " ".repeat(24))),
            "{line}"
        );
        assert!(
            line.contains("5MB/10MB") && line.ends_with("2.5MB/s"),
            "{line}"
        );
        let done = bytes_line(10, Some(10), Duration::ZERO);
        assert!(done.starts_with(&format!("[{}]", "=".repeat(50))), "{done}");
        assert!(!done.contains("/s"), "{done}");
    }
}
