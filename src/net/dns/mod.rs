//! The embedded DNS server of user-defined networks.
//!
//! Where it listens: on each user-defined network's gateway address, port 53, UDP and TCP, in the
//! daemon's namespace (aardvark-dns's choice), and containers get `nameserver <gateway>`.
//! Rather than Docker's 127.0.0.11 inside every container (a socket pair and NAT rules per
//! container, created by entering its namespace), this costs one pair of sockets per network and
//! nothing per container (attach stays a few netlink calls), works unchanged for containers that
//! share another's namespace, and the asker is identified by the query's source address: the
//! listener tells the network, the source address the container.
//!
//! Answers: a name (container name, alias, service name; case-insensitive) resolves to every
//! address of the containers carrying it on the asker's network; when the asker is attached to
//! several networks, its other networks are searched next (first network with a match wins).
//! A and AAAA queries answer with the IPv4 and IPv6 addresses (dual-stack networks), PTR queries
//! for known addresses of either family (`in-addr.arpa`, `ip6.arpa`) with the container's first
//! name. Everything else is
//! forwarded verbatim to the upstream resolvers (the host's /etc/resolv.conf by default; IPv4
//! or IPv6 ones), over UDP for UDP queries and TCP for TCP ones; internal networks do not
//! forward (SERVFAIL).
//! Records change live through [`DnsServer::set_container`] / [`DnsServer::remove_container`].
//!
//! macvlan and ipvlan networks: a container on them cannot reach the host through its parent
//! (the kernel does not pass traffic between a macvlan and its parent), and there is no gateway
//! address on the host. There the server listens inside each container's namespace, on
//! 127.0.0.11:53 like Docker and aardvark-dns's netavark setups ([`DnsServer::listen_in`]): the
//! sockets are opened on a thread that joined the namespace and stay bound to it, served by the
//! daemon's tasks like the others; queries arrive from the container's loopback, so the listener
//! carries the container's address to identify the asker.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// TTL of the answers about containers (short: records follow containers).
pub const TTL: u32 = 60;

#[derive(Debug, Clone)]
struct Entry {
    container_id: String,
    ip: Ipv4Addr,
    /// On a dual-stack network.
    ip6: Option<Ipv6Addr>,
    /// Lower-case, without trailing dot; the first is the container's name.
    names: Vec<String>,
    /// Per-container upstreams (`--dns`); empty: the server's.
    upstreams: Vec<SocketAddr>,
    /// Links of this container on this network (alias → the linked container's name): names
    /// only it resolves, to whoever carries the target name when asked.
    links: Vec<(String, String)>,
}

#[derive(Default)]
struct Records {
    /// Network id → entries.
    nets: HashMap<String, Vec<Entry>>,
}

struct Listener {
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    records: RwLock<Records>,
    upstreams: RwLock<Vec<SocketAddr>>,
    internal: RwLock<HashMap<String, bool>>,
    timeout: Duration,
}

/// The DNS server: record tables plus one UDP and one TCP listener per network. Cheap to clone.
/// Must be used inside a tokio runtime (listeners are tokio tasks).
#[derive(Clone)]
pub struct DnsServer {
    shared: Arc<Shared>,
    listeners: Arc<tokio::sync::Mutex<HashMap<String, Listener>>>,
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Upstream resolvers listed in a resolv.conf text (`nameserver` lines, port 53).
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            if it.next()? != "nameserver" {
                return None;
            }
            let ip: IpAddr = it.next()?.split('%').next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// The host's upstream resolvers (/etc/resolv.conf).
pub fn host_upstreams() -> Vec<SocketAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|t| parse_resolv_conf(&t))
        .unwrap_or_default()
}

impl DnsServer {
    pub fn new(upstreams: Vec<SocketAddr>) -> Self {
        DnsServer {
            shared: Arc::new(Shared {
                records: RwLock::new(Records::default()),
                upstreams: RwLock::new(upstreams),
                internal: RwLock::new(HashMap::new()),
                timeout: Duration::from_secs(3),
            }),
            listeners: Arc::new(tokio::sync::Mutex::new(HashMap::new())),
        }
    }

    pub fn set_upstreams(&self, upstreams: Vec<SocketAddr>) {
        *self.shared.upstreams.write().unwrap() = upstreams;
    }

    pub fn upstreams(&self) -> Vec<SocketAddr> {
        self.shared.upstreams.read().unwrap().clone()
    }

    /// Start answering for `network` on `addr` (UDP and TCP). Port 0 picks one (tests); returns
    /// the address actually bound. Replaces an existing listener of that network.
    pub async fn listen(
        &self,
        network: &str,
        addr: SocketAddr,
        internal: bool,
    ) -> io::Result<SocketAddr> {
        self.unlisten(network).await;
        self.shared
            .internal
            .write()
            .unwrap()
            .insert(network.to_string(), internal);
        let udp = Arc::new(UdpSocket::from_std(bind_udp(addr)?)?);
        let bound = udp.local_addr()?;
        let tcp = {
            let s = tokio::net::TcpSocket::new_v4()?;
            s.set_reuseaddr(true)?;
            s.bind(bound)?;
            s.listen(64)?
        };
        let net = network.to_string();
        let shared = self.shared.clone();
        let t1 = tokio::spawn(udp_loop(shared.clone(), net.clone(), udp, None));
        let t2 = tokio::spawn(tcp_loop(shared, net, tcp, None));
        self.listeners.lock().await.insert(
            network.to_string(),
            Listener {
                addr: bound,
                tasks: vec![t1, t2],
            },
        );
        Ok(bound)
    }

    /// Answer for `network` inside the namespace at `netns`, on `addr` there (127.0.0.11:53),
    /// for the one container of that namespace, whose address on `network` is `asker`. `key`
    /// names the listener (for [`unlisten`](Self::unlisten)); it replaces one of that key.
    pub async fn listen_in(
        &self,
        key: &str,
        network: &str,
        netns: &std::path::Path,
        addr: SocketAddr,
        internal: bool,
        asker: IpAddr,
    ) -> io::Result<SocketAddr> {
        self.unlisten(key).await;
        self.shared
            .internal
            .write()
            .unwrap()
            .insert(network.to_string(), internal);
        let (udp, tcp) = super::netns::run_in_async(netns.to_path_buf(), move || {
            let udp = bind_udp(addr)?;
            let bound = udp.local_addr()?;
            use socket2::{Domain, Protocol, Socket, Type};
            let t = Socket::new(
                Domain::for_address(bound),
                Type::STREAM,
                Some(Protocol::TCP),
            )?;
            t.set_reuse_address(true)?;
            t.set_nonblocking(true)?;
            t.bind(&bound.into())?;
            t.listen(64)?;
            io::Result::Ok((udp, std::net::TcpListener::from(t)))
        })
        .await??;
        let udp = Arc::new(UdpSocket::from_std(udp)?);
        let bound = udp.local_addr()?;
        let tcp = TcpListener::from_std(tcp)?;
        let net = network.to_string();
        let shared = self.shared.clone();
        let t1 = tokio::spawn(udp_loop(shared.clone(), net.clone(), udp, Some(asker)));
        let t2 = tokio::spawn(tcp_loop(shared, net, tcp, Some(asker)));
        self.listeners.lock().await.insert(
            key.to_string(),
            Listener {
                addr: bound,
                tasks: vec![t1, t2],
            },
        );
        Ok(bound)
    }

    /// Stop the listeners of `network`; their sockets are closed when this returns.
    pub async fn unlisten(&self, network: &str) {
        let l = self.listeners.lock().await.remove(network);
        if let Some(l) = l {
            for t in l.tasks {
                t.abort();
                let _ = t.await;
            }
        }
    }

    /// Where `network` is answered, if it is.
    pub async fn listen_addr(&self, network: &str) -> Option<SocketAddr> {
        self.listeners.lock().await.get(network).map(|l| l.addr)
    }

    /// Stop every listener.
    pub async fn shutdown(&self) {
        let nets: Vec<String> = self.listeners.lock().await.keys().cloned().collect();
        for n in nets {
            self.unlisten(&n).await;
        }
    }

    /// Set (add or replace) the record of a container on a network: its address and names.
    pub fn set_container(&self, network: &str, container_id: &str, ip: Ipv4Addr, names: &[String]) {
        self.set_container_with_upstreams(network, container_id, ip, None, names, &[])
    }

    /// Like [`set_container`](Self::set_container), with the container's own upstreams for the
    /// queries it sends that are not about containers, and its IPv6 address (AAAA, PTR).
    pub fn set_container_with_upstreams(
        &self,
        network: &str,
        container_id: &str,
        ip: Ipv4Addr,
        ip6: Option<Ipv6Addr>,
        names: &[String],
        upstreams: &[SocketAddr],
    ) {
        let mut names: Vec<String> = names
            .iter()
            .map(|n| normalize(n))
            .filter(|n| !n.is_empty())
            .collect();
        names.dedup();
        let mut r = self.shared.records.write().unwrap();
        let entries = r.nets.entry(network.to_string()).or_default();
        entries.retain(|e| e.container_id != container_id);
        entries.push(Entry {
            container_id: container_id.to_string(),
            ip,
            ip6,
            names,
            upstreams: upstreams.to_vec(),
            links: Vec::new(),
        });
    }

    /// The container's links on a network (`--link target:alias` on a user-defined network,
    /// compose `links:`): `alias` resolves, for it alone, to the container named `target`.
    pub fn set_links(&self, network: &str, container_id: &str, links: &[(String, String)]) {
        let mut r = self.shared.records.write().unwrap();
        let entry = r
            .nets
            .get_mut(network)
            .and_then(|es| es.iter_mut().find(|e| e.container_id == container_id));
        if let Some(e) = entry {
            e.links = links
                .iter()
                .map(|(alias, target)| (normalize(alias), normalize(target)))
                .collect();
        }
    }

    /// Remove a container's record from a network.
    pub fn remove_container(&self, network: &str, container_id: &str) {
        let mut r = self.shared.records.write().unwrap();
        if let Some(entries) = r.nets.get_mut(network) {
            entries.retain(|e| e.container_id != container_id);
        }
    }

    /// Forget a network's records.
    pub fn remove_network(&self, network: &str) {
        self.shared.records.write().unwrap().nets.remove(network);
        self.shared.internal.write().unwrap().remove(network);
    }

    /// The addresses `name` resolves to for a query from `asker` on `network`.
    pub fn resolve(&self, network: &str, asker: IpAddr, name: &str) -> Vec<Ipv4Addr> {
        let found = self.shared.resolve(network, asker, &normalize(name));
        found.into_iter().map(|(ip, _)| ip).collect()
    }

    /// Answer one query (wire format), as the listener of `network` would for `asker`.
    pub async fn answer(
        &self,
        network: &str,
        asker: IpAddr,
        query: &[u8],
        tcp: bool,
    ) -> Option<Vec<u8>> {
        handle(&self.shared, network, asker, query, tcp).await
    }
}

impl Entry {
    /// Whether `ip` is one of the entry's addresses.
    fn has(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.ip == a,
            IpAddr::V6(a) => self.ip6 == Some(a),
        }
    }
}

impl Shared {
    fn asker_networks(&self, r: &Records, network: &str, asker: IpAddr) -> Vec<String> {
        let mut nets = vec![network.to_string()];
        let Some(cid) = asker_id(r, network, asker) else {
            return nets;
        };
        let mut others: Vec<&String> = r
            .nets
            .iter()
            .filter(|(n, es)| *n != network && es.iter().any(|e| e.container_id == cid))
            .map(|(n, _)| n)
            .collect();
        others.sort();
        nets.extend(others.into_iter().cloned());
        nets
    }

    /// The addresses of the containers named `name` (IPv4, and IPv6 where they have one).
    fn resolve(
        &self,
        network: &str,
        asker: IpAddr,
        name: &str,
    ) -> Vec<(Ipv4Addr, Option<Ipv6Addr>)> {
        let r = self.records.read().unwrap();
        let asker_id = asker_id(&r, network, asker);
        for net in self.asker_networks(&r, network, asker) {
            let Some(entries) = r.nets.get(&net) else {
                continue;
            };
            // A link of the asker's on this network names its target.
            let wanted = entries
                .iter()
                .find(|e| Some(&e.container_id) == asker_id.as_ref())
                .and_then(|e| e.links.iter().find(|(alias, _)| alias == name))
                .map_or(name, |(_, target)| target.as_str());
            let mut ips: Vec<(Ipv4Addr, Option<Ipv6Addr>)> = entries
                .iter()
                .filter(|e| e.names.iter().any(|n| n == wanted))
                .map(|e| (e.ip, e.ip6))
                .collect();
            if !ips.is_empty() {
                ips.dedup();
                return ips;
            }
        }
        Vec::new()
    }

    fn reverse(&self, network: &str, asker: IpAddr, ip: IpAddr) -> Option<String> {
        let r = self.records.read().unwrap();
        for net in self.asker_networks(&r, network, asker) {
            if let Some(e) = r
                .nets
                .get(&net)
                .and_then(|es| es.iter().find(|e| e.has(ip)))
            {
                return e.names.first().cloned();
            }
        }
        None
    }

    fn is_internal(&self, network: &str) -> bool {
        self.internal
            .read()
            .unwrap()
            .get(network)
            .copied()
            .unwrap_or(false)
    }
}

/// The container that asks, known by its address on the network it asks on.
fn asker_id(r: &Records, network: &str, asker: IpAddr) -> Option<String> {
    r.nets
        .get(network)
        .and_then(|es| es.iter().find(|e| e.has(asker)))
        .map(|e| e.container_id.clone())
}

fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// `asker`: the address that identifies the asker when the source address cannot (a listener
/// inside one container's namespace).
async fn udp_loop(
    shared: Arc<Shared>,
    network: String,
    sock: Arc<UdpSocket>,
    asker: Option<IpAddr>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, src) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(_) => continue,
        };
        let query = buf[..n].to_vec();
        let who = asker.unwrap_or(src.ip());
        match local_answer(&shared, &network, who, &query, false) {
            Some(Local::Answer(resp)) => {
                let _ = sock.send_to(&resp, src).await;
            }
            Some(Local::Forward) => {
                let (shared, network, sock) = (shared.clone(), network.clone(), sock.clone());
                tokio::spawn(async move {
                    if let Some(resp) = forward(&shared, &network, who, &query, false).await {
                        let _ = sock.send_to(&resp, src).await;
                    }
                });
            }
            None => {}
        }
    }
}

async fn tcp_loop(
    shared: Arc<Shared>,
    network: String,
    listener: TcpListener,
    asker: Option<IpAddr>,
) {
    // Connection tasks live in a JoinSet owned by this task: aborting the listener ends them.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            acc = listener.accept() => {
                let Ok((stream, src)) = acc else { continue };
                let (shared, network) = (shared.clone(), network.clone());
                conns.spawn(async move {
                    let _ = tcp_conn(&shared, &network, stream, asker.unwrap_or(src.ip())).await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn tcp_conn(
    shared: &Shared,
    network: &str,
    mut stream: TcpStream,
    asker: IpAddr,
) -> io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return Ok(()),
        }
        let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut query))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        let Some(resp) = handle(shared, network, asker, &query, true).await else {
            return Ok(());
        };
        let mut out = Vec::with_capacity(resp.len() + 2);
        out.extend_from_slice(&(resp.len() as u16).to_be_bytes());
        out.extend_from_slice(&resp);
        stream.write_all(&out).await?;
    }
}

enum Local {
    Answer(Vec<u8>),
    Forward,
}

async fn handle(
    shared: &Shared,
    network: &str,
    asker: IpAddr,
    query: &[u8],
    tcp: bool,
) -> Option<Vec<u8>> {
    match local_answer(shared, network, asker, query, tcp)? {
        Local::Answer(r) => Some(r),
        Local::Forward => forward(shared, network, asker, query, tcp).await,
    }
}

fn response_to(q: &Message, code: ResponseCode) -> Message {
    let mut m = Message::response(q.metadata.id, q.metadata.op_code);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.response_code = code;
    m.add_queries(q.queries.iter().cloned());
    if q.edns.is_some() {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m
}

fn encode(q: &Message, resp: Message, tcp: bool) -> Option<Vec<u8>> {
    let bytes = resp.to_vec().ok()?;
    let limit = if tcp {
        65535
    } else {
        q.edns
            .as_ref()
            .map(|e| e.max_payload().max(512))
            .unwrap_or(512) as usize
    };
    if bytes.len() > limit {
        return resp.truncate().to_vec().ok();
    }
    Some(bytes)
}

/// Answer from the records, or say the query is to be forwarded. `None`: drop (unparsable).
fn local_answer(
    shared: &Shared,
    network: &str,
    asker: IpAddr,
    query: &[u8],
    tcp: bool,
) -> Option<Local> {
    let q = match Message::from_vec(query) {
        Ok(q) => q,
        Err(_) => {
            // Reply FORMERR when at least the id is there.
            if query.len() >= 12 {
                let mut m =
                    Message::response(u16::from_be_bytes([query[0], query[1]]), OpCode::Query);
                m.metadata.response_code = ResponseCode::FormErr;
                return m.to_vec().ok().map(Local::Answer);
            }
            return None;
        }
    };
    if q.metadata.message_type != MessageType::Query {
        return None;
    }
    let Some(question) = q.queries.first() else {
        return encode(&q, response_to(&q, ResponseCode::FormErr), tcp).map(Local::Answer);
    };
    let qname = question.name().clone();
    let name = normalize(&qname.to_ascii());
    let qtype = question.query_type();
    if let Some(ip) = parse_reverse(&name) {
        if let Some(target) = shared.reverse(network, asker, ip) {
            let mut resp = response_to(&q, ResponseCode::NoError);
            resp.metadata.authoritative = true;
            if matches!(qtype, RecordType::PTR | RecordType::ANY) {
                let t = Name::from_ascii(format!("{target}.")).ok()?;
                resp.add_answer(Record::from_rdata(qname, TTL, RData::PTR(PTR(t))));
            }
            return encode(&q, resp, tcp).map(Local::Answer);
        }
    } else {
        let ips = shared.resolve(network, asker, &name);
        if !ips.is_empty() {
            let mut resp = response_to(&q, ResponseCode::NoError);
            resp.metadata.authoritative = true;
            if matches!(qtype, RecordType::A | RecordType::ANY) {
                for (ip, _) in &ips {
                    resp.add_answer(Record::from_rdata(qname.clone(), TTL, RData::A(A(*ip))));
                }
            }
            if matches!(qtype, RecordType::AAAA | RecordType::ANY) {
                for ip in ips.iter().filter_map(|(_, ip6)| *ip6) {
                    let rd = RData::AAAA(AAAA(ip));
                    resp.add_answer(Record::from_rdata(qname.clone(), TTL, rd));
                }
            }
            // Other types (and AAAA for IPv4-only containers): no data, but the name exists.
            return encode(&q, resp, tcp).map(Local::Answer);
        }
    }
    if shared.is_internal(network) {
        return encode(&q, response_to(&q, ResponseCode::ServFail), tcp).map(Local::Answer);
    }
    Some(Local::Forward)
}

/// The address of a reverse name of either family (`4.3.2.1.in-addr.arpa`, or the 32 nibbles
/// of an `ip6.arpa` one).
fn parse_reverse(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<u8> = rest
            .split('.')
            .map(|p| {
                (p.len() == 1)
                    .then(|| u8::from_str_radix(p, 16).ok())
                    .flatten()
            })
            .collect::<Option<Vec<_>>>()?;
        if nibbles.len() != 32 {
            return None;
        }
        let v = nibbles
            .iter()
            .rev()
            .fold(0u128, |acc, n| (acc << 4) | *n as u128);
        return Some(IpAddr::V6(Ipv6Addr::from(v)));
    }
    parse_reverse4(name).map(IpAddr::V4)
}

fn parse_reverse4(name: &str) -> Option<Ipv4Addr> {
    let rest = name.strip_suffix(".in-addr.arpa")?;
    let parts: Vec<u8> = rest
        .split('.')
        .map(|p| p.parse::<u8>().ok())
        .collect::<Option<Vec<_>>>()?;
    if parts.len() != 4 {
        return None;
    }
    Some(Ipv4Addr::new(parts[3], parts[2], parts[1], parts[0]))
}

/// Forward a query verbatim to the upstreams in turn; SERVFAIL when none answers.
async fn forward(
    shared: &Shared,
    network: &str,
    asker: IpAddr,
    query: &[u8],
    tcp: bool,
) -> Option<Vec<u8>> {
    let own = shared
        .records
        .read()
        .unwrap()
        .nets
        .get(network)
        .and_then(|es| es.iter().find(|e| e.has(asker)))
        .map(|e| e.upstreams.clone())
        .unwrap_or_default();
    let upstreams = if own.is_empty() {
        shared.upstreams.read().unwrap().clone()
    } else {
        own
    };
    let per_try = shared.timeout / (upstreams.len().max(1) as u32);
    for up in upstreams {
        let res = if tcp {
            forward_tcp(up, query, per_try).await
        } else {
            forward_udp(up, query, per_try).await
        };
        if let Ok(r) = res {
            return Some(r);
        }
    }
    let q = Message::from_vec(query).ok()?;
    encode(&q, response_to(&q, ResponseCode::ServFail), tcp)
}

async fn forward_udp(up: SocketAddr, query: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let bind: SocketAddr = if up.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(up).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; 65535];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = tokio::time::timeout_at(deadline, sock.recv(&mut buf))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        // The reply must carry the query's id.
        if n >= 2 && query.len() >= 2 && buf[..2] == query[..2] {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn forward_tcp(up: SocketAddr, query: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect(up).await?;
        let mut out = Vec::with_capacity(query.len() + 2);
        out.extend_from_slice(&(query.len() as u16).to_be_bytes());
        out.extend_from_slice(query);
        s.write_all(&out).await?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await?;
        let mut resp = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut resp).await?;
        Ok(resp)
    })
    .await
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// Build a wire-format query (for tests, benchmarks and health checks).
pub fn build_query(name: &str, qtype: RecordType, id: u16) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    let n = Name::from_ascii(if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    })
    .expect("valid name");
    m.add_query(hickory_proto::op::Query::query(n, qtype));
    m.to_vec().expect("encodable query")
}

/// Decode a response into (rcode, A addresses).
pub fn parse_a_response(bytes: &[u8]) -> Option<(ResponseCode, Vec<Ipv4Addr>)> {
    let m = Message::from_vec(bytes).ok()?;
    let ips = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    Some((m.metadata.response_code, ips))
}

#[cfg(test)]
mod tests;
