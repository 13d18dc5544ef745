//! Networking through the engine: the default bridge, user networks with DNS by name and
//! alias, isolation, connect/disconnect, published ports (TCP, UDP, -P, conflicts), internal
//! networks, a daemon restart keeping addresses and ports, and teardown leaving nothing.

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;

use std::process::Command;
use std::time::Duration;

use common::Wharf;

fn net_base(w: &Wharf) -> String {
    // Inside this engine's pool (see the harness): 4 /24s.
    format!("10.{}.{}", 220 + w.slot / 64, (w.slot % 64) * 4)
}

/// curl with retries: a server in a just-started container may not listen yet.
fn curl_retry(url: &str) -> std::process::Output {
    let start = std::time::Instant::now();
    loop {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "5", url])
            .output()
            .unwrap();
        if out.status.success() || start.elapsed() > Duration::from_secs(5) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn host_links(prefix: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or("").to_string())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn default_bridge_user_networks_dns_and_isolation() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    // The default bridge: an address in `bip`, a default route, no DNS by name.
    let addr = w.ok(&[
        "run",
        "--rm",
        "box",
        "sh",
        "-c",
        "ip -4 -o addr show eth0 | awk '{print $4}'",
    ]);
    assert!(addr.starts_with(&format!("10.214.{}.", w.slot)), "{addr}");
    let base = net_base(&w);
    w.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("{base}.0/24"),
        "backend",
    ]);
    w.ok(&[
        "network",
        "create",
        "--subnet",
        &format!(
            "{}.{}.0/24",
            base.rsplit_once('.').unwrap().0,
            base.rsplit('.').next().unwrap().parse::<u32>().unwrap() + 1
        ),
        "other",
    ]);
    let (_, err) = w.fails(&[
        "network",
        "create",
        "--subnet",
        &format!("{base}.0/24"),
        "clash",
    ]);
    assert!(err.to_lowercase().contains("overlap"), "{err}");
    w.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "backend",
        "--network-alias",
        "database",
        "box",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/etc",
    ]);
    // By alias and by name, over the embedded DNS.
    let got = w.ok(&[
        "run",
        "--rm",
        "--network",
        "backend",
        "box",
        "wget",
        "-qO-",
        "http://database:8080/hostname",
    ]);
    assert_eq!(got.trim().len(), 12);
    w.ok(&[
        "run",
        "--rm",
        "--network",
        "backend",
        "box",
        "wget",
        "-qO-",
        "http://db:8080/hostname",
    ]);
    // Several containers under one alias: every address comes back.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "db2",
        "--network",
        "backend",
        "--network-alias",
        "database",
        "box",
        "sleep",
        "60",
    ]);
    let answers = w.ok(&[
        "run",
        "--rm",
        "--network",
        "backend",
        "box",
        "nslookup",
        "database",
    ]);
    assert!(
        answers.matches(&format!("Address: {base}.")).count() >= 2,
        "{answers}"
    );
    // Another network cannot resolve or reach them.
    // (busybox's `wget -T` crashes on refused connections: `nc -w` probes reachability.)
    w.fails(&[
        "run",
        "--rm",
        "--network",
        "other",
        "box",
        "nslookup",
        "database",
    ]);
    let db_ip = w.inspect("db", "{{.NetworkSettings.Networks.backend.IPAddress}}");
    w.fails(&[
        "run",
        "--rm",
        "--network",
        "other",
        "box",
        "nc",
        "-w",
        "2",
        &db_ip,
        "8080",
    ]);
    // connect / disconnect a running container.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "other",
        "box",
        "sleep",
        "60",
    ]);
    w.fails(&["exec", "client", "nc", "-w", "2", &db_ip, "8080"]);
    w.ok(&["network", "connect", "backend", "client"]);
    w.ok(&["exec", "client", "wget", "-qO-", "http://db:8080/hostname"]);
    w.ok(&["network", "disconnect", "backend", "client"]);
    w.fails(&["exec", "client", "nc", "-w", "2", &db_ip, "8080"]);
    // A network in use cannot go; the message names its containers.
    let (_, err) = w.fails(&["network", "rm", "backend"]);
    assert!(
        err.contains("db") && err.contains("active endpoints"),
        "{err}"
    );
    let (_, err) = w.fails(&["run", "--rm", "--network", "nosuchnet", "box", "true"]);
    assert!(err.contains("network nosuchnet not found"), "{err}");
    w.ok(&["rm", "-f", "db", "db2", "client"]);
    w.ok(&["network", "rm", "backend", "other"]);
}

#[test]
fn published_ports_udp_internal_and_restart() {
    let w = Wharf::new();
    w.busybox_image("box", &["EXPOSE 7000"]);
    let port = 20000 + w.slot as u16 * 10;
    let p = format!("127.0.0.1:{port}:8080");
    w.ok(&[
        "run", "-d", "--name", "web", "-p", &p, "box", "httpd", "-f", "-p", "8080", "-h", "/etc",
    ]);
    let url = format!("http://127.0.0.1:{port}/hostname");
    let body = curl_retry(&url);
    assert_eq!(
        String::from_utf8_lossy(&body.stdout).trim().len(),
        12,
        "{body:?}"
    );
    assert_eq!(
        w.ok(&["port", "web"]).trim(),
        format!("8080/tcp -> 127.0.0.1:{port}")
    );
    assert!(w
        .ok(&["ps"])
        .contains(&format!("127.0.0.1:{port}->8080/tcp")));
    // The same port again: a clear conflict naming it.
    let (_, err) = w.fails(&[
        "run", "-d", "--name", "web2", "-p", &p, "box", "sleep", "60",
    ]);
    assert!(err.contains(&port.to_string()), "{err}");
    w.ok(&["rm", "-f", "web2"]);
    // A host range for one container port (Docker picks one of it) is refused before
    // anything is created, and so is a range mismatch.
    let (code, err) = w.fails(&["run", "-d", "-p", "8000-8010:80", "box", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("8000-8010"), "{err}");
    let (code, err) = w.fails(&["run", "-d", "-p", "8000-8002:80-81", "box", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("differ in size"), "{err}");
    // UDP.
    let uport = port + 1;
    // busybox-static has no UDP server: run the host's Python through its own loader.
    let server = "import socket,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 9000)); open('/tmp/ready','w').write('1'); d,a=s.recvfrom(100); open('/tmp/got','wb').write(d); time.sleep(60)";
    w.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-p",
        &format!("127.0.0.1:{uport}:9000/udp"),
        "-v",
        "/usr:/hostusr:ro",
        "box",
        "/hostusr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "--library-path",
        "/hostusr/lib/x86_64-linux-gnu",
        "/hostusr/bin/python3",
        "-c",
        server,
    ]);
    let start = std::time::Instant::now();
    while w
        .output(&["exec", "udp", "cat", "/tmp/ready"])
        .stdout
        .is_empty()
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the UDP server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(b"ping-udp\n", ("127.0.0.1", uport)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(w.ok(&["exec", "udp", "cat", "/tmp/got"]), "ping-udp\n");
    // -P: the image's EXPOSEd port on an ephemeral host port.
    w.ok(&["run", "-d", "--name", "all", "-P", "box", "sleep", "60"]);
    let mapped = w.ok(&["port", "all"]);
    assert!(mapped.starts_with("7000/tcp -> 0.0.0.0:"), "{mapped}");
    // Internal networks: no way out, but containers on them talk.
    let base = net_base(&w);
    w.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        &format!("{base}.0/24"),
        "sealed",
    ]);
    let routes = w.ok(&["run", "--rm", "--network", "sealed", "box", "ip", "route"]);
    assert!(!routes.contains("default"), "{routes}");
    // Daemon killed and restarted: the container keeps its address, port and name.
    let ip = w.inspect("web", "{{.NetworkSettings.IPAddress}}");
    unsafe { libc::kill(w.daemon_pid().unwrap(), libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(300));
    let body = Command::new("curl")
        .args(["-s", "--max-time", "5", &url])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&body.stdout).trim().len(),
        12,
        "ports keep working without the daemon"
    );
    assert_eq!(w.inspect("web", "{{.NetworkSettings.IPAddress}}"), ip);
    w.ok(&["run", "-d", "--name", "peer", "box", "sleep", "60"]);
    // Stop removes the forwarding; start brings it back.
    w.ok(&["stop", "-t", "1", "web"]);
    let body = Command::new("curl")
        .args(["-s", "--max-time", "2", &url])
        .output()
        .unwrap();
    assert!(!body.status.success());
    w.ok(&["start", "web"]);
    std::thread::sleep(Duration::from_millis(200));
    let body = curl_retry(&url);
    assert!(body.status.success());
    w.ok(&["rm", "-f", "web", "udp", "all", "peer"]);
    w.ok(&["network", "rm", "sealed"]);
}

#[test]
fn teardown_leaves_nothing() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let prefix = format!("w{:03}", w.slot);
    let base = net_base(&w);
    w.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("{base}.0/24"),
        "n1",
    ]);
    w.ok(&[
        "run",
        "-d",
        "--name",
        "a",
        "--network",
        "n1",
        "-p",
        &format!("127.0.0.1:{}:80", 21000 + w.slot),
        "box",
        "sleep",
        "60",
    ]);
    w.ok(&["run", "-d", "--name", "b", "box", "sleep", "60"]);
    assert!(host_links(&prefix).len() >= 4, "{:?}", host_links(&prefix));
    let table = format!("wharf_t{:03}", w.slot);
    let nft = Command::new("nft")
        .args(["list", "table", "inet", &table])
        .output()
        .unwrap();
    assert!(nft.status.success());
    w.ok(&["rm", "-f", "a", "b"]);
    w.ok(&["network", "rm", "n1"]);
    w.ok(&["daemon", "stop"]);
    // Veth deletion finishes in the background of the daemon; it has stopped now.
    assert!(host_links(&prefix).is_empty(), "{:?}", host_links(&prefix));
    let nft = Command::new("nft")
        .args(["list", "table", "inet", &table])
        .output()
        .unwrap();
    assert!(!nft.status.success(), "the nftables table is still there");
    let routes = Command::new("ip").args(["-4", "route"]).output().unwrap();
    let routes = String::from_utf8_lossy(&routes.stdout);
    assert!(
        !routes.contains(&format!("10.214.{}.", w.slot)) && !routes.contains(&format!("{base}.")),
        "{routes}"
    );
    let netns: Vec<_> = std::fs::read_dir(w.run_root.join("netns"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(netns.is_empty(), "{netns:?}");
}

fn link_mac(name: &str) -> String {
    std::fs::read_to_string(format!("/sys/class/net/{name}/address"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn bridge_mac_stays_fixed_as_containers_come_and_go() {
    // A Linux bridge takes the lowest MAC of its ports unless one is set: then the containers'
    // ARP entries for the gateway go stale whenever membership changes.
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let base = net_base(&w);
    w.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("{base}.0/24"),
        "steady",
    ]);
    // The bridge is the link holding the gateway address (Options only echo what was set).
    let addrs = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .unwrap();
    let bridge = String::from_utf8_lossy(&addrs.stdout)
        .lines()
        .find(|l| l.contains(&format!(" {base}.1/24 ")))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("a link with the gateway address")
        .to_string();
    let gw: Vec<u8> = format!("{base}.1")
        .split('.')
        .map(|o| o.parse().unwrap())
        .collect();
    let want = format!(
        "02:42:{:02x}:{:02x}:{:02x}:{:02x}",
        gw[0], gw[1], gw[2], gw[3]
    );
    assert_eq!(link_mac(&bridge), want);
    w.ok(&[
        "run",
        "-d",
        "--name",
        "a",
        "--network",
        "steady",
        "box",
        "sleep",
        "60",
    ]);
    assert_eq!(link_mac(&bridge), want);
    w.ok(&["run", "--rm", "--network", "steady", "box", "true"]);
    w.ok(&["rm", "-f", "a"]);
    assert_eq!(link_mac(&bridge), want);
    w.ok(&["network", "rm", "steady"]);
}

/// A python3 process listening on `0.0.0.0:port` (TCP), started by the test: what a user's
/// server holding the port looks like. Killed on drop.
struct ForeignListener(std::process::Child);

impl ForeignListener {
    fn start(port: u16) -> ForeignListener {
        use std::io::BufRead;
        let code = format!(
            "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', {port}))\ns.listen()\nprint('ready', flush=True)\ntime.sleep(120)"
        );
        let mut child = Command::new("/usr/bin/python3")
            .args(["-c", &code])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the python3 listener did not start");
        ForeignListener(child)
    }
}

impl Drop for ForeignListener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether another program could take `port` now (a bind with SO_REUSEADDR, as servers do).
fn can_bind(proto: &str, port: u16) -> bool {
    match proto {
        "tcp" => std::net::TcpListener::bind(("0.0.0.0", port)).is_ok(),
        _ => std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok(),
    }
}

/// `ss` lines of the TCP listeners on `port`: `Recv-Q` (the accept queue) and the process.
fn listeners(port: u16) -> Vec<String> {
    let out = Command::new("ss")
        .args(["-Hltnp", &format!("sport = :{port}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The host's address on its default route (192.0.2.2 here), if it has one.
fn host_address() -> Option<String> {
    let out = Command::new("ip")
        .args(["-4", "route", "get", "1.1.1.1"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut it = text.split_whitespace();
    it.find(|w| *w == "src")?;
    it.next().map(str::to_string)
}

#[test]
fn published_ports_hold_their_host_port() {
    let w = Wharf::new();
    w.busybox_image("box", &["EXPOSE 7000"]);
    let port = 20000 + w.slot as u16 * 10 + 5;
    let p = format!("{port}:8080");
    // Taken by another program: `run` fails, naming it.
    let holder = ForeignListener::start(port);
    let (code, err) = w.fails(&[
        "run", "-d", "--name", "clash", "-p", &p, "box", "sleep", "60",
    ]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains(&format!("port {port}/tcp"))
            && err.contains(&format!("python3 (pid {})", holder.0.id())),
        "{err}"
    );
    // The same through compose's `up`.
    let yaml = format!(
        "services:\n  web:\n    image: box\n    command: [\"sleep\", \"60\"]\n    ports: [\"{port}:8080\"]\n"
    );
    let proj = compose_helpers::Proj::new(&w, "clash", &yaml);
    let (_, _, err) = proj.fails(&["up", "-d"]);
    assert!(
        err.contains(&format!("port {port}/tcp"))
            && err.contains(&format!("python3 (pid {})", holder.0.id())),
        "{err}"
    );
    proj.ok(&["down"]);
    drop(holder);
    let _ = w.output(&["rm", "-f", "clash"]);
    // Published: wharf's daemon holds the port, nothing else can take it.
    w.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &p,
        "-p",
        &format!("{}:9000/udp", port + 1),
        "box",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/etc",
    ]);
    let hostname = w.inspect("web", "{{.Config.Hostname}}");
    assert!(!can_bind("tcp", port), "a program took the published port");
    assert!(
        !can_bind("udp", port + 1),
        "a program took the published UDP port"
    );
    let held = listeners(port);
    let daemon = w.daemon_pid().unwrap();
    assert!(
        held.len() == 1 && held[0].contains(&format!("pid={daemon},")),
        "{held:?}"
    );
    // The traffic goes to the container, never to the held socket: from 127.0.0.1 (output
    // DNAT), from the host's address, and from a container through the host's addresses
    // (hairpin: also the container to its own published port).
    let mut urls = vec![format!("http://127.0.0.1:{port}/hostname")];
    let host = host_address();
    if let Some(h) = &host {
        urls.push(format!("http://{h}:{port}/hostname"));
    }
    for _ in 0..3 {
        for url in &urls {
            let body = curl_retry(url);
            assert_eq!(
                String::from_utf8_lossy(&body.stdout).trim(),
                hostname,
                "{url}: {body:?}"
            );
        }
    }
    let gateway = w.inspect("web", "{{.NetworkSettings.Gateway}}");
    w.ok(&["run", "-d", "--name", "peer", "box", "sleep", "60"]);
    for addr in std::iter::once(&gateway).chain(host.iter()) {
        let url = format!("http://{addr}:{port}/hostname");
        for who in ["web", "peer"] {
            // (busybox's `wget -T` crashes here: without it, a failure would hang the test.)
            let got = w.ok(&["exec", who, "wget", "-qO-", &url]);
            assert_eq!(got.trim(), hostname, "{who} → {url}");
        }
    }
    // No connection ever queued on the held socket.
    let held = listeners(port);
    let recv_q = held[0].split_whitespace().nth(1).unwrap_or("?").to_string();
    assert_eq!(recv_q, "0", "{held:?}");
    // -P: the port the kernel picked is held the same way.
    w.ok(&["run", "-d", "--name", "all", "-P", "box", "sleep", "60"]);
    let mapped = w.ok(&["port", "all"]);
    let eph: u16 = mapped
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{mapped}"));
    assert!(!can_bind("tcp", eph), "{mapped}");
    // A daemon restart: the next daemon takes the ports again.
    unsafe { libc::kill(daemon, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(300));
    w.ok(&["ps"]);
    let again = w.daemon_pid().unwrap();
    assert_ne!(again, daemon);
    let held = listeners(port);
    assert!(
        held.len() == 1 && held[0].contains(&format!("pid={again},")),
        "{held:?}"
    );
    assert!(!can_bind("udp", port + 1) && !can_bind("tcp", eph));
    let body = curl_retry(&urls[0]);
    assert_eq!(String::from_utf8_lossy(&body.stdout).trim(), hostname);
    // Stopped: released (and taken again at start); removed: free.
    w.ok(&["stop", "-t", "1", "all"]);
    assert!(can_bind("tcp", eph));
    w.ok(&["rm", "-f", "web", "all", "peer"]);
    assert!(can_bind("tcp", port) && can_bind("udp", port + 1));
    assert!(listeners(port).is_empty());
}
