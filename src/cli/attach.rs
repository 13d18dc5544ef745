//! The client side of attached streams (`run`, `attach`, `start -a`, `exec`): copy our stdin to
//! the connection and its output to our stdout/stderr, demultiplexing unless there is a TTY.

use std::io::{IsTerminal, Write};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::api::stream::{Decoder, STDERR};

/// Puts the local terminal in raw mode while alive.
struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    fn enable() -> Self {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return RawMode { saved: None };
        }
        let Ok(saved) = nix::sys::termios::tcgetattr(&stdin) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        nix::sys::termios::cfmakeraw(&mut raw);
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(s) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                s,
            );
        }
    }
}

/// The local terminal's size, if stdout is one.
pub fn terminal_size() -> Option<(u16, u16)> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills a winsize.
    let rc = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Pump streams until the remote side ends its output.
pub async fn pump<S>(conn: S, tty: bool, send_stdin: bool) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(conn);
    let _raw = if tty && send_stdin {
        Some(RawMode::enable())
    } else {
        None
    };
    if send_stdin {
        tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if wr.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = wr.shutdown().await;
        });
    } else {
        // Nothing to send: half-close so the other side knows.
        drop(wr);
    }
    let mut buf = vec![0u8; 32 * 1024];
    let mut decoder = Decoder::default();
    loop {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if tty {
            let mut out = std::io::stdout().lock();
            out.write_all(&buf[..n])?;
            out.flush()?;
            continue;
        }
        decoder.push(&buf[..n]);
        while let Some((stream, payload)) = decoder.next_frame() {
            if stream == STDERR {
                let mut err = std::io::stderr().lock();
                err.write_all(&payload)?;
                err.flush()?;
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(&payload)?;
                out.flush()?;
            }
        }
    }
    Ok(())
}
