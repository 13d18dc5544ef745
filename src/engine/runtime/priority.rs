//! The engine's CPU priority. Under load, the engine's own work (the daemon's requests, each
//! supervisor reacting to a kill or an exit) competed task for task with every busy process
//! in every container: `rm -f` of 100 containers while 100 `exec`s spun took 5-10× as long as
//! on a quiet machine, every step waiting for its slice. The daemon therefore runs
//! [`ENGINE_BOOST`] nice levels above the value it was started with, and so does everything it
//! starts (supervisors, the exec helper); a container's processes (its init, its `exec`s, its
//! healthchecks) are put back to that starting value just before they exec, so containers
//! compete with each other and the host as they would without wharf.
//!
//! Raising the priority needs CAP_SYS_NICE; without it the engine stays where it is.

use std::sync::atomic::{AtomicI32, Ordering};

/// How many nice levels the engine runs above the containers (weight ×9.3 per CFS's table).
pub const ENGINE_BOOST: i32 = 10;

static CONTAINER_NICE: AtomicI32 = AtomicI32::new(0);

/// The nice value of the calling thread.
pub fn current() -> i32 {
    // SAFETY: plain syscall; -1 is a valid answer, which errno tells apart.
    unsafe {
        *libc::__errno_location() = 0;
        let n = libc::getpriority(libc::PRIO_PROCESS, 0);
        if n == -1 && *libc::__errno_location() != 0 {
            0
        } else {
            n
        }
    }
}

/// Set the calling thread's nice value (threads created after inherit it).
pub fn set(nice: i32) -> std::io::Result<()> {
    // SAFETY: plain syscall on the calling thread.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Called once by the daemon before it starts any thread: remember the starting value for
/// containers and raise the engine above it.
pub fn raise_engine() {
    let start = current();
    CONTAINER_NICE.store(start, Ordering::Relaxed);
    if let Err(e) = set((start - ENGINE_BOOST).max(-20)) {
        tracing::info!("running the engine at the containers' priority: {e}");
    }
}

/// The nice value a container's processes get: the daemon's at its start.
pub fn container_nice() -> i32 {
    CONTAINER_NICE.load(Ordering::Relaxed)
}
