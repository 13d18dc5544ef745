//! `wharf system dial-stdio`: the far end of `-H ssh://`. It connects to the local daemon
//! (starting it if needed, as any command does) and copies bytes between that connection and
//! its own standard input and output, so the SSH session carries the API.

use tokio::io::AsyncWriteExt;

use crate::api::client::Client;
use crate::cli::{CliResult, Exit};

pub async fn dial_stdio(client: &Client) -> CliResult {
    let fail = |e: std::io::Error| Exit::msg(1, format!("wharf system dial-stdio: {e}"));
    let conn = client.endpoint().connect().await.map_err(fail)?;
    let (mut from_daemon, mut to_daemon) = tokio::io::split(conn);
    let upstream = async {
        tokio::io::copy(&mut tokio::io::stdin(), &mut to_daemon).await?;
        // the client is done sending: half-close, and keep reading the daemon's answer
        to_daemon.shutdown().await
    };
    let downstream = async {
        let mut stdout = tokio::io::stdout();
        tokio::io::copy(&mut from_daemon, &mut stdout).await?;
        stdout.flush().await
    };
    let (up, down) = tokio::join!(upstream, downstream);
    down.map_err(fail)?;
    // stdin may close before the daemon's last bytes are out; that is not an error
    let _ = up;
    Ok(())
}
