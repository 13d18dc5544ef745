//! Which host changes a watch rule takes, and where they go in the container: a path must be
//! under the rule's `path`, kept by its `include` patterns (when it has some), not left out by
//! its `ignore` patterns, by the build context's `.dockerignore`, or by the editors' and git's
//! scratch files (as docker compose ignores them). Patterns read as in `.dockerignore` (so
//! `*.tmp` is at the top of `path` only, `**/*.tmp` anywhere). Pure, so it is unit tested.

use std::path::{Path, PathBuf};

use crate::compose::model::{WatchAction, WatchRule};
use crate::engine::build::pattern::{segment_match, Ignore};

/// Scratch files of editors (vim's swap files and its `4913` probe, emacs' locks and
/// backups, JetBrains' safe-write copies) and git's metadata: never worth an action.
fn is_scratch(rel: &Path) -> bool {
    const NAMES: &[&str] = &[
        "4913",
        "*~",
        ".*.swp",
        ".*.swx",
        ".*.swpx",
        "#*#",
        ".#*",
        "*___jb_tmp___",
        "*___jb_old___",
    ];
    if rel.components().any(|c| c.as_os_str() == ".git") {
        return true;
    }
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    NAMES
        .iter()
        .any(|p| segment_match(p, name).unwrap_or(false))
}

/// One rule, ready to match paths.
pub struct Matcher {
    pub rule: WatchRule,
    ignore: Ignore,
    include: Option<Ignore>,
    /// The build context and its `.dockerignore`, for paths under it.
    context: Option<(PathBuf, Ignore)>,
}

/// A change a rule accepted: the host path, and for the sync actions its path in the
/// container.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub host: PathBuf,
    pub container: Option<String>,
}

impl Matcher {
    /// `context`: the service's local build context directory and its parsed `.dockerignore`.
    pub fn new(rule: &WatchRule, context: Option<(PathBuf, Ignore)>) -> Result<Matcher, String> {
        let parse = |what: &str, pats: &[String]| {
            Ignore::parse(&pats.join("\n"))
                .map_err(|e| format!("develop.watch {what} of {}: {e}", rule.path))
        };
        Ok(Matcher {
            ignore: parse("ignore", &rule.ignore)?,
            include: match rule.include.is_empty() {
                true => None,
                false => Some(parse("include", &rule.include)?),
            },
            context,
            rule: rule.clone(),
        })
    }

    pub fn action(&self) -> WatchAction {
        self.rule.action
    }

    pub fn root(&self) -> &Path {
        Path::new(&self.rule.path)
    }

    /// The change `path` is for this rule, if it takes it.
    pub fn accept(&self, path: &Path) -> Option<Change> {
        let rel = path.strip_prefix(self.root()).ok()?;
        let rel_text = rel.to_str()?;
        if is_scratch(rel) || (!rel_text.is_empty() && self.ignore.excluded(rel_text)) {
            return None;
        }
        if let Some(include) = &self.include {
            if !rel_text.is_empty() && !include.excluded(rel_text) {
                return None;
            }
        }
        if let Some((dir, ignore)) = &self.context {
            let in_context = path.strip_prefix(dir).ok().and_then(Path::to_str);
            if in_context.is_some_and(|r| !r.is_empty() && ignore.excluded(r)) {
                return None;
            }
        }
        let container = self.rule.target.as_ref().map(|t| match rel_text {
            "" => t.clone(),
            r => format!("{}/{r}", t.trim_end_matches('/')),
        });
        Some(Change {
            host: path.to_path_buf(),
            container,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: WatchAction, ignore: &[&str], include: &[&str]) -> WatchRule {
        WatchRule {
            path: "/p/src".into(),
            action,
            target: action.syncs().then(|| "/app/src".to_string()),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            include: include.iter().map(|s| s.to_string()).collect(),
            exec: None,
            initial_sync: false,
        }
    }

    fn target(m: &Matcher, p: &str) -> Option<Option<String>> {
        m.accept(Path::new(p)).map(|c| c.container)
    }

    #[test]
    fn paths_map_under_the_target_and_others_are_refused() {
        let m = Matcher::new(&rule(WatchAction::Sync, &[], &[]), None).unwrap();
        assert_eq!(
            target(&m, "/p/src/a.js"),
            Some(Some("/app/src/a.js".into()))
        );
        assert_eq!(
            target(&m, "/p/src/d/b.js"),
            Some(Some("/app/src/d/b.js".into()))
        );
        assert_eq!(target(&m, "/p/src"), Some(Some("/app/src".into())));
        assert_eq!(target(&m, "/p/srcx/a.js"), None);
        assert_eq!(target(&m, "/p/other"), None);
        let r = Matcher::new(&rule(WatchAction::Rebuild, &[], &[]), None).unwrap();
        assert_eq!(target(&r, "/p/src/a.js"), Some(None));
    }

    #[test]
    fn ignore_include_dockerignore_and_scratch_files() {
        let m = Matcher::new(
            &rule(WatchAction::Sync, &["node_modules/", "*.tmp"], &[]),
            None,
        )
        .unwrap();
        assert_eq!(target(&m, "/p/src/node_modules/x/y.js"), None);
        assert_eq!(target(&m, "/p/src/a.tmp"), None);
        assert!(target(&m, "/p/src/a.js").is_some());
        for scratch in [
            "4913",
            "a.js~",
            ".a.js.swp",
            "#a#",
            ".#a",
            ".git/index",
            "a___jb_tmp___",
        ] {
            assert_eq!(target(&m, &format!("/p/src/{scratch}")), None, "{scratch}");
        }
        let inc = Matcher::new(&rule(WatchAction::Sync, &[], &["*.js", "lib/"]), None).unwrap();
        assert!(target(&inc, "/p/src/a.js").is_some());
        assert!(target(&inc, "/p/src/lib/deep/x.css").is_some());
        assert_eq!(target(&inc, "/p/src/a.css"), None);
        let ctx = Some((PathBuf::from("/p"), Ignore::parse("src/*.log\n").unwrap()));
        let m = Matcher::new(&rule(WatchAction::Sync, &[], &[]), ctx).unwrap();
        assert_eq!(target(&m, "/p/src/x.log"), None);
        assert!(target(&m, "/p/src/x.js").is_some());
    }

    #[test]
    fn a_bad_pattern_names_the_rule() {
        let e = Matcher::new(&rule(WatchAction::Sync, &["[a-"], &[]), None)
            .err()
            .unwrap();
        assert!(e.contains("ignore of /p/src"), "{e}");
    }
}
