//! The compose commands that change or follow a project: down, start/stop/restart/kill/rm,
//! pause/unpause, pull, logs, events, wait. Flags in, the library's result out.

use std::collections::{BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::sync::Arc;

use super::args::*;
use super::printer::Printer;
use super::{compose, compose_quiet_if, interrupts, load, target};
use crate::api::client::Client;
use crate::cli::{CliResult, Exit};
use crate::compose::plan::labels;
use crate::compose::service::logs::{From, LogsRequest};
use crate::compose::service::{BuildRequest, DownRequest, PullRequest, PushRequest, RemoveImages};

pub async fn down(client: &Client, opts: &ComposeOpts, a: DownArgs) -> CliResult {
    let rmi = match a.rmi.as_deref() {
        None => None,
        Some("local") => Some(RemoveImages::Local),
        Some("all") => Some(RemoveImages::All),
        Some(o) => {
            return Err(Exit::msg(
                1,
                format!("invalid --rmi {o:?}: expected local or all"),
            ))
        }
    };
    let t = target(opts, &[])?;
    let req = DownRequest {
        volumes: a.volumes,
        remove_orphans: a.remove_orphans,
        rmi,
        timeout: a.timeout,
        from_file: t.from_file,
    };
    let compose = compose(client, opts);
    let plan = compose.plan_down(&t.project, &req).await?;
    if opts.dry_run {
        print!("{}", plan.render());
        return Ok(());
    }
    Ok(compose.down(plan, t.environment, &req).await?)
}

/// Start existing containers in dependency order, honouring the dependencies' conditions.
pub async fn start(client: &Client, opts: &ComposeOpts, a: ServicesArgs) -> CliResult {
    let loaded = load(opts, &a.services)?;
    let project = Arc::new(loaded.project);
    let compose = compose(client, opts);
    if opts.dry_run {
        print!(
            "{}",
            compose.plan_start(&project, &a.services).await?.render()
        );
        return Ok(());
    }
    Ok(compose
        .start(&project, Some(loaded.environment), &a.services)
        .await?)
}

fn selection(services: &[String]) -> Option<BTreeSet<String>> {
    (!services.is_empty()).then(|| services.iter().cloned().collect())
}

pub async fn stop(client: &Client, opts: &ComposeOpts, a: StopArgs) -> CliResult {
    let t = target(opts, &a.services)?;
    let compose = compose(client, opts);
    let sel = selection(&a.services);
    if opts.dry_run {
        print!(
            "{}",
            compose.plan_stop(&t.project, sel.as_ref()).await?.render()
        );
        return Ok(());
    }
    let mut interrupts = interrupts()?;
    Ok(compose
        .stop(&t.project, sel.as_ref(), a.timeout, &mut interrupts)
        .await?)
}

pub async fn restart(client: &Client, opts: &ComposeOpts, a: StopArgs) -> CliResult {
    let t = target(opts, &a.services)?;
    Ok(compose(client, opts)
        .restart(&t.project, &a.services, a.timeout)
        .await?)
}

pub async fn kill(client: &Client, opts: &ComposeOpts, a: KillArgs) -> CliResult {
    let t = target(opts, &a.services)?;
    Ok(compose(client, opts)
        .kill(&t.project, &a.services, &a.signal)
        .await?)
}

pub async fn rm(client: &Client, opts: &ComposeOpts, a: RmArgs) -> CliResult {
    let t = target(opts, &a.services)?;
    let compose = compose(client, opts);
    if a.stop {
        let mut interrupts = interrupts()?;
        let sel = selection(&a.services);
        compose
            .stop(&t.project, sel.as_ref(), None, &mut interrupts)
            .await?;
    }
    let list = compose.stopped(&t.project, &a.services).await?;
    if list.is_empty() {
        eprintln!("No stopped containers");
        return Ok(());
    }
    if !a.force && std::io::stdin().is_terminal() {
        let names: Vec<String> = list.iter().map(crate::compose::service::name_of).collect();
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
    Ok(compose.rm(&list, a.volumes).await?)
}

pub async fn pause(client: &Client, opts: &ComposeOpts, a: ServicesArgs, pause: bool) -> CliResult {
    let t = target(opts, &a.services)?;
    Ok(compose(client, opts)
        .pause(&t.project, &a.services, pause)
        .await?)
}

pub async fn pull(client: &Client, opts: &ComposeOpts, a: PullArgs) -> CliResult {
    let loaded = load(opts, &a.services)?;
    let compose = compose_quiet_if(client, opts, a.quiet);
    let req = PullRequest {
        services: a.services,
        include_deps: a.include_deps,
        ignore_pull_failures: a.ignore_pull_failures,
    };
    Ok(compose.pull(&loaded.project, &req).await?)
}

pub async fn push(client: &Client, opts: &ComposeOpts, a: PushArgs) -> CliResult {
    let loaded = load(opts, &a.services)?;
    let compose = compose_quiet_if(client, opts, a.quiet);
    let req = PushRequest {
        services: a.services,
        include_deps: a.include_deps,
        ignore_push_failures: a.ignore_push_failures,
    };
    Ok(compose.push(&loaded.project, &req).await?)
}

pub async fn build(client: &Client, opts: &ComposeOpts, a: BuildArgs) -> CliResult {
    let loaded = load(opts, &a.services)?;
    let project = Arc::new(loaded.project);
    let mut args = std::collections::BTreeMap::new();
    for kv in &a.build_arg {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                args.insert(k.to_string(), v.to_string());
            }
            None if !kv.is_empty() => {
                if let Some(v) = loaded.environment.get(kv) {
                    args.insert(kv.clone(), v);
                }
            }
            _ => {
                return Err(Exit::msg(
                    1,
                    format!("invalid --build-arg {kv:?}: expected KEY=VALUE"),
                ))
            }
        }
    }
    let compose = compose_quiet_if(client, opts, a.quiet);
    let req = BuildRequest {
        services: a.services,
        no_cache: a.no_cache,
        pull: a.pull,
        args,
    };
    if opts.dry_run {
        print!("{}", compose.plan_build(&project, &req)?.render());
        return Ok(());
    }
    Ok(compose.build(&project, loaded.environment, &req).await?)
}

pub async fn logs(client: &Client, opts: &ComposeOpts, a: LogsArgs) -> CliResult {
    let t = target(opts, &a.services)?;
    let req = LogsRequest {
        services: a.services,
        follow: a.follow,
        timestamps: a.timestamps,
        index: a.index,
        from: From {
            since: a.since,
            until: a.until,
            tail: Some(a.tail),
        },
    };
    let compose = compose(client, opts);
    let names = compose.log_labels(&t.project, &req).await?;
    let sink = Arc::new(Printer::new(
        &opts.ansi,
        a.no_color,
        !a.no_log_prefix,
        &names,
    ));
    let mut interrupts = interrupts()?;
    Ok(compose
        .logs(&t.project, &req, sink, &mut interrupts)
        .await?)
}

pub async fn events(client: &Client, opts: &ComposeOpts, a: EventsArgs) -> CliResult {
    let t = target(opts, &[])?;
    let mut f: HashMap<String, Vec<String>> = HashMap::new();
    f.insert("type".into(), vec!["container".into()]);
    f.insert(
        "label".into(),
        vec![format!("{}={}", labels::PROJECT, t.project.name)],
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
        writeln!(out, "{}", event_line(&v, &service, a.json))?;
        out.flush()?;
    }
    Ok(())
}

/// One event as `compose events` prints it (`--json`: an object per line).
fn event_line(v: &serde_json::Value, service: &str, json: bool) -> String {
    let attrs = &v["Actor"]["Attributes"];
    let id = v["Actor"]["ID"].as_str().unwrap_or_default();
    let action = v["Action"].as_str().unwrap_or_default();
    let nanos = v["timeNano"].as_i64().unwrap_or(0);
    let time =
        chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
            .unwrap_or_default();
    if json {
        return serde_json::json!({
            "time": time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "type": "container", "action": action, "id": id, "service": service,
            "attributes": attrs,
        })
        .to_string();
    }
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
}

/// Block until the services' containers stop; print their exit codes.
pub async fn wait(client: &Client, opts: &ComposeOpts, a: WaitArgs) -> CliResult {
    let t = target(opts, &a.services)?;
    let codes = compose(client, opts)
        .wait(&t.project, &a.services, a.down_project)
        .await?;
    for code in &codes {
        println!("{code}");
    }
    if a.down_project {
        down(client, opts, DownArgs::default()).await?;
    }
    match codes.last() {
        Some(&code) if code != 0 => Err(Exit::code(code as i32)),
        _ => Ok(()),
    }
}
