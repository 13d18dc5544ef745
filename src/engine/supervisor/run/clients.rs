//! The control socket: connections accepted, each one's request line parsed and answered by
//! one handler per request kind, then the connection kept as an `events` or `attach` stream or
//! closed once its reply is out. Also the daemon's link (our stdin), whose hang-up before the
//! first start abandons it.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{Client, ClientKind, Io, Supervisor};
use crate::engine::runtime::tty::set_winsize;
use crate::engine::supervisor::protocol::{EventLine, Reply, Request};
use crate::engine::supervisor::RunStatus;

impl Supervisor {
    pub(super) fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(true);
            self.clients.push(Client {
                stream,
                kind: ClientKind::New,
                inbuf: Vec::new(),
                outbuf: Vec::new(),
                eof: false,
                dead: false,
            });
        }
    }

    pub(super) fn read_client(&mut self, i: usize) {
        let mut buf = [0u8; 16 * 1024];
        let n = match self.clients[i].stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => 0,
        };
        let kind_is_new = self.clients[i].kind == ClientKind::New;
        if n == 0 {
            // The peer closed (or half-closed) its side: no more input, output may continue.
            let c = &mut self.clients[i];
            c.eof = true;
            match c.kind {
                ClientKind::Attach {
                    stdin,
                    stdout,
                    stderr,
                } => {
                    c.kind = ClientKind::Attach {
                        stdin: false,
                        stdout,
                        stderr,
                    };
                    if !stdout && !stderr {
                        c.dead = true;
                    }
                    if stdin && self.cfg.stdin_once {
                        self.close_stdin_when_flushed();
                    }
                }
                ClientKind::Events => {}
                _ => c.dead = true,
            }
            return;
        }
        if kind_is_new {
            self.clients[i].inbuf.extend_from_slice(&buf[..n]);
            if let Some(pos) = self.clients[i].inbuf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.clients[i].inbuf.drain(..=pos).collect();
                let rest = std::mem::take(&mut self.clients[i].inbuf);
                match serde_json::from_slice::<Request>(&line) {
                    Ok(req) => self.handle_request(i, req),
                    Err(e) => self.reply(
                        i,
                        Reply {
                            ok: false,
                            message: Some(format!("bad request: {e}")),
                            ..Default::default()
                        },
                    ),
                }
                if !rest.is_empty() {
                    self.client_input(i, &rest);
                }
            }
        } else {
            self.client_input(i, &buf[..n]);
        }
    }

    pub(super) fn client_input(&mut self, i: usize, data: &[u8]) {
        if let ClientKind::Attach { stdin: true, .. } = self.clients[i].kind {
            self.stdin_buf.extend_from_slice(data);
            self.flush_stdin();
        }
    }

    pub(super) fn reply(&mut self, i: usize, reply: Reply) {
        let c = &mut self.clients[i];
        c.send_line(&reply);
        c.kind = ClientKind::Closing;
        c.flush();
    }

    /// One request, by kind. Each handler leaves the client in its next state: closing after a
    /// one-shot reply, or streaming (`events`, `attach`).
    pub(super) fn handle_request(&mut self, i: usize, req: Request) {
        match req {
            Request::Go => {
                let reply = self.go();
                self.reply(i, reply);
            }
            Request::Events => self.stream_events(i),
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => self.attach(i, stdin, stdout, stderr),
            Request::Stop {
                signal,
                timeout_secs,
            } => {
                self.stop(signal, timeout_secs);
                self.reply(i, Reply::ok());
            }
            Request::Kill { signal } => {
                let reply = self.kill(signal);
                self.reply(i, reply);
            }
            Request::Resize { height, width } => {
                self.resize(height, width);
                self.reply(i, Reply::ok());
            }
            Request::SetRestartPolicy { restart } => {
                self.cfg.restart = restart;
                self.reply(i, Reply::ok());
            }
            Request::SetPaused { paused } => {
                self.set_paused(paused);
                self.reply(i, Reply::ok());
            }
        }
    }

    /// `go`: release the first start (once; later ones only report the pid).
    fn go(&mut self) -> Reply {
        let Some(started) = self.waiting_go.take() else {
            return Reply {
                ok: true,
                pid: self.pid.map(|p| p.as_raw()),
                ..Default::default()
            };
        };
        match self.release(started) {
            Ok(pid) => Reply {
                ok: true,
                pid: Some(pid.as_raw()),
                ..Default::default()
            },
            Err(e) => {
                // A failed first start ends supervision: nothing runs.
                self.state.status = RunStatus::Created;
                self.save_state();
                self.publish(None);
                self.finished = true;
                Reply {
                    ok: false,
                    exit_code: Some(e.exit_code),
                    message: Some(e.message),
                    pid: None,
                }
            }
        }
    }

    /// `events`: the state now, then a line for every change.
    fn stream_events(&mut self, i: usize) {
        let line = EventLine {
            action: None,
            state: self.state.clone(),
        };
        let c = &mut self.clients[i];
        c.kind = ClientKind::Events;
        c.send_line(&line);
        c.flush();
    }

    /// `attach`: one reply line, then the streams asked for (stdin only if the container keeps
    /// it open).
    fn attach(&mut self, i: usize, stdin: bool, stdout: bool, stderr: bool) {
        let c = &mut self.clients[i];
        c.send_line(&Reply::ok());
        c.kind = ClientKind::Attach {
            stdin: stdin && self.cfg.open_stdin,
            stdout,
            stderr,
        };
        c.flush();
    }

    /// `stop`: the signal now, SIGKILL after the timeout; no restart follows.
    fn stop(&mut self, signal: i32, timeout_secs: i64) {
        self.state.stopped_by_user = true;
        if self.waiting_go.is_some() {
            self.abandon_unstarted();
        } else if self.restart_at.take().is_some() {
            // Waiting to restart: the container is already down.
            self.final_exit();
        } else if let Some(pid) = self.pid {
            let _ = self.thaw();
            let _ =
                nix::sys::signal::kill(pid, Signal::try_from(signal).unwrap_or(Signal::SIGTERM));
            if timeout_secs >= 0 {
                self.kill_at = Some(Instant::now() + Duration::from_secs(timeout_secs as u64));
            }
        }
        self.save_state();
    }

    /// `kill`: a signal to the running container; a container waiting to restart stays down.
    fn kill(&mut self, signal: i32) -> Reply {
        if self.waiting_go.is_some() {
            self.abandon_unstarted();
        }
        let Some(pid) = self.pid else {
            if self.restart_at.take().is_some() {
                self.state.stopped_by_user = true;
                self.final_exit();
            }
            return Reply::ok();
        };
        self.state.stopped_by_user = true;
        if signal == libc::SIGKILL {
            let _ = self.thaw();
        }
        match Signal::try_from(signal) {
            Ok(sig) => {
                let _ = nix::sys::signal::kill(pid, sig);
                Reply::ok()
            }
            Err(_) => Reply {
                ok: false,
                message: Some(format!("invalid signal {signal}")),
                ..Default::default()
            },
        }
    }

    /// `resize`: the TTY's window size (nothing without a TTY).
    fn resize(&self, height: u16, width: u16) {
        if let Some(Io::Tty { master: Some(m) }) = &self.io {
            set_winsize(m.as_raw_fd(), height, width);
        }
    }

    /// `set_paused`: the daemon froze or thawed the cgroup; the state follows.
    fn set_paused(&mut self, paused: bool) {
        if self.pid.is_some() {
            self.state.status = if paused {
                RunStatus::Paused
            } else {
                RunStatus::Running
            };
            self.save_state();
            self.publish(Some(if paused { "pause" } else { "unpause" }));
        }
    }

    /// The daemon closed our stdin (or wrote to it: it never does): released already, or the
    /// daemon died before releasing the first start, which then never comes.
    pub(super) fn daemon_link_closed(&mut self) {
        let Some(link) = &mut self.daemon_link else {
            return;
        };
        let mut buf = [0u8; 64];
        match link.read(&mut buf) {
            Ok(n) if n > 0 => return,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            _ => {}
        }
        self.daemon_link = None;
        if self.waiting_go.is_some() {
            self.abandon_unstarted();
        }
    }
}

impl Client {
    /// A one-shot reply fully sent: the connection can go.
    pub(super) fn is_done(&self) -> bool {
        self.kind == ClientKind::Closing && self.outbuf.is_empty()
    }

    pub(super) fn wants(&self, stream: u8) -> bool {
        match self.kind {
            ClientKind::Attach { stdout, stderr, .. } => {
                (stream == 1 && stdout) || (stream == 2 && stderr)
            }
            _ => false,
        }
    }

    pub(super) fn send_line<T: serde::Serialize>(&mut self, v: &T) {
        if let Ok(mut line) = serde_json::to_vec(v) {
            line.push(b'\n');
            self.outbuf.extend_from_slice(&line);
        }
    }

    pub(super) fn flush(&mut self) {
        while !self.outbuf.is_empty() {
            match self.stream.write(&self.outbuf) {
                Ok(0) => {
                    self.dead = true;
                    return;
                }
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.dead = true;
                    self.outbuf.clear();
                    return;
                }
            }
        }
        if self.kind == ClientKind::Closing {
            let _ = self.stream.shutdown(std::net::Shutdown::Write);
        }
    }
}
