//! Container logs for `up` (attached) and `logs`, written to a [`LogSink`] line by line: each
//! container is followed by its own task, lines are delivered whole, and a container that
//! starts again (restart, recreate) is followed again from where its previous stream ended.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::{event_label, id_of, label_of, log_label, multi_replica, Compose, Interrupts, Result};
use futures_util::StreamExt;

use crate::api::client::ClientError;
use crate::api::stream::{Decoder, STDERR};
use crate::compose::engine::Engine;
use crate::compose::exec::EventHub;
use crate::compose::model::Project;
use crate::compose::plan::labels;

/// Where log lines and status lines go (the CLI's coloured printer, a test's buffer).
pub trait LogSink: Send + Sync {
    /// One line (without its newline) of container `name`.
    fn line(&self, name: &str, line: &[u8], stderr: bool);
    /// A status line (`web-1 exited with code 0`).
    fn status(&self, text: &str);
    /// The names lines will come from, known before the first line (to align and colour them).
    fn expect(&self, _names: &[String]) {}
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
    engine: Engine,
    sink: Arc<dyn LogSink>,
    timestamps: bool,
    follow: bool,
    active: Mutex<HashSet<String>>,
    /// Bumped whenever a stream ends, for the waits below.
    ended_tx: watch::Sender<u64>,
    /// container id → unix time when its last stream ended
    ended: Mutex<HashMap<String, f64>>,
}

pub(crate) fn now_secs() -> f64 {
    let n = chrono::Utc::now();
    n.timestamp() as f64 + n.timestamp_subsec_nanos() as f64 / 1e9
}

/// The `since` to follow a restarted container from: where its previous stream ended.
pub fn since_arg(t: f64) -> String {
    format!("{t:.6}")
}

impl Follower {
    pub fn new(
        engine: Engine,
        sink: Arc<dyn LogSink>,
        timestamps: bool,
        follow: bool,
    ) -> Arc<Follower> {
        Arc::new(Follower {
            engine,
            sink,
            timestamps,
            follow,
            active: Mutex::new(HashSet::new()),
            ended_tx: watch::channel(0).0,
            ended: Mutex::new(HashMap::new()),
        })
    }

    pub fn sink(&self) -> &Arc<dyn LogSink> {
        &self.sink
    }

    /// Wait (at most `limit`) until `done` holds for the set of streams being read.
    async fn wait_until(&self, limit: Duration, done: impl Fn(&HashSet<String>) -> bool) {
        let mut rx = self.ended_tx.subscribe();
        let _ = tokio::time::timeout(limit, async {
            while !done(&self.active.lock().unwrap()) {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// Wait (bounded) until no stream is being read: the last lines are delivered.
    pub async fn wait_idle(&self, limit: Duration) {
        self.wait_until(limit, |a| a.is_empty()).await
    }

    /// Wait (bounded) until the stream of `id` ended (its last lines came before its exit).
    pub async fn wait_stream_end(&self, id: &str, limit: Duration) {
        self.wait_until(limit, |a| !a.contains(id)).await
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
            me.ended_tx.send_modify(|n| *n += 1);
        }))
    }

    /// Follow a container again after it (re)started, from where its last stream ended.
    pub fn restart(self: &Arc<Self>, id: &str, label: &str, default_since: Option<f64>) {
        let since = self.ended_at(id).or(default_since).map(since_arg);
        self.start(
            id,
            label,
            From {
                since,
                ..Default::default()
            },
        );
    }

    async fn stream(&self, id: &str, label: &str, from: &From) -> Result<(), ClientError> {
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
        let mut logs = self.engine.container_logs(id, &params).await?;
        let raw = logs.raw;
        let mut decoder = Decoder::default();
        let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let emit = |buf: &mut Vec<u8>, stderr: bool, flush: bool| {
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.sink.line(label, &line, stderr);
            }
            if flush && !buf.is_empty() {
                self.sink.line(label, buf, stderr);
                buf.clear();
            }
        };
        while let Some(chunk) = logs.chunks.next().await.transpose()? {
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

#[derive(Clone, Debug, Default)]
pub struct LogsRequest {
    pub services: Vec<String>,
    pub follow: bool,
    pub timestamps: bool,
    /// Only the container with this number.
    pub index: Option<u32>,
    pub from: From,
}

impl Compose {
    /// The log labels `logs` will print (for the sink's column width and colours).
    pub async fn log_labels(&self, project: &Project, req: &LogsRequest) -> Result<Vec<String>> {
        let multi = multi_replica(project, &Default::default());
        let list = self.log_containers(project, req).await?;
        Ok(list.iter().map(|c| log_label(c, &multi)).collect())
    }

    async fn log_containers(
        &self,
        project: &Project,
        req: &LogsRequest,
    ) -> Result<Vec<crate::api::models::ContainerSummary>> {
        let list = self
            .containers(&project.name, &req.services, true, false)
            .await?;
        Ok(list
            .into_iter()
            .filter(|c| {
                req.index
                    .is_none_or(|i| label_of(c, labels::NUMBER) == i.to_string())
            })
            .collect())
    }

    /// `logs`: the containers' logs to `sink`; with `follow`, also of containers that start
    /// later, until an interrupt arrives.
    pub async fn logs(
        &self,
        project: &Project,
        req: &LogsRequest,
        sink: Arc<dyn LogSink>,
        interrupts: &mut Interrupts,
    ) -> Result<()> {
        let multi = multi_replica(project, &Default::default());
        let hub = if req.follow {
            Some(EventHub::subscribe(&*self.engine, Some(&project.name)).await?)
        } else {
            None
        };
        let mut rx = hub.as_ref().map(|h| h.receiver());
        let list = self.log_containers(project, req).await?;
        let follower = Follower::new(self.engine.clone(), sink, req.timestamps, req.follow);
        let tasks: Vec<_> = list
            .iter()
            .filter_map(|c| follower.start(id_of(c), &log_label(c, &multi), req.from.clone()))
            .collect();
        let Some(rx) = rx.as_mut() else {
            for t in tasks {
                let _ = t.await;
            }
            return Ok(());
        };
        // follow across restarts and recreates until interrupted
        let services: BTreeSet<String> = req.services.iter().cloned().collect();
        loop {
            tokio::select! {
                ev = rx.recv() => {
                    let ev = match ev {
                        Ok(ev) => ev,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return Ok(()),
                    };
                    if ev.oneoff || !(services.is_empty() || services.contains(&ev.service)) {
                        continue;
                    }
                    if ev.kind.is_start() {
                        let label = event_label(&ev.service, &ev.name, &multi);
                        let since = follower.ended_at(&ev.id).map(since_arg);
                        follower.start(&ev.id, &label, From { since, until: req.from.until.clone(), tail: None });
                    }
                }
                Some(_) = interrupts.recv() => return Ok(()),
            }
        }
    }
}
