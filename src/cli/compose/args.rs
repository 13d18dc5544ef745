//! `wharf compose` arguments: docker compose v2's global options and commands.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// How `up`/`down` show their progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    #[default]
    Auto,
    Tty,
    Plain,
    Json,
    Quiet,
}

/// The options every compose command takes.
#[derive(Args, Debug, Clone, Default)]
pub struct ComposeOpts {
    /// Compose configuration files (repeatable; `-` reads standard input)
    #[arg(short = 'f', long = "file")]
    pub file: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Alternate working directory (default: the directory of the first compose file)
    #[arg(long = "project-directory")]
    pub project_directory: Option<PathBuf>,
    /// Alternate environment files (repeatable)
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Profiles to enable (repeatable)
    #[arg(long = "profile")]
    pub profile: Vec<String>,
    /// Progress output: auto, tty, plain, json, quiet
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
    /// Print what would be done (the plan) without doing it
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Maximum number of engine operations at once (-1: unlimited)
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub parallel: i64,
    /// Colours in log prefixes: never, always, auto
    #[arg(long, default_value = "auto")]
    pub ansi: String,
}

/// `wharf compose [OPTIONS] COMMAND`.
#[derive(Args, Debug)]
pub struct ComposeCli {
    #[command(flatten)]
    pub opts: ComposeOpts,
    #[command(subcommand)]
    pub cmd: ComposeCmd,
}

/// The top-level aliases (`wharf up`, `wharf down`, `wharf config`): same options.
#[derive(Args, Debug)]
pub struct TopUp {
    #[command(flatten)]
    pub opts: ComposeOpts,
    #[command(flatten)]
    pub args: UpArgs,
}

#[derive(Args, Debug)]
pub struct TopDown {
    #[command(flatten)]
    pub opts: ComposeOpts,
    #[command(flatten)]
    pub args: DownArgs,
}

#[derive(Args, Debug)]
pub struct TopConfig {
    #[command(flatten)]
    pub opts: ComposeOpts,
    #[command(flatten)]
    pub args: ConfigArgs,
}

#[derive(Subcommand, Debug)]
pub enum ComposeCmd {
    /// Create and start containers
    Up(UpArgs),
    /// Stop and remove containers, networks (and volumes with -v)
    Down(DownArgs),
    /// List containers
    Ps(PsArgs),
    /// View output from containers
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Run a one-off command on a service
    Run(RunArgs),
    /// Create containers for a service
    Create(CreateArgs),
    /// Start services
    Start(ServicesArgs),
    /// Stop services
    Stop(StopArgs),
    /// Restart service containers
    Restart(StopArgs),
    /// Force stop service containers
    Kill(KillArgs),
    /// Remove stopped service containers
    Rm(RmArgs),
    /// Pause services
    Pause(ServicesArgs),
    /// Unpause services
    Unpause(ServicesArgs),
    /// Pull service images
    Pull(PullArgs),
    /// Push service images
    Push(PushArgs),
    /// Build or rebuild services
    Build(BuildArgs),
    /// List images used by the created containers
    Images(ImagesArgs),
    /// Print the public port for a port binding
    Port(PortArgs),
    /// Display the running processes
    Top(ServicesArgs),
    /// List running compose projects
    Ls(LsArgs),
    /// Copy files/folders between a service container and the local filesystem
    Cp(CpArgs),
    /// Receive real time events from containers
    Events(EventsArgs),
    /// Block until containers of all (or specified) services stop
    Wait(WaitArgs),
    /// Watch the build context for services and rebuild/refresh containers when files are updated
    Watch(WatchArgs),
    /// Attach local standard input, output, and error streams to a service's running container
    Attach(AttachArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Scale services
    Scale(ScaleArgs),
    /// List volumes
    Volumes(VolumesArgs),
    /// Create a new image from a service container's changes
    Commit(CommitArgs),
    /// Export a service container's filesystem as a tar archive
    Export(ExportArgs),
    /// Show the Docker Compose version information
    Version(VersionArgs),
    /// Parse, resolve and render the compose file in canonical format (`convert --format
    /// kubernetes`: as Kubernetes manifests)
    #[command(alias = "convert")]
    Config(ConfigArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Wait for services to be running|healthy (implies detached mode)
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long = "wait-timeout")]
    pub wait_timeout: Option<u64>,
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long = "force-recreate")]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long = "no-recreate")]
    pub no_recreate: bool,
    /// Recreate dependent containers
    #[arg(long = "always-recreate-deps")]
    pub always_recreate_deps: bool,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers
    #[arg(short = 'V', long = "renew-anon-volumes")]
    pub renew_anon_volumes: bool,
    /// Remove containers for services not defined in the compose file
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances (SERVICE=NUM)
    #[arg(long = "scale")]
    pub scale: Vec<String>,
    /// Don't start the services after creating them
    #[arg(long = "no-start")]
    pub no_start: bool,
    /// Pull image before running: always, missing, never
    #[arg(long)]
    pub pull: Option<String>,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's missing
    #[arg(long = "no-build")]
    pub no_build: bool,
    /// Don't start linked services
    #[arg(long = "no-deps")]
    pub no_deps: bool,
    /// Don't prefix log lines with the service name
    #[arg(long = "no-log-prefix")]
    pub no_log_prefix: bool,
    /// Produce monochrome output
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Show timestamps
    #[arg(long)]
    pub timestamps: bool,
    /// Stop all containers if any container was stopped
    #[arg(long = "abort-on-container-exit")]
    pub abort_on_container_exit: bool,
    /// Stop all containers if any container exited with failure
    #[arg(long = "abort-on-container-failure")]
    pub abort_on_container_failure: bool,
    /// Return the exit code of the selected service container (implies --abort-on-container-exit)
    #[arg(long = "exit-code-from")]
    pub exit_code_from: Option<String>,
    /// Shutdown timeout in seconds
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<i64>,
    /// Restrict attaching to the specified services
    #[arg(long = "attach")]
    pub attach: Vec<String>,
    /// Do not attach (stream logs) to the specified services
    #[arg(long = "no-attach")]
    pub no_attach: Vec<String>,
    /// Pull without printing progress information
    #[arg(long = "quiet-pull")]
    pub quiet_pull: bool,
    /// Watch source code and rebuild/refresh containers when files are updated
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Services (default: all)
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct WatchArgs {
    /// Do not build & start services before watching
    #[arg(long = "no-up")]
    pub no_up: bool,
    /// Prune dangling images on rebuild
    #[arg(long)]
    pub prune: bool,
    /// Hide build output
    #[arg(long)]
    pub quiet: bool,
    /// Services (default: every service with develop.watch rules)
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section and anonymous volumes
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove images used by services: "local" (no custom tag) or "all"
    #[arg(long)]
    pub rmi: Option<String>,
    /// Remove containers for services not defined in the compose file
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    /// Shutdown timeout in seconds
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<i64>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Format the output: yaml, json, kubernetes (manifests; `-o DIR` writes one file each) or
    /// swarm (what `wharf stack deploy` would create, as JSON)
    #[arg(long, default_value = "yaml")]
    pub format: String,
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    pub images: bool,
    /// Print the service config hash, one per line ("*" or SERVICE,...)
    #[arg(long)]
    pub hash: Option<String>,
    /// Don't interpolate environment variables
    #[arg(long = "no-interpolate")]
    pub no_interpolate: bool,
    /// Only validate the configuration, don't print anything
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Save to file (default: stdout); with --format kubernetes, a directory unless it ends in .yaml
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Services
    pub service_names: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PsArgs {
    /// Show all stopped containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display services
    #[arg(long)]
    pub services: bool,
    /// Filter services by status: created, restarting, running, removing, paused, exited, dead
    #[arg(long)]
    pub status: Vec<String>,
    /// Filter services by a property (status=running)
    #[arg(long)]
    pub filter: Option<String>,
    /// Format the output: table or json
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    pub service_names: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since timestamp or relative (42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative (42m)
    #[arg(long)]
    pub until: Option<String>,
    /// Don't print prefix in logs
    #[arg(long = "no-log-prefix")]
    pub no_log_prefix: bool,
    /// Produce monochrome output
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Index of the container if the service has multiple replicas
    #[arg(long)]
    pub index: Option<u32>,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Disable pseudo-TTY allocation (default: a TTY when stdin is one)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open (the default)
    #[arg(short = 'i', long, default_value_t = true)]
    pub interactive: bool,
    /// Run the command as this user
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Path to workdir directory for this command
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Give extended privileges to the process
    #[arg(long)]
    pub privileged: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Don't start linked services
    #[arg(long = "no-deps")]
    pub no_deps: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Run command with the service's ports enabled and mapped to the host
    #[arg(long = "service-ports")]
    pub service_ports: bool,
    /// Override the entrypoint of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Disable pseudo-TTY allocation (default: a TTY when stdin is one)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open even if not attached (the default)
    #[arg(short = 'i', long, default_value_t = true)]
    pub interactive: bool,
    /// Run as specified username or uid
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Add or override a label
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Use the service's network aliases in the network(s) the container connects to
    #[arg(long = "use-aliases")]
    pub use_aliases: bool,
    /// Remove containers for services not defined in the compose file
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CreateArgs {
    #[arg(long = "force-recreate")]
    pub force_recreate: bool,
    #[arg(long = "no-recreate")]
    pub no_recreate: bool,
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    #[arg(long = "scale")]
    pub scale: Vec<String>,
    #[arg(long)]
    pub pull: Option<String>,
    #[arg(long)]
    pub build: bool,
    #[arg(long = "no-build")]
    pub no_build: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServicesArgs {
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<i64>,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short = 's', long, default_value = "SIGKILL")]
    pub signal: String,
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short = 's', long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PullArgs {
    /// Pull what it can and ignores images with pull failures
    #[arg(long = "ignore-pull-failures")]
    pub ignore_pull_failures: bool,
    /// Pull without printing progress information
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Also pull services declared as dependencies
    #[arg(long = "include-deps")]
    pub include_deps: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PushArgs {
    /// Push what it can and ignores images with push failures
    #[arg(long = "ignore-push-failures")]
    pub ignore_push_failures: bool,
    /// Also push images of services declared as dependencies
    #[arg(long = "include-deps")]
    pub include_deps: bool,
    /// Push without printing progress information
    #[arg(short = 'q', long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct BuildArgs {
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the base images
    #[arg(long)]
    pub pull: bool,
    /// Set build-time variables for services (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg")]
    pub build_arg: Vec<String>,
    /// Don't print anything to stdout
    #[arg(short = 'q', long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ImagesArgs {
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format the output: table or json
    #[arg(long)]
    pub format: Option<String>,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PortArgs {
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    pub private_port: u16,
}

#[derive(Args, Debug, Clone, Default)]
pub struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display project names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format the output: table or json
    #[arg(long)]
    pub format: Option<String>,
    /// Filter output based on conditions provided (name=...)
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CpArgs {
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Include containers created by the run command
    #[arg(long)]
    pub all: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    pub src: String,
    pub dest: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    pub json: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct WaitArgs {
    /// Drops the project when the first container stops
    #[arg(long = "down-project")]
    pub down_project: bool,
    #[arg(required = true)]
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct AttachArgs {
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process (accepted; signals end the attachment)
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    pub service: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    pub service: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ScaleArgs {
    /// Don't start linked services
    #[arg(long = "no-deps")]
    pub no_deps: bool,
    /// SERVICE=REPLICAS
    #[arg(required = true)]
    pub scale: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct VolumesArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format the output: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    pub reference: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<std::path::PathBuf>,
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct VersionArgs {
    /// Shows only the version number
    #[arg(long)]
    pub short: bool,
    /// Format the output: pretty or json
    #[arg(short = 'f', long, default_value = "pretty")]
    pub format: String,
}
