//! A process's terminal, made inside the container's own `devpts` (as runc does) rather than
//! on the host: `tty` then names a `/dev/pts/N` that exists in the container, and no host pty
//! device is visible in it. The process that makes it (the container's first process before
//! `execve`, or the `nsexec` helper) keeps the slave as its stdio and hands the master to the
//! side that carries the I/O (the supervisor, the daemon) over a UNIX socket (`SCM_RIGHTS`).

use std::io::IoSlice;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};

/// A new pty of the container's `devpts`.
pub struct Console {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// The slave's path inside the container (`/dev/pts/N`).
    pub slave_path: PathBuf,
}

/// Open a new pty through `/dev/ptmx` of the current root (the container's, whose `/dev/ptmx`
/// leads to its own `devpts` instance). Both ends are close-on-exec; the caller dups the slave
/// onto its stdio.
pub fn open() -> nix::Result<Console> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let slave_path = PathBuf::from(nix::pty::ptsname_r(&master)?);
    let slave = nix::fcntl::open(
        &slave_path,
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    Ok(Console {
        master,
        slave,
        slave_path,
    })
}

/// A connected pair for handing a master over: `(keep, give)`, both close-on-exec.
pub fn socket_pair() -> nix::Result<(OwnedFd, OwnedFd)> {
    socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::Stream,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )
}

/// Send `fd` over the UNIX socket `sock`.
pub fn send_fd(sock: RawFd, fd: RawFd) -> nix::Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    socket::sendmsg::<()>(sock, &[IoSlice::new(b"c")], &cmsg, MsgFlags::empty(), None)?;
    Ok(())
}

/// Receive the descriptor sent by [`send_fd`]; `None` when the sender closed the socket first
/// (it failed before making the terminal). Blocks until one or the other.
pub fn recv_fd(sock: RawFd) -> nix::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match socket::recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other?,
        }
    };
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            let mut fds = fds.into_iter();
            // SAFETY: the kernel installed these descriptors for us.
            let first = fds.next().map(|f| unsafe { OwnedFd::from_raw_fd(f) });
            for extra in fds {
                let _ = nix::unistd::close(extra);
            }
            return Ok(first);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn a_descriptor_crosses_the_socket_and_a_closed_sender_is_none() {
        let (keep, give) = socket_pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send_fd(give.as_raw_fd(), w.as_raw_fd()).unwrap();
        drop(w);
        let got = recv_fd(keep.as_raw_fd()).unwrap().expect("a descriptor");
        nix::unistd::write(&got, b"x").unwrap();
        let mut b = [0u8; 1];
        assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut b).unwrap(), 1);
        drop(give);
        assert!(recv_fd(keep.as_raw_fd()).unwrap().is_none());
    }
}
