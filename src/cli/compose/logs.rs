//! Container logs with `service  | ` prefixes, for `up` (attached) and `logs`: each container
//! is followed by its own task, lines are printed whole, and a container that starts again
//! (restart, recreate) is followed again from where its previous stream ended.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use crate::api::client::{next_chunk, Client};
use crate::api::stream::{Decoder, STDERR};

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

    /// Print one line (without its newline) for `name`.
    pub fn line(&self, name: &str, line: &[u8], stderr: bool) {
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

    /// Print a status line (`web-1 exited with code 0`).
    pub fn status(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{text}");
        let _ = o.flush();
    }
}

/// Where to start reading a container's log.
#[derive(Clone, Debug, Default)]
pub struct From {
    pub since: Option<String>,
    pub until: Option<String>,
    pub tail: Option<String>,
}

/// Follows containers' logs.
pub struct Follower {
    client: Client,
    printer: Arc<Printer>,
    timestamps: bool,
    follow: bool,
    active: Mutex<HashSet<String>>,
    /// container id → unix time when its last stream ended
    ended: Mutex<HashMap<String, f64>>,
}

fn now_secs() -> f64 {
    let n = chrono::Utc::now();
    n.timestamp() as f64 + n.timestamp_subsec_nanos() as f64 / 1e9
}

impl Follower {
    pub fn new(
        client: Client,
        printer: Arc<Printer>,
        timestamps: bool,
        follow: bool,
    ) -> Arc<Follower> {
        Arc::new(Follower {
            client,
            printer,
            timestamps,
            follow,
            active: Mutex::new(HashSet::new()),
            ended: Mutex::new(HashMap::new()),
        })
    }

    /// Wait (bounded) until no stream is being read: the last lines are printed.
    pub async fn wait_idle(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.active.lock().unwrap().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub fn is_active(&self, id: &str) -> bool {
        self.active.lock().unwrap().contains(id)
    }

    /// When the last stream of `id` ended (to follow it again from there).
    pub fn ended_at(&self, id: &str) -> Option<f64> {
        self.ended.lock().unwrap().get(id).copied()
    }

    /// Follow (or read) a container's log under `label`; nothing when it is already followed.
    pub fn start(
        self: &Arc<Self>,
        id: &str,
        label: &str,
        from: From,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if !self.active.lock().unwrap().insert(id.to_string()) {
            return None;
        }
        let me = self.clone();
        let id = id.to_string();
        let label = label.to_string();
        Some(tokio::spawn(async move {
            let _ = me.stream(&id, &label, &from).await;
            me.ended.lock().unwrap().insert(id.clone(), now_secs());
            me.active.lock().unwrap().remove(&id);
        }))
    }

    async fn stream(
        &self,
        id: &str,
        label: &str,
        from: &From,
    ) -> Result<(), crate::api::client::ClientError> {
        let mut params = vec![
            ("stdout", "1".to_string()),
            ("stderr", "1".to_string()),
            ("follow", self.follow.to_string()),
            ("timestamps", self.timestamps.to_string()),
        ];
        if let Some(s) = &from.since {
            params.push(("since", s.clone()));
        }
        if let Some(u) = &from.until {
            params.push(("until", u.clone()));
        }
        if let Some(t) = from.tail.as_ref().filter(|t| *t != "all") {
            params.push(("tail", t.clone()));
        }
        let (raw, mut body) = self.client.container_logs(id, &params).await?;
        let mut decoder = Decoder::default();
        let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let emit = |buf: &mut Vec<u8>, stderr: bool, flush: bool| {
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.printer.line(label, &line, stderr);
            }
            if flush && !buf.is_empty() {
                self.printer.line(label, buf, stderr);
                buf.clear();
            }
        };
        while let Some(chunk) = next_chunk(&mut body).await? {
            if raw {
                pending[0].extend_from_slice(&chunk);
                emit(&mut pending[0], false, false);
                continue;
            }
            decoder.push(&chunk);
            while let Some((stream, payload)) = decoder.next_frame() {
                let i = usize::from(stream == STDERR);
                pending[i].extend_from_slice(&payload);
                emit(&mut pending[i], i == 1, false);
            }
        }
        emit(&mut pending[0], false, true);
        emit(&mut pending[1], true, true);
        Ok(())
    }
}

/// The `since` to follow a restarted container from: where its previous stream ended.
pub fn since_arg(t: f64) -> String {
    format!("{t:.6}")
}
