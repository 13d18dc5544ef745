//! `watch` and `up --watch`: the services' `develop.watch` rules carried out as files change.
//! A [`WatchSession`] owns its inputs so `up --watch` can run it beside its log session; each
//! batch of changes (see [`batch`]) is sorted per service and rule (see [`rules`]), then a
//! service gets one action: a rebuild when a `rebuild` rule fired (it carries every other
//! change), else its syncs (see [`sync`]), then a restart and the `sync+exec` commands. An
//! action that fails is reported and watching goes on: a failed rebuild leaves the running
//! container as it was.

pub mod batch;
pub mod rules;
pub mod sync;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use self::rules::{Change, Matcher};
use self::sync::{Owner, SyncSet};
use super::logs::LogSink;
use super::{id_of, name_of, BuildRequest, Compose, Error, Result};
use crate::compose::exec::hooks;
use crate::compose::load::env::Environment;
use crate::compose::model::{Project, ServiceHook, WatchAction};
use crate::compose::plan::{service_image, PlanOptions};
use crate::engine::build::pattern::Ignore;

/// `wharf compose watch` options.
#[derive(Clone, Debug, Default)]
pub struct WatchRequest {
    /// Services to watch (empty: every service with watch rules).
    pub services: Vec<String>,
    /// `--no-up`: watch what runs, without building and starting first.
    pub no_up: bool,
    /// `--prune`: remove the previous image after a rebuild.
    pub prune: bool,
}

impl Compose {
    /// `compose watch`: bring the services up (unless `no_up`), then carry out their watch
    /// rules until `stop` resolves (Ctrl-C), leaving the containers running.
    pub async fn watch(
        &self,
        project: &Arc<Project>,
        environment: Environment,
        req: &WatchRequest,
        sink: Arc<dyn LogSink>,
        stop: impl Future<Output = ()>,
    ) -> Result<()> {
        let session = WatchSession::new(self, project, environment.clone(), req, sink)?;
        if !req.no_up {
            let plan = PlanOptions {
                services: req.services.clone(),
                ..Default::default()
            };
            self.converge(project, environment, &plan).await?;
        }
        session.run(stop).await
    }
}

/// The watch rules of the selected services, and what carrying them out needs.
pub struct WatchSession {
    compose: Compose,
    project: Arc<Project>,
    environment: Environment,
    sink: Arc<dyn LogSink>,
    prune: bool,
    /// Service → its rules, in file order.
    services: BTreeMap<String, Vec<Matcher>>,
    /// Container id → the owner of files synced into it.
    owners: tokio::sync::Mutex<HashMap<String, Owner>>,
}

impl WatchSession {
    /// Check the selection and prepare the rules; an error when nothing has rules.
    pub fn new(
        compose: &Compose,
        project: &Arc<Project>,
        environment: Environment,
        req: &WatchRequest,
        sink: Arc<dyn LogSink>,
    ) -> Result<WatchSession> {
        super::check_services(project, &req.services, true)?;
        let mut services = BTreeMap::new();
        for (name, svc) in &project.services {
            let rules = svc.develop.as_ref().map(|d| &d.watch[..]).unwrap_or(&[]);
            if (!req.services.is_empty() && !req.services.contains(name)) || rules.is_empty() {
                continue;
            }
            let context = svc
                .build
                .as_ref()
                .map(|b| PathBuf::from(&b.context))
                .filter(|c| c.is_dir())
                .map(|c| {
                    let ignore = read_dockerignore(&c)?;
                    Ok::<_, Error>((c, ignore))
                })
                .transpose()?;
            let matchers = rules
                .iter()
                .map(|r| Matcher::new(r, context.clone()).map_err(Error::Usage))
                .collect::<Result<Vec<_>>>()?;
            services.insert(name.clone(), matchers);
        }
        if services.is_empty() {
            return Err(Error::Usage(
                "none of the selected services is configured for watch, consider setting a 'develop' section".into(),
            ));
        }
        Ok(WatchSession {
            compose: compose.clone(),
            project: project.clone(),
            environment,
            sink,
            prune: req.prune,
            services,
            owners: Default::default(),
        })
    }

    /// Watch until `stop` resolves.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<()> {
        let roots: Vec<PathBuf> = self
            .services
            .values()
            .flatten()
            .map(|m| m.root().to_path_buf())
            .collect();
        let mut watch = batch::Watch::start(&roots).map_err(Error::Usage)?;
        self.initial_syncs().await;
        self.sink.status("Watch enabled");
        tokio::pin!(stop);
        loop {
            let next = batch::next_batch(&mut watch.changes, batch::QUIET, batch::LONGEST);
            tokio::select! {
                b = next => match b {
                    Some(b) => self.on_batch(&b).await,
                    None => return Ok(()),
                },
                _ = &mut stop => return Ok(()),
            }
        }
    }

    /// `initial_sync: true` rules: their whole path, once.
    async fn initial_syncs(&self) {
        for (service, matchers) in &self.services {
            let mut set = SyncSet::default();
            for m in matchers
                .iter()
                .filter(|m| m.rule.initial_sync && m.action().syncs())
            {
                if let Some(c) = m.accept(m.root()) {
                    set.add(m, &c);
                }
            }
            if !set.is_empty() {
                self.sync(service, &set).await;
            }
        }
    }

    async fn on_batch(&self, paths: &BTreeSet<PathBuf>) {
        for (service, matchers) in &self.services {
            let fired: Vec<(&Matcher, Vec<Change>)> = matchers
                .iter()
                .map(|m| {
                    (
                        m,
                        paths.iter().filter_map(|p| m.accept(p)).collect::<Vec<_>>(),
                    )
                })
                .filter(|(_, c)| !c.is_empty())
                .collect();
            if fired.is_empty() {
                continue;
            }
            if fired
                .iter()
                .any(|(m, _)| m.action() == WatchAction::Rebuild)
            {
                self.rebuild(service).await;
                continue;
            }
            let mut set = SyncSet::default();
            for (m, changes) in &fired {
                for c in changes.iter().filter(|_| m.action().syncs()) {
                    set.add(m, c);
                }
            }
            if !set.is_empty() && !self.sync(service, &set).await {
                continue;
            }
            let restart = fired.iter().any(|(m, _)| {
                matches!(m.action(), WatchAction::Restart | WatchAction::SyncRestart)
            });
            if restart {
                self.restart(service).await;
            }
            for (m, _) in fired
                .iter()
                .filter(|(m, _)| m.action() == WatchAction::SyncExec)
            {
                if let Some(hook) = &m.rule.exec {
                    self.exec(service, hook).await;
                }
            }
        }
    }

    fn say(&self, line: String) {
        self.sink.status(&line);
    }

    async fn running(&self, service: &str) -> Vec<crate::api::models::ContainerSummary> {
        let list = self
            .compose
            .containers(&self.project.name, &[service.to_string()], false, false)
            .await;
        match list {
            Ok(l) => l,
            Err(e) => {
                self.say(format!(
                    "Cannot list the containers of service {service:?}: {e}"
                ));
                Vec::new()
            }
        }
    }

    /// Copy and delete in every running container of the service; whether all went well.
    /// The line is printed once the files are in place.
    async fn sync(&self, service: &str, set: &SyncSet) -> bool {
        let engine = &**self.compose.engine();
        let mut ok = true;
        for c in self.running(service).await {
            let owner = self.owner(id_of(&c)).await;
            if let Err(e) = sync::apply(engine, id_of(&c), set, owner).await {
                self.say(format!("Sync of {} failed: {e}", name_of(&c)));
                ok = false;
            }
        }
        if ok {
            self.say(format!(
                "Syncing service {service:?} after {} changes were detected",
                set.len()
            ));
        }
        ok
    }

    async fn owner(&self, id: &str) -> Owner {
        let mut owners = self.owners.lock().await;
        if let Some(o) = owners.get(id) {
            return *o;
        }
        let engine = &**self.compose.engine();
        let user = match engine.inspect_container(id).await {
            Ok(i) => i.config.and_then(|c| c.user).unwrap_or_default(),
            Err(_) => String::new(),
        };
        let owner = Owner::of(engine, id, &user).await;
        owners.insert(id.to_string(), owner);
        owner
    }

    async fn restart(&self, service: &str) {
        let services = [service.to_string()];
        match self.compose.restart(&self.project, &services, None).await {
            Ok(()) => self.say(format!(
                "Restarting service {service:?} after changes were detected: restarted"
            )),
            Err(e) => self.say(format!("Restart of service {service:?} failed: {e}")),
        }
    }

    async fn exec(&self, service: &str, hook: &ServiceHook) {
        for c in self.running(service).await {
            match hooks::run(&**self.compose.engine(), id_of(&c), hook).await {
                Ok(()) => self.say(format!(
                    "Ran {:?} in {} after the sync",
                    hook.command.join(" "),
                    name_of(&c)
                )),
                Err(e) => self.say(format!("sync+exec in {}: {e}", name_of(&c))),
            }
        }
    }

    /// Build the service's image; if that worked, recreate its containers (dependants only
    /// when the planner says so); else keep what runs.
    async fn rebuild(&self, service: &str) {
        self.say(format!(
            "Rebuilding service {service:?} after changes were detected..."
        ));
        let engine = self.compose.engine();
        let image = self
            .project
            .services
            .get(service)
            .map(|s| service_image(&self.project, service, s))
            .unwrap_or_default();
        let before = engine.inspect_image(&image).await.ok().and_then(|i| i.id);
        let build = BuildRequest {
            services: vec![service.to_string()],
            ..Default::default()
        };
        let env = self.environment.clone();
        if let Err(e) = self.compose.build(&self.project, env.clone(), &build).await {
            self.say(format!(
                "Rebuild of service {service:?} failed, its running container is kept: {e}"
            ));
            return;
        }
        self.say(format!("service {service:?} successfully built"));
        let plan = PlanOptions {
            services: vec![service.to_string()],
            no_deps: true,
            ..Default::default()
        };
        if let Err(e) = self.compose.converge(&self.project, env, &plan).await {
            self.say(format!("Recreating service {service:?} failed: {e}"));
            return;
        }
        let after = engine.inspect_image(&image).await.ok().and_then(|i| i.id);
        if let (true, Some(old)) = (self.prune && before != after, before) {
            // still used by another container: kept, as a dangling image prune would
            let _ = engine.remove_image(&old, false).await;
        }
    }
}

fn read_dockerignore(context: &std::path::Path) -> Result<Ignore> {
    match std::fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => Ignore::parse(&text)
            .map_err(|e| Error::Usage(format!("{}: {e}", context.join(".dockerignore").display()))),
        Err(_) => Ok(Ignore::default()),
    }
}
