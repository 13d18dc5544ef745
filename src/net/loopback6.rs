//! `[::1]` for published ports of dual-stack networks: the connections that reach the daemon's
//! `[::]` hold of a mapping, forwarded to the container in userland.
//!
//! Why userland for this one address: IPv6 has no `route_localnet`, so a packet from `::1`
//! that the output hook DNATs to a container is dropped by the kernel (kube-proxy has the same
//! limit). Every other IPv6 address of the host is DNATed in the kernel before the hold could
//! see it (see [`super::firewall`]); only loopback clients get here, which is what
//! docker-proxy does for them too.
//!
//! One thread accepts per armed hold (std, blocking: the hold must be released the moment it is
//! dropped, which a thread joined in `Drop` gives and a runtime task does not), and two threads
//! copy each connection. Dropping the [`Forwarder`] shuts the listener down (which wakes the
//! `accept`), joins the thread, and leaves the connections under way to finish.

use std::io;
use std::net::{Shutdown, SocketAddr, SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use std::time::Duration;

const STACK: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The accepting thread of one hold.
#[derive(Debug)]
pub struct Forwarder {
    listener: TcpListener,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    /// Accept on `listener` (listening already) and forward each connection to `target`.
    pub fn start(listener: &socket2::Socket, target: SocketAddrV6) -> io::Result<Self> {
        let listener: TcpListener = listener.try_clone()?.into();
        let accepting = listener.try_clone()?;
        let thread = std::thread::Builder::new()
            .name("wharf-lo6".into())
            .stack_size(STACK)
            .spawn(move || accept_loop(accepting, target))?;
        Ok(Forwarder {
            listener,
            thread: Some(thread),
        })
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        // shutdown(2) on a listening socket makes the blocked accept return (EINVAL).
        let _ =
            nix::sys::socket::shutdown(self.listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, target: SocketAddrV6) {
    loop {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = std::thread::Builder::new()
                    .name("wharf-lo6c".into())
                    .stack_size(STACK)
                    .spawn(move || forward(client, target));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
            // Shut down (or broken): stop.
            Err(_) => return,
        }
    }
}

/// Copy both ways between `client` and a new connection to `target` until both sides end.
fn forward(client: TcpStream, target: SocketAddrV6) {
    let Ok(upstream) = TcpStream::connect_timeout(&SocketAddr::V6(target), CONNECT_TIMEOUT) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let back = std::thread::Builder::new()
        .name("wharf-lo6c".into())
        .stack_size(STACK)
        .spawn(move || pipe(u2, c2));
    pipe(client, upstream);
    if let Ok(t) = back {
        let _ = t.join();
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
