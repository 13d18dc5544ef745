//! An in-memory engine for unit tests of the compose layer: containers with Docker's states
//! and events, networks, volumes and images, and a log of every call. Containers do nothing by
//! themselves: a test scripts what happens on start ([`OnStart`]) or makes it happen
//! ([`FakeEngine::exit`], [`FakeEngine::set_health`]), and the engine emits the events a real
//! one would, so waits and `up`'s session react exactly as against a daemon.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::{BuildJob, ComposeEngine, Events, Filters, LogStream, Result};
use crate::api::client::ClientError;
use crate::api::models::{
    ContainerConfig, ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse,
    ContainerState, ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum,
    ExecConfig, Health, HealthStatusEnum, ImageInspect, Network, NetworkCreateResponse, Volume,
};

/// What a container does when it starts.
#[derive(Clone, Debug, PartialEq)]
pub enum OnStart {
    /// Keeps running.
    Run,
    /// Exits at once with this code.
    Exit(i64),
    /// Keeps running and reports this health status (`healthy`, `unhealthy`).
    Health(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
enum Status {
    Created,
    Running,
    Paused,
    Exited(i64),
}

struct Container {
    id: String,
    name: String,
    /// The ID of the image it was created from, as Docker records it.
    image_id: String,
    body: ContainerCreateBody,
    status: Status,
    health: Option<String>,
}

#[derive(Default)]
struct State {
    containers: BTreeMap<String, Container>,
    networks: BTreeMap<String, Network>,
    volumes: BTreeMap<String, Volume>,
    /// image name → id
    images: BTreeMap<String, String>,
    /// images a pull can fetch
    pullable: BTreeMap<String, String>,
    /// container name → behaviour on start
    on_start: HashMap<String, OnStart>,
    calls: Vec<String>,
    next_id: u64,
    /// Builds so far (each gives a new image ID, as a changed context would).
    builds: u64,
}

pub struct FakeEngine {
    state: Mutex<State>,
    events: broadcast::Sender<serde_json::Value>,
}

fn not_found(what: &str) -> ClientError {
    ClientError::Api {
        status: 404,
        message: format!("No such {what}"),
    }
}

fn conflict(message: String) -> ClientError {
    ClientError::Api {
        status: 409,
        message,
    }
}

/// Whether `labels` satisfy every `label=` filter (`key` or `key=value`), as Docker's do.
fn labels_match(labels: &HashMap<String, String>, filters: &Filters) -> bool {
    filters
        .get("label")
        .into_iter()
        .flatten()
        .all(|f| match f.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
            None => labels.contains_key(f),
        })
}

impl Default for FakeEngine {
    fn default() -> Self {
        FakeEngine {
            state: Mutex::new(State::default()),
            events: broadcast::channel(1024).0,
        }
    }
}

impl FakeEngine {
    pub fn new() -> FakeEngine {
        FakeEngine::default()
    }

    /// An image present in the engine.
    pub fn add_image(&self, name: &str) {
        let mut s = self.state.lock().unwrap();
        let id = format!("sha256:{:064x}", s.images.len() + 1);
        s.images.insert(name.to_string(), id);
    }

    /// An image a pull can fetch.
    pub fn add_pullable(&self, name: &str) {
        let mut s = self.state.lock().unwrap();
        let id = format!("sha256:{:064x}", 1000 + s.pullable.len());
        s.pullable.insert(name.to_string(), id);
    }

    /// What container `name` does when it starts (default: keeps running).
    pub fn on_start(&self, name: &str, what: OnStart) {
        self.state
            .lock()
            .unwrap()
            .on_start
            .insert(name.to_string(), what);
    }

    /// Resolves once container `name` emitted `action` after this call (subscribe first, then
    /// let the action happen).
    pub fn until(&self, name: &str, action: &str) -> impl std::future::Future<Output = ()> {
        let mut rx = self.events.subscribe();
        let (name, action) = (name.to_string(), action.to_string());
        async move {
            while let Ok(v) = rx.recv().await {
                if v["Action"] == action.as_str()
                    && v["Actor"]["Attributes"]["name"] == name.as_str()
                {
                    return;
                }
            }
        }
    }

    /// Every call so far, as `verb target` (`start demo-db-1`).
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The names of the containers that exist, with their state (`running`, `exited(0)`...).
    pub fn containers(&self) -> BTreeMap<String, String> {
        let s = self.state.lock().unwrap();
        s.containers
            .values()
            .map(|c| (c.name.clone(), format!("{:?}", c.status).to_lowercase()))
            .collect()
    }

    pub fn networks(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .networks
            .keys()
            .cloned()
            .collect()
    }

    pub fn volumes(&self) -> Vec<String> {
        self.state.lock().unwrap().volumes.keys().cloned().collect()
    }

    /// The running container `name` ends with `code`.
    pub fn exit(&self, name: &str, code: i64) {
        let mut s = self.state.lock().unwrap();
        let Some(c) = s.containers.values_mut().find(|c| c.name == name) else {
            return;
        };
        if matches!(c.status, Status::Running | Status::Paused) {
            c.status = Status::Exited(code);
            let ev = self.event(c, "die", Some(code));
            drop(s);
            let _ = self.events.send(ev);
        }
    }

    /// Container `name` reports a health status.
    pub fn set_health(&self, name: &str, status: &str) {
        let mut s = self.state.lock().unwrap();
        let Some(c) = s.containers.values_mut().find(|c| c.name == name) else {
            return;
        };
        c.health = Some(status.to_string());
        let ev = self.event(c, &format!("health_status: {status}"), None);
        drop(s);
        let _ = self.events.send(ev);
    }

    fn event(&self, c: &Container, action: &str, exit_code: Option<i64>) -> serde_json::Value {
        let mut attrs: serde_json::Map<String, serde_json::Value> = c
            .body
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect();
        attrs.insert("name".into(), c.name.clone().into());
        if let Some(code) = exit_code {
            attrs.insert("exitCode".into(), code.to_string().into());
        }
        let now = chrono::Utc::now();
        serde_json::json!({
            "Type": "container", "Action": action,
            "Actor": {"ID": c.id, "Attributes": attrs},
            "time": now.timestamp(), "timeNano": now.timestamp_nanos_opt().unwrap_or(0),
        })
    }

    /// Record a call, find a container by id or name, change it, and emit events.
    fn with_container<T>(
        &self,
        verb: &str,
        id: &str,
        f: impl FnOnce(&mut Container, &mut Vec<(&'static str, Option<i64>)>) -> Result<T>,
    ) -> Result<T> {
        let mut s = self.state.lock().unwrap();
        let name = s
            .containers
            .values()
            .find(|c| c.id == id || c.name == id)
            .map(|c| c.name.clone());
        s.calls
            .push(format!("{verb} {}", name.as_deref().unwrap_or(id)));
        let c = s
            .containers
            .values_mut()
            .find(|c| c.id == id || c.name == id)
            .ok_or_else(|| not_found(&format!("container: {id}")))?;
        let mut events = Vec::new();
        let r = f(c, &mut events)?;
        let evs: Vec<_> = events
            .into_iter()
            .map(|(a, code)| self.event(c, a, code))
            .collect();
        drop(s);
        for e in evs {
            let _ = self.events.send(e);
        }
        Ok(r)
    }

    fn summary(c: &Container) -> ContainerSummary {
        let (state, status) = match &c.status {
            Status::Created => (ContainerSummaryStateEnum::CREATED, "Created".to_string()),
            Status::Running => (ContainerSummaryStateEnum::RUNNING, "Up 1 second".into()),
            Status::Paused => (
                ContainerSummaryStateEnum::PAUSED,
                "Up 1 second (Paused)".into(),
            ),
            Status::Exited(n) => (
                ContainerSummaryStateEnum::EXITED,
                format!("Exited ({n}) 1 second ago"),
            ),
        };
        ContainerSummary {
            id: Some(c.id.clone()),
            names: Some(vec![format!("/{}", c.name)]),
            image: c.body.image.clone(),
            image_id: Some(c.image_id.clone()),
            labels: c.body.labels.clone(),
            state: Some(state),
            status: Some(status),
            ..Default::default()
        }
    }
}

fn start(c: &mut Container, what: &OnStart, events: &mut Vec<(&'static str, Option<i64>)>) {
    c.status = Status::Running;
    events.push(("start", None));
    match what {
        OnStart::Run => {}
        OnStart::Exit(code) => {
            c.status = Status::Exited(*code);
            events.push(("die", Some(*code)));
        }
        OnStart::Health(h) => {
            c.health = Some(h.to_string());
            events.push((
                if *h == "healthy" {
                    "health_status: healthy"
                } else {
                    "health_status: unhealthy"
                },
                None,
            ));
        }
    }
}

fn stop(c: &mut Container, code: i64, events: &mut Vec<(&'static str, Option<i64>)>) {
    if matches!(c.status, Status::Running | Status::Paused) {
        c.status = Status::Exited(code);
        events.push(("die", Some(code)));
    }
}

#[async_trait::async_trait]
impl ComposeEngine for FakeEngine {
    async fn list_containers(&self, all: bool, filters: &Filters) -> Result<Vec<ContainerSummary>> {
        let s = self.state.lock().unwrap();
        Ok(s.containers
            .values()
            .filter(|c| all || matches!(c.status, Status::Running | Status::Paused))
            .filter(|c| labels_match(&c.body.labels.clone().unwrap_or_default(), filters))
            .map(FakeEngine::summary)
            .collect())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerInspectResponse> {
        let s = self.state.lock().unwrap();
        let c = s
            .containers
            .values()
            .find(|c| c.id == id || c.name == id)
            .ok_or_else(|| not_found(&format!("container: {id}")))?;
        let (status, code) = match c.status {
            Status::Created => (ContainerStateStatusEnum::CREATED, 0),
            Status::Running => (ContainerStateStatusEnum::RUNNING, 0),
            Status::Paused => (ContainerStateStatusEnum::PAUSED, 0),
            Status::Exited(n) => (ContainerStateStatusEnum::EXITED, n),
        };
        let health = c.health.as_deref().map(|h| Health {
            status: Some(match h {
                "healthy" => HealthStatusEnum::HEALTHY,
                "unhealthy" => HealthStatusEnum::UNHEALTHY,
                _ => HealthStatusEnum::STARTING,
            }),
            ..Default::default()
        });
        Ok(ContainerInspectResponse {
            id: Some(c.id.clone()),
            name: Some(format!("/{}", c.name)),
            state: Some(ContainerState {
                status: Some(status),
                running: Some(matches!(c.status, Status::Running | Status::Paused)),
                exit_code: Some(code),
                health,
                ..Default::default()
            }),
            image: Some(c.image_id.clone()),
            config: Some(ContainerConfig {
                image: c.body.image.clone(),
                labels: c.body.labels.clone(),
                healthcheck: c.body.healthcheck.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    async fn create_container(
        &self,
        name: Option<&str>,
        body: &ContainerCreateBody,
    ) -> Result<ContainerCreateResponse> {
        let mut s = self.state.lock().unwrap();
        let name = name.unwrap_or("anonymous").to_string();
        s.calls.push(format!("create {name}"));
        if s.containers.values().any(|c| c.name == name) {
            return Err(conflict(format!(
                "the container name {name:?} is already in use"
            )));
        }
        let image = body.image.clone().unwrap_or_default();
        let image_id = s
            .images
            .get(&image)
            .cloned()
            .ok_or_else(|| not_found(&format!("image: {image}")))?;
        s.next_id += 1;
        let id = format!("{:064x}", s.next_id);
        let c = Container {
            id: id.clone(),
            name,
            image_id,
            body: body.clone(),
            status: Status::Created,
            health: None,
        };
        let ev = self.event(&c, "create", None);
        s.containers.insert(id.clone(), c);
        drop(s);
        let _ = self.events.send(ev);
        Ok(ContainerCreateResponse {
            id,
            warnings: Vec::new(),
        })
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let what = {
            let s = self.state.lock().unwrap();
            let name = s
                .containers
                .values()
                .find(|c| c.id == id || c.name == id)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            s.on_start.get(&name).cloned().unwrap_or(OnStart::Run)
        };
        self.with_container("start", id, |c, ev| {
            if c.status != Status::Running {
                start(c, &what, ev);
            }
            Ok(())
        })
    }

    async fn stop_container(&self, id: &str, _timeout: Option<i64>) -> Result<()> {
        self.with_container("stop", id, |c, ev| {
            stop(c, 0, ev);
            ev.push(("stop", None));
            Ok(())
        })
    }

    async fn kill_container(&self, id: &str, _signal: Option<&str>) -> Result<()> {
        self.with_container("kill", id, |c, ev| {
            if !matches!(c.status, Status::Running | Status::Paused) {
                return Err(conflict(format!("container {} is not running", c.name)));
            }
            ev.push(("kill", None));
            stop(c, 137, ev);
            Ok(())
        })
    }

    async fn restart_container(&self, id: &str, _timeout: Option<i64>) -> Result<()> {
        self.with_container("restart", id, |c, ev| {
            stop(c, 0, ev);
            start(c, &OnStart::Run, ev);
            Ok(())
        })
    }

    async fn remove_container(&self, id: &str, force: bool, _volumes: bool) -> Result<()> {
        let found = self.with_container("remove", id, |c, ev| {
            if matches!(c.status, Status::Running | Status::Paused) {
                if !force {
                    return Err(conflict(format!("container {} is running", c.name)));
                }
                stop(c, 137, ev);
            }
            ev.push(("destroy", None));
            Ok(c.id.clone())
        })?;
        self.state.lock().unwrap().containers.remove(&found);
        Ok(())
    }

    async fn pause_container(&self, id: &str) -> Result<()> {
        self.with_container("pause", id, |c, ev| {
            c.status = Status::Paused;
            ev.push(("pause", None));
            Ok(())
        })
    }

    async fn unpause_container(&self, id: &str) -> Result<()> {
        self.with_container("unpause", id, |c, ev| {
            c.status = Status::Running;
            ev.push(("unpause", None));
            Ok(())
        })
    }

    async fn put_archive(&self, id: &str, _path: &str, _tar: Vec<u8>) -> Result<()> {
        self.with_container("put_archive", id, |_, _| Ok(()))
    }

    async fn exec(&self, id: &str, cfg: &ExecConfig) -> Result<(i64, Vec<u8>)> {
        let cmd = cfg.cmd.clone().unwrap_or_default().join(" ");
        self.with_container(&format!("exec [{cmd}]"), id, |c, _| match c.status {
            Status::Running => Ok((0, Vec::new())),
            _ => Err(conflict(format!("container {} is not running", c.name))),
        })
    }

    async fn container_logs(&self, id: &str, _params: &[(&str, String)]) -> Result<LogStream> {
        self.with_container("logs", id, |_, _| Ok(()))?;
        Ok(LogStream {
            raw: true,
            chunks: futures_util::stream::empty().boxed(),
        })
    }

    async fn top_container(&self, id: &str) -> Result<serde_json::Value> {
        self.with_container("top", id, |_, _| {
            Ok(serde_json::json!({"Titles": ["PID", "CMD"], "Processes": [["1", "sh"]]}))
        })
    }

    async fn events(&self, filters: &Filters) -> Result<Events> {
        let rx = self.events.subscribe();
        let filters = filters.clone();
        let stream = tokio_stream_of(rx).filter(move |v| {
            let attrs: HashMap<String, String> = v["Actor"]["Attributes"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let keep = labels_match(&attrs, &filters);
            async move { keep }
        });
        Ok(stream.map(Ok).boxed())
    }

    async fn list_networks(&self, filters: &Filters) -> Result<Vec<Network>> {
        let s = self.state.lock().unwrap();
        Ok(s.networks
            .values()
            .filter(|n| labels_match(&n.labels.clone().unwrap_or_default(), filters))
            .cloned()
            .collect())
    }

    async fn inspect_network(&self, id: &str) -> Result<Network> {
        let s = self.state.lock().unwrap();
        s.networks
            .get(id)
            .cloned()
            .ok_or_else(|| not_found(&format!("network: {id}")))
    }

    async fn create_network(&self, body: &serde_json::Value) -> Result<NetworkCreateResponse> {
        let mut s = self.state.lock().unwrap();
        let name = body["Name"].as_str().unwrap_or_default().to_string();
        s.calls.push(format!("create network {name}"));
        if s.networks.contains_key(&name) {
            return Err(conflict(format!("network with name {name} already exists")));
        }
        let labels = serde_json::from_value(body["Labels"].clone()).unwrap_or_default();
        s.networks.insert(
            name.clone(),
            Network {
                name: Some(name.clone()),
                id: Some(name.clone()),
                labels: Some(labels),
                ..Default::default()
            },
        );
        Ok(NetworkCreateResponse {
            id: name,
            warning: String::new(),
        })
    }

    async fn remove_network(&self, id: &str) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("remove network {id}"));
        s.networks
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| not_found(&format!("network: {id}")))
    }

    async fn disconnect_network(&self, network: &str, container: &str, _force: bool) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("disconnect {container} {network}"));
        Ok(())
    }

    async fn list_volumes(&self, filters: &Filters) -> Result<Vec<Volume>> {
        let s = self.state.lock().unwrap();
        Ok(s.volumes
            .values()
            .filter(|v| labels_match(&v.labels, filters))
            .cloned()
            .collect())
    }

    async fn inspect_volume(&self, name: &str) -> Result<Volume> {
        let s = self.state.lock().unwrap();
        s.volumes
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(&format!("volume: {name}")))
    }

    async fn create_volume(&self, body: &serde_json::Value) -> Result<Volume> {
        let mut s = self.state.lock().unwrap();
        let name = body["Name"].as_str().unwrap_or_default().to_string();
        s.calls.push(format!("create volume {name}"));
        let v = Volume {
            name: name.clone(),
            driver: "local".into(),
            labels: serde_json::from_value(body["Labels"].clone()).unwrap_or_default(),
            ..Default::default()
        };
        s.volumes.insert(name, v.clone());
        Ok(v)
    }

    async fn remove_volume(&self, name: &str, _force: bool) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("remove volume {name}"));
        s.volumes
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found(&format!("volume: {name}")))
    }

    async fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        let s = self.state.lock().unwrap();
        let id = s
            .images
            .get(name)
            .ok_or_else(|| not_found(&format!("image: {name}")))?;
        Ok(ImageInspect {
            id: Some(id.clone()),
            ..Default::default()
        })
    }

    async fn pull_image(&self, name: &str, platform: Option<&str>) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        match platform {
            Some(p) => s.calls.push(format!("pull {name} --platform {p}")),
            None => s.calls.push(format!("pull {name}")),
        }
        match s.pullable.get(name).cloned() {
            Some(id) => {
                s.images.insert(name.to_string(), id);
                Ok(())
            }
            None => Err(not_found(&format!(
                "image: pull access denied for {name}, repository does not exist"
            ))),
        }
    }

    async fn push_image(&self, name: &str) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("push {name}"));
        if s.images.contains_key(name) {
            Ok(())
        } else {
            Err(not_found(&format!("image: no such image: {name}")))
        }
    }

    async fn build_image(
        &self,
        job: BuildJob,
        progress: &(dyn for<'l> Fn(&'l str) + Send + Sync),
    ) -> Result<String> {
        let tags = job.request.tags.clone();
        progress("Step 1/1 : FROM box");
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("build {}", tags.join(" ")));
        s.builds += 1;
        let id = format!("sha256:{:064x}", 5000 + s.builds);
        for t in tags {
            s.images.insert(t, id.clone());
        }
        Ok(id)
    }

    async fn remove_image(&self, name: &str, _force: bool) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("remove image {name}"));
        s.images
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found(&format!("image: {name}")))
    }
}

/// A broadcast receiver as a stream (lagging receivers skip what they missed).
fn tokio_stream_of(
    rx: broadcast::Receiver<serde_json::Value>,
) -> impl futures_util::Stream<Item = serde_json::Value> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(v) => return Some((v, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}
