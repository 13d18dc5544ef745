//! Container commands other than `run`/`create`.

use std::collections::BTreeMap;
use std::io::Write;

use hyper::Method;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::{each, each_limited, each_parallel, filters, PARALLEL};
use crate::api::client::{empty, full, next_chunk, with_query, Client};
use crate::api::models::{ContainerSummary, ExecConfig, ExecInspectResponse};
use crate::api::stream::{Decoder, STDERR};
use crate::cli::args::{
    AttachArgs, CpArgs, ExecArgs, ExportArgs, KillArgs, LogsArgs, NamesArgs, PortArgs, PsArgs,
    RenameArgs, RmArgs, StartArgs, StopArgs, TopArgs,
};
use crate::cli::output::{ago, print_columns, print_table, Row, Table};
use crate::cli::{attach, CliResult, Exit};

pub async fn start(client: &Client, a: StartArgs) -> CliResult {
    if a.attach {
        let id = &a.containers[0];
        let info = client.inspect_container(id).await?;
        let tty = info.config.as_ref().and_then(|c| c.tty).unwrap_or(false);
        let (conn, wait) = client
            .attach_and_wait(id, a.interactive, "next-exit")
            .await?;
        client.start_container(id).await.map_err(|e| {
            Exit::msg(
                super::run::start_failure_code(&e.to_string()),
                format!("Error response from daemon: {e}"),
            )
        })?;
        attach::pump(conn, tty, a.interactive).await?;
        let status: crate::api::models::ContainerWaitResponse =
            crate::api::client::decode(wait).await?;
        return if status.status_code != 0 {
            Err(Exit::code(status.status_code as i32))
        } else {
            Ok(())
        };
    }
    each(&a.containers, |n| async move {
        client.start_container(&n).await
    })
    .await
}

pub async fn stop(client: &Client, a: StopArgs, restart: bool) -> CliResult {
    let (t, s) = (a.timeout, a.signal.clone());
    // docker restarts one at a time, and stops in parallel
    let limit = if restart { 1 } else { PARALLEL };
    each_limited(&a.containers, limit, |n| {
        let s = s.clone();
        async move {
            let mut params = Vec::new();
            if let Some(t) = t {
                params.push(("t", t.to_string()));
            }
            if let Some(s) = s {
                params.push(("signal", s));
            }
            let verb = if restart { "restart" } else { "stop" };
            client
                .post(&with_query(&format!("/containers/{n}/{verb}"), &params))
                .await
                .map(|_| ())
        }
    })
    .await
}

pub async fn kill(client: &Client, a: KillArgs) -> CliResult {
    let sig = a.signal.clone();
    each_parallel(&a.containers, |n| {
        let sig = sig.clone();
        async move { client.kill_container(&n, Some(&sig)).await }
    })
    .await
}

pub async fn rm(client: &Client, a: RmArgs) -> CliResult {
    each_parallel(&a.containers, |n| async move {
        if a.link {
            let path = with_query(&format!("/containers/{n}"), &[("link", "1".into())]);
            return client.delete(&path).await.map(|_| ());
        }
        client.remove_container(&n, a.force, a.volumes).await
    })
    .await
}

pub async fn pause(client: &Client, a: NamesArgs, pause: bool) -> CliResult {
    let verb = if pause { "pause" } else { "unpause" };
    each_parallel(&a.containers, |n| async move {
        client
            .post(&format!("/containers/{n}/{verb}"))
            .await
            .map(|_| ())
    })
    .await
}

pub async fn rename(client: &Client, a: RenameArgs) -> CliResult {
    client
        .post(&with_query(
            &format!("/containers/{}/rename", a.container),
            &[("name", a.new_name.clone())],
        ))
        .await?;
    Ok(())
}

pub async fn wait(client: &Client, a: NamesArgs) -> CliResult {
    let mut failed = false;
    for n in &a.containers {
        match client.wait_container(n, "not-running").await {
            Ok(r) => println!("{}", r.status_code),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Exit::code(1))
    } else {
        Ok(())
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A container's ports as `ps` prints them (`ip:public->private/proto`, `private/proto`),
/// sorted; `unspecified_ip` stands for a binding without an address.
pub fn port_texts(c: &ContainerSummary, unspecified_ip: &str) -> Vec<String> {
    let mut ports: Vec<String> = c
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let proto = p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into());
            match p.public_port {
                Some(pp) => {
                    let ip = p.ip.as_deref().unwrap_or(unspecified_ip);
                    // IPv6 addresses in brackets, as docker prints them ([::]:8080->80/tcp).
                    let ip = if ip.contains(':') {
                        format!("[{ip}]")
                    } else {
                        ip.to_string()
                    };
                    format!("{ip}:{pp}->{}/{proto}", p.private_port)
                }
                None => format!("{}/{proto}", p.private_port),
            }
        })
        .collect();
    ports.sort();
    ports
}

pub fn container_row(c: &ContainerSummary, no_trunc: bool) -> Row {
    let id = c.id.clone().unwrap_or_default();
    let command = c.command.clone().unwrap_or_default();
    let mut row = Row::new();
    row.insert(
        "ID".into(),
        if no_trunc {
            id.clone()
        } else {
            id.chars().take(12).collect()
        },
    );
    row.insert("Image".into(), c.image.clone().unwrap_or_default());
    row.insert(
        "Command".into(),
        format!(
            "\"{}\"",
            if no_trunc {
                command.clone()
            } else {
                truncate(&command, 20)
            }
        ),
    );
    let created = c.created.unwrap_or(0);
    row.insert(
        "CreatedAt".into(),
        chrono::DateTime::from_timestamp(created, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
            .unwrap_or_default(),
    );
    row.insert("RunningFor".into(), ago(created));
    row.insert("Ports".into(), port_texts(c, "").join(", "));
    row.insert(
        "State".into(),
        c.state.map(|s| s.to_string()).unwrap_or_default(),
    );
    row.insert("Status".into(), c.status.clone().unwrap_or_default());
    row.insert("Size".into(), size_text(c));
    row.insert(
        "Names".into(),
        c.names
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|n| n.trim_start_matches('/'))
            .collect::<Vec<_>>()
            .join(","),
    );
    let mut labels: Vec<String> = c
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    labels.sort();
    row.insert("Labels".into(), labels.join(","));
    let mounts = c.mounts.clone().unwrap_or_default();
    row.insert(
        "Mounts".into(),
        mounts
            .iter()
            .filter_map(|m| m.name.clone().or(m.source.clone()))
            .collect::<Vec<_>>()
            .join(","),
    );
    row.insert(
        "LocalVolumes".into(),
        mounts
            .iter()
            .filter(|m| m.name.is_some())
            .count()
            .to_string(),
    );
    row.insert(
        "Networks".into(),
        c.host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone())
            .unwrap_or_default(),
    );
    row
}

/// `ps -s`'s SIZE as the docker CLI prints it: the writable layer, and with it the whole
/// filesystem (`3kB (virtual 1.98MB)`).
fn size_text(c: &ContainerSummary) -> String {
    use crate::util::bytesize::human_size_digits;
    let rw = human_size_digits(c.size_rw.unwrap_or(0), 3);
    match c.size_root_fs.filter(|s| *s > 0) {
        Some(all) => format!("{rw} (virtual {})", human_size_digits(all, 3)),
        None => rw,
    }
}

pub async fn ps(client: &Client, a: PsArgs) -> CliResult {
    let f = filters(&a.filter);
    // As the docker CLI: sizes when asked for, or when the template shows them.
    let size = a.size || a.format.as_deref().is_some_and(|f| f.contains(".Size"));
    let mut list = client
        .list_containers_sized(a.all || a.last.is_some() || a.latest, &f, size)
        .await?;
    if a.latest {
        list.truncate(1);
    } else if let Some(n) = a.last.filter(|n| *n >= 0) {
        list.truncate(n as usize);
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
    let rows = list.iter().map(|c| container_row(c, a.no_trunc)).collect();
    let mut columns = vec![
        ("CONTAINER ID", "ID"),
        ("IMAGE", "Image"),
        ("COMMAND", "Command"),
        ("CREATED", "RunningFor"),
        ("STATUS", "Status"),
        ("PORTS", "Ports"),
        ("NAMES", "Names"),
    ];
    if a.size {
        columns.push(("SIZE", "Size"));
    }
    let table = Table {
        columns: &columns,
        rows,
    };
    print_table(&table, a.format.as_deref())?;
    Ok(())
}

/// Copy a (possibly multiplexed) body to stdout/stderr.
async fn copy_stream(mut body: hyper::body::Incoming, tty: bool) -> CliResult {
    let mut decoder = Decoder::default();
    while let Some(chunk) = next_chunk(&mut body).await? {
        if tty {
            let mut out = std::io::stdout().lock();
            out.write_all(&chunk)?;
            out.flush()?;
            continue;
        }
        decoder.push(&chunk);
        while let Some((stream, payload)) = decoder.next_frame() {
            if stream == STDERR {
                std::io::stderr().write_all(&payload)?;
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(&payload)?;
                out.flush()?;
            }
        }
    }
    Ok(())
}

pub async fn logs(client: &Client, a: LogsArgs) -> CliResult {
    let info = client.inspect_container(&a.container).await?;
    let tty = info.config.as_ref().and_then(|c| c.tty).unwrap_or(false);
    let mut params = vec![
        ("stdout", "1".to_string()),
        ("stderr", "1".to_string()),
        ("follow", a.follow.to_string()),
        ("timestamps", a.timestamps.to_string()),
    ];
    if a.tail != "all" {
        params.push(("tail", a.tail.clone()));
    }
    if let Some(s) = &a.since {
        params.push(("since", s.clone()));
    }
    if let Some(u) = &a.until {
        params.push(("until", u.clone()));
    }
    let resp = client
        .send(
            Method::GET,
            &with_query(&format!("/containers/{}/logs", a.container), &params),
            empty(),
            None,
        )
        .await?;
    copy_stream(resp.into_body(), tty).await
}

pub async fn exec(client: &Client, a: ExecArgs) -> CliResult {
    let cfg = ExecConfig {
        attach_stdin: Some(a.interactive && !a.detach),
        attach_stdout: Some(!a.detach),
        attach_stderr: Some(!a.detach),
        tty: Some(a.tty),
        env: (!a.env.is_empty()).then(|| a.env.clone()),
        cmd: Some(a.command.clone()),
        privileged: Some(a.privileged),
        user: a.user.clone(),
        working_dir: a.workdir.clone(),
        ..Default::default()
    };
    let exec_id = client
        .create_exec(&a.container, &cfg)
        .await
        .map_err(|e| Exit::msg(1, format!("Error response from daemon: {e}")))?;
    let start_body =
        serde_json::to_vec(&json!({"Detach": a.detach, "Tty": a.tty})).unwrap_or_default();
    if a.detach {
        client
            .send(
                Method::POST,
                &format!("/exec/{exec_id}/start"),
                full(start_body),
                Some("application/json"),
            )
            .await?;
        return Ok(());
    }
    let conn = client
        .hijack(&format!("/exec/{exec_id}/start"), full(start_body))
        .await?;
    if a.tty {
        if let Some((h, w)) = attach::terminal_size() {
            let _ = client
                .post(&with_query(
                    &format!("/exec/{exec_id}/resize"),
                    &[("h", h.to_string()), ("w", w.to_string())],
                ))
                .await;
        }
    }
    attach::pump(conn, a.tty, a.interactive).await?;
    let info: ExecInspectResponse = client.get_json(&format!("/exec/{exec_id}/json")).await?;
    match info.exit_code.unwrap_or(0) {
        0 => Ok(()),
        code => Err(Exit::code(code as i32)),
    }
}

pub async fn attach(client: &Client, a: AttachArgs) -> CliResult {
    let info = client.inspect_container(&a.container).await?;
    let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    if !running {
        return Err(Exit::msg(
            1,
            "You cannot attach to a stopped container, start it first",
        ));
    }
    let cfg = info.config.unwrap_or_default();
    let tty = cfg.tty.unwrap_or(false);
    let stdin = !a.no_stdin && cfg.open_stdin.unwrap_or(false);
    let mut params = vec![
        ("stream", "1".to_string()),
        ("stdout", "1".to_string()),
        ("stderr", "1".to_string()),
    ];
    if stdin {
        params.push(("stdin", "1".to_string()));
    }
    let conn = client
        .hijack(
            &with_query(&format!("/containers/{}/attach", a.container), &params),
            empty(),
        )
        .await?;
    attach::pump(conn, tty, stdin).await?;
    let state = client
        .inspect_container(&a.container)
        .await?
        .state
        .unwrap_or_default();
    match state.exit_code.unwrap_or(0) {
        0 => Ok(()),
        code => Err(Exit::code(code as i32)),
    }
}

pub async fn top(client: &Client, a: TopArgs) -> CliResult {
    let path = format!("/containers/{}/top", a.container);
    let path = if a.ps_args.is_empty() {
        path
    } else {
        with_query(&path, &[("ps_args", a.ps_args.join(" "))])
    };
    let v: serde_json::Value = client.get_json(&path).await?;
    let titles: Vec<String> = serde_json::from_value(v["Titles"].clone()).unwrap_or_default();
    let rows: Vec<Vec<String>> = serde_json::from_value(v["Processes"].clone()).unwrap_or_default();
    print_columns(&mut std::io::stdout().lock(), &titles, &rows)?;
    Ok(())
}

pub async fn port(client: &Client, a: PortArgs) -> CliResult {
    let info = client.inspect_container(&a.container).await?;
    let ports = info
        .network_settings
        .and_then(|n| n.ports)
        .unwrap_or_default();
    let sorted: BTreeMap<_, _> = ports.into_iter().collect();
    for (k, v) in sorted {
        if a.port
            .as_ref()
            .is_some_and(|p| k != *p && k != format!("{p}/tcp"))
        {
            continue;
        }
        for b in v.unwrap_or_default() {
            let ip = b.host_ip.unwrap_or_default();
            // An IPv6 address in brackets, as docker prints `[::]:8080`.
            let ip = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip
            };
            println!("{k} -> {ip}:{}", b.host_port.unwrap_or_default());
        }
    }
    Ok(())
}

pub async fn write_body_to(
    mut body: hyper::body::Incoming,
    output: Option<&std::path::Path>,
) -> CliResult {
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> = match output {
        Some(p) => Box::new(
            tokio::fs::File::create(p)
                .await
                .map_err(|e| Exit::msg(1, format!("{}: {e}", p.display())))?,
        ),
        None => {
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() {
                return Err(Exit::msg(
                    1,
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            Box::new(tokio::io::stdout())
        }
    };
    while let Some(chunk) = next_chunk(&mut body).await? {
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(())
}

pub async fn export(client: &Client, a: ExportArgs) -> CliResult {
    let resp = client
        .send(
            Method::GET,
            &format!("/containers/{}/export", a.container),
            empty(),
            None,
        )
        .await?;
    write_body_to(resp.into_body(), a.output.as_deref()).await
}

pub use write_body_to as save_body;

/// `cp CONTAINER:SRC DEST` or `cp SRC CONTAINER:DEST`.
pub async fn cp(client: &Client, a: CpArgs) -> CliResult {
    let split = |s: &str| -> Option<(String, String)> {
        if s.starts_with('/') || s.starts_with('.') {
            return None;
        }
        s.split_once(':')
            .map(|(c, p)| (c.to_string(), p.to_string()))
    };
    match (split(&a.src), split(&a.dest)) {
        (Some((ctr, path)), None) => {
            let resp = client
                .send(Method::GET, &with_query(&format!("/containers/{ctr}/archive"), &[("path", path.clone())]), empty(), None)
                .await?;
            let mut body = resp.into_body();
            let mut data = Vec::new();
            while let Some(chunk) = next_chunk(&mut body).await? {
                data.extend_from_slice(&chunk);
            }
            let dest = std::path::PathBuf::from(&a.dest);
            let base = std::path::Path::new(&path).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if dest.is_dir() {
                tar::Archive::new(&data[..]).unpack(&dest)?;
            } else {
                // Copy to a new name: unpack beside it, then rename the top entry.
                let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                let tmp = parent.join(format!(".wharf-cp-{}", std::process::id()));
                std::fs::create_dir_all(&tmp)?;
                let result = tar::Archive::new(&data[..]).unpack(&tmp).and_then(|_| std::fs::rename(tmp.join(&base), &dest));
                let _ = std::fs::remove_dir_all(&tmp);
                result?;
            }
            Ok(())
        }
        (None, Some((ctr, path))) => {
            let src = std::path::PathBuf::from(&a.src);
            if !src.exists() {
                return Err(Exit::msg(1, format!("lstat {}: no such file or directory", src.display())));
            }
            // Does the destination exist as a directory? Then copy into it; else copy as that name.
            let stat = client
                .send(Method::HEAD, &with_query(&format!("/containers/{ctr}/archive"), &[("path", path.clone())]), empty(), None)
                .await;
            let dest_is_dir = match &stat {
                Ok(r) => r
                    .headers()
                    .get("X-Docker-Container-Path-Stat")
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD.decode(h).ok()
                    })
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|v| v["mode"].as_u64())
                    .is_some_and(|m| m & (1 << 31) != 0),
                Err(_) => false,
            };
            let (target_dir, name) = if dest_is_dir {
                (path.clone(), src.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default())
            } else {
                let p = std::path::Path::new(&path);
                (
                    p.parent().map(|x| x.display().to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| "/".into()),
                    p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
                )
            };
            let mut b = tar::Builder::new(Vec::new());
            if src.is_dir() {
                b.append_dir_all(&name, &src)?;
            } else {
                b.append_path_with_name(&src, &name)?;
            }
            let data = b.into_inner()?;
            client
                .send(
                    Method::PUT,
                    &with_query(&format!("/containers/{ctr}/archive"), &[("path", target_dir)]),
                    full(data),
                    Some("application/x-tar"),
                )
                .await?;
            Ok(())
        }
        _ => Err(Exit::msg(1, "must specify exactly one container path: wharf cp CONTAINER:SRC DEST or wharf cp SRC CONTAINER:DEST")),
    }
}
