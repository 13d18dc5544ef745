//! The process section: what runs, as whom, where, with which environment and stdio.

use std::collections::HashMap;

use bollard_stubs::models::ContainerCreateBody;

/// The container's process and its identity.
#[derive(Clone, Debug, Default)]
pub struct Process {
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE` entries, sent even when empty.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub labels: HashMap<String, String>,
    pub stop_signal: Option<String>,
    /// Seconds.
    pub stop_timeout: Option<i64>,
    pub stdio: Stdio,
}

/// Terminal and stream attachment: stdin is attached (once) only when it is both open and
/// attached, as the docker CLI sends it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stdio {
    pub tty: bool,
    pub open_stdin: bool,
    /// Whether the caller attaches to the container's streams.
    pub attach: bool,
}

impl Process {
    pub fn apply(self, body: &mut ContainerCreateBody) {
        let Stdio {
            tty,
            open_stdin,
            attach,
        } = self.stdio;
        body.image = Some(self.image);
        body.cmd = self.cmd;
        body.entrypoint = self.entrypoint;
        body.env = Some(self.env);
        body.working_dir = self.working_dir;
        body.user = self.user;
        body.hostname = self.hostname;
        body.domainname = self.domainname;
        body.labels = (!self.labels.is_empty()).then_some(self.labels);
        body.stop_signal = self.stop_signal;
        body.stop_timeout = self.stop_timeout;
        body.tty = Some(tty);
        body.open_stdin = Some(open_stdin);
        body.attach_stdin = Some(open_stdin && attach);
        body.stdin_once = Some(open_stdin && attach);
        body.attach_stdout = Some(attach);
        body.attach_stderr = Some(attach);
    }
}
