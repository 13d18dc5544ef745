//! The leak audit of the fault-injection suite: what an engine may not leave on the host once
//! its containers, networks and volumes are gone (links, nftables rules, mounts, cgroups,
//! processes, netns files, supervisor sockets), whatever killed what on the way.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use crate::common::Wharf;

/// Everything of engine `w` still on the host; `ids` are the containers it ever had (their
/// cgroups are looked for by id). Empty when nothing leaked.
pub fn audit(w: &Wharf, ids: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    let prefix = format!("w{:03}", w.slot);
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    for l in String::from_utf8_lossy(&links.stdout).lines() {
        let name = l.split(": ").nth(1).unwrap_or("").split('@').next();
        let name = name.unwrap_or("");
        // The default bridge (`…d0`) is the engine's own, kept while the daemon runs.
        if name.starts_with(&prefix) && !name.ends_with("d0") {
            left.push(format!("link {name}"));
        }
    }
    let nft = Command::new("nft")
        .args(["list", "table", "inet", &format!("wharf_t{:03}", w.slot)])
        .output()
        .unwrap();
    for rule in String::from_utf8_lossy(&nft.stdout).lines() {
        // The default bridge's masquerade (its `bip` 10.214.<slot>.0/24) is the engine's own.
        let engine_own = rule.contains("10.214.") || rule.contains(&format!("{prefix}d0"));
        // Any published port (either family) or any network's IPv4 or IPv6 masquerade.
        let network_rule = rule.contains("ip saddr 10.") || rule.contains("ip6 saddr fd");
        if rule.contains("dnat ip") || network_rule && !engine_own {
            left.push(format!("nftables rule {}", rule.trim()));
        }
    }
    let root = w.root.to_string_lossy().to_string();
    let run_root = w.run_root.to_string_lossy().to_string();
    for m in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        if m.contains(&root) || m.contains(&run_root) {
            left.push(format!("mount {m}"));
        }
    }
    for id in ids {
        for ctrl in [
            "unified/wharf",
            "wharf",
            "memory/wharf",
            "pids/wharf",
            "cpu/wharf",
        ] {
            let cg = format!("/sys/fs/cgroup/{ctrl}/{id}");
            if Path::new(&cg).exists() {
                left.push(format!("cgroup {cg}"));
            }
        }
    }
    let daemon = w.daemon_pid();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if Some(pid) == daemon {
            continue;
        }
        let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // A supervisor names its container's directory under the root.
        if cmdline.contains(&root) && cmdline.contains("__supervise")
            || ids.iter().any(|id| cmdline.contains(id.as_str()))
        {
            left.push(format!("process {pid} {cmdline}"));
        }
    }
    for dir in ["netns", "sup", "containers"] {
        if let Ok(rd) = std::fs::read_dir(w.run_root.join(dir)) {
            left.extend(
                rd.flatten()
                    .map(|e| format!("{dir}/{}", e.path().display())),
            );
        }
    }
    left
}

/// Assert that nothing leaked, naming what did. Host veths are deleted in the background (the
/// engine's veth reaper, after `rm` has answered), so what is left is looked at again for a
/// bounded while before it counts as leaked.
pub fn assert_clean(w: &Wharf, ids: &[String]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut left = audit(w, ids);
    while !left.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        left = audit(w, ids);
    }
    assert!(left.is_empty(), "leaked:\n{}", left.join("\n"));
}

/// Every container id the engine knows (stopped ones too).
pub fn all_ids(w: &Wharf) -> Vec<String> {
    w.ok(&["ps", "-aq", "--no-trunc"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Entries of a directory of the engine's root (none when it does not exist).
pub fn entries(w: &Wharf, sub: &str) -> Vec<String> {
    std::fs::read_dir(w.root.join(sub))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Clock ticks of CPU a process has used (user + system).
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(") ").unwrap();
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// A small seeded generator (xorshift64*), so a failing case reproduces from the seed the
/// test prints.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `WHARF_FAULT_SEED` when set, else from the clock; the seed is printed.
    pub fn from_env(test: &str) -> Self {
        let seed = std::env::var("WHARF_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{test}: WHARF_FAULT_SEED={seed}");
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
