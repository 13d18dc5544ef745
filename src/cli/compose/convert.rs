//! `wharf compose convert --format kubernetes` (also `config --format kubernetes`): the
//! project as Kubernetes manifests, to standard output or one file per object with `-o DIR`.
//! What does not carry over is printed as warnings and listed at the top of the output.
//! `--format swarm` prints what `wharf stack deploy` would create, as JSON, secrets' data
//! left out.

use std::path::Path;

use super::args::{ComposeOpts, ConfigArgs};
use super::{compose_err, load_options};
use crate::cli::{CliResult, Exit};
use crate::compose::convert::{kubernetes, swarm as swarm_convert};
use crate::compose::graph::ServiceGraph;
use crate::compose::load::{load_project, Target};

pub(super) fn kubernetes(opts: &ComposeOpts, a: &ConfigArgs) -> CliResult {
    let mut lo = load_options(opts, &a.service_names, a.no_interpolate);
    lo.target = Target::Kubernetes;
    let mut loaded = load_project(&lo).map_err(compose_err)?;
    for w in &loaded.warnings {
        eprintln!("WARN[0000] {w}");
    }
    if !a.service_names.is_empty() {
        let graph = ServiceGraph::build(&loaded.project).map_err(compose_err)?;
        let keep = graph.select(&a.service_names, false).map_err(compose_err)?;
        loaded.project.services.retain(|n, _| keep.contains(n));
    }
    let conversion = kubernetes::convert(&loaded).map_err(|e| Exit::msg(1, e.to_string()))?;
    for d in &conversion.dropped {
        eprintln!("WARN[0000] {d}");
    }
    if a.quiet {
        return Ok(());
    }
    let mut header = format!(
        "Kubernetes manifests of the compose project {:?}, made by `wharf compose convert`.\n",
        loaded.project.name
    );
    if !conversion.dropped.is_empty() {
        header.push_str("Not carried over:\n");
        for d in &conversion.dropped {
            header.push_str(&format!("  {d}\n"));
        }
    }
    match &a.output {
        Some(dir) if is_directory_target(dir) => write_dir(dir, &conversion, &header),
        Some(file) => std::fs::write(file, kubernetes::render(&conversion, &header))
            .map_err(|e| Exit::msg(1, format!("{}: {e}", file.display()))),
        None => {
            print!("{}", kubernetes::render(&conversion, &header));
            Ok(())
        }
    }
}

/// `-o` names a directory unless it names a `.yaml`/`.yml` file.
fn is_directory_target(p: &Path) -> bool {
    p.is_dir() || !matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn write_dir(dir: &Path, c: &kubernetes::Conversion, header: &str) -> CliResult {
    let err = |p: &Path, e: std::io::Error| Exit::msg(1, format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    for m in &c.manifests {
        let path = dir.join(kubernetes::file_name(m));
        let one = kubernetes::Conversion {
            manifests: vec![m.clone()],
            dropped: Vec::new(),
        };
        std::fs::write(&path, kubernetes::render(&one, header)).map_err(|e| err(&path, e))?;
    }
    Ok(())
}

pub(super) fn swarm(opts: &ComposeOpts, a: &ConfigArgs) -> CliResult {
    let mut lo = load_options(opts, &a.service_names, a.no_interpolate);
    lo.target = Target::Swarm;
    let loaded = load_project(&lo).map_err(compose_err)?;
    for w in &loaded.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let ns = swarm_convert::Namespace::new(&loaded.project.name).map_err(|e| Exit::msg(1, e))?;
    let mut stack =
        swarm_convert::convert(&loaded, &ns).map_err(|e| Exit::msg(1, e.to_string()))?;
    for d in &stack.dropped {
        eprintln!("WARN[0000] {d}");
    }
    for s in &mut stack.secrets {
        s.data = s
            .data
            .as_ref()
            .map(|d| format!("<{} bytes, base64>", d.len()));
    }
    let doc = serde_json::json!({
        "Networks": stack.networks,
        "ExternalNetworks": stack.external_networks,
        "Secrets": stack.secrets,
        "Configs": stack.configs,
        "Services": stack.services.iter().map(|s| &s.spec).collect::<Vec<_>>(),
    });
    if a.quiet {
        return Ok(());
    }
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    match &a.output {
        Some(file) => {
            std::fs::write(file, text).map_err(|e| Exit::msg(1, format!("{}: {e}", file.display())))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
