//! `GET /containers/{id}/attach/ws`: attach over a WebSocket, as dockerd serves it for
//! browsers and docker-py's `attach_socket(ws=True)`. The container's output goes out as binary
//! messages of raw bytes (never multiplexed, with or without a TTY: a WebSocket has no second
//! channel); each message the client sends is written to the container's stdin. `logs=1` sends
//! what the container wrote so far first; `stream=0` only that.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State as AxState};
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{flag, ApiResult, Query, State};
use crate::api::stream::Decoder;
use crate::engine::container::logs::LogOptions;

/// What the client asked to see and send.
struct Wanted {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    logs: bool,
    stream: bool,
}

pub async fn attach_ws(
    AxState(engine): AxState<State>,
    Path(id): Path<String>,
    q: Query,
    ws: WebSocketUpgrade,
) -> ApiResult {
    let rec = engine.containers.resolve(&id)?;
    let wanted = Wanted {
        stdin: flag(&q, "stdin"),
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        logs: flag(&q, "logs"),
        stream: q.get("stream").is_none_or(|_| flag(&q, "stream")),
    };
    let tty = rec.tty();
    Ok(ws
        .on_upgrade(move |socket| carry(engine, rec.id, tty, wanted, socket))
        .into_response())
}

/// Raw output bytes from the engine's framing (none to strip with a TTY).
struct Unframe {
    tty: bool,
    decoder: Decoder,
}

impl Unframe {
    fn push(&mut self, data: &[u8]) -> Vec<u8> {
        if self.tty {
            return data.to_vec();
        }
        self.decoder.push(data);
        let mut out = Vec::new();
        while let Some((_, payload)) = self.decoder.next_frame() {
            out.extend_from_slice(&payload);
        }
        out
    }
}

async fn carry(engine: State, id: String, tty: bool, wanted: Wanted, socket: WebSocket) {
    let (mut to_client, mut from_client) = socket.split();
    let mut unframe = Unframe {
        tty,
        decoder: Decoder::default(),
    };
    if wanted.logs {
        let opts = LogOptions {
            stdout: wanted.stdout,
            stderr: wanted.stderr,
            since: None,
            until: None,
            timestamps: false,
            tail: None,
            follow: false,
        };
        if let Ok((_, mut rx)) = engine.container_logs(&id, opts) {
            while let Some(chunk) = rx.recv().await {
                let bytes = unframe.push(&chunk);
                if !bytes.is_empty() && to_client.send(Message::Binary(bytes.into())).await.is_err()
                {
                    return;
                }
            }
        }
    }
    if !wanted.stream {
        let _ = to_client.send(Message::Close(None)).await;
        return;
    }
    let sup = match engine
        .attach_container(&id, wanted.stdin, wanted.stdout, wanted.stderr)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            let _ = to_client.send(Message::Text(format!("{e}\n").into())).await;
            let _ = to_client.send(Message::Close(None)).await;
            return;
        }
    };
    let (mut sup_r, mut sup_w) = tokio::io::split(sup);
    let output = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match sup_r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let bytes = unframe.push(&buf[..n]);
            if !bytes.is_empty() && to_client.send(Message::Binary(bytes.into())).await.is_err() {
                return;
            }
        }
        let _ = to_client.send(Message::Close(None)).await;
    };
    let input = async {
        while let Some(Ok(msg)) = from_client.next().await {
            let data = match msg {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if !wanted.stdin {
                continue;
            }
            if sup_w.write_all(&data).await.is_err() {
                break;
            }
        }
        // The client closed the connection: the attachment ends (and the container's stdin
        // with it, when it was the client's).
        if wanted.stdin {
            let _ = sup_w.shutdown().await;
        }
    };
    tokio::select! {
        _ = output => {}
        _ = input => {}
    }
}
