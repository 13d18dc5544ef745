//! A daemon's JSON progress stream (pull, push, load, import) shown as the docker CLI shows
//! it (its `jsonmessage` package): on a terminal one live line per layer id, with a bar, the
//! bytes and the speed while bytes move; otherwise one line per status, without the byte
//! counts (`Downloading` and `Extracting` ticks), which docker prints only on a terminal.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::api::client::next_chunk;
use crate::cli::{CliResult, Exit};

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
    layers: HashMap<String, ProgressBar>,
}

const STATUS: &str = "{prefix}: {msg}";
const BYTES: &str =
    "{prefix}: {msg:<11} [{bar:40.cyan/blue}] {bytes:>9}/{total_bytes:<9} {bytes_per_sec:>11}";

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
        let bar = self.layers.entry(id.to_string()).or_insert_with(|| {
            let b = multi.add(ProgressBar::no_length());
            b.set_prefix(id.to_string());
            b.set_style(style(STATUS));
            b
        });
        let detail = &v["progressDetail"];
        match (detail["current"].as_u64(), detail["total"].as_u64()) {
            (Some(current), Some(total)) if total > 0 => {
                if bar.message() != status {
                    // A new phase (Downloading, then Extracting) counts from its own start.
                    bar.reset();
                    bar.set_style(style(BYTES));
                }
                bar.set_length(total);
                bar.set_position(current);
            }
            _ => bar.set_style(style(STATUS)),
        }
        bar.set_message(status.to_string());
    }

    fn finish(&mut self) {
        for bar in self.layers.values() {
            bar.set_style(style(STATUS));
            bar.finish();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}
