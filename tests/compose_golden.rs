//! Golden tests of the compose layer. Each directory under `tests/data/compose/` is a case:
//!
//! - `compose.yaml` (and any other files), loaded as `wharf config` would from that directory;
//! - `args` (optional): `files=a.yaml,b.yaml`, `profiles=p1,p2`, `project=name`,
//!   `env=KEY=VALUE` (repeatable; the only shell variables besides HOME=/home/user),
//!   `env_files=x.env`, `no_interpolate=true`, `workdir=sub`, `stdin=file` (content for `-f -`);
//! - `expected.yaml`: the normalised config (warnings first, as `# warning:` lines), or
//!   `expected_error.txt` when loading must fail;
//! - `observed.yaml` (optional): an observed state and plan options; the plan is compared with
//!   `expected_plan.txt` (or `expected_plan_error.txt`).
//!
//! Absolute paths under the case directory print as `$DIR`. `UPDATE_GOLDEN=1` rewrites the
//! expectations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wharf::compose::load::env::Environment;
use wharf::compose::plan::{
    self, labels, ContainerState, ObservedContainer, ObservedResource, ObservedState, PlanOptions,
};
use wharf::compose::{
    load_project, render_config, render_config_uninterpolated, ConfigFormat, LoadOptions,
};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compose")
}

fn options(dir: &Path) -> LoadOptions {
    let mut o = LoadOptions {
        working_dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    let mut env = Environment::default();
    env.vars.insert("HOME".into(), "/home/user".into());
    if let Ok(args) = std::fs::read_to_string(dir.join("args")) {
        for line in args
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let (k, v) = line.split_once('=').expect("args: key=value");
            let list = || v.split(',').map(PathBuf::from).collect::<Vec<_>>();
            match k {
                "files" => o.files = list(),
                "profiles" => o.profiles = v.split(',').map(String::from).collect(),
                "project" => o.project_name = Some(v.into()),
                "env" => {
                    let (a, b) = v.split_once('=').unwrap_or((v, ""));
                    env.vars.insert(a.into(), b.into());
                }
                "env_files" => o.env_files = list(),
                "no_interpolate" => o.no_interpolate = v == "true",
                "workdir" => o.working_dir = Some(dir.join(v)),
                "project_directory" => o.project_directory = Some(dir.join(v)),
                "stdin" => o.stdin = Some(std::fs::read_to_string(dir.join(v)).unwrap()),
                _ => panic!("unknown args key {k}"),
            }
        }
    }
    o.environment = Some(env);
    o
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ObservedFile {
    #[serde(default)]
    images: BTreeMap<String, String>,
    #[serde(default)]
    networks: Vec<String>,
    #[serde(default)]
    volumes: Vec<String>,
    #[serde(default)]
    containers: Vec<ObservedC>,
    #[serde(default)]
    options: Opts,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservedC {
    service: String,
    #[serde(default = "one")]
    number: u32,
    #[serde(default = "running")]
    state: String,
    /// `current` (the desired hash), `stale`, or a literal hash.
    #[serde(default = "current")]
    hash: String,
    #[serde(default)]
    image_id: Option<String>,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    oneoff: bool,
    /// The engine's network mode, e.g. `container:id-app-1`.
    #[serde(default)]
    network_mode: Option<String>,
}

fn one() -> u32 {
    1
}
fn running() -> String {
    "running".into()
}
fn current() -> String {
    "current".into()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Opts {
    services: Vec<String>,
    no_deps: bool,
    force_recreate: bool,
    no_recreate: bool,
    always_recreate_deps: bool,
    renew_anon_volumes: bool,
    remove_orphans: bool,
    scale: BTreeMap<String, u32>,
    no_start: bool,
    pull: Option<String>,
    down: bool,
    down_volumes: bool,
}

fn check(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        ));
    }
}

fn run_case(dir: &Path, failures: &mut Vec<String>) {
    let dir_s = dir.display().to_string();
    let clean = |s: String| s.replace(&dir_s, "$DIR");
    let opts = options(dir);
    let loaded = load_project(&opts);
    let loaded = match loaded {
        Err(e) => {
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                let _ = std::fs::remove_file(dir.join("expected.yaml"));
            } else if dir.join("expected.yaml").exists() {
                failures.push(format!("{dir_s}: loading failed: {e}"));
                return;
            }
            check(
                &dir.join("expected_error.txt"),
                &clean(format!("{e}\n")),
                failures,
            );
            return;
        }
        Ok(l) => l,
    };
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_file(dir.join("expected_error.txt"));
    } else if dir.join("expected_error.txt").exists() {
        failures.push(format!("{dir_s}: expected an error, loading succeeded"));
        return;
    }
    let mut out = String::new();
    for w in &loaded.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    out.push_str(&match opts.no_interpolate {
        true => render_config_uninterpolated(&loaded.project, ConfigFormat::Yaml),
        false => render_config(&loaded.project, ConfigFormat::Yaml),
    });
    check(&dir.join("expected.yaml"), &clean(out), failures);

    let obs_path = dir.join("observed.yaml");
    if !obs_path.exists() {
        return;
    }
    let text = std::fs::read_to_string(&obs_path).unwrap();
    let node = wharf::compose::load::yaml::parse_file(&text, "observed.yaml").unwrap();
    let of: ObservedFile = serde_json::from_value(node.to_json()).expect("observed.yaml");
    let project = &loaded.project;
    let hashes = plan::project_hashes(project).unwrap();
    let mut observed = ObservedState {
        images: of.images.clone(),
        networks: of
            .networks
            .iter()
            .map(|n| ObservedResource {
                name: n.clone(),
                labels: BTreeMap::new(),
            })
            .collect(),
        volumes: of
            .volumes
            .iter()
            .map(|n| ObservedResource {
                name: n.clone(),
                labels: BTreeMap::new(),
            })
            .collect(),
        containers: vec![],
    };
    for c in &of.containers {
        let proj = c.project.clone().unwrap_or_else(|| project.name.clone());
        let hash = match c.hash.as_str() {
            "current" => hashes.get(&c.service).cloned().unwrap_or_default(),
            "stale" => "stale".to_string(),
            h => h.to_string(),
        };
        let mut l = BTreeMap::new();
        l.insert(labels::PROJECT.to_string(), proj.clone());
        l.insert(labels::SERVICE.to_string(), c.service.clone());
        l.insert(labels::NUMBER.to_string(), c.number.to_string());
        l.insert(labels::CONFIG_HASH.to_string(), hash);
        l.insert(
            labels::ONEOFF.to_string(),
            if c.oneoff { "True" } else { "False" }.to_string(),
        );
        let image_id = c.image_id.clone().unwrap_or_else(|| {
            project
                .services
                .get(&c.service)
                .and_then(|s| s.image.as_ref())
                .and_then(|i| of.images.get(i))
                .cloned()
                .unwrap_or_default()
        });
        observed.containers.push(ObservedContainer {
            id: format!("id-{}-{}", c.service, c.number),
            name: if c.oneoff {
                format!("{proj}-{}-run-{}", c.service, c.number)
            } else {
                format!("{proj}-{}-{}", c.service, c.number)
            },
            labels: l,
            image_id,
            state: match c.state.as_str() {
                "running" => ContainerState::Running,
                "created" => ContainerState::Created,
                "exited" => ContainerState::Exited(0),
                "failed" => ContainerState::Exited(1),
                "paused" => ContainerState::Paused,
                other => panic!("unknown state {other}"),
            },
            network_mode: c.network_mode.clone(),
        });
    }
    let o = &of.options;
    let result = if o.down {
        plan::plan_down(
            project,
            &observed,
            &plan::DownOptions {
                volumes: o.down_volumes,
                remove_orphans: o.remove_orphans,
            },
        )
    } else {
        let popts = PlanOptions {
            services: o.services.clone(),
            no_deps: o.no_deps,
            force_recreate: o.force_recreate,
            no_recreate: o.no_recreate,
            always_recreate_deps: o.always_recreate_deps,
            renew_anon_volumes: o.renew_anon_volumes,
            remove_orphans: o.remove_orphans,
            scale: o.scale.clone(),
            no_start: o.no_start,
            pull: o
                .pull
                .as_ref()
                .map(|p| serde_json::from_value(serde_json::Value::String(p.clone())).unwrap()),
            ..Default::default()
        };
        plan::plan_up_with_hashes(project, &hashes, &observed, &popts)
    };
    match result {
        Ok(p) => check(&dir.join("expected_plan.txt"), &clean(p.render()), failures),
        Err(e) => check(
            &dir.join("expected_plan_error.txt"),
            &clean(format!("{e}\n")),
            failures,
        ),
    }
}

/// One test per case directory (libtest-mimic), so a case can be selected and retried:
/// `cargo nextest run --test compose_golden -- basic`.
fn main() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no golden cases");
    let trials = cases
        .into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            libtest_mimic::Trial::test(name, move || {
                let mut failures = Vec::new();
                run_case(&dir, &mut failures);
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err(failures.join("\n\n").into())
                }
            })
        })
        .collect();
    libtest_mimic::run(&libtest_mimic::Arguments::from_args(), trials).exit();
}
