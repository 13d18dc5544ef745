//! The `wharf` command line: parsing (clap) and printing only; everything else goes through
//! the API client to the daemon (started on demand).

pub mod args;
mod attach;
pub mod build;
mod commands;
pub mod compose;
pub mod context;
pub mod daemon;
pub mod output;
mod progress_stream;
pub mod stack;

use clap::Parser;

use self::args::{Cli, Command};
use crate::api::client::{Client, ClientError};

/// A failure with the exit code it should produce (Docker's conventions: 125 for the engine's
/// own errors in `run`, 126/127 when the command cannot run, 1 elsewhere).
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: Option<String>,
}

impl Exit {
    pub fn code(code: i32) -> Self {
        Exit {
            code,
            message: None,
        }
    }
    pub fn msg(code: i32, message: impl Into<String>) -> Self {
        Exit {
            code,
            message: Some(message.into()),
        }
    }
}

impl From<ClientError> for Exit {
    fn from(e: ClientError) -> Self {
        Exit::msg(1, format!("Error response from daemon: {e}"))
    }
}

impl From<std::io::Error> for Exit {
    fn from(e: std::io::Error) -> Self {
        Exit::msg(1, e.to_string())
    }
}

impl From<anyhow::Error> for Exit {
    fn from(e: anyhow::Error) -> Self {
        Exit::msg(1, format!("{e:#}"))
    }
}

pub type CliResult<T = ()> = Result<T, Exit>;

pub fn main() -> i32 {
    use crate::util::trace;
    let parse_start = trace::now_ns();
    let cli = Cli::parse();
    // The daemon installs its own subscriber, with the trace in it.
    if !matches!(cli.command, Command::Daemon(_)) {
        trace::init(trace::Process::Cli);
        trace::record("parse", parse_start, trace::now_ns(), 0, "");
    }
    let _cli_span = tracing::debug_span!(target: "phase", "cli").entered();
    match cli.command {
        // Re-exec entry points: single-threaded, no async runtime.
        Command::Supervise { config } => crate::engine::supervisor::supervise_main(&config),
        Command::NsExec => crate::entry::nsexec_main(),
        Command::Archive { op, root, path } => {
            crate::engine::container::fs::archive_helper_main(&op, &root, &path)
        }
        Command::Daemon(args) => daemon::main(&cli.global, args),
        // contexts are files of the docker CLI's: no engine is asked
        Command::Context(a) => match context::main(&cli.global, a) {
            Ok(()) => 0,
            Err(exit) => {
                if let Some(m) = exit.message {
                    eprintln!("{m}");
                }
                exit.code
            }
        },
        // `config` needs no engine: no daemon is started for it
        Command::Config(t) => compose::run_config(&t.opts, t.args),
        Command::Compose(compose::args::ComposeCli {
            opts,
            cmd: compose::args::ComposeCmd::Config(a),
        }) => compose::run_config(&opts, a),
        Command::Compose(compose::args::ComposeCli {
            cmd: compose::args::ComposeCmd::Version(a),
            ..
        }) => compose::run_version(&a),
        command => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("wharf: {e}");
                    return 125;
                }
            };
            let result = rt.block_on(async {
                // a swarm is an engine that runs already: nothing is started for it
                if let Command::Stack(a) = command {
                    return stack::main(&cli.global, a).await;
                }
                let client = daemon::ensure_daemon(&cli.global).await?;
                commands::dispatch(&client, &cli.global, command).await
            });
            // Do not wait for detached stdin readers.
            rt.shutdown_background();
            match result {
                Ok(()) => 0,
                Err(exit) => {
                    if let Some(m) = exit.message {
                        eprintln!("{m}");
                    }
                    exit.code
                }
            }
        }
    }
}

/// The client for the configured socket (without starting anything).
pub fn client_for(global: &args::GlobalOpts) -> Result<Client, Exit> {
    global
        .endpoint()
        .map(Client::with_endpoint)
        .map_err(|e| Exit::msg(125, format!("wharf: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_tree_is_consistent() {
        use clap::CommandFactory;
        super::args::Cli::command().debug_assert();
    }
}
