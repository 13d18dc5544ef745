//! Test harness: a private wharf daemon per test (own root, run root and socket), a busybox
//! image built from Debian's busybox-static, and cleanup that leaves nothing behind even when
//! the test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod debian;

pub const BUSYBOX: &str = "/bin/busybox";

pub struct Wharf {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub run_root: PathBuf,
    /// This engine's slot: its bridges, veths, nftables table and subnets are named after it,
    /// so engines of parallel tests never meet.
    pub slot: u32,
    _slot_lock: std::fs::File,
}

/// Take a free slot (1..=250) for the whole life of the test process (flock, released at exit).
fn take_slot() -> (u32, std::fs::File) {
    use std::os::fd::AsRawFd;
    let dir = Path::new("/tmp/wharf-test-slots");
    std::fs::create_dir_all(dir).unwrap();
    for n in 1..=250u32 {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{n}.lock")))
            .unwrap();
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return (n, f);
        }
    }
    panic!("no free wharf test slot");
}

impl Wharf {
    /// A fresh engine; its daemon starts on first use (auto-start).
    pub fn new() -> Self {
        assert!(
            Path::new(BUSYBOX).exists(),
            "tests need Debian's busybox-static at {BUSYBOX}"
        );
        let dir = tempfile::Builder::new()
            .prefix("wharf-test-")
            .tempdir_in("/tmp")
            .unwrap();
        let root = dir.path().join("root");
        let run_root = dir.path().join("run");
        let (slot, lock) = take_slot();
        std::fs::create_dir_all(&root).unwrap();
        let config = serde_json::json!({
            "bridge": format!("w{slot:03}d0"),
            "bip": format!("10.214.{slot}.0/24"),
            "default-address-pools": [
                {"base": format!("10.{}.{}.0/22", 220 + slot / 64, (slot % 64) * 4), "size": 24},
                // --ipv6 networks without a subnet: this slot's unique local /48.
                {"base": format!("fd77:{slot}::/48"), "size": 64},
            ],
            "nft-table": format!("wharf_t{slot:03}"),
            "bridge-prefix": format!("w{slot:03}b"),
            "veth-prefix": format!("w{slot:03}v"),
        });
        std::fs::write(
            root.join("daemon.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        Wharf {
            dir,
            root,
            run_root,
            slot,
            _slot_lock: lock,
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.run_root.join("wharf.sock")
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
        c.arg("--root")
            .arg(&self.root)
            .arg("--run-root")
            .arg(&self.run_root);
        c.env_remove("WHARF_HOST")
            .env_remove("WHARF_ROOT")
            .env_remove("WHARF_RUN")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        c
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running wharf")
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "wharf {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Run and require failure; returns (exit code, stderr).
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.output(args);
        assert!(
            !out.status.success(),
            "wharf {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    pub fn inspect(&self, name: &str, template: &str) -> String {
        self.ok(&["inspect", "-f", template, name])
            .trim()
            .to_string()
    }

    /// Wait (bounded) until `inspect -f template` gives `want`.
    pub fn wait_for(&self, name: &str, template: &str, want: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let got = self.inspect(name, template);
            if got == want || start.elapsed() > limit {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Import the busybox image as `name` (with `CMD ["sh"]` and any extra changes).
    pub fn busybox_image(&self, name: &str, changes: &[&str]) {
        let tar = self
            .dir
            .path()
            .join(format!("{}-rootfs.tar", name.replace([':', '/'], "_")));
        busybox_rootfs_tar(&tar, &[]);
        let mut args = vec!["import".to_string(), "-c".into(), r#"CMD ["sh"]"#.into()];
        for c in changes {
            args.push("-c".into());
            args.push(c.to_string());
        }
        args.push(tar.display().to_string());
        args.push(name.into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(&args);
    }

    pub fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.run_root.join("wharf.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// `dir/big-rootfs.tar`: the busybox root filesystem plus `files` files of 16 MB of
/// pseudo-random bytes (nothing compresses), for work that must take a while.
pub fn big_rootfs_tar(dir: &Path, files: usize) -> PathBuf {
    let tar = dir.join("big-rootfs.tar");
    let mut chunk = vec![0u8; 16 << 20];
    let mut extra: Vec<(String, Vec<u8>)> = Vec::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..files {
        for b in chunk.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
        }
        extra.push((format!("data/{i}"), chunk.clone()));
    }
    let refs: Vec<(&str, &[u8])> = extra
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    busybox_rootfs_tar(&tar, &refs);
    tar
}

/// A root filesystem tar with busybox, its applets, /etc/passwd and /etc/group, plus `extra`
/// files (path, content).
pub fn busybox_rootfs_tar(path: &Path, extra: &[(&str, &[u8])]) {
    let f = std::fs::File::create(path).unwrap();
    let mut b = tar::Builder::new(f);
    let dir = |b: &mut tar::Builder<std::fs::File>, p: &str| {
        let mut h = header();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, p, std::io::empty()).unwrap();
    };
    for d in ["bin/", "etc/", "tmp/", "root/"] {
        dir(&mut b, d);
    }
    let mut h = header();
    let data = std::fs::read(BUSYBOX).unwrap();
    h.set_size(data.len() as u64);
    h.set_mode(0o755);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "bin/busybox", &data[..]).unwrap();
    for applet in [
        "sh", "echo", "cat", "ls", "sleep", "true", "false", "id", "hostname", "wget", "httpd",
        "env", "pwd", "ps", "mkdir", "touch", "rm", "grep", "test", "printf", "wc", "head", "tail",
        "stat", "mount", "kill", "nc", "seq", "sync", "dd", "tr", "cut", "sort", "yes", "nslookup",
        "ip", "ifconfig", "route", "awk", "ulimit",
    ] {
        let mut h = header();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    let files: Vec<(&str, &[u8])> = vec![
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\nwww:x:33:33:www:/var/www:/bin/sh\n"),
        ("etc/group", b"root:x:0:\nnogroup:x:65534:\nwww:x:33:\nstaff:x:50:www\n"),
    ];
    for (p, content) in files.into_iter().chain(extra.iter().copied()) {
        let mut h = header();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, content).unwrap();
    }
    b.finish().unwrap();
}

impl Drop for Wharf {
    fn drop(&mut self) {
        // Remove every container (their supervisors and cgroups go with them), then the daemon.
        if self.socket().exists() {
            let ids = self.output(&["ps", "-aq", "--no-trunc"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.output(&["rm", "-f", "-v", id]);
            }
            let _ = self.output(&["daemon", "stop"]);
        }
        // Anything still alive from this engine (a test that killed its daemon): supervisors
        // record their pid in state.json; kill them and their containers' cgroups.
        if let Ok(rd) = std::fs::read_dir(self.root.join("containers")) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().to_string();
                if let Ok(state) = std::fs::read_to_string(e.path().join("state.json")) {
                    let v: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
                    for key in ["supervisor_pid", "pid"] {
                        if let Some(pid) = v[key].as_i64().filter(|p| *p > 0) {
                            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                        }
                    }
                }
                for ctrl in ["cpu", "cpuacct", "memory", "pids", "freezer", "blkio"] {
                    let p = PathBuf::from(format!("/sys/fs/cgroup/{ctrl}/wharf/{id}"));
                    if p.exists() {
                        if let Ok(procs) = std::fs::read_to_string(p.join("cgroup.procs")) {
                            for pid in procs.lines().filter_map(|l| l.parse::<i32>().ok()) {
                                unsafe { libc::kill(pid, libc::SIGKILL) };
                            }
                        }
                        for _ in 0..100 {
                            if std::fs::remove_dir(&p).is_ok() {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
                for v2 in [
                    format!("/sys/fs/cgroup/wharf/{id}"),
                    format!("/sys/fs/cgroup/unified/wharf/{id}"),
                ] {
                    let v2 = PathBuf::from(v2);
                    if v2.exists() {
                        let _ = std::fs::write(v2.join("cgroup.kill"), "1");
                        for _ in 0..100 {
                            if std::fs::remove_dir(&v2).is_ok() {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
            }
        }
        if let Some(pid) = self.daemon_pid() {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Host networking this engine may have left (a test that killed its daemon mid-way).
        let slot = self.slot;
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &format!("wharf_t{slot:03}")])
            .output();
        if let Ok(out) = Command::new("ip").args(["-o", "link", "show"]).output() {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let name = line
                    .split(": ")
                    .nth(1)
                    .unwrap_or("")
                    .split('@')
                    .next()
                    .unwrap_or("");
                if name.starts_with(&format!("w{slot:03}")) {
                    let _ = Command::new("ip").args(["link", "del", name]).output();
                }
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.run_root.join("netns")) {
            for e in rd.flatten() {
                let _ = nix_umount(&e.path());
            }
        }
    }
}

/// A tar header with every numeric field set (uid, gid, mtime), as real archivers write them.
pub fn header() -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

fn nix_umount(p: &Path) -> std::io::Result<()> {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    std::fs::remove_file(p)
}

/// `openssl` with `args` in `dir` (the TLS tests make their certificates with it).
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("tests need openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
