//! Capability sets: Docker's default set, `--cap-add`/`--cap-drop`, and applying them.

use caps::{CapSet, Capability, CapsHashSet};

/// Docker's default capabilities.
pub const DEFAULT_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Parse `NET_ADMIN` / `CAP_NET_ADMIN` / `net_admin`.
pub fn parse_cap(name: &str) -> Result<Capability, String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    full.parse::<Capability>()
        .map_err(|_| format!("unknown capability: {name:?}"))
}

/// The effective set for a container: defaults (or all, when privileged), plus adds, minus drops.
pub fn compute(privileged: bool, add: &[String], drop: &[String]) -> Result<Vec<String>, String> {
    let mut set: Vec<String> = if privileged {
        caps::all().iter().map(strip).collect()
    } else {
        DEFAULT_CAPS.iter().map(|s| s.to_string()).collect()
    };
    for a in add {
        if a.eq_ignore_ascii_case("ALL") {
            set = caps::all().iter().map(strip).collect();
            continue;
        }
        let c = strip(&parse_cap(a)?);
        if !set.contains(&c) {
            set.push(c);
        }
    }
    for d in drop {
        if d.eq_ignore_ascii_case("ALL") {
            set.clear();
            continue;
        }
        let c = strip(&parse_cap(d)?);
        set.retain(|x| x != &c);
    }
    set.sort();
    Ok(set)
}

fn strip(c: &Capability) -> String {
    c.to_string().trim_start_matches("CAP_").to_string()
}

/// Drop every capability outside `names` from the bounding set (before changing user).
pub fn limit_bounding(names: &[String]) -> Result<(), String> {
    let keep = to_set(names)?;
    for c in caps::all() {
        if !keep.contains(&c) {
            // Capabilities the running kernel does not know cannot be dropped: ignore.
            let _ = caps::drop(None, CapSet::Bounding, c);
        }
    }
    Ok(())
}

/// Set the effective, permitted and inheritable sets after the user change (root only keeps
/// capabilities; a non-root user ends with none, as the kernel clears them on setuid).
pub fn apply(names: &[String], uid: u32) -> Result<(), String> {
    let set = if uid == 0 {
        to_set(names)?
    } else {
        CapsHashSet::new()
    };
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new()).map_err(|e| e.to_string())?;
    caps::set(None, CapSet::Effective, &set).map_err(|e| e.to_string())?;
    caps::set(None, CapSet::Permitted, &set).map_err(|e| e.to_string())?;
    Ok(())
}

fn to_set(names: &[String]) -> Result<CapsHashSet, String> {
    names.iter().map(|n| parse_cap(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_drop() {
        let set = compute(false, &["NET_ADMIN".into()], &["cap_chown".into()]).unwrap();
        assert!(set.contains(&"NET_ADMIN".to_string()));
        assert!(!set.contains(&"CHOWN".to_string()));
        assert!(compute(false, &["BOGUS".into()], &[]).is_err());
        assert!(compute(false, &[], &["ALL".into()]).unwrap().is_empty());
    }
}
