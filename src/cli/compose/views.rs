//! The compose commands that show things: config, ps, ls, images, port, top, as docker
//! compose prints them (tables, `--format json`, `-q`).

use std::io::Write;

use super::args::*;
use super::{compose, compose_err, load_options, target};
use crate::api::client::Client;
use crate::api::models::ContainerSummary;
use crate::cli::output::{print_columns, print_table, Row, Table};
use crate::cli::{CliResult, Exit};
use crate::compose::config::{
    image_names, profile_names, render_hashes, service_names, volume_names,
};
use crate::compose::exec::observe::summary_state;
use crate::compose::graph::ServiceGraph;
use crate::compose::plan::{labels, ContainerState};
use crate::compose::service::ps::PsRequest;
use crate::compose::service::{label_of, name_of};
use crate::compose::{load_project, render_config, render_config_uninterpolated, ConfigFormat};

pub fn config(opts: &ComposeOpts, a: ConfigArgs) -> CliResult {
    if a.format == "kubernetes" {
        return super::convert::kubernetes(opts, &a);
    }
    if a.format == "swarm" {
        return super::convert::swarm(opts, &a);
    }
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
        lines(profile_names(&project))
    } else if a.images {
        lines(image_names(&project))
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
                    format!("unsupported format {o:?}: expected yaml, json, kubernetes or swarm"),
                ))
            }
        };
        match a.no_interpolate {
            true => render_config_uninterpolated(&project, format),
            false => render_config(&project, format),
        }
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
    v.into_iter().map(|l| l + "\n").collect()
}

/// Ports as docker compose's `ps` prints them: deduplicated, 0.0.0.0 for any address.
fn ports_text(c: &ContainerSummary) -> String {
    let mut v = crate::cli::commands::container::port_texts(c, "0.0.0.0");
    v.dedup();
    v.join(", ")
}

pub async fn ps(client: &Client, opts: &ComposeOpts, a: PsArgs) -> CliResult {
    let t = target(opts, &a.service_names)?;
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
    let req = PsRequest {
        services: a.service_names.clone(),
        all: a.all,
        status,
    };
    let list = compose(client, opts).ps(&t.project, &req).await?;
    let mut out = std::io::stdout().lock();
    if a.services {
        let s: std::collections::BTreeSet<String> =
            list.iter().map(|c| label_of(c, labels::SERVICE)).collect();
        for x in s {
            writeln!(out, "{x}")?;
        }
        return Ok(());
    }
    if a.quiet {
        for c in &list {
            let id = c.id.clone().unwrap_or_default();
            let id = if a.no_trunc {
                id
            } else {
                id.chars().take(12).collect()
            };
            writeln!(out, "{id}")?;
        }
        return Ok(());
    }
    if a.format.as_deref() == Some("json") {
        for c in &list {
            writeln!(out, "{}", ps_json(c, a.no_trunc))?;
        }
        return Ok(());
    }
    // the table, or a template over docker compose's field names
    const COLUMNS: &[(&str, &str)] = &[
        ("NAME", "Name"),
        ("IMAGE", "Image"),
        ("COMMAND", "Command"),
        ("SERVICE", "Service"),
        ("CREATED", "RunningFor"),
        ("STATUS", "Status"),
        ("PORTS", "Ports"),
    ];
    let rows: Vec<Row> = list
        .iter()
        .map(|c| {
            let mut r = crate::cli::commands::container::container_row(c, a.no_trunc);
            r.insert("Name".into(), name_of(c));
            r.insert("Service".into(), label_of(c, labels::SERVICE));
            r.insert("Project".into(), label_of(c, labels::PROJECT));
            r.insert("Ports".into(), ports_text(c));
            r.insert("Status".into(), c.status.clone().unwrap_or_default());
            r
        })
        .collect();
    drop(out);
    print_table(
        &Table {
            columns: COLUMNS,
            rows,
        },
        a.format.as_deref(),
    )?;
    Ok(())
}

/// One container of `ps --format json`, with docker compose's fields.
fn ps_json(c: &ContainerSummary, no_trunc: bool) -> serde_json::Value {
    let r = crate::cli::commands::container::container_row(c, no_trunc);
    let health = c
        .status
        .as_deref()
        .and_then(|s| {
            s.split_once('(')
                .map(|(_, h)| h.trim_end_matches(')').to_string())
        })
        .filter(|h| matches!(h.as_str(), "healthy" | "unhealthy" | "health: starting"))
        .unwrap_or_default();
    let exit_code = match summary_state(c.state, c.status.as_deref().unwrap_or_default()) {
        ContainerState::Exited(n) => n,
        _ => 0,
    };
    serde_json::json!({
        "ID": c.id, "Name": name_of(c), "Names": r.get("Names"), "Image": c.image,
        "Command": r.get("Command"), "Project": label_of(c, labels::PROJECT),
        "Service": label_of(c, labels::SERVICE), "Created": c.created,
        "State": r.get("State"), "Status": c.status, "Health": health,
        "ExitCode": exit_code,
        "Labels": r.get("Labels"), "LocalVolumes": r.get("LocalVolumes"),
        "Mounts": r.get("Mounts"), "Networks": r.get("Networks"),
        "Ports": ports_text(c), "RunningFor": r.get("RunningFor"), "Size": r.get("Size"),
        "Publishers": c.ports.clone().unwrap_or_default().iter().map(|p| serde_json::json!({
            "URL": p.ip, "TargetPort": p.private_port, "PublishedPort": p.public_port.unwrap_or(0),
            "Protocol": p.typ.map(|t| t.to_string()).unwrap_or_default(),
        })).collect::<Vec<_>>(),
    })
}

pub async fn ls(client: &Client, a: LsArgs) -> CliResult {
    let compose = super::compose_quiet_if(client, &ComposeOpts::default(), true);
    let rows: Vec<Vec<String>> = compose
        .ls(a.all)
        .await?
        .into_iter()
        .filter(|p| {
            a.filter.iter().all(|f| match f.split_once('=') {
                Some(("name", v)) => p.name.contains(v),
                _ => true,
            })
        })
        .map(|p| vec![p.name, p.status, p.config_files])
        .collect();
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
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|r| {
            Row::from([
                ("Name".to_string(), r[0].clone()),
                ("Status".to_string(), r[1].clone()),
                ("ConfigFiles".to_string(), r[2].clone()),
            ])
        })
        .collect();
    let columns = [
        ("NAME", "Name"),
        ("STATUS", "Status"),
        ("CONFIG FILES", "ConfigFiles"),
    ];
    print_table(
        &Table {
            columns: &columns,
            rows,
        },
        a.format.as_deref(),
    )?;
    Ok(())
}

pub async fn images(client: &Client, opts: &ComposeOpts, a: ImagesArgs) -> CliResult {
    let t = target(opts, &a.services)?;
    let (rows, ids) = compose(client, opts)
        .images(&t.project, &a.services)
        .await?;
    if a.quiet {
        for id in ids {
            println!("{id}");
        }
        return Ok(());
    }
    if a.format.as_deref() == Some("json") {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| serde_json::json!({"ContainerName": r.container, "Repository": r.repository, "Tag": r.tag, "ID": r.id, "Size": r.size}))
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
        .map(|r| {
            let short =
                r.id.trim_start_matches("sha256:")
                    .chars()
                    .take(12)
                    .collect();
            vec![r.container, r.repository, r.tag, short, human_size(r.size)]
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
    let t = target(opts, &[])?;
    let addr = compose(client, opts)
        .port(&t.project, &a.service, a.index, a.private_port, &a.protocol)
        .await?;
    println!("{addr}");
    Ok(())
}

pub async fn top(client: &Client, opts: &ComposeOpts, a: ServicesArgs) -> CliResult {
    let t = target(opts, &a.services)?;
    let tops = compose(client, opts).top(&t.project, &a.services).await?;
    let mut out = std::io::stdout().lock();
    for (i, top) in tops.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", top.container)?;
        print_columns(&mut out, &top.titles, &top.processes)?;
    }
    Ok(())
}

pub async fn volumes(client: &Client, opts: &ComposeOpts, a: VolumesArgs) -> CliResult {
    let t = target(opts, &a.services)?;
    let list = compose(client, opts)
        .volumes(&t.project, &a.services)
        .await?;
    if a.quiet {
        for v in &list {
            println!("{}", v.name);
        }
        return Ok(());
    }
    match a.format.as_str() {
        "json" => {
            for v in &list {
                let j = serde_json::json!({"Driver": v.driver, "Name": v.name,
                    "Mountpoint": v.mountpoint, "Labels": v.labels, "Scope": v.scope});
                println!("{j}");
            }
        }
        "table" => {
            let header = vec!["DRIVER".to_string(), "VOLUME NAME".into()];
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|v| vec![v.driver.clone(), v.name.clone()])
                .collect();
            print_columns(&mut std::io::stdout().lock(), &header, &rows)?;
        }
        o => {
            return Err(Exit::msg(
                1,
                format!("unsupported format {o:?}: expected table or json"),
            ))
        }
    }
    Ok(())
}

/// `compose version`: wharf's own version (it is the compose implementation).
pub fn version(a: &VersionArgs) -> CliResult {
    let v = env!("CARGO_PKG_VERSION");
    match (a.short, a.format.as_str()) {
        (true, _) => println!("{v}"),
        (false, "json") => println!("{}", serde_json::json!({"version": v})),
        (false, "pretty") => println!("wharf compose version {v}"),
        (false, o) => {
            return Err(Exit::msg(
                1,
                format!("unsupported format {o:?}: expected pretty or json"),
            ))
        }
    }
    Ok(())
}
