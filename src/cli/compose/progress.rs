//! Rendering the executor's status updates: one live line per resource on a terminal
//! (indicatif), plain lines, or JSON lines; all on stderr like docker compose.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::ProgressMode;
use crate::compose::exec::progress::{Event, Kind, Progress, Quiet, State};

/// The renderer for a mode (`auto`: live lines when stderr is a terminal).
pub fn renderer(mode: ProgressMode) -> Arc<dyn Progress> {
    let mode = match mode {
        ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Tty,
        ProgressMode::Auto => ProgressMode::Plain,
        m => m,
    };
    match mode {
        ProgressMode::Tty => Arc::new(Tty::new()),
        ProgressMode::Json => Arc::new(Json),
        ProgressMode::Quiet => Arc::new(QuietWarnings),
        _ => Arc::new(Plain),
    }
}

fn line_text(e: &Event) -> String {
    let mut s = format!("{} {}  {}", e.kind, e.name, e.status);
    if let Some(d) = &e.detail {
        s.push_str(": ");
        s.push_str(d);
    }
    s
}

/// ` Container demo-db-1  Started`.
pub struct Plain;

impl Progress for Plain {
    fn event(&self, e: Event) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, " {}", line_text(&e));
    }
    fn warning(&self, message: &str) {
        eprintln!("WARN[0000] {message}");
    }
}

/// One JSON object per line.
pub struct Json;

impl Progress for Json {
    fn event(&self, e: Event) {
        let v = serde_json::json!({
            "id": format!("{} {}", e.kind, e.name),
            "type": e.kind.to_string(),
            "name": e.name,
            "status": e.status,
            "state": match e.state {
                State::Working => "working",
                State::Done => "done",
                State::Warning => "warning",
                State::Error => "error",
            },
            "details": e.detail,
            "time": chrono::Utc::now().to_rfc3339(),
        });
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{v}");
    }
    fn warning(&self, message: &str) {
        let v = serde_json::json!({"level": "warning", "msg": message});
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{v}");
    }
}

/// `--progress quiet`: no status lines, warnings still shown.
pub struct QuietWarnings;

impl Progress for QuietWarnings {
    fn event(&self, e: Event) {
        Quiet.event(e)
    }
    fn warning(&self, message: &str) {
        eprintln!("WARN[0000] {message}");
    }
}

/// Live lines, docker compose v2 style.
pub struct Tty {
    multi: MultiProgress,
    bars: Mutex<HashMap<(Kind, String), ProgressBar>>,
}

impl Tty {
    fn new() -> Tty {
        Tty {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl Progress for Tty {
    fn event(&self, e: Event) {
        let mut bars = self.bars.lock().unwrap();
        let bar = bars
            .entry((e.kind, e.name.clone()))
            .or_insert_with(|| {
                let b = self.multi.add(ProgressBar::new_spinner());
                b.set_style(spinner_style());
                b
            })
            .clone();
        let mark = match e.state {
            State::Working => None,
            State::Done => Some("\x1b[32m✔\x1b[0m"),
            State::Warning => Some("\x1b[33m!\x1b[0m"),
            State::Error => Some("\x1b[31m✘\x1b[0m"),
        };
        let text = line_text(&e);
        match mark {
            Some(mark) => {
                let secs = bar.elapsed().as_secs_f64();
                bar.disable_steady_tick();
                bar.set_style(ProgressStyle::with_template(&format!(" {mark} {{msg}}")).unwrap());
                bar.set_message(format!("{text}  \x1b[2m{secs:.1}s\x1b[0m"));
            }
            None => {
                bar.set_style(spinner_style());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                bar.set_message(text);
            }
        }
    }
    fn warning(&self, message: &str) {
        let _ = self.multi.println(format!("WARN[0000] {message}"));
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template(" {spinner:.blue} {msg}")
        .unwrap()
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏⠿")
}

impl Drop for Tty {
    fn drop(&mut self) {
        // leave every line on the screen as it is
        for b in self.bars.lock().unwrap().values() {
            b.disable_steady_tick();
            b.finish();
        }
    }
}
