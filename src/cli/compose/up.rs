//! `up` and `create`: observe → plan → execute; then `--wait`, or attached mode (logs with
//! prefixes until every container exited; the first Ctrl-C stops gracefully, the second kills).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use super::args::{ComposeOpts, CreateArgs, UpArgs};
use super::logs::{since_arg, Follower, From, Printer};
use super::progress::renderer;
use super::{
    compose_err, label_of, load, log_label, multi_replica, name_of, parallel, parse_pull,
    parse_scale,
};
use crate::api::client::Client;
use crate::cli::{CliResult, Exit};
use crate::compose::exec::progress::{Event, Kind, Progress, State};
use crate::compose::exec::{
    is_image_step, observe, sub_plan, EventHub, ExecOptions, Executor, WaitFor,
};
use crate::compose::graph::ServiceGraph;
use crate::compose::model::{DependsCondition, Project};
use crate::compose::plan::{self, labels, plan_down, Action, DownOptions, Plan, PlanOptions};

fn now_secs() -> f64 {
    let n = chrono::Utc::now();
    n.timestamp() as f64 + n.timestamp_subsec_nanos() as f64 / 1e9
}

/// Services something waits on with `service_completed_successfully` (exit 0 is their goal).
pub(crate) fn one_shot_services(project: &Project) -> BTreeSet<String> {
    project
        .services
        .values()
        .flat_map(|s| s.depends_on.iter())
        .filter(|(_, d)| d.condition == DependsCondition::ServiceCompletedSuccessfully)
        .map(|(k, _)| k.clone())
        .collect()
}

/// Keep only a plan's stop steps for the given services (for `stop` and Ctrl-C).
pub(crate) fn stops_only(plan: Plan, services: Option<&BTreeSet<String>>) -> Plan {
    sub_plan(&plan, |a| match a {
        Action::StopContainer { service, .. } => services.is_none_or(|x| x.contains(service)),
        _ => false,
    })
}

/// Stop the project's containers (of `services`) in reverse dependency order; a second
/// Ctrl-C kills them instead.
pub(crate) async fn stop_gracefully(
    client: &Client,
    project: &Arc<Project>,
    services: Option<&BTreeSet<String>>,
    timeout: Option<i64>,
    progress: Arc<dyn Progress>,
    sigint: &mut tokio::signal::unix::Signal,
) -> CliResult {
    let observed = observe(client, project).await?;
    let down = plan_down(
        project,
        &observed.state,
        &DownOptions {
            volumes: false,
            remove_orphans: false,
        },
    )
    .map_err(compose_err)?;
    let stops = stops_only(down, services);
    let ex = Executor::new(
        client.clone(),
        project.clone(),
        None,
        &observed.state,
        progress,
        ExecOptions {
            keep_going: true,
            stop_timeout: timeout,
            networking: observed.networking,
            ..Default::default()
        },
    );
    tokio::select! {
        r = ex.execute(&stops) => r.map_err(|e| Exit::msg(1, e.to_string())),
        _ = sigint.recv() => {
            eprintln!("Killing...");
            let list = super::containers(client, &project.name, &[], false, true).await?;
            let kills = list.iter().map(|c| client.kill_container(c.id.as_deref().unwrap_or_default(), None));
            futures_util::future::join_all(kills).await;
            Err(Exit::code(130))
        }
    }
}

fn label_for(service: &str, number: u32, multi: &BTreeSet<String>) -> String {
    if multi.contains(service) {
        format!("{service}-{number}")
    } else {
        service.to_string()
    }
}

fn plan_options(a: &UpArgs) -> CliResult<PlanOptions> {
    Ok(PlanOptions {
        services: a.services.clone(),
        no_deps: a.no_deps,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        always_recreate_deps: a.always_recreate_deps,
        renew_anon_volumes: a.renew_anon_volumes,
        remove_orphans: a.remove_orphans,
        scale: parse_scale(&a.scale)?,
        no_start: a.no_start,
        pull: parse_pull(&a.pull)?,
        build: false,
        no_build: a.no_build,
    })
}

pub async fn create(client: &Client, opts: &ComposeOpts, a: CreateArgs) -> CliResult {
    let args = UpArgs {
        detach: true,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        remove_orphans: a.remove_orphans,
        scale: a.scale,
        no_start: true,
        pull: a.pull,
        build: a.build,
        no_build: a.no_build,
        services: a.services,
        ..Default::default()
    };
    up(client, opts, args).await
}

pub async fn up(client: &Client, opts: &ComposeOpts, a: UpArgs) -> CliResult {
    if a.build {
        return Err(Exit::msg(
            1,
            "--build: building images is not supported yet; build the image elsewhere and load it (wharf load)",
        ));
    }
    if a.force_recreate && a.no_recreate {
        return Err(Exit::msg(
            1,
            "--force-recreate and --no-recreate are incompatible",
        ));
    }
    let detach = a.detach || a.wait;
    if detach && (a.exit_code_from.is_some() || a.abort_on_container_exit) {
        return Err(Exit::msg(
            1,
            "--abort-on-container-exit and --exit-code-from cannot be combined with --detach or --wait",
        ));
    }
    let loaded = load(opts, &a.services)?;
    let project = Arc::new(loaded.project);
    if let Some(s) = &a.exit_code_from {
        if !project.services.contains_key(s) {
            return Err(Exit::msg(1, format!("no such service: {s}")));
        }
    }
    let mut popts = plan_options(&a)?;
    let mut observed = observe(client, &project).await?;
    let mut plan = plan::plan_up(&project, &observed.state, &popts).map_err(compose_err)?;
    if opts.dry_run {
        print!("{}", plan.render());
        return Ok(());
    }
    let progress = renderer(opts.progress);
    // images first: a missing image that cannot be pulled leaves nothing created
    let images = sub_plan(&plan, is_image_step);
    if !images.is_empty() {
        let ex = Executor::new(
            client.clone(),
            project.clone(),
            None,
            &observed.state,
            progress.clone(),
            ExecOptions {
                parallel: parallel(opts),
                networking: observed.networking,
                ..Default::default()
            },
        );
        ex.execute(&images)
            .await
            .map_err(|e| Exit::msg(1, e.to_string()))?;
        // images may have changed (`--pull always`): plan again against them
        observed = observe(client, &project).await?;
        popts.pull = Some(crate::compose::model::PullPolicy::Missing);
        plan = plan::plan_up(&project, &observed.state, &popts).map_err(compose_err)?;
        plan = sub_plan(&plan, |a| !is_image_step(a));
    }
    for w in &plan.warnings {
        progress.warning(w);
    }
    let graph = ServiceGraph::build(&project).map_err(compose_err)?;
    let selection = graph.select(&a.services, a.no_deps).map_err(compose_err)?;
    let executor = Executor::new(
        client.clone(),
        project.clone(),
        Some(loaded.environment),
        &observed.state,
        progress.clone(),
        ExecOptions {
            parallel: parallel(opts),
            keep_going: false,
            stop_timeout: a.timeout,
            remove_anonymous_volumes: true,
            networking: observed.networking,
        },
    );
    let attached = !detach && !a.no_start;
    let attach_services: BTreeSet<String> = {
        let base: BTreeSet<String> = if !a.attach.is_empty() {
            a.attach.iter().cloned().collect()
        } else if !a.services.is_empty() {
            a.services.iter().cloned().collect()
        } else {
            selection.clone()
        };
        base.into_iter()
            .filter(|s| !a.no_attach.contains(s))
            .collect()
    };
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;

    // attached: subscribe and follow logs before anything starts
    let multi = multi_replica(&project, &popts.scale);
    let mut attach_state = None;
    if attached {
        let hub = executor.hub().await?;
        let names: Vec<String> = attach_services.iter().cloned().collect();
        let printer = Arc::new(Printer::new(
            &opts.ansi,
            a.no_color,
            !a.no_log_prefix,
            &names,
        ));
        let follower = Follower::new(client.clone(), printer.clone(), a.timestamps, true);
        let up_start = now_secs();
        let mut rx = hub.receiver();
        let events = hub.receiver();
        let f2 = follower.clone();
        let svcs = attach_services.clone();
        let multi2 = multi.clone();
        let watcher = tokio::spawn(async move {
            while let Ok(ev) = rx.recv().await {
                if ev.oneoff || !svcs.contains(&ev.service) {
                    continue;
                }
                if ev.action == "start" || ev.action == "restart" {
                    let since = f2.ended_at(&ev.id).unwrap_or(up_start);
                    let label = if multi2.contains(&ev.service) {
                        ev.name
                            .rsplit_once('-')
                            .map(|(_, n)| format!("{}-{n}", ev.service))
                            .unwrap_or(ev.name.clone())
                    } else {
                        ev.service.clone()
                    };
                    f2.start(
                        &ev.id,
                        &label,
                        From {
                            since: Some(since_arg(since)),
                            ..Default::default()
                        },
                    );
                }
            }
        });
        attach_state = Some((hub, printer, follower, events, watcher, up_start));
    }

    // untouched running containers
    let touched: HashSet<String> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::CreateContainer { name, .. }
            | Action::StartContainer { name, .. }
            | Action::StopContainer { name, .. }
            | Action::RemoveContainer { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    for c in &observed.state.containers {
        if !c.oneoff()
            && c.service().is_some_and(|s| selection.contains(s))
            && c.state.is_running()
            && !touched.contains(&c.name)
        {
            progress.event(Event::new(Kind::Container, &c.name, State::Done, "Running"));
        }
    }

    if let Some((_, printer, ..)) = &attach_state {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for c in &observed.state.containers {
            if let Some(s) = c
                .service()
                .filter(|s| attach_services.contains(*s) && !c.oneoff())
            {
                if project.services.contains_key(s) {
                    names.insert(label_for(s, c.number(), &multi));
                }
            }
        }
        for st in &plan.steps {
            if let Action::CreateContainer {
                service, number, ..
            } = &st.action
            {
                if attach_services.contains(service) {
                    names.insert(label_for(service, *number, &multi));
                }
            }
        }
        let names: Vec<String> = names.into_iter().collect();
        printer.status(&format!("Attaching to {}", names.join(", ")));
    }
    let interrupted = tokio::select! {
        r = executor.execute(&plan) => {
            r.map_err(|e| Exit::msg(1, e.to_string()))?;
            false
        }
        _ = sigint.recv() => true,
        _ = sigterm.recv() => true,
    };
    if interrupted {
        executor.cancel();
        eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
        stop_gracefully(
            client,
            &project,
            Some(&selection),
            a.timeout,
            progress.clone(),
            &mut sigint,
        )
        .await?;
        return Err(Exit::code(130));
    }

    if a.wait {
        return wait_ready(
            client,
            &executor,
            &project,
            &selection,
            a.wait_timeout,
            progress,
        )
        .await;
    }
    let Some((_hub, printer, follower, mut events, watcher, up_start)) = attach_state else {
        return Ok(());
    };

    // attached mode
    let list = super::containers(client, &project.name, &[], true, false).await?;
    let list: Vec<_> = list
        .into_iter()
        .filter(|c| attach_services.contains(&label_of(c, labels::SERVICE)))
        .collect();
    let label_by_id: HashMap<String, String> = list
        .iter()
        .map(|c| (c.id.clone().unwrap_or_default(), log_label(c, &multi)))
        .collect();
    let mut alive: HashSet<String> = HashSet::new();
    for c in &list {
        let id = c.id.clone().unwrap_or_default();
        let running = matches!(
            c.state,
            Some(crate::api::models::ContainerSummaryStateEnum::RUNNING)
                | Some(crate::api::models::ContainerSummaryStateEnum::RESTARTING)
                | Some(crate::api::models::ContainerSummaryStateEnum::PAUSED)
        );
        if running {
            alive.insert(id.clone());
            if follower.ended_at(&id).is_none() {
                follower.start(
                    &id,
                    &label_by_id[&id],
                    From {
                        since: Some(since_arg(up_start)),
                        ..Default::default()
                    },
                );
            }
        }
    }
    let abort_on_exit = a.abort_on_container_exit || a.exit_code_from.is_some();
    let mut exit_code = 0i32;
    let mut aborted = false;
    let mut printed_exit: HashSet<String> = HashSet::new();
    // containers that exited between the plan and the listing: their die events are queued
    while !alive.is_empty() || !events.is_empty() {
        tokio::select! {
            ev = events.recv() => {
                let Ok(ev) = ev else { break };
                if ev.oneoff || !attach_services.contains(&ev.service) {
                    continue;
                }
                match ev.action.as_str() {
                    "start" | "restart" => {
                        alive.insert(ev.id.clone());
                        printed_exit.remove(&ev.id);
                    }
                    "die" => {
                        let info = client.inspect_container(&ev.id).await.ok();
                        let st = info.as_ref().and_then(|i| i.state.clone()).unwrap_or_default();
                        if st.running == Some(true) || st.restarting == Some(true) {
                            continue;
                        }
                        alive.remove(&ev.id);
                        let code = st.exit_code.or(ev.exit_code).unwrap_or(0);
                        // let its last lines print first
                        for _ in 0..50 {
                            if !follower.is_active(&ev.id) { break; }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        if printed_exit.insert(ev.id.clone()) {
                            let label = label_by_id.get(&ev.id).cloned().unwrap_or(ev.name.clone());
                            printer.status(&format!("{label} exited with code {code}"));
                        }
                        if abort_on_exit || (a.abort_on_container_failure && code != 0) {
                            exit_code = code as i32;
                            aborted = true;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            _ = sigint.recv() => {
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                watcher.abort();
                stop_gracefully(client, &project, Some(&selection), a.timeout, progress.clone(), &mut sigint).await?;
                return Err(Exit::code(130));
            }
            _ = sigterm.recv() => {
                watcher.abort();
                stop_gracefully(client, &project, Some(&selection), a.timeout, progress.clone(), &mut sigint).await?;
                return Err(Exit::code(143));
            }
        }
    }
    if aborted {
        eprintln!("Aborting on container exit...");
        stop_gracefully(
            client,
            &project,
            Some(&selection),
            a.timeout,
            progress.clone(),
            &mut sigint,
        )
        .await?;
        // the others' exits
        while let Ok(ev) = events.try_recv() {
            if ev.action == "die"
                && !ev.oneoff
                && attach_services.contains(&ev.service)
                && printed_exit.insert(ev.id.clone())
            {
                let label = label_by_id.get(&ev.id).cloned().unwrap_or(ev.name.clone());
                printer.status(&format!(
                    "{label} exited with code {}",
                    ev.exit_code.unwrap_or(0)
                ));
            }
        }
    }
    follower.wait_idle(Duration::from_secs(2)).await;
    watcher.abort();
    if let Some(s) = &a.exit_code_from {
        let list =
            super::containers(client, &project.name, std::slice::from_ref(s), true, false).await?;
        if let Some(c) = list.first() {
            let info = client.inspect_container(&name_of(c)).await?;
            exit_code = info.state.and_then(|s| s.exit_code).unwrap_or(0) as i32;
        }
    }
    if exit_code != 0 {
        return Err(Exit::code(exit_code));
    }
    Ok(())
}

/// `--wait`: every selected service's containers running (healthy when they have a
/// healthcheck; one-shot services: exited 0), listening to events.
async fn wait_ready(
    client: &Client,
    executor: &Executor,
    project: &Arc<Project>,
    selection: &BTreeSet<String>,
    timeout: Option<u64>,
    progress: Arc<dyn Progress>,
) -> CliResult {
    let hub: Arc<EventHub> = executor.hub().await?;
    let one_shot = one_shot_services(project);
    let list = super::containers(client, &project.name, &[], true, false).await?;
    let cancel = executor.cancel_receiver();
    let waits = list
        .iter()
        .filter(|c| selection.contains(&label_of(c, labels::SERVICE)))
        .map(|c| {
            let hub = hub.clone();
            let progress = progress.clone();
            let cancel = cancel.clone();
            let id = c.id.clone().unwrap_or_default();
            let name = name_of(c);
            let svc = label_of(c, labels::SERVICE);
            let exit0_ok = one_shot.contains(&svc);
            async move {
                progress.event(Event::new(
                    Kind::Container,
                    &name,
                    State::Working,
                    "Waiting",
                ));
                match hub
                    .wait(client, &id, WaitFor::Ready { exit0_ok }, cancel)
                    .await
                {
                    Ok(_) => {
                        progress.event(Event::new(Kind::Container, &name, State::Done, "Healthy"));
                        Ok(())
                    }
                    Err(e) => {
                        let msg = format!("container {name} (service {svc:?}) {e}");
                        progress.event(
                            Event::new(Kind::Container, &name, State::Error, "Error")
                                .with_detail(e.to_string()),
                        );
                        Err(msg)
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
                return Err(Exit::msg(
                    1,
                    format!("timeout: the project was not running and healthy within {t}s"),
                ));
            }
        },
        None => all.await,
    };
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Exit::msg(1, errors.join("\n")))
    }
}
