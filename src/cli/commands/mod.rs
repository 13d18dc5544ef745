//! One module per command family; each turns parsed arguments into API calls and output.

pub(crate) mod container;
pub(crate) mod image;
mod network;
pub(crate) mod resources;
pub(crate) mod run;
mod system;
mod volume;

use super::args::{Command, ContainerCmd, GlobalOpts, ImageCmd, NetworkCmd, SystemCmd, VolumeCmd};
use super::{CliResult, Exit};
use crate::api::client::{Client, ClientError};

pub async fn dispatch(client: &Client, _global: &GlobalOpts, command: Command) -> CliResult {
    match command {
        Command::Run(a) | Command::Container(ContainerCmd::Run(a)) => {
            run::run(client, a, false).await
        }
        Command::Create(a) | Command::Container(ContainerCmd::Create(a)) => {
            run::run(client, a, true).await
        }
        Command::Start(a) | Command::Container(ContainerCmd::Start(a)) => {
            container::start(client, a).await
        }
        Command::Stop(a) | Command::Container(ContainerCmd::Stop(a)) => {
            container::stop(client, a, false).await
        }
        Command::Restart(a) | Command::Container(ContainerCmd::Restart(a)) => {
            container::stop(client, a, true).await
        }
        Command::Kill(a) | Command::Container(ContainerCmd::Kill(a)) => {
            container::kill(client, a).await
        }
        Command::Rm(a) | Command::Container(ContainerCmd::Rm(a)) => container::rm(client, a).await,
        Command::Ps(a) | Command::Container(ContainerCmd::Ls(a)) => container::ps(client, a).await,
        Command::Logs(a) | Command::Container(ContainerCmd::Logs(a)) => {
            container::logs(client, a).await
        }
        Command::Exec(a) | Command::Container(ContainerCmd::Exec(a)) => {
            container::exec(client, a).await
        }
        Command::Attach(a) | Command::Container(ContainerCmd::Attach(a)) => {
            container::attach(client, a).await
        }
        Command::Wait(a) | Command::Container(ContainerCmd::Wait(a)) => {
            container::wait(client, a).await
        }
        Command::Inspect(a) => system::inspect(client, a, None).await,
        Command::Container(ContainerCmd::Inspect(a)) => {
            system::inspect(client, a, Some("container")).await
        }
        Command::Top(a) | Command::Container(ContainerCmd::Top(a)) => {
            container::top(client, a).await
        }
        Command::Stats(a) | Command::Container(ContainerCmd::Stats(a)) => {
            resources::stats(client, a).await
        }
        Command::Update(a) | Command::Container(ContainerCmd::Update(a)) => {
            resources::update(client, a).await
        }
        Command::Diff(a) | Command::Container(ContainerCmd::Diff(a)) => {
            resources::diff(client, a).await
        }
        Command::Rename(a) | Command::Container(ContainerCmd::Rename(a)) => {
            container::rename(client, a).await
        }
        Command::Cp(a) | Command::Container(ContainerCmd::Cp(a)) => container::cp(client, a).await,
        Command::Port(a) | Command::Container(ContainerCmd::Port(a)) => {
            container::port(client, a).await
        }
        Command::Pause(a) | Command::Container(ContainerCmd::Pause(a)) => {
            container::pause(client, a, true).await
        }
        Command::Unpause(a) | Command::Container(ContainerCmd::Unpause(a)) => {
            container::pause(client, a, false).await
        }
        Command::Commit(a) | Command::Container(ContainerCmd::Commit(a)) => {
            image::commit(client, a).await
        }
        Command::Export(a) | Command::Container(ContainerCmd::Export(a)) => {
            container::export(client, a).await
        }
        Command::Container(ContainerCmd::Prune(a)) => system::prune_containers(client, a).await,
        Command::Import(a) | Command::Image(ImageCmd::Import(a)) => image::import(client, a).await,
        Command::Load(a) | Command::Image(ImageCmd::Load(a)) => image::load(client, a).await,
        Command::Save(a) | Command::Image(ImageCmd::Save(a)) => image::save(client, a).await,
        Command::Images(a) | Command::Image(ImageCmd::Ls(a)) => image::images(client, a).await,
        Command::Rmi(a) | Command::Image(ImageCmd::Rm(a)) => image::rmi(client, a).await,
        Command::Tag(a) | Command::Image(ImageCmd::Tag(a)) => image::tag(client, a).await,
        Command::History(a) | Command::Image(ImageCmd::History(a)) => {
            image::history(client, a).await
        }
        Command::Image(ImageCmd::Prune(a)) => image::prune(client, a).await,
        Command::Build(a) | Command::Image(ImageCmd::Build(a)) => {
            crate::cli::build::build(client, a).await
        }
        Command::Builder(c) => crate::cli::build::builder(client, c).await,
        Command::Pull(a) | Command::Image(ImageCmd::Pull(a)) => image::pull(client, a).await,
        Command::Push(a) | Command::Image(ImageCmd::Push(a)) => image::push(client, a).await,
        Command::Login(a) => image::login(client, a).await,
        Command::Logout(a) => image::logout(a),
        Command::Image(ImageCmd::Inspect(a)) => system::inspect(client, a, Some("image")).await,
        Command::Volume(VolumeCmd::Create(a)) => volume::create(client, a).await,
        Command::Volume(VolumeCmd::Ls(a)) => volume::ls(client, a).await,
        Command::Volume(VolumeCmd::Inspect(a)) => system::inspect(client, a, Some("volume")).await,
        Command::Volume(VolumeCmd::Rm(a)) => volume::rm(client, a).await,
        Command::Volume(VolumeCmd::Prune(a)) => volume::prune(client, a).await,
        Command::Network(NetworkCmd::Create(a)) => network::create(client, a).await,
        Command::Network(NetworkCmd::Ls(a)) => network::ls(client, a).await,
        Command::Network(NetworkCmd::Inspect(a)) => {
            system::inspect(client, a, Some("network")).await
        }
        Command::Network(NetworkCmd::Rm(a)) => network::rm(client, a).await,
        Command::Network(NetworkCmd::Prune(a)) => network::prune(client, a).await,
        Command::Network(NetworkCmd::Connect(a)) => network::connect(client, a).await,
        Command::Network(NetworkCmd::Disconnect(a)) => network::disconnect(client, a).await,
        Command::Info(a) | Command::System(SystemCmd::Info(a)) => system::info(client, a).await,
        Command::Version(a) => system::version(client, a).await,
        Command::System(SystemCmd::Prune(a)) => system::prune(client, a).await,
        Command::System(SystemCmd::Df(a)) => system::df(client, a).await,
        Command::Events(a) | Command::System(SystemCmd::Events(a)) => {
            system::events(client, a).await
        }
        Command::Compose(c) => crate::cli::compose::main(client, &c.opts, c.cmd).await,
        Command::Up(t) => {
            crate::cli::compose::main(
                client,
                &t.opts,
                crate::cli::compose::args::ComposeCmd::Up(t.args),
            )
            .await
        }
        Command::Down(t) => {
            crate::cli::compose::main(
                client,
                &t.opts,
                crate::cli::compose::args::ComposeCmd::Down(t.args),
            )
            .await
        }
        Command::Config(t) => {
            crate::cli::compose::main(
                client,
                &t.opts,
                crate::cli::compose::args::ComposeCmd::Config(t.args),
            )
            .await
        }
        Command::Daemon(_)
        | Command::Supervise { .. }
        | Command::NsExec
        | Command::Archive { .. } => unreachable!("handled before dispatch"),
    }
}

/// `--filter k=v` flags to Docker's filters map.
pub fn filters(flags: &[String]) -> std::collections::HashMap<String, Vec<String>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for f in flags {
        let (k, v) = f.split_once('=').unwrap_or((f.as_str(), ""));
        out.entry(k.to_string()).or_default().push(v.to_string());
    }
    out
}

/// `--label k=v` / `--opt k=v` flags to a map (`k` alone maps to an empty value).
pub fn key_values(list: &[String]) -> std::collections::HashMap<String, String> {
    list.iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// Run `f` for each name, printing the name on success like docker; exit 1 if any failed.
pub(crate) async fn each<F, Fut>(names: &[String], f: F) -> CliResult
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    let mut failed = false;
    for n in names {
        match f(n.clone()).await {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Exit::code(1))
    } else {
        Ok(())
    }
}
