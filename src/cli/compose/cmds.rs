//! The other compose commands: down, config, ps, logs, start/stop/restart/kill/rm,
//! pause/unpause, pull, images, port, top, ls, events, wait.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};

use super::args::*;
use super::logs::{since_arg, Follower, From, Printer};
use super::progress::renderer;
use super::up::{one_shot_services, stop_gracefully, stops_only};
use super::{
    check_services, compose_err, containers, label_of, load, load_options, load_or_name, log_label,
    multi_replica, name_of, parallel,
};
use crate::api::client::Client;
use crate::api::models::{ContainerSummary, ContainerSummaryStateEnum};
use crate::cli::output::print_columns;
use crate::cli::{CliResult, Exit};
use crate::compose::config::{render_hashes, service_names, volume_names};
use crate::compose::exec::progress::{Event, Kind, Progress, State};
use crate::compose::exec::{observe, EventHub, ExecOptions, Executor, WaitFor};
use crate::compose::graph::ServiceGraph;
use crate::compose::model::{DependsCondition, Network, Volume};
use crate::compose::plan::{self, labels, service_image, Action, DownOptions, Plan, Step};
use crate::compose::{load_project, render_config, ConfigFormat};

// ---- down ---------------------------------------------------------------------------------

pub async fn down(client: &Client, opts: &ComposeOpts, a: DownArgs) -> CliResult {
    let rmi = match a.rmi.as_deref() {
        None => None,
        Some("local") => Some(false),
        Some("all") => Some(true),
        Some(o) => {
            return Err(Exit::msg(
                1,
                format!("invalid --rmi {o:?}: expected local or all"),
            ))
        }
    };
    let (project, env, from_file) = load_or_name(opts)?;
    let observed = observe(client, &project).await?;
    let mut project = (*project).clone();
    if !from_file {
        // no compose file: everything labelled with the project goes
        for n in &observed.state.networks {
            let key = n
                .labels
                .get(labels::NETWORK)
                .cloned()
                .unwrap_or_else(|| n.name.clone());
            project.networks.insert(
                key,
                Network {
                    name: n.name.clone(),
                    ..Default::default()
                },
            );
        }
        for v in &observed.state.volumes {
            let key = v
                .labels
                .get(labels::VOLUME)
                .cloned()
                .unwrap_or_else(|| v.name.clone());
            project.volumes.insert(
                key,
                Volume {
                    name: v.name.clone(),
                    ..Default::default()
                },
            );
        }
    }
    let project = Arc::new(project);
    let plan = plan::plan_down(
        &project,
        &observed.state,
        &DownOptions {
            volumes: a.volumes,
            remove_orphans: a.remove_orphans || !from_file,
        },
    )
    .map_err(compose_err)?;
    // images to remove with --rmi
    let mut images: BTreeSet<String> = BTreeSet::new();
    if let Some(all) = rmi {
        for (n, s) in &project.services {
            if all || s.image.is_none() {
                images.insert(service_image(&project, n, s));
            }
        }
        if all {
            for c in &observed.state.containers {
                if let Some(i) = c.labels.get(labels::IMAGE) {
                    if !i.starts_with("sha256:") {
                        images.insert(i.clone());
                    }
                }
            }
        }
    }
    if opts.dry_run {
        print!("{}", plan.render());
        for i in &images {
            println!("remove image {i}");
        }
        return Ok(());
    }
    let progress = renderer(opts.progress);
    let ex = Executor::new(
        client.clone(),
        project.clone(),
        env,
        &observed.state,
        progress.clone(),
        ExecOptions {
            parallel: parallel(opts),
            keep_going: true,
            stop_timeout: a.timeout,
            remove_anonymous_volumes: a.volumes,
            networking: observed.networking,
        },
    );
    let mut failures = Vec::new();
    if let Err(e) = ex.execute(&plan).await {
        failures.extend(e.failures);
    }
    for i in &images {
        progress.event(Event::new(Kind::Image, i, State::Working, "Removing"));
        match client.remove_image(i, false).await {
            Ok(()) => progress.event(Event::new(Kind::Image, i, State::Done, "Removed")),
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                progress.event(
                    Event::new(Kind::Image, i, State::Error, "Error").with_detail(e.to_string()),
                );
                failures.push(format!("image {i}: {e}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Exit::msg(1, failures.join("\n")))
    }
}

// ---- config -------------------------------------------------------------------------------

pub fn config(opts: &ComposeOpts, a: ConfigArgs) -> CliResult {
    let loaded = load_project(&load_options(opts, &a.service_names, a.no_interpolate))
        .map_err(compose_err)?;
    for w in &loaded.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let mut project = loaded.project;
    if !a.service_names.is_empty() {
        let graph = ServiceGraph::build(&project).map_err(compose_err)?;
        let keep = graph.select(&a.service_names, false).map_err(compose_err)?;
        project.services.retain(|n, _| keep.contains(n));
    }
    if a.quiet {
        return Ok(());
    }
    let text = if a.services {
        lines(service_names(&project))
    } else if a.volumes {
        lines(volume_names(&project))
    } else if a.profiles {
        let mut p: BTreeSet<String> = BTreeSet::new();
        for s in project
            .services
            .values()
            .chain(project.disabled_services.values())
        {
            p.extend(s.profiles.iter().cloned());
        }
        lines(p.into_iter().collect())
    } else if a.images {
        lines(
            project
                .services
                .iter()
                .map(|(n, s)| service_image(&project, n, s))
                .collect(),
        )
    } else if let Some(h) = &a.hash {
        let list: Vec<String> = h
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        render_hashes(&project, &list).map_err(compose_err)?
    } else {
        let format = match a.format.as_str() {
            "yaml" | "yml" => ConfigFormat::Yaml,
            "json" => ConfigFormat::Json,
            o => {
                return Err(Exit::msg(
                    1,
                    format!("unsupported format {o:?}: expected yaml or json"),
                ))
            }
        };
        render_config(&project, format)
    };
    match &a.output {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| Exit::msg(1, format!("{}: {e}", p.display())))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn lines(v: Vec<String>) -> String {
    let mut s = String::new();
    for l in v {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

// ---- ps / ls / images / port / top --------------------------------------------------------

fn ports_text(c: &ContainerSummary) -> String {
    let mut v: Vec<String> = c
        .ports
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let proto = p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into());
            match p.public_port {
                Some(pubp) => format!(
                    "{}:{pubp}->{}/{proto}",
                    p.ip.clone().unwrap_or_else(|| "0.0.0.0".into()),
                    p.private_port
                ),
                None => format!("{}/{proto}", p.private_port),
            }
        })
        .collect();
    v.sort();
    v.dedup();
    v.join(", ")
}

fn is_running(c: &ContainerSummary) -> bool {
    matches!(
        c.state,
        Some(ContainerSummaryStateEnum::RUNNING)
            | Some(ContainerSummaryStateEnum::RESTARTING)
            | Some(ContainerSummaryStateEnum::PAUSED)
    )
}

pub async fn ps(client: &Client, opts: &ComposeOpts, a: PsArgs) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.service_names, from_file)?;
    let mut status = a.status.clone();
    if let Some(f) = &a.filter {
        match f.split_once('=') {
            Some(("status", v)) => status.push(v.to_string()),
            _ => {
                return Err(Exit::msg(
                    1,
                    format!("invalid filter {f:?}: expected status=..."),
                ))
            }
        }
    }
    let all = a.all || !status.is_empty();
    let mut list = containers(client, &project.name, &a.service_names, all, false).await?;
    if !status.is_empty() {
        list.retain(|c| {
            c.state
                .map(|s| status.iter().any(|x| *x == s.to_string()))
                .unwrap_or(false)
        });
    }
    if a.services {
        let s: BTreeSet<String> = list.iter().map(|c| label_of(c, labels::SERVICE)).collect();
        for x in s {
            println!("{x}");
        }
        return Ok(());
    }
    if a.quiet {
        for c in &list {
            let id = c.id.clone().unwrap_or_default();
            println!(
                "{}",
                if a.no_trunc {
                    id
                } else {
                    id.chars().take(12).collect()
                }
            );
        }
        return Ok(());
    }
    let row = |c: &ContainerSummary| {
        let base = crate::cli::commands::container::container_row(c, a.no_trunc);
        (base, ports_text(c))
    };
    if a.format.as_deref() == Some("json") {
        let mut out = std::io::stdout().lock();
        for c in &list {
            let (r, ports) = row(c);
            let health = c
                .status
                .as_deref()
                .and_then(|s| {
                    s.split_once('(')
                        .map(|(_, h)| h.trim_end_matches(')').to_string())
                })
                .filter(|h| matches!(h.as_str(), "healthy" | "unhealthy" | "health: starting"))
                .unwrap_or_default();
            let exit_code = crate::compose::exec::observe::summary_state(
                c.state,
                c.status.as_deref().unwrap_or_default(),
            );
            let v = serde_json::json!({
                "ID": c.id, "Name": name_of(c), "Names": r.get("Names"), "Image": c.image,
                "Command": r.get("Command"), "Project": label_of(c, labels::PROJECT),
                "Service": label_of(c, labels::SERVICE), "Created": c.created,
                "State": r.get("State"), "Status": c.status, "Health": health,
                "ExitCode": match exit_code { plan::ContainerState::Exited(n) => n, _ => 0 },
                "Labels": r.get("Labels"), "LocalVolumes": r.get("LocalVolumes"),
                "Mounts": r.get("Mounts"), "Networks": r.get("Networks"),
                "Ports": ports, "RunningFor": r.get("RunningFor"), "Size": r.get("Size"),
                "Publishers": c.ports.clone().unwrap_or_default().iter().map(|p| serde_json::json!({
                    "URL": p.ip, "TargetPort": p.private_port, "PublishedPort": p.public_port.unwrap_or(0),
                    "Protocol": p.typ.map(|t| t.to_string()).unwrap_or_default(),
                })).collect::<Vec<_>>(),
            });
            let _ = writeln!(out, "{v}");
        }
        return Ok(());
    }
    let header: Vec<String> = [
        "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let (r, ports) = row(c);
            vec![
                name_of(c),
                c.image.clone().unwrap_or_default(),
                r.get("Command").cloned().unwrap_or_default(),
                label_of(c, labels::SERVICE),
                r.get("RunningFor").cloned().unwrap_or_default(),
                c.status.clone().unwrap_or_default(),
                ports,
            ]
        })
        .collect();
    print_columns(&mut std::io::stdout().lock(), &header, &rows)?;
    Ok(())
}

pub async fn ls(client: &Client, a: LsArgs) -> CliResult {
    let mut f: HashMap<String, Vec<String>> = HashMap::new();
    f.insert("label".into(), vec![labels::PROJECT.to_string()]);
    let list = client.list_containers(true, &f).await?;
    let mut projects: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
    for c in &list {
        let p = label_of(c, labels::PROJECT);
        let e = projects.entry(p).or_default();
        let state = c.state.map(|s| s.to_string()).unwrap_or_default();
        *e.0.entry(state).or_default() += 1;
        if e.1.is_empty() {
            e.1 = label_of(c, labels::CONFIG_FILES);
        }
    }
    let mut rows = Vec::new();
    for (name, (states, files)) in projects {
        if !a.all && !states.contains_key("running") {
            continue;
        }
        let keep = a.filter.iter().all(|f| match f.split_once('=') {
            Some(("name", v)) => name.contains(v),
            _ => true,
        });
        if !keep {
            continue;
        }
        let status = states
            .iter()
            .map(|(s, n)| format!("{s}({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(vec![name, status, files]);
    }
    if a.quiet {
        for r in rows {
            println!("{}", r[0]);
        }
        return Ok(());
    }
    if a.format.as_deref() == Some("json") {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| serde_json::json!({"Name": r[0], "Status": r[1], "ConfigFiles": r[2]}))
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let header = vec!["NAME".to_string(), "STATUS".into(), "CONFIG FILES".into()];
    print_columns(&mut std::io::stdout().lock(), &header, &rows)?;
    Ok(())
}

pub async fn images(client: &Client, opts: &ComposeOpts, a: ImagesArgs) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.services, from_file)?;
    let list = containers(client, &project.name, &a.services, true, false).await?;
    let mut rows = Vec::new();
    let mut ids = BTreeSet::new();
    for c in &list {
        let image = c.image.clone().unwrap_or_default();
        let info = client
            .inspect_image(c.image_id.as_deref().unwrap_or(&image))
            .await
            .ok();
        let id = c.image_id.clone().unwrap_or_default();
        ids.insert(id.clone());
        let (repo, tag) = crate::api::client::split_tag(&image);
        let size = info.as_ref().and_then(|i| i.size).unwrap_or(0);
        rows.push((
            name_of(c),
            repo.to_string(),
            tag.unwrap_or("latest").to_string(),
            id,
            size,
        ));
    }
    if a.quiet {
        for id in ids {
            println!("{id}");
        }
        return Ok(());
    }
    if a.format.as_deref() == Some("json") {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(c, r, t, id, s)| serde_json::json!({"ContainerName": c, "Repository": r, "Tag": t, "ID": id, "Size": s}))
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let header: Vec<String> = ["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(c, r, t, id, s)| {
            let short = id.trim_start_matches("sha256:").chars().take(12).collect();
            vec![c, r, t, short, human_size(s)]
        })
        .collect();
    print_columns(&mut std::io::stdout().lock(), &header, &rows)?;
    Ok(())
}

fn human_size(n: i64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.3}GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.3}MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.3}kB", n / 1e3)
    } else {
        format!("{n}B")
    }
}

pub async fn port(client: &Client, opts: &ComposeOpts, a: PortArgs) -> CliResult {
    let (project, _, _) = load_or_name(opts)?;
    let c = super::service_container(client, &project.name, &a.service, a.index).await?;
    let info = client
        .inspect_container(c.id.as_deref().unwrap_or_default())
        .await?;
    let key = format!("{}/{}", a.private_port, a.protocol);
    let bindings = info
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get(&key).cloned().flatten())
        .or_else(|| {
            info.host_config
                .and_then(|h| h.port_bindings)
                .and_then(|p| p.get(&key).cloned().flatten())
        })
        .unwrap_or_default();
    match bindings.first() {
        Some(b) => {
            let ip = b
                .host_ip
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| "0.0.0.0".into());
            println!("{ip}:{}", b.host_port.clone().unwrap_or_default());
            Ok(())
        }
        None => Err(Exit::msg(
            1,
            format!("no port {key} for container {}: not published", name_of(&c)),
        )),
    }
}

pub async fn top(client: &Client, opts: &ComposeOpts, a: ServicesArgs) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.services, from_file)?;
    let list = containers(client, &project.name, &a.services, false, false).await?;
    let mut out = std::io::stdout().lock();
    for (i, c) in list.iter().enumerate() {
        let v = client
            .top_container(c.id.as_deref().unwrap_or_default())
            .await?;
        let titles: Vec<String> = serde_json::from_value(v["Titles"].clone()).unwrap_or_default();
        let rows: Vec<Vec<String>> =
            serde_json::from_value(v["Processes"].clone()).unwrap_or_default();
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", name_of(c))?;
        print_columns(&mut out, &titles, &rows)?;
    }
    Ok(())
}

// ---- lifecycle ----------------------------------------------------------------------------

/// Start existing containers in dependency order, honouring the dependencies' conditions.
pub async fn start(client: &Client, opts: &ComposeOpts, a: ServicesArgs) -> CliResult {
    let loaded = load(opts, &a.services)?;
    let project = Arc::new(loaded.project);
    let graph = ServiceGraph::build(&project).map_err(compose_err)?;
    let selection = graph.select(&a.services, false).map_err(compose_err)?;
    let observed = observe(client, &project).await?;
    let mut plan = Plan::default();
    let mut started: HashMap<String, Vec<(String, Option<usize>)>> = HashMap::new();
    let one_shot = one_shot_services(&project);
    for s in graph.start_order_of(&selection) {
        let svc = &project.services[&s];
        let cs: Vec<_> = observed
            .state
            .containers
            .iter()
            .filter(|c| !c.oneoff() && c.service() == Some(s.as_str()))
            .collect();
        if cs.is_empty() {
            return Err(Exit::msg(
                1,
                format!("service {s:?} has no container to start"),
            ));
        }
        let mut after = Vec::new();
        for (dep, d) in &svc.depends_on {
            for (name, st) in started.get(dep).cloned().unwrap_or_default() {
                match d.condition {
                    DependsCondition::ServiceStarted => after.extend(st),
                    c => {
                        plan.steps.push(Step {
                            action: Action::WaitContainer {
                                service: dep.clone(),
                                name,
                                condition: if c == DependsCondition::ServiceHealthy {
                                    plan::WaitCondition::Healthy
                                } else {
                                    plan::WaitCondition::CompletedSuccessfully
                                },
                            },
                            after: st.into_iter().collect(),
                        });
                        after.push(plan.steps.len() - 1);
                    }
                }
            }
        }
        let mut mine = Vec::new();
        for c in cs {
            let done = c.state.is_running()
                || (one_shot.contains(&s) && c.state == plan::ContainerState::Exited(0));
            if done {
                mine.push((c.name.clone(), None));
            } else {
                plan.steps.push(Step {
                    action: Action::StartContainer {
                        service: s.clone(),
                        name: c.name.clone(),
                    },
                    after: after.clone(),
                });
                mine.push((c.name.clone(), Some(plan.steps.len() - 1)));
            }
        }
        started.insert(s.clone(), mine);
    }
    if opts.dry_run {
        print!("{}", plan.render());
        return Ok(());
    }
    let ex = Executor::new(
        client.clone(),
        project.clone(),
        Some(loaded.environment),
        &observed.state,
        renderer(opts.progress),
        ExecOptions {
            parallel: parallel(opts),
            networking: observed.networking,
            ..Default::default()
        },
    );
    ex.execute(&plan)
        .await
        .map_err(|e| Exit::msg(1, e.to_string()))
}

pub async fn stop(client: &Client, opts: &ComposeOpts, a: StopArgs) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.services, from_file)?;
    let selection: Option<BTreeSet<String>> =
        (!a.services.is_empty()).then(|| a.services.iter().cloned().collect());
    if opts.dry_run {
        let observed = observe(client, &project).await?;
        let down = plan::plan_down(&project, &observed.state, &DownOptions::default())
            .map_err(compose_err)?;
        print!("{}", stops_only(down, selection.as_ref()).render());
        return Ok(());
    }
    let mut sigint = signal(SignalKind::interrupt())?;
    stop_gracefully(
        client,
        &project,
        selection.as_ref(),
        a.timeout,
        renderer(opts.progress),
        &mut sigint,
    )
    .await
}

pub async fn restart(client: &Client, opts: &ComposeOpts, a: StopArgs) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.services, from_file)?;
    let progress = renderer(opts.progress);
    let order: Vec<String> = ServiceGraph::build(&project)
        .map(|g| g.start_order())
        .unwrap_or_default();
    let list = containers(client, &project.name, &a.services, true, false).await?;
    let mut by_service: BTreeMap<String, Vec<&ContainerSummary>> = BTreeMap::new();
    for c in &list {
        by_service
            .entry(label_of(c, labels::SERVICE))
            .or_default()
            .push(c);
    }
    let mut ordered: Vec<String> = order
        .into_iter()
        .filter(|s| by_service.contains_key(s))
        .collect();
    for s in by_service.keys() {
        if !ordered.contains(s) {
            ordered.push(s.clone());
        }
    }
    for s in ordered {
        let cs = &by_service[&s];
        let jobs = cs.iter().map(|c| {
            let progress = progress.clone();
            let s = s.clone();
            async move {
                let name = name_of(c);
                progress.event(Event::new(
                    Kind::Container,
                    &name,
                    State::Working,
                    "Restarting",
                ));
                match client
                    .restart_container(c.id.as_deref().unwrap_or_default(), a.timeout)
                    .await
                {
                    Ok(()) => {
                        progress.event(Event::new(Kind::Container, &name, State::Done, "Started"));
                        Ok(())
                    }
                    Err(e) => Err(format!("service {s:?}: cannot restart {name}: {e}")),
                }
            }
        });
        let errs: Vec<String> = futures_util::future::join_all(jobs)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if !errs.is_empty() {
            return Err(Exit::msg(1, errs.join("\n")));
        }
    }
    Ok(())
}

pub async fn kill(client: &Client, opts: &ComposeOpts, a: KillArgs) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.services, from_file)?;
    let progress = renderer(opts.progress);
    let list = containers(client, &project.name, &a.services, false, false).await?;
    let jobs = list.iter().map(|c| {
        let progress = progress.clone();
        let signal = a.signal.clone();
        async move {
            let name = name_of(c);
            progress.event(Event::new(
                Kind::Container,
                &name,
                State::Working,
                "Killing",
            ));
            match client
                .kill_container(c.id.as_deref().unwrap_or_default(), Some(&signal))
                .await
            {
                Ok(()) => {
                    progress.event(Event::new(Kind::Container, &name, State::Done, "Killed"));
                    Ok(())
                }
                Err(e) => Err(format!("cannot kill {name}: {e}")),
            }
        }
    });
    let errs: Vec<String> = futures_util::future::join_all(jobs)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Exit::msg(1, errs.join("\n")))
    }
}

pub async fn rm(client: &Client, opts: &ComposeOpts, a: RmArgs) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.services, from_file)?;
    if a.stop {
        let mut sigint = signal(SignalKind::interrupt())?;
        let sel: Option<BTreeSet<String>> =
            (!a.services.is_empty()).then(|| a.services.iter().cloned().collect());
        stop_gracefully(
            client,
            &project,
            sel.as_ref(),
            None,
            renderer(opts.progress),
            &mut sigint,
        )
        .await?;
    }
    let list: Vec<ContainerSummary> = containers(client, &project.name, &a.services, true, false)
        .await?
        .into_iter()
        .filter(|c| !is_running(c))
        .collect();
    if list.is_empty() {
        eprintln!("No stopped containers");
        return Ok(());
    }
    let names: Vec<String> = list.iter().map(name_of).collect();
    if !a.force && std::io::stdin().is_terminal() {
        eprint!(
            "Going to remove {}\n? Are you sure? [yN] ",
            names.join(", ")
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(());
        }
    }
    let progress = renderer(opts.progress);
    let jobs = list.iter().map(|c| {
        let progress = progress.clone();
        async move {
            let name = name_of(c);
            progress.event(Event::new(
                Kind::Container,
                &name,
                State::Working,
                "Removing",
            ));
            match client
                .remove_container(c.id.as_deref().unwrap_or_default(), true, a.volumes)
                .await
            {
                Ok(()) => {
                    progress.event(Event::new(Kind::Container, &name, State::Done, "Removed"));
                    Ok(())
                }
                Err(e) => Err(format!("cannot remove {name}: {e}")),
            }
        }
    });
    let errs: Vec<String> = futures_util::future::join_all(jobs)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Exit::msg(1, errs.join("\n")))
    }
}

pub async fn pause(client: &Client, opts: &ComposeOpts, a: ServicesArgs, pause: bool) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.services, from_file)?;
    let progress = renderer(opts.progress);
    let list = containers(client, &project.name, &a.services, false, false).await?;
    for c in &list {
        let name = name_of(c);
        let id = c.id.clone().unwrap_or_default();
        let r = if pause {
            client.pause_container(&id).await
        } else {
            client.unpause_container(&id).await
        };
        match r {
            Ok(()) => progress.event(Event::new(
                Kind::Container,
                &name,
                State::Done,
                if pause { "Paused" } else { "Unpaused" },
            )),
            Err(e) => return Err(Exit::msg(1, format!("{name}: {e}"))),
        }
    }
    Ok(())
}

pub async fn pull(client: &Client, opts: &ComposeOpts, a: PullArgs) -> CliResult {
    let loaded = load(opts, &a.services)?;
    let project = loaded.project;
    let graph = ServiceGraph::build(&project).map_err(compose_err)?;
    let selection = graph
        .select(&a.services, !a.include_deps)
        .map_err(compose_err)?;
    let progress: Arc<dyn Progress> = if a.quiet {
        Arc::new(crate::compose::exec::progress::Quiet)
    } else {
        renderer(opts.progress)
    };
    let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &selection {
        let svc = &project.services[s];
        if svc.image.is_none() && svc.build.is_some() {
            continue;
        }
        images
            .entry(service_image(&project, s, svc))
            .or_default()
            .push(s.clone());
    }
    let jobs = images.iter().map(|(image, services)| {
        let progress = progress.clone();
        async move {
            progress.event(Event::new(Kind::Image, image, State::Working, "Pulling"));
            match client.pull_image(image).await {
                Ok(()) => {
                    progress.event(Event::new(Kind::Image, image, State::Done, "Pulled"));
                    Ok(())
                }
                Err(e) => {
                    let present = client.inspect_image(image).await.is_ok();
                    progress.event(
                        Event::new(
                            Kind::Image,
                            image,
                            if present {
                                State::Warning
                            } else {
                                State::Error
                            },
                            "Error",
                        )
                        .with_detail(e.to_string()),
                    );
                    Err((
                        present,
                        format!("service {}: cannot pull {image}: {e}", services.join(", ")),
                    ))
                }
            }
        }
    });
    let mut errs = Vec::new();
    for r in futures_util::future::join_all(jobs).await {
        if let Err((present, e)) = r {
            if present {
                progress.warning(&format!("{e} (the image present locally is used)"));
            } else if a.ignore_pull_failures {
                progress.warning(&e);
            } else {
                errs.push(e);
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Exit::msg(1, errs.join("\n")))
    }
}

// ---- logs / events / wait -----------------------------------------------------------------

pub async fn logs(client: &Client, opts: &ComposeOpts, a: LogsArgs) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.services, from_file)?;
    let multi = multi_replica(&project, &Default::default());
    let hub = if a.follow {
        Some(EventHub::subscribe(client, Some(&project.name)).await?)
    } else {
        None
    };
    let mut rx = hub.as_ref().map(|h| h.receiver());
    let list: Vec<ContainerSummary> = containers(client, &project.name, &a.services, true, false)
        .await?
        .into_iter()
        .filter(|c| {
            a.index
                .is_none_or(|i| label_of(c, labels::NUMBER) == i.to_string())
        })
        .collect();
    let names: Vec<String> = list.iter().map(|c| log_label(c, &multi)).collect();
    let printer = Arc::new(Printer::new(
        &opts.ansi,
        a.no_color,
        !a.no_log_prefix,
        &names,
    ));
    let follower = Follower::new(client.clone(), printer, a.timestamps, a.follow);
    let from = From {
        since: a.since.clone(),
        until: a.until.clone(),
        tail: Some(a.tail.clone()),
    };
    let mut tasks = Vec::new();
    for c in &list {
        if let Some(t) = follower.start(
            c.id.as_deref().unwrap_or_default(),
            &log_label(c, &multi),
            from.clone(),
        ) {
            tasks.push(t);
        }
    }
    let Some(rx) = rx.as_mut() else {
        for t in tasks {
            let _ = t.await;
        }
        return Ok(());
    };
    // follow across restarts and recreates until interrupted
    let mut sigint = signal(SignalKind::interrupt())?;
    let services: BTreeSet<String> = a.services.iter().cloned().collect();
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
                if ev.action == "start" || ev.action == "restart" {
                    let label = if multi.contains(&ev.service) {
                        ev.name.rsplit_once('-').map(|(_, n)| format!("{}-{n}", ev.service)).unwrap_or(ev.name.clone())
                    } else {
                        ev.service.clone()
                    };
                    let since = follower.ended_at(&ev.id).map(since_arg);
                    follower.start(&ev.id, &label, From { since, until: a.until.clone(), tail: None });
                }
            }
            _ = sigint.recv() => return Ok(()),
        }
    }
}

pub async fn events(client: &Client, opts: &ComposeOpts, a: EventsArgs) -> CliResult {
    let (project, _, _) = load_or_name(opts)?;
    let mut f: HashMap<String, Vec<String>> = HashMap::new();
    f.insert("type".into(), vec!["container".into()]);
    f.insert(
        "label".into(),
        vec![format!("{}={}", labels::PROJECT, project.name)],
    );
    let mut stream = client.events(&f, None, None).await?;
    let mut out = std::io::stdout();
    while let Some(v) = stream.next().await? {
        let attrs = v["Actor"]["Attributes"].clone();
        let service = attrs[labels::SERVICE]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !a.services.is_empty() && !a.services.contains(&service) {
            continue;
        }
        let id = v["Actor"]["ID"].as_str().unwrap_or_default();
        let action = v["Action"].as_str().unwrap_or_default();
        let nanos = v["timeNano"].as_i64().unwrap_or(0);
        let time =
            chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
                .unwrap_or_default();
        let line = if a.json {
            serde_json::json!({
                "time": time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                "type": "container", "action": action, "id": id, "service": service,
                "attributes": attrs,
            })
            .to_string()
        } else {
            let mut kv: Vec<String> = attrs
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| !k.starts_with("com.docker.compose."))
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            kv.sort();
            format!(
                "{} container {action} {id} ({})",
                time.format("%Y-%m-%d %H:%M:%S%.6f"),
                kv.join(", ")
            )
        };
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

/// Block until the services' containers stop; print their exit codes.
pub async fn wait(client: &Client, opts: &ComposeOpts, a: WaitArgs) -> CliResult {
    let (project, _, from_file) = load_or_name(opts)?;
    check_services(&project, &a.services, from_file)?;
    let hub = EventHub::subscribe(client, Some(&project.name)).await?;
    let list = containers(client, &project.name, &a.services, true, false).await?;
    let (_tx, cancel) = tokio::sync::watch::channel(false);
    let waits = list.iter().map(|c| {
        let id = c.id.clone().unwrap_or_default();
        let hub = &hub;
        let cancel = cancel.clone();
        async move { hub.wait(client, &id, WaitFor::Exit, cancel).await }
    });
    if a.down_project {
        let (r, _, _) = futures_util::future::select_all(waits.map(Box::pin)).await;
        let code = r.map_err(|e| Exit::msg(1, e.to_string()))?;
        println!("{code}");
        down(client, opts, DownArgs::default()).await?;
        return if code == 0 {
            Ok(())
        } else {
            Err(Exit::code(code as i32))
        };
    }
    let mut last = 0;
    for r in futures_util::future::join_all(waits).await {
        let code = r.map_err(|e| Exit::msg(1, e.to_string()))?;
        println!("{code}");
        last = code;
    }
    if last == 0 {
        Ok(())
    } else {
        Err(Exit::code(last as i32))
    }
}
