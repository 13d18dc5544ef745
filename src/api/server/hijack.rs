//! Connection hijacking for `attach` and `exec start`: answer `101 Switching Protocols`, then
//! carry raw (TTY) or multiplexed stream bytes in both directions, until the client types its
//! detach keys (`detachKeys`, default ctrl-p,ctrl-q).

use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::detach::{self, copy_until_detach, InputEnd, DEFAULT_DETACH_KEYS};
use super::{flag, parse_json, ApiError, ApiResult, Query, State};
use crate::api::models::ExecStartConfig;
use crate::api::stream;
use crate::engine::container::logs::LogOptions;
use crate::engine::exec::ExecIo;
use crate::engine::Error;

fn switching(tty: bool) -> Response {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .header(
            "Content-Type",
            if tty {
                "application/vnd.docker.raw-stream"
            } else {
                "application/vnd.docker.multiplexed-stream"
            },
        )
        .body(Body::empty())
        .unwrap()
}

/// docker-py (also inside docker-compose 1.29) reads the 101's headers through a buffered
/// reader and then takes the raw socket: output that arrives before it has parsed them is lost
/// to it (1 exec in 20 on this machine). dockerd's slower process start hides that; for this
/// client, so does a short gap before the process starts. Other clients get no delay.
const BUFFERED_READER_GAP: std::time::Duration = std::time::Duration::from_millis(20);

fn reads_headers_buffered(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::USER_AGENT)
        .is_some_and(|v| v.as_bytes().starts_with(b"docker-sdk-python"))
}

fn wants_upgrade(req: &Request<Body>) -> bool {
    req.headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("tcp"))
}

pub async fn attach(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
    req: Request<Body>,
) -> ApiResult {
    let rec = engine.containers.resolve(&id)?;
    if !wants_upgrade(&req) {
        return Err(ApiError(Error::invalid(
            "attach needs an HTTP upgrade (Upgrade: tcp)",
        )));
    }
    let (stdin, stdout, stderr) = (flag(&q, "stdin"), flag(&q, "stdout"), flag(&q, "stderr"));
    let keys = detach::parse(
        q.get("detachKeys")
            .map(String::as_str)
            .filter(|k| !k.is_empty())
            .unwrap_or(DEFAULT_DETACH_KEYS),
    )?;
    // `logs=1`: what the container wrote so far first; `stream=0`: only that, then close.
    let logs = flag(&q, "logs").then_some(LogOptions {
        stdout,
        stderr,
        since: None,
        until: None,
        timestamps: false,
        tail: None,
        follow: false,
    });
    let stream = q.get("stream").is_none_or(|_| flag(&q, "stream"));
    let buffered_reader = reads_headers_buffered(req.headers());
    let on_upgrade = hyper::upgrade::on(req);
    let tty = rec.tty();
    let id = rec.id.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        // The log is ready at once: see BUFFERED_READER_GAP.
        if logs.is_some() && buffered_reader {
            tokio::time::sleep(BUFFERED_READER_GAP).await;
        }
        if let Some(Ok((_, mut rx))) = logs.map(|o| engine.container_logs(&id, o)) {
            while let Some(chunk) = rx.recv().await {
                if client.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
        if !stream {
            let _ = client.shutdown().await;
            return;
        }
        match engine.attach_container(&id, stdin, stdout, stderr).await {
            Ok(sup) => pump(client, sup, stdin, &keys).await,
            Err(e) => {
                let msg = format!("{e}\n");
                let _ = client
                    .write_all(&stream::encode(stream::STDERR, msg.as_bytes()))
                    .await;
                let _ = client.shutdown().await;
            }
        }
    });
    Ok(switching(tty))
}

/// Carry an attach: the container's output to the client until it ends; the client's input
/// to the container until its detach keys (then the connection closes) or its EOF (then the
/// output keeps flowing).
async fn pump<C, S>(client: C, sup: S, stdin: bool, keys: &[u8])
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (client_r, mut client_w) = tokio::io::split(client);
    let (mut sup_r, mut sup_w) = tokio::io::split(sup);
    let input = async {
        if !stdin {
            return std::future::pending().await;
        }
        let end = copy_until_detach(client_r, &mut sup_w, keys).await;
        if end == InputEnd::Closed {
            let _ = sup_w.shutdown().await;
        }
        end
    };
    tokio::pin!(input);
    tokio::select! {
        _ = tokio::io::copy(&mut sup_r, &mut client_w) => {}
        end = &mut input => {
            if end == InputEnd::Closed {
                let _ = tokio::io::copy(&mut sup_r, &mut client_w).await;
            }
        }
    }
    let _ = client_w.shutdown().await;
}

pub async fn exec_start(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    req: Request<Body>,
) -> ApiResult {
    let upgrade = wants_upgrade(&req);
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| ApiError(Error::invalid(e)))?;
    let cfg: ExecStartConfig = parse_json(&bytes)?;
    let record = engine.exec_get(&id)?;
    // The process gets a terminal as its create asked; the framing follows the start
    // request's Tty, as in dockerd (docker-py starts a TTY exec with `Tty: false`).
    let tty = record.config.tty.unwrap_or(false) || cfg.tty == Some(true);
    let raw = cfg.tty.unwrap_or(tty);
    let keys = detach::parse(
        record
            .config
            .detach_keys
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or(DEFAULT_DETACH_KEYS),
    )?;
    let mut bus = engine.events.subscribe();
    if cfg.detach.unwrap_or(false) || !upgrade {
        // Detached: nobody reads the output; drain it so the process never blocks on a pipe.
        let io = engine.exec_start(&id, Some(tty)).await?;
        tokio::spawn(drain(io));
        return Ok(StatusCode::OK.into_response());
    }
    // Refused before the switch; started after it, as dockerd does.
    engine.exec_startable(&id)?;
    let buffered_reader = reads_headers_buffered(&parts.headers);
    let req = Request::from_parts(parts, Body::empty());
    let on_upgrade = hyper::upgrade::on(req);
    let attach_stdin = record.config.attach_stdin.unwrap_or(false);
    let exec_id = id.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        if buffered_reader {
            tokio::time::sleep(BUFFERED_READER_GAP).await;
        }
        let io = match engine.exec_start(&exec_id, Some(tty)).await {
            Ok(io) => io,
            Err(e) => {
                let msg = format!("{e}\n");
                let bytes = if raw {
                    msg.into_bytes()
                } else {
                    stream::encode(stream::STDERR, msg.as_bytes())
                };
                let _ = client.write_all(&bytes).await;
                let _ = client.shutdown().await;
                return;
            }
        };
        let (client_r, mut client_w) = tokio::io::split(client);
        let input = attach_stdin.then_some((client_r, keys));
        let was_detached = match io {
            ExecIo::Tty { master } => carry_tty(master, input, &mut client_w, raw).await,
            ExecIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => carry_pipes(stdin, stdout, stderr, input, &mut client_w).await,
        };
        // The exit code must be recorded before the client asks for it (unless it left).
        if !was_detached {
            wait_for_exit_code(&engine, &exec_id, &mut bus).await;
        }
        let _ = client_w.shutdown().await;
    });
    Ok(switching(raw))
}

/// The client's input (with its detach keys), when the exec takes stdin.
type Input<R> = Option<(R, Vec<u8>)>;

/// Copy the client's input to `to` in a task of its own; `detached` is told when the client
/// typed its detach keys.
fn forward_input<R, W>(input: Input<R>, mut to: W, detached: &Arc<Notify>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Some((client_r, keys)) = input else {
        return;
    };
    let detached = detached.clone();
    tokio::spawn(async move {
        if copy_until_detach(client_r, &mut to, &keys).await == InputEnd::Detached {
            detached.notify_one();
        }
        let _ = to.shutdown().await;
    });
}

/// An exec with a TTY: the terminal's output to the client (raw, or framed as stdout when the
/// start asked for no TTY), its input to the terminal. Returns whether the client detached.
async fn carry_tty<R, W>(
    master: tokio::fs::File,
    input: Input<R>,
    client_w: &mut W,
    raw: bool,
) -> bool
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let detached = Arc::new(Notify::new());
    let Ok(mut reader) = master.try_clone().await else {
        forward_input(input, master, &detached);
        return false;
    };
    forward_input(input, master, &detached);
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = tokio::select! {
            _ = detached.notified() => return true,
            n = reader.read(&mut buf) => n,
        };
        let chunk = match n {
            Ok(0) | Err(_) => return false,
            Ok(n) if raw => buf[..n].to_vec(),
            Ok(n) => stream::encode(stream::STDOUT, &buf[..n]),
        };
        if client_w.write_all(&chunk).await.is_err() {
            return false;
        }
    }
}

/// An exec without a TTY: stdout and stderr multiplexed to the client, its input to stdin.
/// Returns whether the client detached.
async fn carry_pipes<R, W>(
    stdin: Option<tokio::process::ChildStdin>,
    stdout: tokio::process::ChildStdout,
    stderr: tokio::process::ChildStderr,
    input: Input<R>,
    client_w: &mut W,
) -> bool
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let detached = Arc::new(Notify::new());
    if let Some(stdin) = stdin {
        forward_input(input, stdin, &detached);
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    for (mut pipe, id) in [
        (
            Box::new(stdout) as Box<dyn AsyncRead + Unpin + Send>,
            stream::STDOUT,
        ),
        (Box::new(stderr), stream::STDERR),
    ] {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match pipe.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(stream::encode(id, &buf[..n])).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(tx);
    loop {
        let frame = tokio::select! {
            _ = detached.notified() => return true,
            f = rx.recv() => f,
        };
        let Some(frame) = frame else { return false };
        if client_w.write_all(&frame).await.is_err() {
            return false;
        }
    }
}

/// Wait (on the event bus) until the exec's exit code is recorded, or the exec is gone.
async fn wait_for_exit_code(
    engine: &State,
    exec_id: &str,
    bus: &mut tokio::sync::broadcast::Receiver<bollard_stubs::models::EventMessage>,
) {
    loop {
        if engine
            .exec_get(exec_id)
            .map(|e| e.exit_code.is_some())
            .unwrap_or(true)
        {
            return;
        }
        if bus.recv().await.is_err() {
            return;
        }
    }
}

async fn drain(io: ExecIo) {
    match io {
        ExecIo::Tty { mut master } => {
            let _ = tokio::io::copy(&mut master, &mut tokio::io::sink()).await;
        }
        ExecIo::Pipes {
            mut stdout,
            mut stderr,
            ..
        } => {
            let (mut sink1, mut sink2) = (tokio::io::sink(), tokio::io::sink());
            let _ = tokio::join!(
                tokio::io::copy(&mut stdout, &mut sink1),
                tokio::io::copy(&mut stderr, &mut sink2)
            );
        }
    }
}
