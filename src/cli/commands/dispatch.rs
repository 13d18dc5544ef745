//! Dispatch: a top-level shorthand (`wharf run`, `wharf images`, `wharf info`) is first read
//! as the family command it stands for (`container run`, `image ls`, `system info`), so each
//! family has one dispatcher and the two spellings cannot call different code.

use super::{container, image, network, resources, run, search, system, volume};
use crate::api::client::Client;
use crate::cli::args::{
    Command, ContainerCmd, GlobalOpts, ImageCmd, NetworkCmd, SystemCmd, VolumeCmd,
};
use crate::cli::compose::args::ComposeCmd;
use crate::cli::{CliResult, Exit};

pub async fn dispatch(client: &Client, _global: &GlobalOpts, command: Command) -> CliResult {
    match family(command) {
        Command::Container(c) => container_cmd(client, c).await,
        Command::Image(c) => image_cmd(client, c).await,
        Command::Volume(c) => volume_cmd(client, c).await,
        Command::Network(c) => network_cmd(client, c).await,
        Command::System(c) => system_cmd(client, c).await,
        Command::Inspect(a) => system::inspect(client, a, None).await,
        Command::Version(a) => system::version(client, a).await,
        Command::Login(a) => image::login(client, a).await,
        Command::Logout(a) => image::logout(a).await,
        Command::Search(a) => search::search(client, a).await,
        Command::Builder(c) => crate::cli::build::builder(client, c).await,
        Command::Compose(c) => crate::cli::compose::main(client, &c.opts, c.cmd).await,
        Command::Up(t) => crate::cli::compose::main(client, &t.opts, ComposeCmd::Up(t.args)).await,
        Command::Down(t) => {
            crate::cli::compose::main(client, &t.opts, ComposeCmd::Down(t.args)).await
        }
        Command::Config(t) => {
            crate::cli::compose::main(client, &t.opts, ComposeCmd::Config(t.args)).await
        }
        Command::Daemon(_)
        | Command::Supervise { .. }
        | Command::NsExec
        | Command::Archive { .. } => unreachable!("handled before dispatch"),
        other => Err(Exit::msg(
            1,
            format!("wharf: internal error: no dispatcher for {other:?}"),
        )),
    }
}

/// A top-level shorthand as the family command it stands for; others as they are.
fn family(command: Command) -> Command {
    use Command as C;
    use ContainerCmd as Ct;
    let container = Command::Container;
    let image = Command::Image;
    match command {
        C::Run(a) => container(Ct::Run(a)),
        C::Create(a) => container(Ct::Create(a)),
        C::Start(a) => container(Ct::Start(a)),
        C::Stop(a) => container(Ct::Stop(a)),
        C::Restart(a) => container(Ct::Restart(a)),
        C::Kill(a) => container(Ct::Kill(a)),
        C::Rm(a) => container(Ct::Rm(a)),
        C::Ps(a) => container(Ct::Ls(a)),
        C::Logs(a) => container(Ct::Logs(a)),
        C::Exec(a) => container(Ct::Exec(a)),
        C::Attach(a) => container(Ct::Attach(a)),
        C::Wait(a) => container(Ct::Wait(a)),
        C::Top(a) => container(Ct::Top(a)),
        C::Stats(a) => container(Ct::Stats(a)),
        C::Update(a) => container(Ct::Update(a)),
        C::Diff(a) => container(Ct::Diff(a)),
        C::Rename(a) => container(Ct::Rename(a)),
        C::Cp(a) => container(Ct::Cp(a)),
        C::Port(a) => container(Ct::Port(a)),
        C::Pause(a) => container(Ct::Pause(a)),
        C::Unpause(a) => container(Ct::Unpause(a)),
        C::Commit(a) => container(Ct::Commit(a)),
        C::Export(a) => container(Ct::Export(a)),
        C::Import(a) => image(ImageCmd::Import(a)),
        C::Load(a) => image(ImageCmd::Load(a)),
        C::Save(a) => image(ImageCmd::Save(a)),
        C::Images(a) => image(ImageCmd::Ls(a)),
        C::Rmi(a) => image(ImageCmd::Rm(a)),
        C::Tag(a) => image(ImageCmd::Tag(a)),
        C::History(a) => image(ImageCmd::History(a)),
        C::Build(a) => image(ImageCmd::Build(a)),
        C::Pull(a) => image(ImageCmd::Pull(a)),
        C::Push(a) => image(ImageCmd::Push(a)),
        C::Info(a) => Command::System(SystemCmd::Info(a)),
        C::Events(a) => Command::System(SystemCmd::Events(a)),
        other => other,
    }
}

async fn container_cmd(client: &Client, c: ContainerCmd) -> CliResult {
    use ContainerCmd as Ct;
    match c {
        Ct::Run(a) => run::run(client, a, false).await,
        Ct::Create(a) => run::run(client, a, true).await,
        Ct::Start(a) => container::start(client, a).await,
        Ct::Stop(a) => container::stop(client, a, false).await,
        Ct::Restart(a) => container::stop(client, a, true).await,
        Ct::Kill(a) => container::kill(client, a).await,
        Ct::Rm(a) => container::rm(client, a).await,
        Ct::Ls(a) => container::ps(client, a).await,
        Ct::Logs(a) => container::logs(client, a).await,
        Ct::Exec(a) => container::exec(client, a).await,
        Ct::Attach(a) => container::attach(client, a).await,
        Ct::Wait(a) => container::wait(client, a).await,
        Ct::Inspect(a) => system::inspect(client, a, Some("container")).await,
        Ct::Top(a) => container::top(client, a).await,
        Ct::Stats(a) => resources::stats(client, a).await,
        Ct::Update(a) => resources::update(client, a).await,
        Ct::Diff(a) => resources::diff(client, a).await,
        Ct::Rename(a) => container::rename(client, a).await,
        Ct::Cp(a) => container::cp(client, a).await,
        Ct::Port(a) => container::port(client, a).await,
        Ct::Pause(a) => container::pause(client, a, true).await,
        Ct::Unpause(a) => container::pause(client, a, false).await,
        Ct::Commit(a) => image::commit(client, a).await,
        Ct::Export(a) => container::export(client, a).await,
        Ct::Prune(a) => system::prune_containers(client, a).await,
    }
}

async fn image_cmd(client: &Client, c: ImageCmd) -> CliResult {
    match c {
        ImageCmd::Ls(a) => image::images(client, a).await,
        ImageCmd::Rm(a) => image::rmi(client, a).await,
        ImageCmd::Prune(a) => image::prune(client, a).await,
        ImageCmd::Pull(a) => image::pull(client, a).await,
        ImageCmd::Push(a) => image::push(client, a).await,
        ImageCmd::Inspect(a) => system::inspect(client, a, Some("image")).await,
        ImageCmd::History(a) => image::history(client, a).await,
        ImageCmd::Tag(a) => image::tag(client, a).await,
        ImageCmd::Load(a) => image::load(client, a).await,
        ImageCmd::Save(a) => image::save(client, a).await,
        ImageCmd::Import(a) => image::import(client, a).await,
        ImageCmd::Build(a) => crate::cli::build::build(client, a).await,
    }
}

async fn volume_cmd(client: &Client, c: VolumeCmd) -> CliResult {
    match c {
        VolumeCmd::Create(a) => volume::create(client, a).await,
        VolumeCmd::Ls(a) => volume::ls(client, a).await,
        VolumeCmd::Inspect(a) => system::inspect(client, a, Some("volume")).await,
        VolumeCmd::Rm(a) => volume::rm(client, a).await,
        VolumeCmd::Prune(a) => volume::prune(client, a).await,
    }
}

async fn network_cmd(client: &Client, c: NetworkCmd) -> CliResult {
    match c {
        NetworkCmd::Create(a) => network::create(client, a).await,
        NetworkCmd::Ls(a) => network::ls(client, a).await,
        NetworkCmd::Inspect(a) => system::inspect(client, a, Some("network")).await,
        NetworkCmd::Rm(a) => network::rm(client, a).await,
        NetworkCmd::Prune(a) => network::prune(client, a).await,
        NetworkCmd::Connect(a) => network::connect(client, a).await,
        NetworkCmd::Disconnect(a) => network::disconnect(client, a).await,
    }
}

async fn system_cmd(client: &Client, c: SystemCmd) -> CliResult {
    match c {
        SystemCmd::Info(a) => system::info(client, a).await,
        SystemCmd::Prune(a) => system::prune(client, a).await,
        SystemCmd::Df(a) => super::df::df(client, a).await,
        SystemCmd::Events(a) => system::events(client, a).await,
        SystemCmd::DialStdio => super::dial::dial_stdio(client).await,
    }
}
