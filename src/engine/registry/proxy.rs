//! The daemon's registry traffic through the proxies of its environment, as dockerd's (Go's
//! `http.ProxyFromEnvironment`): `HTTPS_PROXY` for `https://` registries (a `CONNECT` tunnel,
//! TLS to the registry inside it), `HTTP_PROXY` for plain-HTTP ones (requests in absolute
//! form), upper or lower case, with `NO_PROXY`'s hosts, domains and CIDRs reached directly.
//! As with Go, a loopback registry (`localhost`, `127.0.0.0/8`, `::1`) never goes through a
//! proxy, the upper-case variable wins over the lower-case one when both are set, and
//! `ALL_PROXY` (curl's, not Go's) is not read. The `NO_PROXY` rules are hyper-util's matcher
//! (hosts, domains with their subdomains, CIDRs, `*`); this module adds the connector that
//! follows them.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use tower::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Io = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

/// The proxy rules of the daemon's environment, read once.
fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        Matcher::builder()
            .http(first_env(&["HTTP_PROXY", "http_proxy"]))
            .https(first_env(&["HTTPS_PROXY", "https_proxy"]))
            .no(first_env(&["NO_PROXY", "no_proxy"]))
            .build()
    })
}

/// The first of `names` set to something, as Go's `getEnvAny`.
fn first_env(names: &[&str]) -> String {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
}

/// A connector for `http://` and `https://` URLs that goes through the environment's proxy
/// where its rules say so.
#[derive(Clone)]
pub struct Connector {
    tls: Arc<ClientConfig>,
    http: HttpConnector,
    direct: HttpsConnector<HttpConnector>,
}

impl Connector {
    pub fn new(tls: Arc<ClientConfig>) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let direct = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http.clone());
        Connector { tls, http, direct }
    }
}

/// Whether `dst` is a loopback host, which Go (and so dockerd) never proxies.
fn is_loopback(dst: &Uri) -> bool {
    let host = dst.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let intercept = if is_loopback(&dst) {
            None
        } else {
            matcher().intercept(&dst)
        };
        let Some(proxy) = intercept else {
            let fut = self.direct.call(dst);
            return Box::pin(async move {
                Ok(Conn {
                    io: fut.await?,
                    proxied: false,
                })
            });
        };
        let via = proxy.uri().clone();
        if dst.scheme_str() == Some("https") {
            let mut tunnel = Tunnel::new(via.clone(), self.http.clone());
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            let mut tls = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config((*self.tls).clone())
                .https_or_http()
                .enable_http1()
                .wrap_connector(tunnel);
            let fut = tls.call(dst);
            Box::pin(async move {
                let io = fut
                    .await
                    .map_err(|e| format!("through the proxy {via}: {e}"))?;
                Ok(Conn { io, proxied: false })
            })
        } else {
            // Plain HTTP: the request itself goes to the proxy, in absolute form.
            let fut = self.http.call(via.clone());
            Box::pin(async move {
                let io = fut.await.map_err(|e| format!("the proxy {via}: {e}"))?;
                Ok(Conn {
                    io: MaybeHttpsStream::Http(io),
                    proxied: true,
                })
            })
        }
    }
}

/// A connection, telling hyper whether it leads to a forward proxy (which wants requests in
/// absolute form).
pub struct Conn {
    io: Io,
    proxied: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_never_proxied() {
        for u in [
            "http://localhost:5000/v2/",
            "https://127.0.0.1:5000/v2/",
            "http://127.8.0.1/",
            "https://[::1]:5000/",
        ] {
            assert!(is_loopback(&u.parse().unwrap()), "{u}");
        }
        for u in ["https://registry-1.docker.io/v2/", "http://10.0.0.1:5000/"] {
            assert!(!is_loopback(&u.parse().unwrap()), "{u}");
        }
    }
}
