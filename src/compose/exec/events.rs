//! The project's container events, from one `/events` subscription, and the waits built on
//! them (healthy, completed successfully, running). A wait never polls: it inspects the
//! container once after the subscription exists, then again only when an event about that
//! container arrives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};

use futures_util::StreamExt;

use crate::api::client::ClientError;
use crate::api::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use crate::compose::engine::ComposeEngine;
use crate::compose::plan::labels;

/// What happened to a container, parsed once from the event's `Action` (Docker's names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Create,
    Start,
    Restart,
    /// The container's process ended (`exitCode` attribute).
    Die {
        exit_code: Option<i64>,
    },
    Kill,
    Stop,
    Pause,
    Unpause,
    Destroy,
    /// `health_status: healthy` and the like.
    HealthStatus(String),
    /// Any other action (`attach`, `rename`, `exec_start: ...`), kept for printing.
    Other(String),
}

impl EventKind {
    /// Parse Docker's action string; `exit_code` is the event's `exitCode` attribute.
    pub fn parse(action: &str, exit_code: Option<i64>) -> EventKind {
        match action {
            "create" => EventKind::Create,
            "start" => EventKind::Start,
            "restart" => EventKind::Restart,
            "die" => EventKind::Die { exit_code },
            "kill" => EventKind::Kill,
            "stop" => EventKind::Stop,
            "pause" => EventKind::Pause,
            "unpause" => EventKind::Unpause,
            "destroy" => EventKind::Destroy,
            a => match a.strip_prefix("health_status:") {
                Some(h) => EventKind::HealthStatus(h.trim().to_string()),
                None => EventKind::Other(a.to_string()),
            },
        }
    }

    /// The container (re)started: a log stream to follow, a container alive again.
    pub fn is_start(&self) -> bool {
        matches!(self, EventKind::Start | EventKind::Restart)
    }
}

/// A container event of the project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerEvent {
    pub id: String,
    pub name: String,
    pub service: String,
    pub kind: EventKind,
    /// Unix time in nanoseconds.
    pub time_nano: i64,
    pub oneoff: bool,
}

impl ContainerEvent {
    /// The event of a `/events` message, `None` for other object types.
    pub fn from_json(v: &serde_json::Value) -> Option<ContainerEvent> {
        if v["Type"].as_str() != Some("container") {
            return None;
        }
        let attrs = &v["Actor"]["Attributes"];
        let s = |k: &str| attrs[k].as_str().unwrap_or_default().to_string();
        let exit_code = attrs["exitCode"].as_str().and_then(|c| c.parse().ok());
        Some(ContainerEvent {
            id: v["Actor"]["ID"].as_str()?.to_string(),
            name: s("name"),
            service: s(labels::SERVICE),
            kind: EventKind::parse(v["Action"].as_str().unwrap_or_default(), exit_code),
            time_nano: v["timeNano"]
                .as_i64()
                .or_else(|| v["time"].as_i64().map(|t| t * 1_000_000_000))
                .unwrap_or(0),
            oneoff: s(labels::ONEOFF).eq_ignore_ascii_case("true"),
        })
    }
}

#[derive(Default)]
struct Shared {
    /// container id → how many events arrived for it since the subscription.
    seq: HashMap<String, u64>,
    ended: bool,
}

/// One `/events` subscription for a project's containers, shared by every waiter.
pub struct EventHub {
    shared: Arc<Mutex<Shared>>,
    changes: watch::Receiver<u64>,
    events: broadcast::Sender<ContainerEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EventHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    Healthy,
    CompletedSuccessfully,
    /// `--wait`: healthy when the container has a healthcheck, else running; a container that
    /// exited 0 is fine when `exit0_ok`.
    Ready {
        exit0_ok: bool,
    },
    /// Any exit (attached mode, `wait`): the exit code.
    Exit,
}

/// Why a wait failed.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("is unhealthy{}", last_probe(.0))]
    Unhealthy(Option<String>),
    #[error("exited ({0})")]
    Exited(i64),
    #[error("didn't complete successfully: exit {0}")]
    Failed(i64),
    #[error("has no healthcheck configured")]
    NoHealthcheck,
    #[error("was removed")]
    Removed,
    #[error("wait cancelled")]
    Cancelled,
    #[error("the daemon ended the event stream")]
    StreamEnded,
    #[error("{0}")]
    Api(#[from] ClientError),
}

fn last_probe(o: &Option<String>) -> String {
    match o {
        Some(s) if !s.trim().is_empty() => format!(": last probe output: {}", s.trim()),
        _ => String::new(),
    }
}

enum Verdict {
    Pending,
    Done(i64),
    Failed(WaitError),
}

fn has_healthcheck(info: &ContainerInspectResponse) -> bool {
    let test = info
        .config
        .as_ref()
        .and_then(|c| c.healthcheck.as_ref())
        .and_then(|h| h.test.clone())
        .unwrap_or_default();
    let from_state = info
        .state
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.status)
        .is_some_and(|s| !matches!(s, HealthStatusEnum::NONE | HealthStatusEnum::EMPTY));
    from_state || (!test.is_empty() && test[0] != "NONE")
}

/// The last probe's output, from `.State.Health.Log`.
pub fn last_probe_output(info: &ContainerInspectResponse) -> Option<String> {
    info.state
        .as_ref()?
        .health
        .as_ref()?
        .log
        .as_ref()?
        .last()
        .and_then(|r| r.output.clone())
}

fn verdict(info: &ContainerInspectResponse, want: WaitFor) -> Verdict {
    let state = info.state.clone().unwrap_or_default();
    let status = state.status.unwrap_or(ContainerStateStatusEnum::CREATED);
    let code = state.exit_code.unwrap_or(0);
    let health = state
        .health
        .as_ref()
        .and_then(|h| h.status)
        .unwrap_or(HealthStatusEnum::NONE);
    let ended = matches!(
        status,
        ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD
    );
    let healthy = || -> Verdict {
        match health {
            HealthStatusEnum::HEALTHY => Verdict::Done(0),
            HealthStatusEnum::UNHEALTHY => {
                Verdict::Failed(WaitError::Unhealthy(last_probe_output(info)))
            }
            _ if ended => Verdict::Failed(WaitError::Exited(code)),
            _ if !has_healthcheck(info) => Verdict::Failed(WaitError::NoHealthcheck),
            _ => Verdict::Pending,
        }
    };
    match want {
        WaitFor::Healthy => healthy(),
        WaitFor::CompletedSuccessfully => match status {
            ContainerStateStatusEnum::EXITED if code == 0 => Verdict::Done(0),
            ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD => {
                Verdict::Failed(WaitError::Failed(code))
            }
            _ => Verdict::Pending,
        },
        WaitFor::Ready { exit0_ok } => {
            if ended {
                if code == 0 && exit0_ok {
                    Verdict::Done(0)
                } else {
                    Verdict::Failed(WaitError::Exited(code))
                }
            } else if has_healthcheck(info) {
                healthy()
            } else if status == ContainerStateStatusEnum::RUNNING {
                Verdict::Done(0)
            } else {
                Verdict::Pending
            }
        }
        WaitFor::Exit => {
            if ended {
                Verdict::Done(code)
            } else {
                Verdict::Pending
            }
        }
    }
}

impl EventHub {
    /// Subscribe to the container events of `project` (all projects when `None`).
    pub async fn subscribe(
        engine: &dyn ComposeEngine,
        project: Option<&str>,
    ) -> Result<EventHub, ClientError> {
        let mut filters: HashMap<String, Vec<String>> = HashMap::new();
        filters.insert("type".into(), vec!["container".into()]);
        if let Some(p) = project {
            filters.insert("label".into(), vec![format!("{}={p}", labels::PROJECT)]);
        }
        let mut stream = engine.events(&filters).await?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, rx) = watch::channel(0u64);
        let (events, _) = broadcast::channel(1024);
        let task = {
            let shared = shared.clone();
            let events = events.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                loop {
                    let ev = match stream.next().await {
                        Some(Ok(v)) => v,
                        _ => break,
                    };
                    let Some(ev) = ContainerEvent::from_json(&ev) else {
                        continue;
                    };
                    {
                        let mut s = shared.lock().unwrap();
                        *s.seq.entry(ev.id.clone()).or_default() += 1;
                    }
                    let _ = events.send(ev);
                    n += 1;
                    let _ = tx.send(n);
                }
                shared.lock().unwrap().ended = true;
                n += 1;
                let _ = tx.send(n);
            })
        };
        Ok(EventHub {
            shared,
            changes: rx,
            events,
            task,
        })
    }

    /// Every event from now on.
    pub fn receiver(&self) -> broadcast::Receiver<ContainerEvent> {
        self.events.subscribe()
    }

    fn seq(&self, id: &str) -> (u64, bool) {
        let s = self.shared.lock().unwrap();
        (s.seq.get(id).copied().unwrap_or(0), s.ended)
    }

    /// Wait until container `id` satisfies `want`; returns its exit code for [`WaitFor::Exit`].
    /// `cancel` turning true ends the wait with [`WaitError::Cancelled`].
    pub async fn wait(
        &self,
        engine: &dyn ComposeEngine,
        id: &str,
        want: WaitFor,
        mut cancel: watch::Receiver<bool>,
    ) -> Result<i64, WaitError> {
        let mut changes = self.changes.clone();
        loop {
            changes.borrow_and_update();
            let (seen, ended) = self.seq(id);
            let info = match engine.inspect_container(id).await {
                Ok(i) => i,
                Err(e) if e.is_not_found() => return Err(WaitError::Removed),
                Err(e) => return Err(e.into()),
            };
            match verdict(&info, want) {
                Verdict::Done(code) => return Ok(code),
                Verdict::Failed(e) => return Err(e),
                Verdict::Pending => {}
            }
            if ended {
                return Err(WaitError::StreamEnded);
            }
            // sleep until an event about this container arrives
            loop {
                if *cancel.borrow() {
                    return Err(WaitError::Cancelled);
                }
                let (now, ended) = self.seq(id);
                if now != seen || ended {
                    break;
                }
                tokio::select! {
                    r = changes.changed() => if r.is_err() { return Err(WaitError::StreamEnded) },
                    r = cancel.changed() => if r.is_err() { return Err(WaitError::Cancelled) },
                }
            }
        }
    }
}
