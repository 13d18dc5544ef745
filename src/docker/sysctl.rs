//! The sysctls a container may set: those its own namespaces scope (IPC keys, POSIX message
//! queues, the network namespace's), as runc and the docker CLI allow them. Anything else
//! would change the host.

const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];
const PREFIXES: &[&str] = &["fs.mqueue.", "net."];

/// Whether `key` is scoped by one of the container's own namespaces.
pub fn is_namespaced(key: &str) -> bool {
    IPC_KEYS.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_namespaced_keys() {
        assert!(super::is_namespaced("kernel.shmmax"));
        assert!(super::is_namespaced("net.ipv4.ip_forward"));
        assert!(super::is_namespaced("fs.mqueue.msg_max"));
        assert!(!super::is_namespaced("kernel.hostname"));
        assert!(!super::is_namespaced("vm.swappiness"));
        assert!(!super::is_namespaced("kernel.shmmax2"));
    }
}
