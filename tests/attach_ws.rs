//! `GET /containers/{id}/attach/ws` (issue 12, found by docker-py): a WebSocket client sends
//! the container's stdin as messages and reads its output raw (not multiplexed), live or, with
//! `logs=1&stream=0`, what it wrote so far.

#[path = "common/clients.rs"]
mod clients;
mod common;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use clients::api_json;
use common::Wharf;

/// Open the WebSocket on the engine's socket; returns the stream of messages.
async fn connect(
    w: &Wharf,
    query: &str,
    id: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::UnixStream> {
    let sock = tokio::net::UnixStream::connect(w.socket()).await.unwrap();
    let url = format!("ws://localhost/v1.47/containers/{id}/attach/ws?{query}");
    let (ws, _) = tokio_tungstenite::client_async(url, sock).await.unwrap();
    ws
}

/// Everything the server sends until it closes, as text.
async fn read_all(ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::UnixStream>) -> String {
    let mut out = Vec::new();
    let limit = std::time::Duration::from_secs(20);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(limit, ws.next()).await {
        match msg {
            Message::Binary(b) => out.extend_from_slice(&b),
            Message::Text(t) => out.extend_from_slice(t.as_bytes()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_over_a_websocket_carries_stdin_and_raw_output() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    w.ok(&["version"]);
    let body = r#"{"Image":"box","Cmd":["sh","-c","read line; echo got $line; echo to-err >&2; printf done"],"OpenStdin":true,"StdinOnce":true,"HostConfig":{"NetworkMode":"none"}}"#;
    let created = api_json(&w, "POST", "/containers/create", Some(body), 201);
    let id = created["Id"].as_str().unwrap().to_string();
    let mut ws = connect(&w, "stdin=1&stdout=1&stderr=1&stream=1", &id).await;
    api_json(&w, "POST", &format!("/containers/{id}/start"), None, 204);
    ws.send(Message::Binary(b"hello\n".to_vec().into()))
        .await
        .unwrap();
    // Both streams, raw; stdout and stderr are two pipes, so their order is the kernel's.
    let out = read_all(&mut ws).await;
    assert!(out.starts_with("got hello\n"), "{out:?}");
    assert_eq!(out.len(), "got hello\nto-err\ndone".len(), "{out:?}");
    assert!(out.contains("to-err\n") && out.contains("done"), "{out:?}");

    // Afterwards: the log so far, then the server closes.
    let mut ws = connect(&w, "stdout=1&logs=1&stream=0", &id).await;
    assert_eq!(read_all(&mut ws).await, "got hello\ndone");
    w.ok(&["rm", "-f", &id]);
}
