//! `wharf system <cmd>` and `events`' flags.

use clap::{Args, Subcommand};

use super::{FormatArgs, PruneArgs};

#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Display system-wide information
    Info(FormatArgs),
    /// Remove unused data
    Prune(PruneArgs),
    /// Show disk usage
    Df(DfArgs),
    /// Get real time events
    Events(EventsArgs),
    /// Proxy the stdio stream to the daemon connection (the far end of `-H ssh://`)
    #[command(name = "dial-stdio")]
    DialStdio,
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Format output: `json`
    #[arg(long)]
    pub format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Format output
    #[arg(long)]
    pub format: Option<String>,
}
