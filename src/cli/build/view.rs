//! Build progress on the terminal: with a TTY one compact line per step (number, text,
//! duration or `CACHED`, the running step's latest output line live), else the builder's
//! plain lines with every RUN's output.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::ProgressKind;

struct Step {
    bar: ProgressBar,
    title: String,
    started: Instant,
    cached: bool,
}

pub struct View {
    tty: bool,
    quiet: bool,
    current: Option<Step>,
    /// Partial line of output not yet shown.
    pending: String,
}

impl View {
    pub fn new(kind: ProgressKind, quiet: bool) -> Self {
        let tty = match kind {
            ProgressKind::Tty => true,
            ProgressKind::Plain => false,
            ProgressKind::Auto => std::io::stderr().is_terminal(),
        };
        View {
            tty,
            quiet,
            current: None,
            pending: String::new(),
        }
    }

    fn finish_step(&mut self) {
        if let Some(s) = self.current.take() {
            let status = if s.cached {
                "CACHED".to_string()
            } else {
                format!("{:.1}s", s.started.elapsed().as_secs_f64())
            };
            s.bar.finish_and_clear();
            eprintln!(" => {:<70} {status}", s.title);
        }
    }

    pub fn text(&mut self, s: &str) {
        if self.quiet {
            return;
        }
        if !self.tty {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(s.as_bytes());
            let _ = out.flush();
            return;
        }
        self.pending.push_str(s);
        while let Some(pos) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=pos).collect();
            self.line(line.trim_end());
        }
    }

    fn line(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("Step ") {
            self.finish_step();
            let title = match rest.split_once(" : ") {
                Some((n, t)) => format!("[{n}] {t}"),
                None => rest.to_string(),
            };
            let title: String = title.chars().take(70).collect();
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(" {spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            bar.set_message(title.clone());
            self.current = Some(Step {
                bar,
                title,
                started: Instant::now(),
                cached: false,
            });
        } else if line.trim() == "---> Using cache" {
            if let Some(s) = &mut self.current {
                s.cached = true;
            }
        } else if let Some(s) = &self.current {
            if !line.trim_start().starts_with("--->") && !line.trim().is_empty() {
                let out: String = line.chars().take(60).collect();
                s.bar.set_message(format!("{}  {}", s.title, out));
            }
        }
    }

    pub fn failed(&mut self) {
        if let Some(s) = self.current.take() {
            s.bar.finish_and_clear();
            eprintln!(" => {:<70} ERROR", s.title);
        }
    }

    pub fn done(&mut self) {
        if self.tty {
            self.finish_step();
        }
    }
}
