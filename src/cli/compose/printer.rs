//! Log lines with coloured `service  | ` prefixes (one colour per container, the column as wide
//! as the longest name), plain when stdout is not a terminal or colours are off.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use crate::compose::service::logs::LogSink;

const COLORS: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// Prints prefixed lines.
pub struct Printer {
    width: Mutex<usize>,
    colors: bool,
    prefix: bool,
    assigned: Mutex<HashMap<String, &'static str>>,
}

impl Printer {
    /// `ansi`: never / always / auto (colours when stdout is a terminal).
    pub fn new(ansi: &str, no_color: bool, prefix: bool, names: &[String]) -> Printer {
        let colors = !no_color
            && std::env::var_os("NO_COLOR").is_none()
            && match ansi {
                "never" => false,
                "always" => true,
                _ => std::io::stdout().is_terminal(),
            };
        let p = Printer {
            width: Mutex::new(names.iter().map(|n| n.chars().count()).max().unwrap_or(0)),
            colors,
            prefix,
            assigned: Mutex::new(HashMap::new()),
        };
        for n in names {
            p.color_of(n);
        }
        p
    }

    fn color_of(&self, name: &str) -> &'static str {
        let mut a = self.assigned.lock().unwrap();
        let n = a.len();
        a.entry(name.to_string())
            .or_insert(COLORS[n % COLORS.len()])
    }
}

impl LogSink for Printer {
    fn line(&self, name: &str, line: &[u8], stderr: bool) {
        let mut out: Vec<u8> = Vec::with_capacity(line.len() + 32);
        if self.prefix {
            let width = {
                let mut w = self.width.lock().unwrap();
                *w = (*w).max(name.chars().count());
                *w
            };
            let pad = " ".repeat(width.saturating_sub(name.chars().count()));
            if self.colors {
                let c = self.color_of(name);
                out.extend_from_slice(format!("\x1b[{c}m{name}{pad}  |\x1b[0m ").as_bytes());
            } else {
                out.extend_from_slice(format!("{name}{pad}  | ").as_bytes());
            }
        }
        out.extend_from_slice(line);
        out.push(b'\n');
        if stderr && !self.prefix {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(&out);
        } else {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(&out);
            let _ = o.flush();
        }
    }

    fn expect(&self, names: &[String]) {
        let mut w = self.width.lock().unwrap();
        for n in names {
            *w = (*w).max(n.chars().count());
            self.color_of(n);
        }
    }

    fn status(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{text}");
        let _ = o.flush();
    }
}
