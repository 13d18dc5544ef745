//! Where the client's requests go: a UNIX socket (the local daemon), TCP (plain or TLS, as
//! `-H tcp://host:port --tlsverify`), or SSH (`-H ssh://user@host[:port]`), which runs
//! `wharf system dial-stdio` on the far side and speaks HTTP over the session's stdio, as the
//! docker CLI does with `docker system dial-stdio`.
//!
//! Over SSH one master connection is opened per invocation (the first request opens it, in the
//! background); every request is then a session multiplexed on it (OpenSSH's ControlMaster),
//! so a compose command that makes dozens of requests pays for one TCP connection and one
//! authentication. The master exits on its own once idle.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::OnceCell;

/// A connection to the daemon.
pub trait Conn: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Conn for T {}

/// What `-H` names.
#[derive(Clone, Debug)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp {
        host: String,
        port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
    },
    Ssh(Arc<Ssh>),
}

/// `ssh://[user@]host[:port]`.
#[derive(Debug)]
pub struct Ssh {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The control socket of this invocation's master connection, once it is up.
    master: OnceCell<PathBuf>,
}

impl Endpoint {
    /// Parse `unix:///path`, `/path`, `tcp://host:port` (`tls` applies), `ssh://user@host:port`.
    pub fn parse(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Endpoint, String> {
        if let Some(path) = url.strip_prefix("unix://") {
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if url.starts_with('/') {
            return Ok(Endpoint::Unix(PathBuf::from(url)));
        }
        if let Some(rest) = url
            .strip_prefix("tcp://")
            .or_else(|| url.strip_prefix("https://"))
        {
            let rest = rest.trim_end_matches('/');
            let (host, port) = split_host_port(rest)
                .ok_or_else(|| format!("invalid host {url:?}: expected tcp://HOST:PORT"))?;
            let port = port.unwrap_or(if tls.is_some() { 2376 } else { 2375 });
            return Ok(Endpoint::Tcp { host, port, tls });
        }
        if let Some(rest) = url.strip_prefix("ssh://") {
            let rest = rest.trim_end_matches('/');
            let (user, hostport) = match rest.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_string()), h),
                None => (None, rest),
            };
            let (host, port) = split_host_port(hostport).ok_or_else(|| {
                format!("invalid host {url:?}: expected ssh://[USER@]HOST[:PORT]")
            })?;
            return Ok(Endpoint::Ssh(Arc::new(Ssh {
                user,
                host,
                port,
                master: OnceCell::new(),
            })));
        }
        Err(format!(
            "invalid host {url:?}: expected unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"
        ))
    }

    /// The local socket, when the daemon is local (and may be auto-started).
    pub fn local_socket(&self) -> Option<&std::path::Path> {
        match self {
            Endpoint::Unix(p) => Some(p),
            _ => None,
        }
    }

    pub async fn connect(&self) -> std::io::Result<Box<dyn Conn>> {
        match self {
            Endpoint::Unix(p) => Ok(Box::new(UnixStream::connect(p).await?)),
            Endpoint::Tcp { host, port, tls } => {
                let tcp = TcpStream::connect((host.as_str(), *port)).await?;
                tcp.set_nodelay(true)?;
                let Some(config) = tls else {
                    return Ok(Box::new(tcp));
                };
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await?;
                Ok(Box::new(tls))
            }
            Endpoint::Ssh(ssh) => ssh.connect().await,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
            Endpoint::Tcp { host, port, tls } => {
                let scheme = if tls.is_some() { "tcp+tls" } else { "tcp" };
                write!(f, "{scheme}://{host}:{port}")
            }
            Endpoint::Ssh(s) => write!(f, "ssh://{}", s.destination()),
        }
    }
}

/// `host:port`, `host`, `[v6]:port`.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((h.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Some((h.to_string(), Some(p.parse().ok()?))),
        Some(_) => None,
        None => Some((s.to_string(), None)),
    }
}

impl Ssh {
    fn destination(&self) -> String {
        let mut d = match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        };
        if let Some(p) = self.port {
            d.push_str(&format!(":{p}"));
        }
        d
    }

    /// `ssh` with the options every invocation shares. `WHARF_SSH_COMMAND` replaces `ssh`
    /// (a program and its first arguments, e.g. `ssh -F ./ssh_config`), as `GIT_SSH_COMMAND`
    /// does for git.
    fn command(&self, control: &std::path::Path) -> tokio::process::Command {
        let words = std::env::var("WHARF_SSH_COMMAND")
            .ok()
            .and_then(|c| shell_words::split(&c).ok())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| vec!["ssh".to_string()]);
        let mut c = tokio::process::Command::new(&words[0]);
        c.args(&words[1..]);
        c.arg("-o")
            .arg(format!("ControlPath={}", control.display()))
            .arg("-o")
            .arg("BatchMode=yes");
        if let Some(u) = &self.user {
            c.arg("-l").arg(u);
        }
        if let Some(p) = self.port {
            c.arg("-p").arg(p.to_string());
        }
        c
    }

    /// The master connection: started once, backgrounded by ssh itself once authenticated
    /// (`-f`), and ending 2 s after its last session (`ControlPersist`).
    async fn master(&self) -> std::io::Result<&PathBuf> {
        self.master
            .get_or_try_init(|| async {
                let control = std::env::temp_dir().join(format!(
                    "wharf-ssh-{}-{:x}.sock",
                    std::process::id(),
                    rand::random::<u32>()
                ));
                let out = self
                    .command(&control)
                    .args(["-M", "-N", "-f", "-o", "ControlPersist=2"])
                    .arg(&self.host)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .await
                    .map_err(|e| std::io::Error::new(e.kind(), format!("running ssh: {e}")))?;
                if !out.status.success() {
                    let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
                    return Err(std::io::Error::other(format!(
                        "ssh to {} failed: {msg}",
                        self.destination()
                    )));
                }
                Ok(control)
            })
            .await
    }

    /// A session on the master running `wharf system dial-stdio`, its stdio as the stream.
    async fn connect(&self) -> std::io::Result<Box<dyn Conn>> {
        let control = self.master().await?.clone();
        let mut child = self
            .command(&control)
            .args(["-o", "ControlMaster=no", "-T"])
            .arg(&self.host)
            .args(["--", "wharf", "system", "dial-stdio"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        Ok(Box::new(ChildStream {
            _child: child,
            stdin,
            stdout,
        }))
    }
}

/// An ssh session's stdio as one stream; the session ends when the stream is dropped.
struct ChildStream {
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
}

impl AsyncRead for ChildStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChildStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_as_the_docker_cli_takes_them() {
        assert!(
            matches!(Endpoint::parse("unix:///run/x.sock", None), Ok(Endpoint::Unix(p)) if p == std::path::Path::new("/run/x.sock"))
        );
        assert!(
            matches!(Endpoint::parse("tcp://10.0.0.5:2376", None), Ok(Endpoint::Tcp { host, port: 2376, .. }) if host == "10.0.0.5")
        );
        assert!(matches!(
            Endpoint::parse("tcp://h", None),
            Ok(Endpoint::Tcp { port: 2375, .. })
        ));
        assert!(
            matches!(Endpoint::parse("tcp://[::1]:99", None), Ok(Endpoint::Tcp { host, port: 99, .. }) if host == "::1")
        );
        match Endpoint::parse("ssh://me@box:2222", None) {
            Ok(Endpoint::Ssh(s)) => {
                assert_eq!(s.user.as_deref(), Some("me"));
                assert_eq!(s.host, "box");
                assert_eq!(s.port, Some(2222));
            }
            other => panic!("{other:?}"),
        }
        assert!(Endpoint::parse("tcp://h:notaport", None).is_err());
        assert!(Endpoint::parse("ftp://h", None)
            .unwrap_err()
            .contains("expected unix://"));
    }
}
