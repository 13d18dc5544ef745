//! The container runtime: a typed spec of what a container is (root filesystem layers, mounts,
//! namespaces, process, limits) and the code that makes it real with `clone(2)`, mounts,
//! `pivot_root(2)`, capabilities, seccomp and cgroups.
//!
//! It runs only inside the single-threaded supervisor (and the `nsexec` helper), never inside
//! the multi-threaded daemon: `fork`-like calls are only sound in a single-threaded process.
//!
//! We write this on `nix` rather than embedding youki's libcontainer: one clone instead of two
//! forks, no change of the caller's working directory, a seccomp filter compiled once per daemon
//! and loaded just before `execve`, and exec failures reported with Docker's 126/127 codes
//! through a close-on-exec pipe. The structure follows libcontainer's (spec → init → exec).

pub mod caps;
pub mod cgroups;
pub mod console;
pub mod init;
pub mod nsexec;
pub mod priority;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod syscall;
pub mod tty;
pub mod user;

pub use spec::*;
