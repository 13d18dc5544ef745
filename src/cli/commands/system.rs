//! inspect, info, version, events, df and prune.

use hyper::Method;

use super::filters;
use crate::api::client::{empty, next_chunk, typed_filters, with_query, Client};
use crate::cli::args::{EventsArgs, FormatArgs, InspectArgs, PruneArgs};
use crate::cli::output::render_json_template;
use crate::cli::{CliResult, Exit};
use crate::util::bytesize::human_size;

fn pretty(v: &serde_json::Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(v, &mut ser).ok();
    String::from_utf8(buf).unwrap_or_default()
}

pub async fn inspect(client: &Client, a: InspectArgs, kind: Option<&str>) -> CliResult {
    let kind = kind.or(a.kind.as_deref());
    let mut docs = Vec::new();
    let mut failed = false;
    for name in &a.names {
        let size = if a.size { "?size=1" } else { "" };
        let attempts: Vec<String> = match kind {
            Some("container") => vec![format!("/containers/{name}/json{size}")],
            Some("image") => vec![format!("/images/{name}/json")],
            Some("volume") => vec![format!("/volumes/{name}")],
            Some("network") => vec![format!("/networks/{name}")],
            _ => vec![
                format!("/containers/{name}/json{size}"),
                format!("/images/{name}/json"),
                format!("/volumes/{name}"),
                format!("/networks/{name}"),
            ],
        };
        let mut found = None;
        for path in attempts {
            if let Ok(v) = client.get_json::<serde_json::Value>(&path).await {
                found = Some(v);
                break;
            }
        }
        match found {
            Some(v) => docs.push(v),
            None => {
                eprintln!("Error: No such object: {name}");
                failed = true;
            }
        }
    }
    match &a.format {
        Some(f) => {
            for d in &docs {
                println!("{}", render_json_template(f, d));
            }
        }
        None => println!("{}", pretty(&serde_json::Value::Array(docs))),
    }
    if failed {
        Err(Exit::code(1))
    } else {
        Ok(())
    }
}

pub async fn info(client: &Client, a: FormatArgs) -> CliResult {
    let v: serde_json::Value = client.get_json("/info").await?;
    if let Some(f) = &a.format {
        if f == "json" {
            println!("{v}");
        } else {
            println!("{}", render_json_template(f, &v));
        }
        return Ok(());
    }
    println!("Server:");
    for (label, key) in [
        ("Containers", "Containers"),
        (" Running", "ContainersRunning"),
        (" Paused", "ContainersPaused"),
        (" Stopped", "ContainersStopped"),
        ("Images", "Images"),
        ("Server Version", "ServerVersion"),
        ("Storage Driver", "Driver"),
        ("Logging Driver", "LoggingDriver"),
        ("Cgroup Driver", "CgroupDriver"),
        ("Cgroup Version", "CgroupVersion"),
        ("Kernel Version", "KernelVersion"),
        ("Operating System", "OperatingSystem"),
        ("Architecture", "Architecture"),
        ("CPUs", "NCPU"),
        ("Name", "Name"),
        ("Docker Root Dir", "DockerRootDir"),
    ] {
        let val = match &v[key] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!(" {label}: {val}");
    }
    println!(
        " Total Memory: {}",
        human_size(v["MemTotal"].as_i64().unwrap_or(0))
    );
    println!(" Plugins:");
    for kind in ["Volume", "Network", "Log"] {
        let names: Vec<&str> = v["Plugins"][kind]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str()).collect())
            .unwrap_or_default();
        println!("  {kind}: {}", names.join(" "));
    }
    Ok(())
}

pub async fn version(client: &Client, a: FormatArgs) -> CliResult {
    let server: serde_json::Value = client.get_json("/version").await?;
    let doc = serde_json::json!({
        "Client": {"Version": env!("CARGO_PKG_VERSION"), "ApiVersion": crate::api::API_VERSION, "Os": "linux", "Arch": std::env::consts::ARCH},
        "Server": server,
    });
    match &a.format {
        Some(f) if f == "json" => println!("{doc}"),
        Some(f) => println!("{}", render_json_template(f, &doc)),
        None => {
            println!(
                "Client:\n Version:           {}\n API version:       {}",
                env!("CARGO_PKG_VERSION"),
                crate::api::API_VERSION
            );
            println!(
                "\nServer: wharf engine\n Version:           {}\n API version:       {} (minimum version {})\n OS/Arch:           {}/{}\n Kernel:            {}",
                server["Version"].as_str().unwrap_or_default(),
                server["ApiVersion"].as_str().unwrap_or_default(),
                server["MinAPIVersion"].as_str().unwrap_or_default(),
                server["Os"].as_str().unwrap_or_default(),
                server["Arch"].as_str().unwrap_or_default(),
                server["KernelVersion"].as_str().unwrap_or_default(),
            );
        }
    }
    Ok(())
}

pub async fn events(client: &Client, a: EventsArgs) -> CliResult {
    let mut params = vec![("filters", typed_filters(&filters(&a.filter)))];
    if let Some(s) = &a.since {
        params.push(("since", s.clone()));
    }
    if let Some(u) = &a.until {
        params.push(("until", u.clone()));
    }
    let resp = client
        .send(Method::GET, &with_query("/events", &params), empty(), None)
        .await?;
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await? {
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            with_go_field_names(&mut v);
            match a.format.as_deref() {
                Some("json") | Some("{{json .}}") => println!("{v}"),
                Some(f) => println!("{}", render_json_template(f, &v)),
                None => {
                    let nanos = v["timeNano"].as_i64().unwrap_or(0);
                    let t = chrono::DateTime::from_timestamp(
                        nanos / 1_000_000_000,
                        (nanos % 1_000_000_000) as u32,
                    )
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                    .unwrap_or_default();
                    let mut attrs: Vec<String> = v["Actor"]["Attributes"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                                .collect()
                        })
                        .unwrap_or_default();
                    attrs.sort();
                    println!(
                        "{t} {} {} {} ({})",
                        v["Type"].as_str().unwrap_or_default(),
                        v["Action"].as_str().unwrap_or_default(),
                        v["Actor"]["ID"].as_str().unwrap_or_default(),
                        attrs.join(", ")
                    );
                }
            }
        }
    }
    Ok(())
}

/// Templates name an event's fields as Go's `events.Message` does (`{{.Time}}`, `{{.TimeNano}}`,
/// `{{.Scope}}`), while the API's JSON spells some of them in lower case.
fn with_go_field_names(event: &mut serde_json::Value) {
    let Some(fields) = event.as_object_mut() else {
        return;
    };
    for (json, go) in [
        ("time", "Time"),
        ("timeNano", "TimeNano"),
        ("scope", "Scope"),
        ("status", "Status"),
        ("id", "ID"),
        ("from", "From"),
    ] {
        if let Some(v) = fields.get(json).cloned() {
            fields.entry(go).or_insert(v);
        }
    }
}

pub async fn prune_containers(client: &Client, a: PruneArgs) -> CliResult {
    let f = filters(&a.filter);
    let pruned: bollard_stubs::models::ContainerPruneResponse = client
        .post_json::<_, ()>(
            &with_query("/containers/prune", &[("filters", typed_filters(&f))]),
            None,
        )
        .await?;
    println!("Deleted Containers:");
    for id in pruned.containers_deleted.unwrap_or_default() {
        println!("{id}");
    }
    println!(
        "\nTotal reclaimed space: {}",
        human_size(pruned.space_reclaimed.unwrap_or(0))
    );
    Ok(())
}

pub async fn prune(client: &Client, a: PruneArgs) -> CliResult {
    prune_containers(
        client,
        PruneArgs {
            force: true,
            all: false,
            filter: a.filter.clone(),
            volumes: false,
        },
    )
    .await?;
    super::image::prune(
        client,
        PruneArgs {
            force: true,
            all: a.all,
            filter: a.filter.clone(),
            volumes: false,
        },
    )
    .await?;
    let (n, bytes) = client.prune_build_cache(a.all, None).await?;
    println!("Deleted build cache objects: {n}");
    println!(
        "Total reclaimed space: {}",
        crate::util::bytesize::human_size(bytes as i64)
    );
    if a.volumes {
        super::volume::prune(
            client,
            PruneArgs {
                force: true,
                all: false,
                filter: a.filter.clone(),
                volumes: false,
            },
        )
        .await?;
    }
    Ok(())
}
