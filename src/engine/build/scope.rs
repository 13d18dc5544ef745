//! Docker's ARG and ENV scoping. ARGs before the first FROM are global: visible in FROM lines,
//! and inside a stage only once redeclared (`ARG NAME`). A stage's ARG takes its value from
//! `--build-arg`, else its default. ENV wins over an ARG of the same name. The proxy ARGs
//! are predefined (usable without ARG, never in the cache key) and the platform ARGs are
//! global defaults.

use std::collections::BTreeMap;

use super::dockerfile::words::{process_word, Lookup};

pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The platform ARGs BuildKit defines for every build (wharf builds for the host only).
pub fn platform_args() -> Vec<(String, String)> {
    let arch = crate::docker::platform::host_arch();
    let platform = format!("linux/{arch}");
    [
        ("BUILDPLATFORM", platform.as_str()),
        ("BUILDOS", "linux"),
        ("BUILDARCH", arch),
        ("BUILDVARIANT", ""),
        ("TARGETPLATFORM", platform.as_str()),
        ("TARGETOS", "linux"),
        ("TARGETARCH", arch),
        ("TARGETVARIANT", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One stage's variables.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Values from `--build-arg` (a `None` value means "take it from the daemon's env",
    /// which wharf treats as unset).
    pub build_args: BTreeMap<String, String>,
    /// Global ARGs after overrides, with the platform ARGs.
    pub global: Vec<(String, String)>,
    /// ARGs declared in this stage, in order, with their values.
    pub declared: Vec<(String, String)>,
}

impl Scope {
    /// Global scope: platform ARGs then the ARGs before the first FROM.
    pub fn global(
        build_args: BTreeMap<String, String>,
        decls: &[(String, Option<String>)],
        escape: char,
    ) -> Result<Scope, String> {
        let mut scope = Scope {
            build_args,
            global: platform_args(),
            declared: Vec::new(),
        };
        for (name, default) in decls {
            let value = scope.arg_value(name, default.as_deref(), &scope.global, escape)?;
            if let Some(v) = value {
                scope.global.push((name.clone(), v));
            }
        }
        Ok(scope)
    }

    /// A fresh stage scope on the same globals.
    pub fn stage(&self) -> Scope {
        Scope {
            build_args: self.build_args.clone(),
            global: self.global.clone(),
            declared: Vec::new(),
        }
    }

    fn arg_value(
        &self,
        name: &str,
        default: Option<&str>,
        env: &[(String, String)],
        escape: char,
    ) -> Result<Option<String>, String> {
        if let Some(v) = self.build_args.get(name) {
            return Ok(Some(v.clone()));
        }
        match default {
            Some(d) => process_word(d, escape, env).map(Some),
            None => Ok(None),
        }
    }

    /// `ARG name[=default]` in a stage; `env` is the stage's ENV.
    pub fn declare(
        &mut self,
        name: &str,
        default: Option<&str>,
        env: &[(String, String)],
        escape: char,
    ) -> Result<(), String> {
        let vars = self.vars(env);
        let value = match self.arg_value(name, default, &vars, escape)? {
            Some(v) => Some(v),
            // A redeclared global ARG takes the global value.
            None => self.global.lookup(name).map(str::to_string),
        };
        self.declared.retain(|(k, _)| k != name);
        // Declared without any value: visible as empty to substitution? Docker leaves it
        // unset, so `${A:-d}` still defaults.
        if let Some(v) = value {
            self.declared.push((name.to_string(), v));
        }
        Ok(())
    }

    /// Variables for substitution: declared ARGs, then ENV (which wins).
    pub fn vars(&self, env: &[(String, String)]) -> Vec<(String, String)> {
        let mut v = self.declared.clone();
        v.extend(env.iter().cloned());
        v
    }

    /// Variables a RUN sees besides ENV: declared ARGs and the predefined proxy ARGs given.
    pub fn run_env(&self, env: &[(String, String)]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, v) in &self.declared {
            if !env.iter().any(|(e, _)| e == k) {
                out.push(format!("{k}={v}"));
            }
        }
        for p in PROXY_ARGS {
            if let Some(v) = self.build_args.get(*p) {
                if !self.declared.iter().any(|(k, _)| k == p) {
                    out.push(format!("{p}={v}"));
                }
            }
        }
        out
    }

    /// What of the ARGs belongs in a step's cache key: the declared ones, in order.
    pub fn cache_part(&self) -> String {
        self.declared
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `K=V` strings → pairs.
pub fn env_pairs(env: &[String]) -> Vec<(String, String)> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn global_args_need_redeclaring_in_a_stage() {
        let g = Scope::global(
            args(&[("V", "2")]),
            &[
                ("V".into(), Some("1".into())),
                ("W".into(), Some("w".into())),
            ],
            '\\',
        )
        .unwrap();
        assert_eq!(g.global.lookup("V"), Some("2"));
        assert_eq!(g.global.lookup("TARGETOS"), Some("linux"));
        let mut s = g.stage();
        assert_eq!(s.vars(&[]).lookup("W"), None);
        s.declare("W", None, &[], '\\').unwrap();
        assert_eq!(s.vars(&[]).lookup("W"), Some("w"));
        s.declare("TARGETARCH", None, &[], '\\').unwrap();
        assert!(s.vars(&[]).lookup("TARGETARCH").is_some());
    }

    #[test]
    fn build_args_override_defaults_and_env_wins() {
        let g = Scope::global(args(&[("A", "cli")]), &[], '\\').unwrap();
        let mut s = g.stage();
        s.declare("A", Some("default"), &[], '\\').unwrap();
        s.declare("B", Some("${A}-b"), &[], '\\').unwrap();
        assert_eq!(s.vars(&[]).lookup("B"), Some("cli-b"));
        let env = vec![("A".to_string(), "env".to_string())];
        assert_eq!(s.vars(&env).lookup("A"), Some("env"));
        assert_eq!(s.run_env(&env), vec!["B=cli-b"]);
        assert_eq!(s.cache_part(), "A=cli\nB=cli-b");
    }

    #[test]
    fn proxy_args_reach_run_without_declaration() {
        let g = Scope::global(args(&[("http_proxy", "http://p")]), &[], '\\').unwrap();
        let s = g.stage();
        assert_eq!(s.run_env(&[]), vec!["http_proxy=http://p"]);
        assert_eq!(s.cache_part(), "");
    }
}
