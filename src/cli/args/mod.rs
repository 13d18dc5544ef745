//! The command tree: Docker's command names and flags, plus the daemon and the hidden
//! re-exec entry points (`__supervise`, `__nsexec`). The flags of each command family have
//! a module of their own; the tree, the global options and the few argument sets several
//! families share stay here.

mod container;
mod image;
mod network;
mod run;
mod system;
mod volume;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use container::*;
pub use image::*;
pub use network::*;
pub use run::RunArgs;
pub use system::*;
pub use volume::*;

#[derive(Parser, Debug)]
#[command(
    name = "wharf",
    version,
    about = "Compose-first container orchestrator with a built-in engine",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalOpts {
    /// Persistent state (images, containers, volumes)
    #[arg(
        long,
        global = true,
        env = "WHARF_ROOT",
        default_value = "/var/lib/wharf"
    )]
    pub root: PathBuf,
    /// Runtime state (sockets, supervisor state)
    #[arg(
        long = "run-root",
        global = true,
        env = "WHARF_RUN",
        default_value = "/run/wharf"
    )]
    pub run_root: PathBuf,
    /// Daemon to talk to (or, for `wharf daemon`, to serve): unix:///PATH, tcp://HOST:PORT or
    /// ssh://[USER@]HOST[:PORT] (default: unix://<run-root>/wharf.sock; env WHARF_HOST, then
    /// DOCKER_HOST)
    #[arg(short = 'H', long, global = true, env = "WHARF_HOST")]
    pub host: Option<String>,
    /// Name of the context to use (one `docker context create` made; overrides DOCKER_HOST,
    /// DOCKER_CONTEXT and the config file's current context)
    // an id of its own: `build`'s positional CONTEXT must not be taken for it
    #[arg(
        long = "context",
        id = "use_context",
        value_name = "NAME",
        global = true
    )]
    pub use_context: Option<String>,
    /// Use TLS; implied by --tlsverify
    #[arg(long, global = true)]
    pub tls: bool,
    /// Use TLS and verify the remote (the daemon, or for `wharf daemon` its clients)
    #[arg(long, global = true, env = "DOCKER_TLS_VERIFY", value_parser = tls_verify_env)]
    pub tlsverify: bool,
    /// Trust certs signed only by this CA (default: $DOCKER_CERT_PATH/ca.pem)
    #[arg(long, global = true)]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file (default: $DOCKER_CERT_PATH/cert.pem)
    #[arg(long, global = true)]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file (default: $DOCKER_CERT_PATH/key.pem)
    #[arg(long, global = true)]
    pub tlskey: Option<PathBuf>,
}

/// `DOCKER_TLS_VERIFY` is set to anything non-empty to turn verification on, as the docker CLI
/// reads it.
fn tls_verify_env(v: &str) -> Result<bool, String> {
    Ok(!matches!(v, "" | "0" | "false"))
}

impl GlobalOpts {
    /// The host `-H`/`WHARF_HOST`, then `DOCKER_HOST`, name, if any.
    pub fn plain_host_url(&self) -> Option<String> {
        self.host
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
    }

    /// The docker context in force ([`crate::cli::context::current_name`]).
    pub fn context_name(&self) -> String {
        crate::cli::context::current_name(
            self.use_context.as_deref(),
            self.plain_host_url().is_some(),
        )
    }

    /// The context in force, unless it is `default`.
    fn stored_context(&self) -> Result<Option<crate::cli::context::Context>, String> {
        let name = self.context_name();
        if name == crate::cli::context::DEFAULT {
            return Ok(None);
        }
        crate::cli::context::load(&name).map(Some)
    }

    /// The host to talk to: a context's (`--context`, `DOCKER_CONTEXT`, `currentContext`,
    /// unless `-H` or `DOCKER_HOST` names one), else `-H`/`DOCKER_HOST`.
    fn host_url(&self) -> Option<String> {
        match self.stored_context() {
            Ok(Some(c)) if !c.host.is_empty() => Some(c.host),
            _ => self.plain_host_url(),
        }
    }

    /// The local socket: the `-H unix://` path, else `<run-root>/wharf.sock` (which a daemon
    /// serving TCP also listens on, for the local CLI).
    pub fn socket(&self) -> PathBuf {
        match self.host_url() {
            Some(h) if h.starts_with("unix://") || h.starts_with('/') => {
                PathBuf::from(h.strip_prefix("unix://").unwrap_or(&h))
            }
            _ => self.run_root.join("wharf.sock"),
        }
    }

    /// The TCP address `wharf daemon -H tcp://…` serves, if any.
    pub fn tcp_listen(&self) -> Option<String> {
        self.host_url().and_then(|h| {
            h.strip_prefix("tcp://")
                .map(|a| a.trim_end_matches('/').to_string())
        })
    }

    /// The TLS files, with docker's defaults from `DOCKER_CERT_PATH` (else `~/.docker`).
    pub fn tls_files(&self) -> Option<crate::util::tls::TlsFiles> {
        if !(self.tls || self.tlsverify) {
            return None;
        }
        let dir = std::env::var_os("DOCKER_CERT_PATH")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
        let pick = |flag: &Option<PathBuf>, file: &str| {
            flag.clone()
                .or_else(|| dir.as_ref().map(|d| d.join(file)).filter(|p| p.exists()))
        };
        Some(crate::util::tls::TlsFiles {
            verify: self.tlsverify,
            ca: pick(&self.tlscacert, "ca.pem"),
            cert: pick(&self.tlscert, "cert.pem"),
            key: pick(&self.tlskey, "key.pem"),
        })
    }

    /// Where the CLI's requests go.
    pub fn endpoint(&self) -> Result<crate::api::client::transport::Endpoint, String> {
        use crate::api::client::transport::Endpoint;
        if self.use_context.is_some() && self.host.is_some() {
            return Err("conflicting options: either specify --host or --context, not both".into());
        }
        if let Some(c) = self.stored_context()? {
            if c.host.is_empty() {
                return Err(format!("context {:?} has no docker endpoint", c.name));
            }
            let tls = match &c.tls_dir {
                Some(dir) if c.host.starts_with("tcp://") => {
                    let file = |f: &str| Some(dir.join(f)).filter(|p| p.exists());
                    Some(
                        crate::util::tls::TlsFiles {
                            verify: !c.skip_tls_verify,
                            ca: file("ca.pem"),
                            cert: file("cert.pem"),
                            key: file("key.pem"),
                        }
                        .client_config()?,
                    )
                }
                _ => None,
            };
            return Endpoint::parse(&c.host, tls);
        }
        let Some(url) = self.host_url() else {
            return Ok(Endpoint::Unix(self.socket()));
        };
        let tls = match self.tls_files() {
            Some(files) if url.starts_with("tcp://") || url.starts_with("https://") => {
                Some(files.client_config()?)
            }
            _ => None,
        };
        Endpoint::parse(&url, tls)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the engine (foreground); `daemon stop` ends a running one
    Daemon(DaemonArgs),
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(RunArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// List containers
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Block until containers stop, then print their exit codes
    Wait(NamesArgs),
    /// Return low-level information on objects
    Inspect(InspectArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(crate::cli::commands::resources::StatsArgs),
    /// Update configuration of one or more containers
    Update(crate::cli::commands::resources::UpdateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(crate::cli::commands::resources::DiffArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Copy files between a container and the local filesystem
    Cp(CpArgs),
    /// List port mappings of a container
    Port(PortArgs),
    /// Pause all processes within containers
    Pause(NamesArgs),
    /// Unpause all processes within containers
    Unpause(NamesArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Import a root filesystem tarball to create an image
    Import(ImportArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PullArgs),
    /// Log in to a registry (credentials kept in Docker's config.json)
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Search Docker Hub, or a registry's catalog, for images
    Search(SearchArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Build an image from a Dockerfile
    Build(crate::cli::build::BuildArgs),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(crate::cli::build::BuilderCmd),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCmd),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCmd),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCmd),
    /// Manage the engine
    #[command(subcommand)]
    System(SystemCmd),
    /// Display system-wide information
    Info(FormatArgs),
    /// Show the wharf version information
    Version(FormatArgs),
    /// Get real time events from the engine
    Events(EventsArgs),
    /// Define and run multi-container applications (docker compose)
    Compose(crate::cli::compose::args::ComposeCli),
    /// Manage Swarm stacks: deploy a compose file to a Docker Swarm (-H a manager)
    Stack(crate::cli::stack::StackCli),
    /// Manage contexts
    Context(crate::cli::context::ContextCli),
    /// Create and start the compose project's containers (`compose up`)
    Up(crate::cli::compose::args::TopUp),
    /// Stop and remove the compose project's containers and networks (`compose down`)
    Down(crate::cli::compose::args::TopDown),
    /// Render the compose project in canonical form (`compose config`)
    Config(crate::cli::compose::args::TopConfig),
    #[command(name = "__supervise", hide = true)]
    Supervise { config: PathBuf },
    #[command(name = "__nsexec", hide = true)]
    NsExec,
    #[command(name = "__archive", hide = true)]
    Archive {
        op: String,
        root: PathBuf,
        path: String,
    },
}

#[derive(Args, Debug)]
pub struct DaemonArgs {
    #[command(subcommand)]
    pub action: Option<DaemonAction>,
}

#[derive(Subcommand, Debug)]
pub enum DaemonAction {
    /// Stop the running daemon (containers keep running)
    Stop,
}

#[derive(Args, Debug, Clone, Default)]
pub struct FormatArgs {
    /// Format output: `json`, or a Go-like template such as `{{.Names}}`
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go-like template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Only inspect objects of the given type (container, image, volume)
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove all unused objects, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Prune volumes too (system prune)
    #[arg(long)]
    pub volumes: bool,
}
