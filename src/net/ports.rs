//! Published ports: the mappings the firewall forwards, and the host ports held for them
//! ([`HeldPort`]), naming the process holding a port that is taken (the `-p` grammar is
//! [`crate::docker::port`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use serde::{Deserialize, Serialize};

use super::NetError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Proto {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self, NetError> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            other => Err(NetError::Invalid(format!(
                "invalid protocol {other:?}: expected tcp or udp"
            ))),
        }
    }
}

/// One forwarded port: `host_ip:host_port/proto` → the container's `container_port`. A
/// `host_ip` of 0.0.0.0 means every host address of both families (127.0.0.1 and, on a
/// dual-stack network, `[::1]` included), `::` every IPv6 address only, any other address that
/// one alone; a `host_port` of 0 in a request means "choose an ephemeral port".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortMapping {
    /// Published on every address of both families (`0.0.0.0`, Docker's default).
    pub fn on_every_address(&self) -> bool {
        self.host_ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }

    /// Whether connections to `addr` of the host (either family) reach this mapping.
    pub fn covers(&self, addr: IpAddr) -> bool {
        self.host_ip == addr
            || self.on_every_address()
            || (self.host_ip == IpAddr::V6(Ipv6Addr::UNSPECIFIED) && addr.is_ipv6())
    }

    /// Whether the container needs an IPv6 address for this mapping (it is on IPv6 only).
    pub fn needs_ipv6(&self) -> bool {
        self.host_ip.is_ipv6()
    }

    /// The IPv6 address the mapping answers on, given a dual-stack container: `::` (every
    /// one) for a mapping on every address, its own for an IPv6 one, none for a specific IPv4
    /// address.
    pub fn ipv6_side(&self) -> Option<Ipv6Addr> {
        match self.host_ip {
            IpAddr::V6(ip) => Some(ip),
            _ if self.on_every_address() => Some(Ipv6Addr::UNSPECIFIED),
            IpAddr::V4(_) => None,
        }
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            IpAddr::V4(ip) => write!(f, "{ip}:")?,
            IpAddr::V6(ip) => write!(f, "[{ip}]:")?,
        }
        write!(
            f,
            "{}->{}/{}",
            self.host_port, self.container_port, self.proto
        )
    }
}

/// The process holding a port, when it can be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
}

/// A host port held for a published mapping: a socket bound to `ip:port` without
/// SO_REUSEADDR, so that no other program can bind the port while the mapping exists (a specific
/// address conflicts with a wildcard one and the other way round). Dropping it releases the port.
///
/// The socket never carries traffic: NAT sends every packet for the port to the container
/// before the socket could see it (prerouting DNAT for traffic from outside and from
/// containers, output DNAT for the host's own). A TCP hold therefore only starts listening
/// ([`arm`](Self::arm)) once the DNAT rule is in place, and is dropped before the rule goes, so
/// no client ever completes a handshake with it and waits on a socket that never accepts.
/// Listening (rather than staying merely bound) is what makes the port show as taken in
/// `ss -ltnp` and to [`find_holder`], like docker-proxy. UDP holds stay bound, with the
/// smallest receive buffer.
///
/// On a dual-stack network a mapping on every address also holds `[::]` (IPV6_V6ONLY), and a
/// mapping on `[::]` or `[::1]` holds that address: once armed, those TCP sockets forward the
/// `[::1]` connections that NAT cannot carry ([`super::loopback6`]).
#[derive(Debug)]
pub struct HeldPort {
    proto: Proto,
    port: u16,
    main: HeldSocket,
    /// The `[::]` side of a mapping on every address of a dual-stack network.
    v6: Option<HeldSocket>,
}

/// One bound socket of a hold, and where its loopback connections go, if anywhere.
#[derive(Debug)]
struct HeldSocket {
    sock: socket2::Socket,
    forward_to: Option<SocketAddrV6>,
    // Dropped before `sock` (field order): the accepting thread is joined first.
    fwd: std::sync::OnceLock<super::loopback6::Forwarder>,
}

impl HeldSocket {
    fn new(sock: socket2::Socket, forward_to: Option<SocketAddrV6>) -> Self {
        HeldSocket {
            sock,
            forward_to,
            fwd: Default::default(),
        }
    }

    fn arm(&self) -> std::io::Result<()> {
        let Some(target) = self.forward_to else {
            return self.sock.listen(1);
        };
        if self.fwd.get().is_none() {
            self.sock.listen(128)?;
            let _ = self
                .fwd
                .set(super::loopback6::Forwarder::start(&self.sock, target)?);
        }
        Ok(())
    }
}

impl HeldPort {
    /// The port held (the kernel's choice for a request of port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Start listening (TCP; nothing to do for UDP). Call once the DNAT rule is in place.
    pub fn arm(&self) -> Result<(), NetError> {
        if self.proto != Proto::Tcp {
            return Ok(());
        }
        let fail = |e: std::io::Error| {
            NetError::System(format!("listening on port {}/tcp: {e}", self.port))
        };
        self.main.arm().map_err(fail)?;
        if let Some(v6) = &self.v6 {
            v6.arm().map_err(fail)?;
        }
        Ok(())
    }
}

/// A socket of `proto` bound to `addr` without SO_REUSEADDR (IPv6 ones IPV6_V6ONLY), or the
/// errno of the bind.
fn bind(proto: Proto, addr: SocketAddr) -> Result<socket2::Socket, i32> {
    use socket2::{Domain, Protocol, Socket, Type};
    let (ty, p) = match proto {
        Proto::Tcp => (Type::STREAM, Protocol::TCP),
        Proto::Udp => (Type::DGRAM, Protocol::UDP),
    };
    // socket2 opens sockets close-on-exec: no child of the daemon inherits a hold.
    let sock = Socket::new(Domain::for_address(addr), ty, Some(p))
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        if proto == Proto::Tcp {
            // The [::] hold carries the forwarded [::1] connections, whose ends linger in
            // TIME_WAIT on the port: without SO_REUSEADDR a restarted daemon could not take it
            // again. Once listening it still keeps every other socket off the port (Linux
            // refuses a bind next to a listener, SO_REUSEADDR or not).
            let _ = sock.set_reuse_address(true);
        }
    }
    if proto == Proto::Udp {
        // Datagrams reach it only when NAT missed them (a stale conntrack entry): keep few.
        let _ = sock.set_recv_buffer_size(1);
    }
    sock.bind(&addr.into())
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    Ok(sock)
}

/// Take `ip:port/proto` on the host for a published mapping (port 0: a free port chosen by the
/// kernel, kept). A port something else holds is a conflict whose message names the port and,
/// when found in /proc, the holding process.
pub fn hold_port(proto: Proto, ip: IpAddr, port: u16) -> Result<HeldPort, NetError> {
    hold_port_dual(proto, ip, port, None)
}

/// [`hold_port`], with `v6` the container's IPv6 address and port on a dual-stack network: a
/// mapping on every address holds `[::]` on the same port too (port 0: a port free in both
/// families), and one on `[::]` or `[::1]` forwards its loopback connections there.
pub fn hold_port_dual(
    proto: Proto,
    ip: IpAddr,
    port: u16,
    v6: Option<SocketAddrV6>,
) -> Result<HeldPort, NetError> {
    let bound_port = |sock: &socket2::Socket| {
        sock.local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .unwrap_or(port)
    };
    if let IpAddr::V6(ip6) = ip {
        let sock = bind(proto, (ip6, port).into()).map_err(|e| bind_error(proto, ip, port, e))?;
        // `[::1]` connections reach the hold itself (NAT cannot carry them): forward those.
        let loopback_reaches = ip6.is_loopback() || ip6.is_unspecified();
        return Ok(HeldPort {
            proto,
            port: bound_port(&sock),
            main: HeldSocket::new(sock, v6.filter(|_| loopback_reaches)),
            v6: None,
        });
    }
    let dual = v6.filter(|_| ip.is_unspecified());
    let mut last = None;
    for _ in 0..if port == 0 && dual.is_some() { 32 } else { 1 } {
        let sock = bind(proto, (ip, port).into()).map_err(|e| bind_error(proto, ip, port, e))?;
        let got = bound_port(&sock);
        let Some(target) = dual else {
            return Ok(HeldPort {
                proto,
                port: got,
                main: HeldSocket::new(sock, None),
                v6: None,
            });
        };
        match bind(proto, (Ipv6Addr::UNSPECIFIED, got).into()) {
            Ok(s6) => {
                return Ok(HeldPort {
                    proto,
                    port: got,
                    main: HeldSocket::new(sock, None),
                    v6: Some(HeldSocket::new(s6, Some(target))),
                })
            }
            // The kernel's choice is taken on IPv6: try another.
            Err(libc::EADDRINUSE) if port == 0 => last = Some(got),
            Err(e) => return Err(bind_error(proto, Ipv6Addr::UNSPECIFIED.into(), got, e)),
        }
    }
    Err(bind_error(
        proto,
        Ipv6Addr::UNSPECIFIED.into(),
        last.unwrap_or(port),
        libc::EADDRINUSE,
    ))
}

/// The error of binding `ip:port/proto`: a conflict naming the holder when in use.
fn bind_error(proto: Proto, ip: IpAddr, port: u16, errno: i32) -> NetError {
    match errno {
        libc::EADDRINUSE => {
            let who = match find_holder(proto, port) {
                Some(h) => format!(" by {} (pid {})", h.command, h.pid),
                None => String::new(),
            };
            NetError::Conflict(format!(
                "port {port}/{proto} on {ip} is already in use{who}"
            ))
        }
        libc::EADDRNOTAVAIL => NetError::Invalid(format!(
            "cannot publish on {ip}:{port}/{proto}: {ip} is not an address of this host"
        )),
        e => NetError::System(format!(
            "taking port {port}/{proto} on {ip}: {}",
            std::io::Error::from_raw_os_error(e)
        )),
    }
}

/// Find the process holding a local TCP listener or bound UDP socket on `port` (any address),
/// from /proc/net/{tcp,udp}{,6} and /proc/*/fd.
pub fn find_holder(proto: Proto, port: u16) -> Option<Holder> {
    let files: &[&str] = match proto {
        Proto::Tcp => &["/proc/net/tcp", "/proc/net/tcp6"],
        Proto::Udp => &["/proc/net/udp", "/proc/net/udp6"],
    };
    let mut inodes = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        inodes.extend(socket_inodes_on_port(&text, proto, port));
    }
    if inodes.is_empty() {
        return None;
    }
    let procs = std::fs::read_dir("/proc").ok()?;
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                if inodes.iter().any(|i| i == inode) {
                    let command = std::fs::read_to_string(p.path().join("comm"))
                        .map(|c| c.trim().to_string())
                        .unwrap_or_else(|_| "?".into());
                    return Some(Holder { pid, command });
                }
            }
        }
    }
    None
}

/// Inodes of the sockets of a /proc/net/{tcp,udp} table bound to `port` (TCP: listening only).
pub(crate) fn socket_inodes_on_port(table: &str, proto: Proto, port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 10 {
            continue;
        }
        let Some((_, p)) = cols[1].rsplit_once(':') else {
            continue;
        };
        if u16::from_str_radix(p, 16).ok() != Some(port) {
            continue;
        }
        // TCP_LISTEN is 0A; UDP sockets are "07" (closed/unconnected) when merely bound.
        if proto == Proto::Tcp && cols[3] != "0A" {
            continue;
        }
        if cols[9] != "0" {
            out.push(cols[9].to_string());
        }
    }
    out
}

/// The local port range of the host (`net.ipv4.ip_local_port_range`).
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listening_inodes_in_proc_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n\
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(
            socket_inodes_on_port(tcp, Proto::Tcp, 8080),
            vec!["12345".to_string()]
        );
        assert_eq!(
            socket_inodes_on_port(tcp, Proto::Tcp, 80),
            vec!["999".to_string()]
        );
        assert!(socket_inodes_on_port(tcp, Proto::Tcp, 81).is_empty());
    }

    #[test]
    fn conflict_names_port_and_holder() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let e = hold_port(Proto::Tcp, Ipv4Addr::UNSPECIFIED.into(), port)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("port {port}/tcp")), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(l);
        let held = hold_port(Proto::Tcp, Ipv4Addr::LOCALHOST.into(), port).unwrap();
        assert_eq!(held.port(), port);
        held.arm().unwrap();
        // Held: neither a wildcard nor the same address can be bound, even with SO_REUSEADDR
        // (which std's TcpListener sets).
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
        assert!(std::net::TcpListener::bind(("0.0.0.0", port)).is_err());
        drop(held);
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    }

    #[test]
    fn dual_stack_hold_takes_both_families_and_forwards_loopback() {
        use std::io::{Read, Write};
        let up = std::net::TcpListener::bind("[::1]:0").unwrap();
        let target = match up.local_addr().unwrap() {
            std::net::SocketAddr::V6(a) => a,
            _ => unreachable!(),
        };
        let held =
            hold_port_dual(Proto::Tcp, Ipv4Addr::UNSPECIFIED.into(), 0, Some(target)).unwrap();
        let port = held.port();
        held.arm().unwrap();
        // Held (even against SO_REUSEADDR, which std's TcpListener sets), both families.
        assert!(std::net::TcpListener::bind(("::", port)).is_err());
        assert!(std::net::TcpListener::bind(("::1", port)).is_err());
        assert!(std::net::TcpListener::bind(("0.0.0.0", port)).is_err());
        drop(held);
        // Released at once, both families (the accepting thread is joined in Drop).
        assert!(std::net::TcpListener::bind(("::", port)).is_ok());
        assert!(std::net::TcpListener::bind(("0.0.0.0", port)).is_ok());
        let held =
            hold_port_dual(Proto::Tcp, Ipv4Addr::UNSPECIFIED.into(), 0, Some(target)).unwrap();
        let port = held.port();
        held.arm().unwrap();
        let mut c = std::net::TcpStream::connect(("::1", port)).unwrap();
        let (mut s, _) = up.accept().unwrap();
        c.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        s.write_all(b"pong").unwrap();
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"pong");
        // A connection under way outlives its hold, and does not keep the port from a new one.
        drop(held);
        c.write_all(b"more").unwrap();
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"more");
        let again = hold_port_dual(Proto::Tcp, Ipv4Addr::UNSPECIFIED.into(), port, Some(target));
        again.unwrap().arm().unwrap();
    }

    #[test]
    fn port_zero_holds_the_port_the_kernel_chose() {
        for proto in [Proto::Tcp, Proto::Udp] {
            let held = hold_port(proto, Ipv4Addr::LOCALHOST.into(), 0).unwrap();
            held.arm().unwrap();
            let port = held.port();
            assert_ne!(port, 0);
            let again = hold_port(proto, Ipv4Addr::UNSPECIFIED.into(), port).unwrap_err();
            assert!(
                again.to_string().contains(&format!("port {port}/{proto}")),
                "{again}"
            );
        }
    }
}
