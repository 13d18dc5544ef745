//! `run` (a one-off container of a service, its dependencies brought up first and their
//! conditions honoured), `exec` and `cp` on a service's container.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;

use super::args::{ComposeOpts, CpArgs, ExecArgs, RunArgs};
use super::progress::renderer;
use super::{
    compose_err, containers, label_of, load, load_or_name, name_of, parallel, service_container,
};
use crate::api::client::{decode, with_query, Client};
use crate::api::models::{ContainerWaitResponse, PortBinding};
use crate::cli::{attach, CliResult, Exit};
use crate::compose::exec::container::{self, BuildInputs};
use crate::compose::exec::{observe, sub_plan, ExecOptions, Executor, WaitFor};
use crate::compose::graph::ServiceGraph;
use crate::compose::model::DependsCondition;
use crate::compose::plan::{self, labels, service_image, Action, PlanOptions};

fn random_slug() -> String {
    use rand::Rng;
    let mut r = rand::thread_rng();
    (0..12)
        .map(|_| format!("{:x}", r.gen_range(0..16u8)))
        .collect()
}

fn parse_publish(
    spec: &str,
    bindings: &mut HashMap<String, Option<Vec<PortBinding>>>,
) -> CliResult<String> {
    let (ports, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    let parts: Vec<&str> = ports.rsplitn(3, ':').collect();
    let (container, host, ip) = match parts.as_slice() {
        [c] => (*c, "", ""),
        [c, h] => (*c, *h, ""),
        [c, h, i] => (*c, *h, *i),
        _ => return Err(Exit::msg(1, format!("invalid --publish {spec:?}"))),
    };
    if container.parse::<u16>().is_err() {
        return Err(Exit::msg(
            1,
            format!("invalid --publish {spec:?}: container port {container:?}"),
        ));
    }
    let key = format!("{container}/{proto}");
    bindings
        .entry(key.clone())
        .or_insert_with(|| Some(Vec::new()))
        .get_or_insert_with(Vec::new)
        .push(PortBinding {
            host_ip: Some(ip.to_string()),
            host_port: Some(host.to_string()),
        });
    Ok(key)
}

pub async fn run(client: &Client, opts: &ComposeOpts, a: RunArgs) -> CliResult {
    let loaded = load(opts, std::slice::from_ref(&a.service))?;
    let project = Arc::new(loaded.project);
    let Some(svc) = project.services.get(&a.service).cloned() else {
        return Err(Exit::msg(1, format!("no such service: {}", a.service)));
    };
    let graph = ServiceGraph::build(&project).map_err(compose_err)?;
    let observed = observe(client, &project).await?;
    let progress = renderer(opts.progress);
    let executor = Executor::new(
        client.clone(),
        project.clone(),
        Some(loaded.environment.clone()),
        &observed.state,
        progress.clone(),
        ExecOptions {
            parallel: parallel(opts),
            networking: observed.networking,
            ..Default::default()
        },
    );
    // the service's own networks, volumes and image
    let own = plan::plan_up(
        &project,
        &observed.state,
        &PlanOptions {
            services: vec![a.service.clone()],
            no_deps: true,
            no_start: true,
            ..Default::default()
        },
    )
    .map_err(compose_err)?;
    let own = sub_plan(&own, |x| {
        matches!(
            x,
            Action::CreateNetwork { .. }
                | Action::CreateVolume { .. }
                | Action::PullImage { .. }
                | Action::BuildImage { .. }
        )
    });
    if opts.dry_run {
        print!("{}", own.render());
    } else {
        executor
            .execute(&own)
            .await
            .map_err(|e| Exit::msg(1, e.to_string()))?;
    }
    // dependencies first, then their conditions
    let deps = graph.dependencies(&a.service);
    if !a.no_deps && !deps.is_empty() {
        let plan = plan::plan_up(
            &project,
            &observed.state,
            &PlanOptions {
                services: deps.clone(),
                remove_orphans: a.remove_orphans,
                ..Default::default()
            },
        )
        .map_err(compose_err)?;
        if opts.dry_run {
            print!("{}", plan.render());
        } else {
            executor
                .execute(&plan)
                .await
                .map_err(|e| Exit::msg(1, e.to_string()))?;
            let hub = executor.hub().await?;
            for (dep, d) in &svc.depends_on {
                let want = match d.condition {
                    DependsCondition::ServiceStarted => continue,
                    DependsCondition::ServiceHealthy => WaitFor::Healthy,
                    DependsCondition::ServiceCompletedSuccessfully => {
                        WaitFor::CompletedSuccessfully
                    }
                };
                for c in containers(
                    client,
                    &project.name,
                    std::slice::from_ref(dep),
                    true,
                    false,
                )
                .await?
                {
                    let name = name_of(&c);
                    hub.wait(client, c.id.as_deref().unwrap_or_default(), want, executor.cancel_receiver())
                        .await
                        .map_err(|e| {
                            Exit::msg(
                                1,
                                format!("dependency failed to start: container {name} (service {dep:?}) {e}"),
                            )
                        })?;
                }
            }
        }
    }
    if opts.dry_run {
        println!("create container (one-off) of service {}", a.service);
        return Ok(());
    }

    // the one-off container
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{}", project.name, a.service, random_slug()));
    let hash = plan::hash::service_hash(&project, &a.service).map_err(compose_err)?;
    let image = service_image(&project, &a.service, &svc);
    let inputs = BuildInputs {
        service: &a.service,
        number: 1,
        name: &name,
        config_hash: &hash,
        oneoff: true,
        image_id: observed.state.images.get(&image).map(String::as_str),
        networking: observed.networking,
        network_container: match &svc.network_mode {
            Some(crate::compose::model::NetworkMode::Service(x)) => {
                Some(plan::container_name(&project, x, 1))
            }
            _ => None,
        },
        environment: Some(&loaded.environment),
        ..Default::default()
    };
    let mut built = container::build(&project, &inputs).map_err(|e| Exit::msg(1, e))?;
    for w in &built.warnings {
        progress.warning(w);
    }
    let tty = !a.no_tty && std::io::stdin().is_terminal() && !a.detach;
    let body = &mut built.body;
    if !a.command.is_empty() {
        body.cmd = Some(a.command.clone());
    }
    if let Some(e) = &a.entrypoint {
        body.entrypoint = Some(
            shell_words::split(e)
                .map_err(|err| Exit::msg(1, format!("invalid --entrypoint {e:?}: {err}")))?,
        );
        if a.command.is_empty() {
            body.cmd = None;
        }
    }
    let env = body.env.get_or_insert_with(Vec::new);
    for e in &a.env {
        if e.contains('=') {
            env.push(e.clone());
        } else if let Ok(v) = std::env::var(e) {
            env.push(format!("{e}={v}"));
        }
    }
    if let Some(u) = &a.user {
        body.user = Some(u.clone());
    }
    if let Some(w) = &a.workdir {
        body.working_dir = Some(w.clone());
    }
    let labels_map = body.labels.get_or_insert_with(HashMap::new);
    labels_map.insert("com.docker.compose.slug".to_string(), name.clone());
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        labels_map.insert(k.to_string(), v.to_string());
    }
    body.tty = Some(tty);
    body.open_stdin = Some(a.interactive && !a.detach);
    body.attach_stdin = Some(a.interactive && !a.detach);
    body.stdin_once = Some(a.interactive && !a.detach);
    body.attach_stdout = Some(!a.detach);
    body.attach_stderr = Some(!a.detach);
    let host = body.host_config.get_or_insert_with(Default::default);
    host.restart_policy = None;
    if !a.service_ports {
        host.port_bindings = None;
    }
    if !a.publish.is_empty() {
        let mut bindings = host.port_bindings.take().unwrap_or_default();
        let exposed = body.exposed_ports.get_or_insert_with(HashMap::new);
        for p in &a.publish {
            let key = parse_publish(p, &mut bindings)?;
            exposed.insert(key, HashMap::new());
        }
        host.port_bindings = Some(bindings);
    }
    if !a.volume.is_empty() {
        // relative host paths are relative to the project directory, named volumes of the
        // project get their engine-side names
        let binds = a
            .volume
            .iter()
            .map(|v| {
                let (src, rest) = v.split_once(':').unwrap_or(("", v.as_str()));
                if src.is_empty() {
                    return v.clone();
                }
                let src = if src.starts_with('.') || (!src.starts_with('/') && src.contains('/')) {
                    project.working_dir.join(src).display().to_string()
                } else if let Some(home) = src.strip_prefix("~/") {
                    format!("{}/{home}", std::env::var("HOME").unwrap_or_default())
                } else if !src.starts_with('/') && project.volumes.contains_key(src) {
                    plan::volume_name(&project, src)
                } else {
                    src.to_string()
                };
                format!("{src}:{rest}")
            })
            .collect();
        host.binds = Some(binds);
    }
    if !a.use_aliases {
        if let Some(nc) = body.networking_config.as_mut() {
            for ep in nc.endpoints_config.iter_mut().flat_map(|m| m.values_mut()) {
                ep.aliases = None;
            }
        }
    }
    let created = client
        .create_container(Some(&name), &built.body)
        .await
        .map_err(|e| {
            Exit::msg(
                1,
                format!("service {:?}: cannot create {name}: {e}", a.service),
            )
        })?;
    let id = created.id;
    if !built.files.is_empty() {
        let tar = container::files_tar(&built.files)?;
        client.put_archive(&id, "/", tar).await?;
    }
    let remove = |id: String| async move {
        if a.rm {
            let _ = client.remove_container(&id, true, true).await;
        }
    };
    if a.detach {
        client.start_container(&id).await?;
        println!("{name}");
        return Ok(());
    }
    let (conn, wait) = client
        .attach_and_wait(&id, a.interactive, "next-exit")
        .await?;
    if let Err(e) = client.start_container(&id).await {
        remove(id.clone()).await;
        return Err(Exit::msg(
            crate::cli::commands::run::start_failure_code(&e.to_string()),
            format!("service {:?}: cannot start {name}: {e}", a.service),
        ));
    }
    if tty {
        if let Some((h, w)) = attach::terminal_size() {
            let _ = client
                .post(&with_query(
                    &format!("/containers/{id}/resize"),
                    &[("h", h.to_string()), ("w", w.to_string())],
                ))
                .await;
        }
    }
    attach::pump(conn, tty, a.interactive).await?;
    let status: ContainerWaitResponse = decode(wait).await?;
    remove(id).await;
    if status.status_code != 0 {
        return Err(Exit::code(status.status_code as i32));
    }
    Ok(())
}

pub async fn exec(client: &Client, opts: &ComposeOpts, a: ExecArgs) -> CliResult {
    let (project, _, _) = load_or_name(opts)?;
    let c = service_container(client, &project.name, &a.service, a.index).await?;
    let tty = !a.no_tty && std::io::stdin().is_terminal() && !a.detach;
    let args = crate::cli::args::ExecArgs {
        detach: a.detach,
        interactive: a.interactive && !a.detach,
        tty,
        env: a.env,
        user: a.user,
        workdir: a.workdir,
        privileged: a.privileged,
        container: c.id.clone().unwrap_or_default(),
        command: a.command,
    };
    crate::cli::commands::container::exec(client, args).await
}

pub async fn cp(client: &Client, opts: &ComposeOpts, a: CpArgs) -> CliResult {
    let (project, _, _) = load_or_name(opts)?;
    let resolve = |s: &str| -> Option<(String, String)> {
        if s.starts_with('/') || s.starts_with('.') {
            return None;
        }
        s.split_once(':')
            .map(|(c, p)| (c.to_string(), p.to_string()))
    };
    let mut src = a.src.clone();
    let mut dest = a.dest.clone();
    for (side, slot) in [(a.src.clone(), &mut src), (a.dest.clone(), &mut dest)] {
        if let Some((svc, path)) = resolve(&side) {
            let list = containers(
                client,
                &project.name,
                std::slice::from_ref(&svc),
                true,
                a.all,
            )
            .await?;
            let c = list
                .iter()
                .find(|c| label_of(c, labels::NUMBER) == a.index.to_string())
                .or(list.first())
                .ok_or_else(|| Exit::msg(1, format!("no container found for service {svc:?}")))?;
            *slot = format!("{}:{path}", c.id.clone().unwrap_or_default());
        }
    }
    crate::cli::commands::container::cp(
        client,
        crate::cli::args::CpArgs {
            archive: a.archive,
            follow_link: a.follow_link,
            src,
            dest,
        },
    )
    .await
}
