//! Loading a compose project, in phases (one module each, like compose-go's loader):
//!
//! 1. [`env`]: the environment (`.env` / `--env-file`, shell wins) and the project name;
//! 2. [`discover`]: which files (`-f`, `COMPOSE_FILE`, `compose.yaml`... and overrides);
//! 3. [`yaml`]: YAML → position-keeping tree (anchors, `<<`, `!reset`, `!override`);
//! 4. [`interpolate`]: `${VAR...}` substitution;
//! 5. [`validate`]: the Compose JSON schema;
//! 6. [`normalize`]: short → long syntax, relative paths resolved against the right file;
//! 7. `extends` and `include` (in this module), then [`merge`] of the `-f` files in order;
//! 8. [`finalize`]: profiles, env_file contents, defaults (default network, resource names),
//!    cross-references, and the typed [`Project`].

pub mod develop;
pub mod discover;
pub mod env;
pub mod finalize;
mod flow_indent;
pub mod interpolate;
pub mod merge;
pub mod normalize;
pub mod validate;
pub mod yaml;

use std::io::Read;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::compose::error::{ComposeError, Result};
use crate::compose::model::Project;
use crate::compose::value::{KeyPath, Node, V};

use env::Environment;

/// How to load a project (the global options of `wharf compose`).
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `-f` files in order; `-` reads standard input. Empty: `COMPOSE_FILE` or discovery.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (repeatable). Empty: `.env` in the project directory.
    pub env_files: Vec<PathBuf>,
    /// `--profile` (repeatable). Empty: `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// `--no-interpolate`.
    pub no_interpolate: bool,
    /// Services named on the command line (`wharf up web`): enabled even when their profiles
    /// are not active.
    pub services: Vec<String>,
    /// The working directory (default: the process's).
    pub working_dir: Option<PathBuf>,
    /// The shell environment (default: the process's).
    pub environment: Option<Environment>,
    /// What `-f -` reads (default: standard input).
    pub stdin: Option<String>,
    /// The engine the project is for (default: a single engine).
    pub target: Target,
}

/// Which kind of engine a project is loaded for. Valid keys that the target cannot apply are
/// reported as warnings; the model keeps what any target honours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// wharf's own engine (or any single Docker engine): `up`, `run`, ...
    #[default]
    Engine,
    /// A Docker Swarm (`wharf stack deploy`).
    Swarm,
    /// The Kubernetes conversion; the converter reports what it cannot carry over.
    Kubernetes,
}

/// A loaded project and the warnings loading produced (unsupported keys, `version:`...).
#[derive(Clone, Debug)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<String>,
    /// The environment used for interpolation (shell + dotenv files).
    pub environment: Environment,
    /// Where keys were written, by dotted path (`services.web.build`), for the targets that
    /// report keys they cannot carry over.
    pub locations: KeyLocations,
}

/// Where the keys of services (two levels down: `services.web.deploy.placement`) and of the
/// top-level resources were written, after merging (the last file that set a key wins).
#[derive(Clone, Debug, Default)]
pub struct KeyLocations(std::collections::BTreeMap<String, crate::compose::Location>);

impl KeyLocations {
    fn collect(doc: &Node) -> KeyLocations {
        let mut out = std::collections::BTreeMap::new();
        fn walk(
            n: &Node,
            path: &str,
            depth: usize,
            out: &mut std::collections::BTreeMap<String, crate::compose::Location>,
        ) {
            let Some(m) = n.as_map() else { return };
            for (k, v) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let at = v.key_pos.clone().or_else(|| v.pos.clone());
                out.insert(p.clone(), crate::compose::Location::from(at));
                if depth > 0 {
                    walk(v, &p, depth - 1, out);
                }
            }
        }
        walk(doc, "", 3, &mut out);
        KeyLocations(out)
    }

    /// Where `path` was written (`services.web.build`), or the nearest parent that was.
    pub fn of(&self, path: &str) -> crate::compose::Location {
        let mut p = path;
        loop {
            if let Some(l) = self.0.get(p) {
                return l.clone();
            }
            match p.rsplit_once('.') {
                Some((parent, _)) => p = parent,
                None => return crate::compose::Location::default(),
            }
        }
    }
}

/// Load a compose project: the environment, the files, each file through the per-file phases
/// and merged, the project's name and profiles, then [`finalize`] and the dependency graph.
pub fn load_project(opts: &LoadOptions) -> Result<Loaded> {
    let shell = opts
        .environment
        .clone()
        .unwrap_or_else(Environment::from_os);
    let cwd = match &opts.working_dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().map_err(|source| ComposeError::Io {
            path: PathBuf::from("."),
            what: "cannot read the current directory",
            source,
        })?,
    };
    let abs = |p: &Path| normalize::clean_path(&cwd.join(p));
    let first_file_dir = opts
        .files
        .iter()
        .find(|f| f.as_os_str() != "-")
        .filter(|_| opts.files.first().is_some_and(|f| f.as_os_str() != "-"))
        .and_then(|f| abs(f).parent().map(Path::to_path_buf));
    let env_dir = opts
        .project_directory
        .as_ref()
        .map(|d| abs(d))
        .or_else(|| first_file_dir.clone())
        .unwrap_or_else(|| cwd.clone());
    let environment = load_environment(opts, &shell, &env_dir, &abs)?;
    let files = config_files(opts, &environment, &env_dir, &abs)?;
    let project_dir = opts
        .project_directory
        .as_ref()
        .map(|d| abs(d))
        .or_else(|| {
            files
                .first()
                .filter(|f| f.as_os_str() != "-")
                .and_then(|f| f.parent().map(Path::to_path_buf))
        })
        .unwrap_or_else(|| cwd.clone());

    let mut warnings = Vec::new();
    let ctx = FileCtx {
        base_dir: project_dir.clone(),
        env: environment.clone(),
        no_interpolate: opts.no_interpolate,
        target: opts.target,
    };
    let doc = load_and_merge(&files, opts, &ctx, &mut warnings)?;
    let name = project_name(opts, &environment, &doc, &project_dir)?;
    let locations = KeyLocations::collect(&doc);
    let project = finalize::finalize(
        doc,
        finalize::FinalizeInput {
            name,
            working_dir: project_dir,
            config_files: files,
            profiles: active_profiles(opts, &environment),
            explicit_services: opts.services.clone(),
            env: &environment,
        },
        &mut warnings,
    )?;
    crate::compose::graph::ServiceGraph::build(&project)?;
    Ok(Loaded {
        project,
        warnings,
        environment,
        locations,
    })
}

/// The environment: the shell wins over the dotenv files (`--env-file`, else `.env` in the
/// project directory), which may refer to each other's variables in order.
fn load_environment(
    opts: &LoadOptions,
    shell: &Environment,
    env_dir: &Path,
    abs: &dyn Fn(&Path) -> PathBuf,
) -> Result<Environment> {
    let mut environment = shell.clone();
    let dotenv_files: Vec<PathBuf> = if opts.env_files.is_empty() {
        let d = env_dir.join(".env");
        if d.is_file() {
            vec![d]
        } else {
            vec![]
        }
    } else {
        opts.env_files.iter().map(|f| abs(f)).collect()
    };
    let mut from_files = Environment::default();
    for f in &dotenv_files {
        let look = |n: &str| shell.get(n).or_else(|| from_files.get(n));
        for (k, v) in env::read_dotenv(f, &look)? {
            if let Some(v) = v {
                from_files.vars.insert(k, v);
            }
        }
    }
    environment.fill_from(from_files.vars);
    Ok(environment)
}

/// The compose files: `-f` in order, else `COMPOSE_FILE`, else discovery.
fn config_files(
    opts: &LoadOptions,
    environment: &Environment,
    env_dir: &Path,
    abs: &dyn Fn(&Path) -> PathBuf,
) -> Result<Vec<PathBuf>> {
    if !opts.files.is_empty() {
        return Ok(opts
            .files
            .iter()
            .map(|f| {
                if f.as_os_str() == "-" {
                    f.clone()
                } else {
                    abs(f)
                }
            })
            .collect());
    }
    if let Some(cf) = environment.get("COMPOSE_FILE").filter(|s| !s.is_empty()) {
        let sep = environment.get("COMPOSE_PATH_SEPARATOR");
        return Ok(discover::split_compose_file(&cf, sep.as_deref())
            .iter()
            .map(|f| normalize::clean_path(&env_dir.join(f)))
            .collect());
    }
    discover::discover(env_dir)
}

/// Each file through the per-file phases, merged in order.
fn load_and_merge(
    files: &[PathBuf],
    opts: &LoadOptions,
    ctx: &FileCtx,
    warnings: &mut Vec<String>,
) -> Result<Node> {
    let mut merged: Option<Node> = None;
    for f in files {
        let (text, label) = if f.as_os_str() == "-" {
            (read_stdin(opts)?, "-".to_string())
        } else {
            (read_file(f)?, f.display().to_string())
        };
        let doc = load_file_text(&text, &label, ctx, warnings, 0)?;
        merged = Some(match merged {
            None => doc,
            Some(base) => merge::merge_nodes(base, doc, &KeyPath::root()),
        });
    }
    let mut doc = merged.unwrap_or_else(Node::map);
    merge::strip_tags(&mut doc);
    Ok(doc)
}

/// What `-f -` reads.
fn read_stdin(opts: &LoadOptions) -> Result<String> {
    if let Some(s) = &opts.stdin {
        return Ok(s.clone());
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|source| ComposeError::Io {
            path: PathBuf::from("-"),
            what: "cannot read the compose file from standard input",
            source,
        })?;
    Ok(s)
}

/// The project name: `-p`, `COMPOSE_PROJECT_NAME`, the top-level `name:`, else the project
/// directory's name normalised.
fn project_name(
    opts: &LoadOptions,
    environment: &Environment,
    doc: &Node,
    project_dir: &Path,
) -> Result<String> {
    if let Some(p) = &opts.project_name {
        return check_name(p, "-p");
    }
    if let Some(p) = environment
        .get("COMPOSE_PROJECT_NAME")
        .filter(|s| !s.is_empty())
    {
        return check_name(&p, "COMPOSE_PROJECT_NAME");
    }
    if let Some(n) = doc
        .get("name")
        .and_then(Node::as_str)
        .filter(|s| !s.is_empty())
    {
        return check_name(n, "the top-level name: key");
    }
    let base = project_dir
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let n = env::normalize_project_name(&base);
    if n.is_empty() {
        return Err(ComposeError::ProjectName {
            name: base,
            source_of_name: "the project directory".into(),
        });
    }
    Ok(n)
}

/// `--profile`, else `COMPOSE_PROFILES` (comma-separated).
fn active_profiles(opts: &LoadOptions, environment: &Environment) -> Vec<String> {
    if !opts.profiles.is_empty() {
        return opts.profiles.clone();
    }
    environment
        .get("COMPOSE_PROFILES")
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn check_name(n: &str, from: &str) -> Result<String> {
    if env::is_valid_project_name(n) {
        Ok(n.to_string())
    } else {
        Err(ComposeError::ProjectName {
            name: n.to_string(),
            source_of_name: from.to_string(),
        })
    }
}

fn read_file(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).map_err(|source| ComposeError::Io {
        path: p.to_path_buf(),
        what: "cannot read compose file",
        source,
    })
}

/// What loading one file needs.
#[derive(Clone)]
struct FileCtx {
    base_dir: PathBuf,
    env: Environment,
    no_interpolate: bool,
    target: Target,
}

const MAX_DEPTH: usize = 32;

/// Parse, interpolate, validate and normalise one file; then resolve its `include` and
/// `extends`. The result is in the long syntax, ready to merge.
fn load_file_text(
    text: &str,
    label: &str,
    ctx: &FileCtx,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<Node> {
    if depth > MAX_DEPTH {
        return Err(ComposeError::invalid(
            crate::compose::error::Location::file(label),
            &KeyPath::root(),
            "extends/include nest too deep (is there a cycle?)",
        ));
    }
    let mut doc = yaml::parse_file(text, label)?;
    if !ctx.no_interpolate {
        let env = &ctx.env;
        interpolate::interpolate_node(&mut doc, &KeyPath::root(), &|n| env.get(n), warnings)?;
    }
    validate::validate_document(&doc)?;
    if let Some(m) = doc.as_map_mut() {
        if m.shift_remove("version").is_some() {
            warnings.push(format!(
                "{label}: the top-level version: is obsolete and ignored"
            ));
        }
    }
    let includes = doc.as_map_mut().and_then(|m| m.shift_remove("include"));
    {
        let mut nctx = normalize::NormCtx {
            base_dir: &ctx.base_dir,
            env: &ctx.env,
            warnings,
            target: ctx.target,
        };
        normalize::normalize_document(&mut doc, &mut nctx)?;
    }
    if let Some(inc) = includes {
        apply_includes(&mut doc, &inc, ctx, warnings, depth)?;
    }
    apply_extends(&mut doc, label, ctx, warnings, depth)?;
    Ok(doc)
}

fn load_file_path(
    path: &Path,
    ctx: &FileCtx,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<Node> {
    let text = read_file(path)?;
    load_file_text(&text, &path.display().to_string(), ctx, warnings, depth)
}

fn apply_extends(
    doc: &mut Node,
    label: &str,
    ctx: &FileCtx,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<()> {
    let Some(services) = doc.get("services").and_then(Node::as_map).cloned() else {
        return Ok(());
    };
    let mut resolved: IndexMap<String, Node> = IndexMap::new();
    for name in services.keys() {
        let mut stack = Vec::new();
        let n = extend_service(&services, name, label, ctx, warnings, depth, &mut stack)?;
        resolved.insert(name.clone(), n);
    }
    if let Some(s) = doc.get_mut("services") {
        s.v = V::Map(resolved);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn extend_service(
    services: &IndexMap<String, Node>,
    name: &str,
    label: &str,
    ctx: &FileCtx,
    warnings: &mut Vec<String>,
    depth: usize,
    stack: &mut Vec<String>,
) -> Result<Node> {
    let path = KeyPath::root().key("services").key(name);
    let mut svc = services[name].clone();
    let Some(ext) = svc.as_map_mut().and_then(|m| m.shift_remove("extends")) else {
        return Ok(svc);
    };
    let target = ext
        .get("service")
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_string();
    let ext_path = path.key("extends");
    let base = match ext.get("file").and_then(Node::as_str) {
        Some(file) => {
            let fp = PathBuf::from(file);
            let sub = FileCtx {
                base_dir: fp.parent().map(Path::to_path_buf).unwrap_or_default(),
                env: ctx.env.clone(),
                no_interpolate: ctx.no_interpolate,
                target: ctx.target,
            };
            // a file that cannot be read is reported where the extends names it
            let other = load_file_path(&fp, &sub, warnings, depth + 1).map_err(|e| match e {
                ComposeError::Io { path, source, .. } if path == fp => ComposeError::invalid(
                    ext.get("file").and_then(|f| f.pos.clone()),
                    &ext_path.key("file"),
                    format!("cannot read {}: {source}", path.display()),
                ),
                e => e,
            })?;
            other
                .get("services")
                .and_then(|s| s.get(&target))
                .cloned()
                .ok_or_else(|| {
                    ComposeError::invalid(
                        ext.pos.clone(),
                        &ext_path,
                        format!("cannot extend service {target:?}: it is not defined in {file}"),
                    )
                })?
        }
        None => {
            if !services.contains_key(&target) {
                return Err(ComposeError::invalid(
                    ext.pos.clone(),
                    &ext_path,
                    format!("cannot extend service {target:?}: it is not defined in {label}"),
                ));
            }
            if stack.iter().any(|s| s == &target) || target == name {
                let mut chain = stack.clone();
                chain.push(name.to_string());
                chain.push(target.clone());
                return Err(ComposeError::invalid(
                    ext.pos.clone(),
                    &ext_path,
                    format!("circular extends: {}", chain.join(" -> ")),
                ));
            }
            stack.push(name.to_string());
            let b = extend_service(services, &target, label, ctx, warnings, depth, stack)?;
            stack.pop();
            b
        }
    };
    Ok(merge::merge_nodes(base, svc, &path))
}

fn apply_includes(
    doc: &mut Node,
    inc: &Node,
    ctx: &FileCtx,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<()> {
    let Some(items) = inc.as_seq() else {
        return Ok(());
    };
    for (i, it) in items.iter().enumerate() {
        let ip = KeyPath::root().key("include").index(i);
        let (paths, project_dir, env_files): (Vec<String>, Option<String>, Vec<String>) =
            match &it.v {
                V::Str(s) => (vec![s.clone()], None, vec![]),
                V::Map(m) => {
                    let list = |k: &str| -> Vec<String> {
                        match m.get(k).map(|n| &n.v) {
                            Some(V::Str(s)) => vec![s.clone()],
                            Some(V::Seq(s)) => s.iter().filter_map(Node::scalar_string).collect(),
                            _ => vec![],
                        }
                    };
                    (
                        list("path"),
                        m.get("project_directory").and_then(Node::scalar_string),
                        list("env_file"),
                    )
                }
                _ => continue,
            };
        let paths: Vec<PathBuf> = paths
            .iter()
            .map(|p| PathBuf::from(normalize::resolve_path_in(p, &ctx.base_dir, &ctx.env)))
            .collect();
        let Some(first) = paths.first() else { continue };
        let sub_dir = match project_dir {
            Some(d) => PathBuf::from(normalize::resolve_path_in(&d, &ctx.base_dir, &ctx.env)),
            None => first.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        // the included project's environment: ours wins over its env files
        let mut env = ctx.env.clone();
        let env_files: Vec<PathBuf> = if env_files.is_empty() {
            let d = sub_dir.join(".env");
            if d.is_file() {
                vec![d]
            } else {
                vec![]
            }
        } else {
            env_files
                .iter()
                .map(|p| PathBuf::from(normalize::resolve_path_in(p, &ctx.base_dir, &ctx.env)))
                .collect()
        };
        for f in env_files {
            let base_env = env.clone();
            let vars = env::read_dotenv(&f, &|n| base_env.get(n))?;
            env.fill_from(vars.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        }
        let sub = FileCtx {
            base_dir: sub_dir,
            env,
            no_interpolate: ctx.no_interpolate,
            target: ctx.target,
        };
        let mut included: Option<Node> = None;
        for p in &paths {
            let d = load_file_path(p, &sub, warnings, depth + 1)?;
            included = Some(match included {
                None => d,
                Some(b) => merge::merge_nodes(b, d, &KeyPath::root()),
            });
        }
        let Some(included) = included else { continue };
        let Some(dm) = doc.as_map_mut() else { continue };
        for section in ["services", "networks", "volumes", "secrets", "configs"] {
            let Some(src) = included.get(section).and_then(Node::as_map) else {
                continue;
            };
            let dst = dm.entry(section.to_string()).or_insert_with(Node::map);
            if dst.is_null() {
                *dst = Node::map();
            }
            let Some(dst) = dst.as_map_mut() else {
                continue;
            };
            for (k, v) in src {
                if let Some(existing) = dst.get(k) {
                    if existing != v {
                        return Err(ComposeError::invalid(
                            it.pos.clone(),
                            &ip,
                            format!(
                                "{section}.{k} imported from {} conflicts with a definition in this file",
                                first.display()
                            ),
                        ));
                    }
                    continue;
                }
                dst.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(())
}
