//! `up` and `create`: observe → plan → execute (images first, so that a missing image leaves
//! nothing created); then `--wait`, or an attached [`UpSession`] that follows the logs until
//! every container exited, with small listeners for each concern (log following, abort on exit,
//! exit code from, interrupts), as docker compose's `upSession`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::logs::{now_secs, Follower, LogSink};
use super::watch::{WatchRequest, WatchSession};
use super::{
    event_label, id_of, is_running, label_of, log_label, multi_replica, name_of, one_shot_services,
    replica_label, Compose, Error, ExitStatus, Interrupt, Interrupts, Result,
};
use crate::compose::exec::progress::{Event, Kind, State};
use crate::compose::exec::{
    is_image_step, sub_plan, ContainerEvent, EventHub, EventKind, ExecOptions, Executor, Observed,
    WaitFor,
};
use crate::compose::graph::ServiceGraph;
use crate::compose::load::env::Environment;
use crate::compose::model::{Project, PullPolicy};
use crate::compose::plan::{self, labels, Action, Plan, PlanOptions};

/// What `up` should do beyond converging (the planner's part is in `plan`).
#[derive(Clone, Debug, Default)]
pub struct UpRequest {
    pub plan: PlanOptions,
    /// `-d`: return once everything is started.
    pub detach: bool,
    /// `--wait`: return once everything is running/healthy.
    pub wait: bool,
    pub wait_timeout: Option<u64>,
    /// `-t`: seconds to wait for a stop before killing.
    pub timeout: Option<i64>,
    /// Services whose logs are followed (default: the selection).
    pub attach: Vec<String>,
    pub no_attach: Vec<String>,
    pub abort_on_container_exit: bool,
    pub abort_on_container_failure: bool,
    pub exit_code_from: Option<String>,
    pub timestamps: bool,
    /// `--watch`: carry out the services' watch rules while attached.
    pub watch: bool,
}

impl UpRequest {
    /// Refuse option combinations that cannot work together.
    pub fn validate(&self, project: &Project) -> Result<()> {
        let usage = |m: &str| Err(Error::Usage(m.to_string()));
        if self.plan.force_recreate && self.plan.no_recreate {
            return usage("--force-recreate and --no-recreate are incompatible");
        }
        if self.watch && !self.attached() {
            return usage("--watch cannot be combined with --detach, --wait or --no-start");
        }
        if (self.detach || self.wait)
            && (self.exit_code_from.is_some() || self.abort_on_container_exit)
        {
            return usage(
                "--abort-on-container-exit and --exit-code-from cannot be combined with --detach or --wait",
            );
        }
        match &self.exit_code_from {
            Some(s) if !project.services.contains_key(s) => {
                Err(Error::Usage(format!("no such service: {s}")))
            }
            _ => Ok(()),
        }
    }

    fn attached(&self) -> bool {
        !(self.detach || self.wait || self.plan.no_start)
    }

    /// The services whose logs an attached `up` follows.
    fn attach_services(&self, selection: &BTreeSet<String>) -> BTreeSet<String> {
        let base: BTreeSet<String> = if !self.attach.is_empty() {
            self.attach.iter().cloned().collect()
        } else if !self.plan.services.is_empty() {
            self.plan.services.iter().cloned().collect()
        } else {
            selection.clone()
        };
        base.into_iter()
            .filter(|s| !self.no_attach.contains(s))
            .collect()
    }
}

/// What `up` found and will do.
pub struct UpPlan {
    pub observed: Observed,
    pub plan: Plan,
}

impl Compose {
    pub async fn plan_up(&self, project: &Project, opts: &PlanOptions) -> Result<UpPlan> {
        let observed = self.observe(project).await?;
        let plan = plan::plan_up(project, &observed.state, opts)?;
        Ok(UpPlan { observed, plan })
    }

    /// Obtain the plan's images (pull, build); then plan again against them, so that
    /// `--pull always` recreates what a new image changed.
    async fn obtain_images(
        &self,
        project: &Arc<Project>,
        up: UpPlan,
        opts: &PlanOptions,
    ) -> Result<UpPlan> {
        let images = sub_plan(&up.plan, is_image_step);
        if images.is_empty() {
            return Ok(up);
        }
        self.executor(project, None, &up.observed, ExecOptions::default())
            .execute(&images)
            .await?;
        let opts = PlanOptions {
            pull: Some(PullPolicy::Missing),
            ..opts.clone()
        };
        let again = self.plan_up(project, &opts).await?;
        Ok(UpPlan {
            plan: sub_plan(&again.plan, |a| !is_image_step(a)),
            observed: again.observed,
        })
    }

    /// `up -d` of `opts.services` without a session (watch's rebuilds): images obtained, the
    /// plan executed, warnings reported.
    pub async fn converge(
        &self,
        project: &Arc<Project>,
        environment: Environment,
        opts: &PlanOptions,
    ) -> Result<()> {
        let first = self.plan_up(project, opts).await?;
        let UpPlan { observed, plan } = self.obtain_images(project, first, opts).await?;
        for w in &plan.warnings {
            self.progress.warning(w);
        }
        self.executor(
            project,
            Some(environment),
            &observed,
            ExecOptions::default(),
        )
        .execute(&plan)
        .await?;
        Ok(())
    }

    /// Converge the project; `sink` receives the logs of an attached `up`.
    pub async fn up(
        &self,
        project: &Arc<Project>,
        environment: Environment,
        req: &UpRequest,
        sink: Arc<dyn LogSink>,
        interrupts: &mut Interrupts,
    ) -> Result<ExitStatus> {
        req.validate(project)?;
        let first = self.plan_up(project, &req.plan).await?;
        let UpPlan { observed, plan } = self.obtain_images(project, first, &req.plan).await?;
        for w in &plan.warnings {
            self.progress.warning(w);
        }
        let graph = ServiceGraph::build(project)?;
        let selection = graph.select(&req.plan.services, req.plan.no_deps)?;
        let watch = match req.watch {
            true => Some(WatchSession::new(
                self,
                project,
                environment.clone(),
                &WatchRequest {
                    services: req.plan.services.clone(),
                    ..Default::default()
                },
                sink.clone(),
            )?),
            false => None,
        };
        let executor = self.executor(
            project,
            Some(environment),
            &observed,
            ExecOptions {
                stop_timeout: req.timeout,
                ..Default::default()
            },
        );
        // attached: subscribe and follow logs before anything starts
        let session = if req.attached() {
            Some(UpSession::open(self, project, req, &selection, &executor, sink).await?)
        } else {
            None
        };
        self.report_untouched(&observed, &plan, &selection);
        if let Some(s) = &session {
            s.announce(&observed, &plan);
        }
        let interrupted = tokio::select! {
            r = executor.execute(&plan) => { r?; None }
            Some(i) = interrupts.recv() => Some(i),
        };
        if interrupted.is_some() {
            executor.cancel();
            self.progress
                .notice("Gracefully stopping... (press Ctrl+C again to force)");
            self.stop(project, Some(&selection), req.timeout, interrupts)
                .await?;
            return Err(Error::Interrupted(ExitStatus::INTERRUPTED));
        }
        if req.wait {
            self.wait_ready(&executor, project, &selection, req.wait_timeout)
                .await?;
            return Ok(ExitStatus::SUCCESS);
        }
        let (stop_watch, stopped) = tokio::sync::oneshot::channel::<()>();
        let watching = watch.map(|w| {
            tokio::spawn(w.run(async move {
                let _ = stopped.await;
            }))
        });
        let status = match session {
            Some(s) => s.run(interrupts).await,
            None => Ok(ExitStatus::SUCCESS),
        };
        let _ = stop_watch.send(());
        if let Some(w) = watching {
            if let Ok(Err(e)) = w.await {
                self.progress.warning(&format!("watch: {e}"));
            }
        }
        status
    }

    /// Running containers the plan leaves alone get their line too.
    fn report_untouched(&self, observed: &Observed, plan: &Plan, selection: &BTreeSet<String>) {
        let touched: HashSet<&str> = plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::CreateContainer { name, .. }
                | Action::StartContainer { name, .. }
                | Action::StopContainer { name, .. }
                | Action::RemoveContainer { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        for c in &observed.state.containers {
            if !c.oneoff()
                && c.service().is_some_and(|s| selection.contains(s))
                && c.state.is_running()
                && !touched.contains(c.name.as_str())
            {
                self.progress
                    .event(Event::new(Kind::Container, &c.name, State::Done, "Running"));
            }
        }
    }

    /// `--wait`: every selected service's containers running (healthy when they have a
    /// healthcheck; one-shot services: exited 0), listening to events.
    async fn wait_ready(
        &self,
        executor: &Executor,
        project: &Project,
        selection: &BTreeSet<String>,
        timeout: Option<u64>,
    ) -> Result<()> {
        let hub: Arc<EventHub> = executor.hub().await?;
        let one_shot = one_shot_services(project);
        let list = self.containers(&project.name, &[], true, false).await?;
        let cancel = executor.cancel_receiver();
        let waits = list
            .iter()
            .filter(|c| selection.contains(&label_of(c, labels::SERVICE)))
            .map(|c| {
                let (hub, cancel) = (hub.clone(), cancel.clone());
                let name = name_of(c);
                let svc = label_of(c, labels::SERVICE);
                let exit0_ok = one_shot.contains(&svc);
                async move {
                    let event = |state, status| Event::new(Kind::Container, &name, state, status);
                    self.progress.event(event(State::Working, "Waiting"));
                    let want = WaitFor::Ready { exit0_ok };
                    match hub.wait(&*self.engine, id_of(c), want, cancel).await {
                        Ok(_) => {
                            self.progress.event(event(State::Done, "Healthy"));
                            Ok(())
                        }
                        Err(e) => {
                            let detail = e.to_string();
                            self.progress
                                .event(event(State::Error, "Error").with_detail(detail));
                            Err(format!("container {name} (service {svc:?}) {e}"))
                        }
                    }
                }
            });
        let all = futures_util::future::join_all(waits);
        let results = match timeout {
            Some(t) => match tokio::time::timeout(Duration::from_secs(t), all).await {
                Ok(r) => r,
                Err(_) => {
                    executor.cancel();
                    return Err(Error::Failed(vec![format!(
                        "timeout: the project was not running and healthy within {t}s"
                    )]));
                }
            },
            None => all.await,
        };
        super::failures(results.into_iter().filter_map(Result::err).collect())
    }
}

/// An attached `up`: follows the attached services' logs and ends when all of them exited,
/// when one exits with `--abort-on-container-exit`, or on an interrupt.
struct UpSession<'a> {
    compose: &'a Compose,
    project: Arc<Project>,
    req: &'a UpRequest,
    selection: BTreeSet<String>,
    attach_services: BTreeSet<String>,
    multi: BTreeSet<String>,
    follower: Arc<Follower>,
    events: broadcast::Receiver<ContainerEvent>,
    /// Starts following a container's log when it (re)starts.
    log_listener: tokio::task::JoinHandle<()>,
    up_start: f64,
    _hub: Arc<EventHub>,
}

/// How the session ended.
enum Ending {
    AllExited,
    Aborted(i64),
    Interrupted(Interrupt),
}

impl<'a> UpSession<'a> {
    async fn open(
        compose: &'a Compose,
        project: &Arc<Project>,
        req: &'a UpRequest,
        selection: &BTreeSet<String>,
        executor: &Executor,
        sink: Arc<dyn LogSink>,
    ) -> Result<UpSession<'a>> {
        let hub = executor.hub().await?;
        let attach_services = req.attach_services(selection);
        let multi = multi_replica(project, &req.plan.scale);
        sink.expect(&attach_services.iter().cloned().collect::<Vec<_>>());
        let follower = Follower::new(compose.engine.clone(), sink, req.timestamps, true);
        let up_start = now_secs();
        let log_listener = {
            let mut rx = hub.receiver();
            let (follower, services, multi) =
                (follower.clone(), attach_services.clone(), multi.clone());
            tokio::spawn(async move {
                while let Ok(ev) = rx.recv().await {
                    if !ev.oneoff && services.contains(&ev.service) && ev.kind.is_start() {
                        let label = event_label(&ev.service, &ev.name, &multi);
                        follower.restart(&ev.id, &label, Some(up_start));
                    }
                }
            })
        };
        Ok(UpSession {
            compose,
            project: project.clone(),
            req,
            selection: selection.clone(),
            events: hub.receiver(),
            attach_services,
            multi,
            follower,
            log_listener,
            up_start,
            _hub: hub,
        })
    }

    /// `Attaching to db, web-1, web-2`.
    fn announce(&self, observed: &Observed, plan: &Plan) {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for c in &observed.state.containers {
            if let Some(s) = c
                .service()
                .filter(|s| self.attach_services.contains(*s) && !c.oneoff())
            {
                if self.project.services.contains_key(s) {
                    names.insert(replica_label(s, &c.number().to_string(), &self.multi));
                }
            }
        }
        for st in &plan.steps {
            if let Action::CreateContainer {
                service, number, ..
            } = &st.action
            {
                if self.attach_services.contains(service) {
                    names.insert(replica_label(service, &number.to_string(), &self.multi));
                }
            }
        }
        let names: Vec<String> = names.into_iter().collect();
        self.follower
            .sink()
            .status(&format!("Attaching to {}", names.join(", ")));
    }

    fn is_attached(&self, ev: &ContainerEvent) -> bool {
        !ev.oneoff && self.attach_services.contains(&ev.service)
    }

    async fn run(mut self, interrupts: &mut Interrupts) -> Result<ExitStatus> {
        let list = self
            .compose
            .containers(&self.project.name, &[], true, false)
            .await?;
        let list: Vec<_> = list
            .into_iter()
            .filter(|c| self.attach_services.contains(&label_of(c, labels::SERVICE)))
            .collect();
        let labels: HashMap<String, String> = list
            .iter()
            .map(|c| (id_of(c).to_string(), log_label(c, &self.multi)))
            .collect();
        let mut alive: HashSet<String> = HashSet::new();
        for c in list.iter().filter(|c| is_running(c)) {
            alive.insert(id_of(c).to_string());
            if self.follower.ended_at(id_of(c)).is_none() {
                self.follower
                    .restart(id_of(c), &labels[id_of(c)], Some(self.up_start));
            }
        }
        let mut reported: HashSet<String> = HashSet::new();
        let ending = self
            .listen(&mut alive, &labels, &mut reported, interrupts)
            .await?;
        let status = match ending {
            Ending::Interrupted(i) => {
                if i == Interrupt::Interrupt {
                    self.compose
                        .progress
                        .notice("Gracefully stopping... (press Ctrl+C again to force)");
                }
                self.log_listener.abort();
                self.stop_all(interrupts).await?;
                return Err(Error::Interrupted(match i {
                    Interrupt::Interrupt => ExitStatus::INTERRUPTED,
                    Interrupt::Terminate => ExitStatus::TERMINATED,
                }));
            }
            Ending::Aborted(code) => {
                self.compose
                    .progress
                    .notice("Aborting on container exit...");
                self.stop_all(interrupts).await?;
                self.report_other_exits(&labels, &mut reported);
                ExitStatus(code as i32)
            }
            Ending::AllExited => ExitStatus::SUCCESS,
        };
        self.follower.wait_idle(Duration::from_secs(2)).await;
        self.log_listener.abort();
        match &self.req.exit_code_from {
            Some(s) => self.exit_code_of(s).await,
            None => Ok(status),
        }
    }

    /// Listen to events until the session ends; containers that exited between the plan and
    /// the listing have their die events queued.
    async fn listen(
        &mut self,
        alive: &mut HashSet<String>,
        labels: &HashMap<String, String>,
        reported: &mut HashSet<String>,
        interrupts: &mut Interrupts,
    ) -> Result<Ending> {
        // watching, a container recreated by a rebuild exits before its successor starts
        while self.req.watch || !alive.is_empty() || !self.events.is_empty() {
            let ev = tokio::select! {
                ev = self.events.recv() => match ev {
                    Ok(ev) => ev,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                Some(i) = interrupts.recv() => return Ok(Ending::Interrupted(i)),
            };
            if !self.is_attached(&ev) {
                continue;
            }
            match &ev.kind {
                k if k.is_start() => {
                    alive.insert(ev.id.clone());
                    reported.remove(&ev.id);
                }
                EventKind::Die { exit_code } => {
                    if let Some(code) = self.on_exit(&ev, *exit_code, alive, labels, reported).await
                    {
                        return Ok(Ending::Aborted(code));
                    }
                }
                _ => {}
            }
        }
        Ok(Ending::AllExited)
    }

    /// A container died: unless its restart policy brought it back, print its exit; the exit
    /// code when the session must abort.
    async fn on_exit(
        &self,
        ev: &ContainerEvent,
        event_code: Option<i64>,
        alive: &mut HashSet<String>,
        labels: &HashMap<String, String>,
        reported: &mut HashSet<String>,
    ) -> Option<i64> {
        let info = self.compose.engine.inspect_container(&ev.id).await.ok();
        let st = info.and_then(|i| i.state).unwrap_or_default();
        if st.running == Some(true) || st.restarting == Some(true) {
            return None;
        }
        alive.remove(&ev.id);
        let code = st.exit_code.or(event_code).unwrap_or(0);
        // its last lines print first
        self.follower
            .wait_stream_end(&ev.id, Duration::from_millis(500))
            .await;
        if reported.insert(ev.id.clone()) {
            let label = labels.get(&ev.id).unwrap_or(&ev.name);
            self.follower
                .sink()
                .status(&format!("{label} exited with code {code}"));
        }
        let abort = self.req.abort_on_container_exit || self.req.exit_code_from.is_some();
        (abort || (self.req.abort_on_container_failure && code != 0)).then_some(code)
    }

    async fn stop_all(&self, interrupts: &mut Interrupts) -> Result<()> {
        self.compose
            .stop(
                &self.project,
                Some(&self.selection),
                self.req.timeout,
                interrupts,
            )
            .await
    }

    /// After an abort, the exits of the containers stopped with it.
    fn report_other_exits(
        &mut self,
        labels: &HashMap<String, String>,
        reported: &mut HashSet<String>,
    ) {
        while let Ok(ev) = self.events.try_recv() {
            if let EventKind::Die { exit_code } = ev.kind {
                if self.attach_services.contains(&ev.service)
                    && !ev.oneoff
                    && reported.insert(ev.id.clone())
                {
                    let label = labels.get(&ev.id).unwrap_or(&ev.name);
                    self.follower.sink().status(&format!(
                        "{label} exited with code {}",
                        exit_code.unwrap_or(0)
                    ));
                }
            }
        }
    }

    /// `--exit-code-from`: the exit code of that service's container.
    async fn exit_code_of(&self, service: &str) -> Result<ExitStatus> {
        let list = self
            .compose
            .containers(&self.project.name, &[service.to_string()], true, false)
            .await?;
        let Some(c) = list.first() else {
            return Ok(ExitStatus::SUCCESS);
        };
        let info = self.compose.engine.inspect_container(&name_of(c)).await?;
        Ok(ExitStatus(
            info.state.and_then(|s| s.exit_code).unwrap_or(0) as i32,
        ))
    }
}
