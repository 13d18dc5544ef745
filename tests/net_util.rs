//! Shared helpers of the `net_*` integration tests (included with `#[path]`; as a target of its
//! own it has no tests): hermetic environments (own netns files under
//! a tempdir, own bridges, own nftables table, own subnets from 10.213.0.0/16) cleaned up by a
//! Drop guard even when a test fails, and traffic helpers that run inside namespaces.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use wharf::net::{netns, ManagerConfig, Netlink, NetworkCreate, NetworkManager};

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Fail loudly when not root: namespaces and bridges need it, and a test that passes by
/// skipping itself would hide that nothing was tested.
#[macro_export]
macro_rules! require_root {
    () => {
        assert!(
            net_util::is_root(),
            "this test needs root (network namespaces, bridges, nftables): run the suite as root"
        );
    };
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub tag: String,
    pub mgr: NetworkManager,
    pub bridges: Mutex<Vec<String>>,
    pub extra_links: Mutex<Vec<String>>,
    pub namespaces: Mutex<Vec<PathBuf>>,
    pub table: String,
}

/// A unique tag (≤ 6 chars): pid and a per-process sequence letter.
pub fn unique_tag() -> String {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    format!(
        "t{}{}",
        std::process::id() % 10000,
        (b'a' + (n % 26) as u8) as char
    )
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Self::with(|_| {})
    }

    pub fn with(f: impl FnOnce(&mut ManagerConfig)) -> Env {
        let tag = unique_tag();
        let mut cfg = ManagerConfig {
            table: format!("wharf_{tag}"),
            bridge_prefix: format!("{tag}b"),
            default_bridge: format!("{tag}b0"),
            veth_prefix: format!("{tag}v"),
            upstreams: Some(vec![]),
            ..ManagerConfig::default()
        };
        f(&mut cfg);
        let table = cfg.table.clone();
        Env {
            dir: tempfile::tempdir().unwrap(),
            mgr: NetworkManager::new(cfg).unwrap(),
            tag,
            bridges: Mutex::new(Vec::new()),
            extra_links: Mutex::new(Vec::new()),
            namespaces: Mutex::new(Vec::new()),
            table,
        }
    }

    /// Create a network with subnet 10.213.<third>.0/24 and bridge `<tag>b<k>`.
    pub async fn net(&self, name: &str, third: u8, internal: bool) -> wharf::net::Network {
        let bridge = {
            let mut b = self.bridges.lock().unwrap();
            let name = format!("{}b{}", self.tag, b.len() + 1);
            b.push(name.clone());
            name
        };
        self.mgr
            .create_network(NetworkCreate {
                name: name.into(),
                subnet: Some(format!("10.213.{third}.0/24")),
                internal,
                bridge_name: Some(bridge),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// A dual-stack network on 10.213.<third>.0/24 and fd00:213:<third>::/64.
    pub async fn net_dual(&self, name: &str, third: u8) -> wharf::net::Network {
        let bridge = {
            let mut b = self.bridges.lock().unwrap();
            let name = format!("{}b{}", self.tag, b.len() + 1);
            b.push(name.clone());
            name
        };
        self.mgr
            .create_network(NetworkCreate {
                name: name.into(),
                subnet: Some(format!("10.213.{third}.0/24")),
                enable_ipv6: true,
                v6: Some(wharf::net::types::SubnetRequest {
                    subnet: Some(format!("fd00:213:{third}::/64")),
                    ..Default::default()
                }),
                bridge_name: Some(bridge),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// A fresh persistent namespace under the tempdir.
    pub fn ns(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join("netns").join(name);
        netns::create(&p).unwrap();
        self.namespaces.lock().unwrap().push(p.clone());
        p
    }

    /// A separate "host" namespace linked to the daemon's by a veth pair on 10.213.<third>.0/24:
    /// host side .1 (returned first), namespace side .2 (returned second), default route via .1.
    pub async fn outside_host(&self, third: u8) -> (PathBuf, Ipv4Addr, Ipv4Addr) {
        let ns = self.ns("outside");
        let host_if = format!("{}o", self.tag);
        self.extra_links.lock().unwrap().push(host_if.clone());
        let host_ip = Ipv4Addr::new(10, 213, third, 1);
        let ns_ip = Ipv4Addr::new(10, 213, third, 2);
        link_pair(&host_if, &ns, host_ip, ns_ip).await;
        (ns, host_ip, ns_ip)
    }
}

/// Create a veth pair host_if (root ns, host_ip/24) ↔ eth0 in `ns` (ns_ip/24, default via host_ip).
async fn link_pair(host_if: &str, ns: &Path, host_ip: Ipv4Addr, ns_ip: Ipv4Addr) {
    use rtnetlink::{LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};
    use std::os::fd::AsRawFd;
    let (conn, h, _) = rtnetlink::new_connection().unwrap();
    tokio::spawn(conn);
    let f = std::fs::File::open(ns).unwrap();
    let peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name("eth0".to_string())
        .setns_by_fd(f.as_raw_fd())
        .build();
    let msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(
        rtnetlink::packet_route::link::InfoKind::Veth,
    )
    .name(host_if.to_string())
    .up()
    .set_info_data(rtnetlink::packet_route::link::InfoData::Veth(
        rtnetlink::packet_route::link::InfoVeth::Peer(peer),
    ))
    .build();
    h.link().add(msg).execute().await.unwrap();
    let nl = Netlink::connect().unwrap();
    let idx = nl.link(host_if).await.unwrap().unwrap().index;
    h.address()
        .add(idx, host_ip.into(), 24)
        .execute()
        .await
        .unwrap();
    // Inside.
    let fd = netns::run_in(ns, || {
        use std::os::fd::IntoRawFd;
        rtnetlink::sys::Socket::new(rtnetlink::sys::protocols::NETLINK_ROUTE)
            .unwrap()
            .into_raw_fd()
    })
    .unwrap();
    let sock = unsafe { <rtnetlink::sys::TokioSocket as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let (conn, hn, _) = rtnetlink::from_socket(sock);
    tokio::spawn(conn);
    let nsnl = Netlink::connect_in(ns).await.unwrap();
    let eth = nsnl.link("eth0").await.unwrap().unwrap();
    hn.address()
        .add(eth.index, ns_ip.into(), 24)
        .execute()
        .await
        .unwrap();
    hn.link()
        .set(LinkUnspec::new_with_index(eth.index).up().build())
        .execute()
        .await
        .unwrap();
    let r = RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(host_ip)
        .output_interface(eth.index)
        .build();
    hn.route().add(r).execute().await.unwrap();
}

impl Drop for Env {
    fn drop(&mut self) {
        // Namespaces first (their veth ends go with them), then our host links, then the table.
        for ns in self.namespaces.lock().unwrap().drain(..) {
            let _ = netns::delete(&ns);
        }
        let mut links: Vec<String> = self.extra_links.lock().unwrap().drain(..).collect();
        links.extend(self.bridges.lock().unwrap().drain(..));
        let prefix = format!("{}v", self.tag);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let nl = Netlink::connect().unwrap();
                for l in nl.links().await.unwrap_or_default() {
                    if l.name.starts_with(&prefix) {
                        let _ = nl.delete_link(&l.name).await;
                    }
                }
                for l in links {
                    let _ = nl.delete_link(&l).await;
                }
            });
        })
        .join()
        .ok();
        let _ = std::process::Command::new("nft")
            .args(["delete", "table", "inet", &self.table])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Run a blocking closure off the runtime.
pub async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// A TCP server inside `ns` on `port` that answers every connection with the peer's address and
/// closes. Runs until the process ends (its thread is detached); returns once listening.
pub fn tcp_server(ns: &Path, port: u16) {
    let l = netns::run_in(ns, move || TcpListener::bind(("0.0.0.0", port)).unwrap()).unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let peer = s
                .peer_addr()
                .map(|p| p.ip().to_string())
                .unwrap_or_default();
            let _ = s.write_all(peer.as_bytes());
        }
    });
}

/// A UDP server inside `ns` answering each datagram with "<payload> from <peer ip>".
pub fn udp_server(ns: &Path, port: u16) {
    let s = netns::run_in(ns, move || UdpSocket::bind(("0.0.0.0", port)).unwrap()).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, src)) = s.recv_from(&mut buf) {
            let reply = format!("{} from {}", String::from_utf8_lossy(&buf[..n]), src.ip());
            let _ = s.send_to(reply.as_bytes(), src);
        }
    });
}

/// Connect (from `ns`, or the test's own namespace when `None`) and read the server's answer.
pub fn tcp_get(ns: Option<&Path>, addr: SocketAddr) -> std::io::Result<String> {
    let go = move || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(1500))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    match ns {
        Some(ns) => netns::run_in(ns, go)?,
        None => go(),
    }
}

/// Send one datagram and wait for the answer.
pub fn udp_ask(ns: Option<&Path>, addr: SocketAddr, payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let payload = payload.to_vec();
    let go = move || -> std::io::Result<Vec<u8>> {
        // UDP may drop under load (parallel tests on 2 cores): ask again, like a resolver.
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.set_read_timeout(Some(Duration::from_millis(2000)))?;
        let mut last = None;
        for _ in 0..3 {
            s.send_to(&payload, addr)?;
            let mut buf = vec![0u8; 65535];
            match s.recv_from(&mut buf) {
                Ok((n, _)) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap())
    };
    match ns {
        Some(ns) => netns::run_in(ns, go)?,
        None => go(),
    }
}

/// A TCP DNS exchange (length-prefixed).
pub fn tcp_dns(ns: Option<&Path>, addr: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let query = query.to_vec();
    let go = move || -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(1500))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut out = (query.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&query);
        s.write_all(&out)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len)?;
        let mut resp = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut resp)?;
        Ok(resp)
    };
    match ns {
        Some(ns) => netns::run_in(ns, go)?,
        None => go(),
    }
}

/// A free TCP+UDP port on the host (bound then released).
pub fn free_port() -> u16 {
    loop {
        let t = TcpListener::bind("0.0.0.0:0").unwrap();
        let p = t.local_addr().unwrap().port();
        if UdpSocket::bind(("0.0.0.0", p)).is_ok() {
            return p;
        }
    }
}

/// Names of all links of the daemon's namespace.
pub async fn link_names() -> Vec<String> {
    let nl = Netlink::connect().unwrap();
    let mut v: Vec<String> = nl
        .links()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    v.sort();
    v
}

/// Names of the links of the daemon's namespace that start with `prefix` (a test's tag: tests
/// run in parallel, so leak checks look at their own links only).
pub async fn links_with(prefix: &str) -> Vec<String> {
    link_names()
        .await
        .into_iter()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// `nft list table inet <table>` output, or None when the table does not exist.
pub fn nft_table(table: &str) -> Option<String> {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "inet", table])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Local listening TCP sockets and bound UDP sockets of the daemon's namespace ("addr:port").
pub fn listeners() -> Vec<String> {
    let mut out = Vec::new();
    for (f, tcp) in [("/proc/net/tcp", true), ("/proc/net/udp", false)] {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if tcp && cols[3] != "0A" {
                continue;
            }
            let (a, p) = cols[1].split_once(':').unwrap();
            let ip = Ipv4Addr::from(u32::from_str_radix(a, 16).unwrap().swap_bytes());
            out.push(format!(
                "{}/{ip}:{}",
                if tcp { "tcp" } else { "udp" },
                u16::from_str_radix(p, 16).unwrap()
            ));
        }
    }
    out.sort();
    out
}
