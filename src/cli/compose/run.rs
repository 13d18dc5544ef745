//! `run` (a one-off container of a service: the library brings up what it needs and creates
//! it; this attaches the terminal), `exec` and `cp` on a service's container.

use std::io::IsTerminal;
use std::sync::Arc;

use super::args::{ComposeOpts, CpArgs, ExecArgs, RunArgs};
use super::{compose, load, target};
use crate::api::client::{decode, with_query, Client};
use crate::api::models::ContainerWaitResponse;
use crate::cli::{attach, CliResult, Exit};
use crate::compose::plan::labels;
use crate::compose::service::{id_of, label_of, RunRequest};

pub async fn run(client: &Client, opts: &ComposeOpts, a: RunArgs) -> CliResult {
    let loaded = load(opts, std::slice::from_ref(&a.service))?;
    let project = Arc::new(loaded.project);
    if !project.services.contains_key(&a.service) {
        return Err(Exit::msg(1, format!("no such service: {}", a.service)));
    }
    let tty = !a.no_tty && std::io::stdin().is_terminal() && !a.detach;
    let req = RunRequest {
        service: a.service.clone(),
        name: a.name.clone(),
        command: a.command.clone(),
        entrypoint: a.entrypoint.clone(),
        env: a.env.clone(),
        labels: a.label.clone(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        publish: a.publish.clone(),
        volumes: a.volume.clone(),
        service_ports: a.service_ports,
        use_aliases: a.use_aliases,
        no_deps: a.no_deps,
        remove_orphans: a.remove_orphans,
        tty,
        interactive: a.interactive,
        detach: a.detach,
    };
    let compose = compose(client, opts);
    if opts.dry_run {
        let (_, plans) = compose.plan_run(&project, &req).await?;
        print!("{}", plans.render(&a.service));
        return Ok(());
    }
    let one = compose.run(&project, loaded.environment, &req).await?;
    let remove = |id: String| async move {
        if a.rm {
            let _ = client.remove_container(&id, true, true).await;
        }
    };
    if a.detach {
        client.start_container(&one.id).await?;
        println!("{}", one.name);
        return Ok(());
    }
    let (conn, wait) = client
        .attach_and_wait(&one.id, a.interactive, "next-exit")
        .await?;
    if let Err(e) = client.start_container(&one.id).await {
        remove(one.id.clone()).await;
        return Err(Exit::msg(
            crate::cli::commands::run::start_failure_code(&e.to_string()),
            format!("service {:?}: cannot start {}: {e}", a.service, one.name),
        ));
    }
    if tty {
        if let Some((h, w)) = attach::terminal_size() {
            let path = format!("/containers/{}/resize", one.id);
            let size = [("h", h.to_string()), ("w", w.to_string())];
            let _ = client.post(&with_query(&path, &size)).await;
        }
    }
    attach::pump(conn, tty, a.interactive).await?;
    let status: ContainerWaitResponse = decode(wait).await?;
    remove(one.id).await;
    if status.status_code != 0 {
        return Err(Exit::code(status.status_code as i32));
    }
    Ok(())
}

pub async fn exec(client: &Client, opts: &ComposeOpts, a: ExecArgs) -> CliResult {
    let t = target(opts, &[])?;
    let c = compose(client, opts)
        .service_container(&t.project.name, &a.service, a.index)
        .await?;
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
    let t = target(opts, &[])?;
    let compose = compose(client, opts);
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
            let list = compose
                .containers(&t.project.name, std::slice::from_ref(&svc), true, a.all)
                .await?;
            let c = list
                .iter()
                .find(|c| label_of(c, labels::NUMBER) == a.index.to_string())
                .or(list.first())
                .ok_or_else(|| Exit::msg(1, format!("no container found for service {svc:?}")))?;
            *slot = format!("{}:{path}", id_of(c));
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
