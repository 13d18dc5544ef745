//! The container's stdio: its output read into the json-file log and copied to attached
//! clients (Docker's 8-byte stream framing unless there is a TTY), the stdin that attached
//! clients write buffered towards it, and the descriptor helpers the supervisor needs.

use std::os::fd::{AsRawFd, BorrowedFd};

use super::{Io, Supervisor};

impl Supervisor {
    pub(super) fn read_output(&mut self, stream: u8) {
        let mut buf = [0u8; 32 * 1024];
        loop {
            let fd = match (&self.io, stream) {
                (
                    Some(Io::Pipes {
                        stdout: Some(f), ..
                    }),
                    1,
                ) => f.as_raw_fd(),
                (
                    Some(Io::Pipes {
                        stderr: Some(f), ..
                    }),
                    2,
                ) => f.as_raw_fd(),
                (Some(Io::Tty { master: Some(m) }), _) => m.as_raw_fd(),
                _ => return,
            };
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EIO) => {
                    self.close_output(stream);
                    return;
                }
                Ok(n) => self.output(stream, &buf[..n]),
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    self.close_output(stream);
                    return;
                }
            }
        }
    }

    pub(super) fn close_output(&mut self, stream: u8) {
        match &mut self.io {
            Some(Io::Pipes { stdout, stderr, .. }) => {
                if stream == 1 {
                    *stdout = None;
                } else {
                    *stderr = None;
                }
            }
            Some(Io::Tty { master }) => *master = None,
            Some(Io::TtyToCome { .. }) | None => {}
        }
    }

    pub(super) fn output(&mut self, stream: u8, data: &[u8]) {
        let _ = self.lines.write(&mut self.log, stream, data);
        let tty = self.cfg.spec.process.tty;
        for c in &mut self.clients {
            if c.wants(stream) {
                if !tty {
                    let mut header = [0u8; 8];
                    header[0] = stream;
                    header[4..].copy_from_slice(&(data.len() as u32).to_be_bytes());
                    c.outbuf.extend_from_slice(&header);
                }
                c.outbuf.extend_from_slice(data);
                c.flush();
                if c.outbuf.len() > 8 * 1024 * 1024 {
                    // A client that does not read loses its attachment, not the container.
                    c.dead = true;
                }
            }
        }
    }

    pub(super) fn stdin_fd(&self) -> Option<i32> {
        match &self.io {
            Some(Io::Pipes { stdin: Some(f), .. }) => Some(f.as_raw_fd()),
            Some(Io::Tty { master: Some(m) }) => Some(m.as_raw_fd()),
            _ => None,
        }
    }

    pub(super) fn flush_stdin(&mut self) {
        let Some(fd) = self.stdin_fd() else {
            if !matches!(self.io, Some(Io::TtyToCome { .. })) {
                self.stdin_buf.clear();
            }
            return;
        };
        while !self.stdin_buf.is_empty() {
            // SAFETY: fd is open and owned by self.io.
            match nix::unistd::write(unsafe { BorrowedFd::borrow_raw(fd) }, &self.stdin_buf) {
                Ok(n) => {
                    self.stdin_buf.drain(..n);
                }
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    self.stdin_buf.clear();
                    return;
                }
            }
        }
        if self.close_stdin_pending {
            self.close_stdin_now();
        }
    }

    pub(super) fn close_stdin_when_flushed(&mut self) {
        self.close_stdin_pending = true;
        if self.stdin_buf.is_empty() {
            self.close_stdin_now();
        }
    }

    pub(super) fn close_stdin_now(&mut self) {
        self.close_stdin_pending = false;
        if let Some(Io::Pipes { stdin, .. }) = &mut self.io {
            *stdin = None;
        }
    }
}

pub(super) fn set_nonblocking(fd: i32) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

/// Move stdin (the daemon's link) to a close-on-exec descriptor, so no container or probe
/// inherits it, and leave /dev/null in its place.
/// A spare's config: the path on the first line of stdin (read a byte at a time: the rest of
/// stdin is the daemon's link). Its `supervisor.log`, beside it, becomes our stderr. None at
/// EOF (the daemon is gone).
pub(super) fn config_from_stdin() -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(0, &mut b) {
            Ok(1) if b[0] == b'\n' => break,
            Ok(1) => line.push(b[0]),
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return None,
        }
    }
    let path = std::path::PathBuf::from(std::ffi::OsString::from_vec(line));
    if let Some(dir) = path.parent() {
        if let Ok(log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("supervisor.log"))
        {
            let _ = nix::unistd::dup2(log.as_raw_fd(), 2);
        }
    }
    Some(path)
}

pub(super) fn take_stdin() -> Option<std::fs::File> {
    use nix::fcntl::{fcntl, FcntlArg};
    let fd = fcntl(0, FcntlArg::F_DUPFD_CLOEXEC(3)).ok()?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that nothing else owns.
    let link = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    if let Ok(devnull) = std::fs::File::open("/dev/null") {
        let _ = nix::unistd::dup2(devnull.as_raw_fd(), 0);
    }
    set_nonblocking(fd);
    Some(link)
}
