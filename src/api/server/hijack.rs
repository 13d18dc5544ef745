//! Connection hijacking for `attach` and `exec start`: answer `101 Switching Protocols`, then
//! carry raw (TTY) or multiplexed stream bytes in both directions.

use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{flag, parse_json, ApiError, ApiResult, Query, State};
use crate::api::models::ExecStartConfig;
use crate::api::stream;
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
    let on_upgrade = hyper::upgrade::on(req);
    let tty = rec.tty();
    let id = rec.id.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        match engine.attach_container(&id, stdin, stdout, stderr).await {
            Ok(mut sup) => {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut sup).await;
            }
            Err(e) => {
                let msg = format!("{e}\n");
                let _ = client
                    .write_all(&stream::encode(stream::STDERR, msg.as_bytes()))
                    .await;
            }
        }
        let _ = client.shutdown().await;
    });
    Ok(switching(tty))
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
    let tty = cfg.tty.unwrap_or(false) || record.config.tty.unwrap_or(false);
    let mut bus = engine.events.subscribe();
    let io = engine.exec_start(&id, Some(tty))?;
    if cfg.detach.unwrap_or(false) || !upgrade {
        // Detached: nobody reads the output; drain it so the process never blocks on a pipe.
        tokio::spawn(drain(io));
        return Ok(StatusCode::OK.into_response());
    }
    let req = Request::from_parts(parts, Body::empty());
    let on_upgrade = hyper::upgrade::on(req);
    let attach_stdin = record.config.attach_stdin.unwrap_or(false);
    let exec_id = id.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let client = TokioIo::new(upgraded);
        let (mut client_r, mut client_w) = tokio::io::split(client);
        match io {
            ExecIo::Tty { master } => {
                let mut reader = master.try_clone().await.ok();
                let mut writer = master;
                if attach_stdin {
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut client_r, &mut writer).await;
                    });
                }
                if let Some(r) = &mut reader {
                    let mut buf = vec![0u8; 32 * 1024];
                    loop {
                        match r.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if client_w.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            ExecIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => {
                if let (Some(mut stdin), true) = (stdin, attach_stdin) {
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut client_r, &mut stdin).await;
                        let _ = stdin.shutdown().await;
                    });
                }
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
                for (mut pipe, id) in [
                    (
                        Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
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
                while let Some(frame) = rx.recv().await {
                    if client_w.write_all(&frame).await.is_err() {
                        break;
                    }
                }
            }
        }
        // The exit code must be recorded before the client asks for it.
        loop {
            if engine
                .exec_get(&exec_id)
                .map(|e| e.exit_code.is_some())
                .unwrap_or(true)
            {
                break;
            }
            if bus.recv().await.is_err() {
                break;
            }
        }
        let _ = client_w.shutdown().await;
    });
    Ok(switching(tty))
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
