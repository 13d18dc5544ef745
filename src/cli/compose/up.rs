//! `up` and `create`: flags → [`UpRequest`]; `--dry-run` prints the plan.

use std::sync::Arc;

use super::args::{ComposeOpts, CreateArgs, ScaleArgs, UpArgs, WatchArgs};
use super::printer::Printer;
use super::{compose, compose_quiet_if, interrupts, load, parse_pull, parse_scale};
use crate::api::client::Client;
use crate::cli::{CliResult, Exit};
use crate::compose::plan::PlanOptions;
use crate::compose::service::{UpRequest, WatchRequest};

fn request(a: &UpArgs) -> CliResult<UpRequest> {
    Ok(UpRequest {
        plan: PlanOptions {
            services: a.services.clone(),
            no_deps: a.no_deps,
            force_recreate: a.force_recreate,
            no_recreate: a.no_recreate,
            always_recreate_deps: a.always_recreate_deps,
            renew_anon_volumes: a.renew_anon_volumes,
            remove_orphans: a.remove_orphans,
            scale: parse_scale(&a.scale)?,
            no_start: a.no_start,
            pull: parse_pull(&a.pull)?,
            build: a.build,
            no_build: a.no_build,
        },
        detach: a.detach,
        wait: a.wait,
        wait_timeout: a.wait_timeout,
        timeout: a.timeout,
        attach: a.attach.clone(),
        no_attach: a.no_attach.clone(),
        abort_on_container_exit: a.abort_on_container_exit,
        abort_on_container_failure: a.abort_on_container_failure,
        exit_code_from: a.exit_code_from.clone(),
        timestamps: a.timestamps,
        watch: a.watch,
    })
}

pub async fn create(client: &Client, opts: &ComposeOpts, a: CreateArgs) -> CliResult {
    let args = UpArgs {
        detach: true,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        remove_orphans: a.remove_orphans,
        scale: a.scale,
        no_start: true,
        pull: a.pull,
        build: a.build,
        no_build: a.no_build,
        services: a.services,
        ..Default::default()
    };
    up(client, opts, args).await
}

pub async fn up(client: &Client, opts: &ComposeOpts, a: UpArgs) -> CliResult {
    let req = request(&a)?;
    let loaded = load(opts, &a.services)?;
    let project = Arc::new(loaded.project);
    req.validate(&project)?;
    let compose = compose(client, opts);
    if opts.dry_run {
        print!(
            "{}",
            compose.plan_up(&project, &req.plan).await?.plan.render()
        );
        return Ok(());
    }
    let sink = Arc::new(Printer::new(&opts.ansi, a.no_color, !a.no_log_prefix, &[]));
    let mut interrupts = interrupts()?;
    let status = compose
        .up(&project, loaded.environment, &req, sink, &mut interrupts)
        .await?;
    if status.success() {
        Ok(())
    } else {
        Err(Exit::code(status.0))
    }
}

/// `compose watch`: up (unless --no-up), then the watch rules until Ctrl-C, which leaves the
/// containers running.
pub async fn watch(client: &Client, opts: &ComposeOpts, a: WatchArgs) -> CliResult {
    let loaded = load(opts, &a.services)?;
    let project = Arc::new(loaded.project);
    let req = WatchRequest {
        services: a.services,
        no_up: a.no_up,
        prune: a.prune,
    };
    let compose = compose_quiet_if(client, opts, a.quiet);
    let sink = Arc::new(Printer::new(&opts.ansi, false, true, &[]));
    let mut interrupts = interrupts()?;
    let stop = async move {
        interrupts.recv().await;
    };
    compose
        .watch(&project, loaded.environment, &req, sink, stop)
        .await?;
    Ok(())
}

/// `compose scale web=3 db=1`: converge those services to that many containers.
pub async fn scale(client: &Client, opts: &ComposeOpts, a: ScaleArgs) -> CliResult {
    let scale = parse_scale(&a.scale)?;
    let services: Vec<String> = scale.keys().cloned().collect();
    let loaded = load(opts, &services)?;
    crate::compose::service::check_services(&loaded.project, &services, true)?;
    let project = Arc::new(loaded.project);
    let plan = PlanOptions {
        services,
        no_deps: a.no_deps,
        scale,
        ..Default::default()
    };
    compose(client, opts)
        .converge(&project, loaded.environment, &plan)
        .await?;
    Ok(())
}
