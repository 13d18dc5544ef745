//! The binary's entry: the re-exec entry points (the per-container supervisor, the exec helper
//! that enters a container's namespaces, the chrooted archive helper) run once per container
//! start, probe or copy, so they are dispatched here on argv alone, before the command line is
//! parsed (clap costs milliseconds); everything else is the CLI.

/// Run the process; the exit code.
pub fn main() -> i32 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let arg = |i: usize| argv.get(i).and_then(|a| a.to_str());
    match (arg(1), argv.len()) {
        (Some("__supervise"), 3) => {
            crate::engine::supervisor::supervise_main(std::path::Path::new(&argv[2]))
        }
        (Some("__nsexec"), 2) => nsexec_main(),
        (Some("__trace"), _) => crate::util::trace_report::main(&argv[2..]),
        (Some("__archive"), 5) => match (arg(2), arg(4)) {
            (Some(op), Some(path)) => crate::engine::container::fs::archive_helper_main(
                op,
                std::path::Path::new(&argv[3]),
                path,
            ),
            _ => crate::cli::main(),
        },
        _ => crate::cli::main(),
    }
}

/// `__nsexec`: run the exec spec from the environment inside a container's namespaces.
pub fn nsexec_main() -> i32 {
    let spec = std::env::var("WHARF_NSEXEC_SPEC").unwrap_or_default();
    match serde_json::from_str(&spec) {
        Ok(spec) => crate::engine::runtime::nsexec::run(&spec),
        Err(e) => {
            eprintln!("wharf: invalid exec spec: {e}");
            125
        }
    }
}
