//! Instructions that change only the image configuration (ENV, LABEL, WORKDIR, USER, EXPOSE,
//! CMD, ENTRYPOINT, VOLUME, HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD, MAINTAINER), with
//! Docker's rules: relative WORKDIRs join the current one, ENTRYPOINT clears a CMD inherited
//! from the base, shell forms run through the stage's SHELL.

use std::collections::HashMap;

use super::dockerfile::words::process_word;
use super::dockerfile::{Command, Healthcheck, Instr};
use crate::engine::image::config::{HealthConfig, ImageConfig};

pub const DEFAULT_SHELL: &[&str] = &["/bin/sh", "-c"];

/// The stage's shell (SHELL, else `/bin/sh -c`).
pub fn shell_of(config: &ImageConfig) -> Vec<String> {
    config
        .config
        .shell
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect())
}

/// A command as argv: exec form as is, shell form through the shell.
pub fn argv(command: &Command, config: &ImageConfig) -> Vec<String> {
    match command {
        Command::Exec(v) => v.clone(),
        Command::Shell(s) => {
            let mut v = shell_of(config);
            v.push(s.clone());
            v
        }
    }
}

/// Join a WORKDIR onto the current one.
pub fn join_workdir(current: Option<&str>, dir: &str) -> String {
    let path = if dir.starts_with('/') {
        std::path::PathBuf::from(dir)
    } else {
        std::path::Path::new(current.filter(|c| !c.is_empty()).unwrap_or("/")).join(dir)
    };
    let mut out = std::path::PathBuf::from("/");
    for c in path.components() {
        match c {
            std::path::Component::Normal(p) => out.push(p),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out.display().to_string()
}

fn duration_ns(
    flags: &[super::dockerfile::instr::Flag],
    name: &str,
) -> Result<Option<i64>, String> {
    match flags.iter().rev().find(|f| f.name == name) {
        None => Ok(None),
        Some(f) => {
            let v = f.value.clone().unwrap_or_default();
            let d = crate::util::duration::parse_duration(&v)
                .map_err(|e| format!("HEALTHCHECK --{name}: {e}"))?;
            Ok(Some(d.as_nanos() as i64))
        }
    }
}

fn healthcheck(h: &Healthcheck) -> Result<HealthConfig, String> {
    match h {
        Healthcheck::None => Ok(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }),
        Healthcheck::Cmd { flags, test } => {
            let test = match test {
                Command::Exec(v) => {
                    let mut t = vec!["CMD".to_string()];
                    t.extend(v.iter().cloned());
                    t
                }
                Command::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
            };
            let retries = match flags.iter().rev().find(|f| f.name == "retries") {
                Some(f) => Some(
                    f.value
                        .as_deref()
                        .unwrap_or_default()
                        .parse::<i64>()
                        .map_err(|_| "HEALTHCHECK --retries: expected a number".to_string())?,
                ),
                None => None,
            };
            Ok(HealthConfig {
                test: Some(test),
                interval: duration_ns(flags, "interval")?,
                timeout: duration_ns(flags, "timeout")?,
                start_period: duration_ns(flags, "start-period")?,
                start_interval: duration_ns(flags, "start-interval")?,
                retries,
            })
        }
    }
}

fn set_env(config: &mut ImageConfig, key: &str, value: &str) {
    let env = config.config.env.get_or_insert_with(Vec::new);
    let entry = format!("{key}={value}");
    match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// Apply a config-only instruction; `vars` are the variables for substitution. Returns the
/// instruction as recorded in history (after substitution). `cmd_set` tracks whether this
/// stage set CMD itself.
pub fn apply(
    instr: &Instr,
    config: &mut ImageConfig,
    vars: &[(String, String)],
    escape: char,
    cmd_set: &mut bool,
) -> Result<String, String> {
    let w = |s: &str| process_word(s, escape, vars);
    let c = &mut config.config;
    Ok(match instr {
        Instr::Env(pairs) => {
            let mut parts = Vec::new();
            for (k, v) in pairs {
                let k = w(k)?;
                let v = w(v)?;
                parts.push(format!("{k}={v}"));
                set_env(config, &k, &v);
            }
            format!("ENV {}", parts.join(" "))
        }
        Instr::Label(pairs) => {
            let mut parts = Vec::new();
            for (k, v) in pairs {
                let (k, v) = (w(k)?, w(v)?);
                parts.push(format!("{k}={v}"));
                c.labels.get_or_insert_with(HashMap::new).insert(k, v);
            }
            format!("LABEL {}", parts.join(" "))
        }
        Instr::Workdir(d) => {
            let dir = join_workdir(c.working_dir.as_deref(), &w(d)?);
            c.working_dir = Some(dir.clone());
            format!("WORKDIR {dir}")
        }
        Instr::User(u) => {
            let u = w(u)?;
            c.user = Some(u.clone());
            format!("USER {u}")
        }
        Instr::Expose(ports) => {
            let mut out = Vec::new();
            for p in ports {
                for port in expand_port(&w(p)?)? {
                    out.push(port.clone());
                    c.exposed_ports
                        .get_or_insert_with(HashMap::new)
                        .insert(port, serde_json::json!({}));
                }
            }
            format!("EXPOSE map[{}]", out.join(" "))
        }
        Instr::Cmd(cmd) => {
            let v = argv(cmd, config);
            config.config.cmd = Some(v.clone());
            *cmd_set = true;
            format!("CMD {}", serde_json::to_string(&v).unwrap_or_default())
        }
        Instr::Entrypoint(cmd) => {
            let v = argv(cmd, config);
            config.config.entrypoint = Some(v.clone());
            if !*cmd_set {
                config.config.cmd = None;
            }
            format!(
                "ENTRYPOINT {}",
                serde_json::to_string(&v).unwrap_or_default()
            )
        }
        Instr::Volume(paths) => {
            let mut out = Vec::new();
            for p in paths {
                let p = w(p)?;
                if p.is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                out.push(p.clone());
                c.volumes
                    .get_or_insert_with(HashMap::new)
                    .insert(p, serde_json::json!({}));
            }
            format!("VOLUME {}", serde_json::to_string(&out).unwrap_or_default())
        }
        Instr::Healthcheck(h) => {
            c.healthcheck = Some(healthcheck(h)?);
            format!(
                "HEALTHCHECK {}",
                serde_json::to_string(&c.healthcheck).unwrap_or_default()
            )
        }
        Instr::Shell(v) => {
            c.shell = Some(v.clone());
            format!("SHELL {}", serde_json::to_string(v).unwrap_or_default())
        }
        Instr::Stopsignal(s) => {
            let s = w(s)?;
            crate::engine::container::parse_signal(&s).map_err(|e| e.to_string())?;
            c.stop_signal = Some(s.clone());
            format!("STOPSIGNAL {s}")
        }
        Instr::Onbuild(text) => {
            let (kw, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            let trigger = format!("{} {}", kw.to_ascii_uppercase(), rest.trim());
            c.on_build
                .get_or_insert_with(Vec::new)
                .push(trigger.clone());
            format!("ONBUILD {trigger}")
        }
        Instr::Maintainer(m) => {
            let m = w(m)?;
            config.author = Some(m.clone());
            format!("MAINTAINER {m}")
        }
        other => return Err(format!("{other:?} is not a configuration instruction")),
    })
}

/// `80` → `80/tcp`; `8000-8001/udp` → both ports.
fn expand_port(p: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("EXPOSE {p}: invalid protocol {proto:?}"));
    }
    let bad = || format!("EXPOSE {p}: invalid port (expected PORT[/PROTO] or START-END)");
    let (a, b) = match ports.split_once('-') {
        Some((a, b)) => (a, b),
        None => (ports, ports),
    };
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok((a..=b).map(|n| format!("{n}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::build::dockerfile::parse;

    fn build(text: &str) -> ImageConfig {
        let d = parse(&format!("FROM scratch\n{text}")).unwrap();
        let mut config = ImageConfig::new(vec![], Default::default());
        config.config.cmd = Some(vec!["inherited".into()]);
        let mut cmd_set = false;
        for s in &d.stages[0].steps {
            let vars = crate::engine::build::scope::env_pairs(
                config.config.env.as_deref().unwrap_or_default(),
            );
            apply(&s.instr, &mut config, &vars, '\\', &mut cmd_set).unwrap();
        }
        config
    }

    #[test]
    fn env_substitutes_and_replaces() {
        let c = build("ENV A=1 B=\"x y\"\nENV C=${A}-$B A=2\n");
        assert_eq!(c.config.env.unwrap(), vec!["A=2", "B=x y", "C=1-x y"]);
    }

    #[test]
    fn workdir_joins_and_entrypoint_clears_inherited_cmd() {
        let c = build("WORKDIR /a\nWORKDIR b/../c\nENTRYPOINT [\"e\"]\n");
        assert_eq!(c.config.working_dir.as_deref(), Some("/a/c"));
        assert_eq!(c.config.cmd, None);
        let c = build("CMD x\nENTRYPOINT [\"e\"]\n");
        assert_eq!(
            c.config.cmd,
            Some(vec!["/bin/sh".into(), "-c".into(), "x".into()])
        );
    }

    #[test]
    fn shell_changes_later_shell_forms() {
        let c = build("SHELL [\"/bin/bash\", \"-ec\"]\nCMD echo hi\n");
        assert_eq!(
            c.config.cmd,
            Some(vec!["/bin/bash".into(), "-ec".into(), "echo hi".into()])
        );
    }

    #[test]
    fn expose_healthcheck_volume_label_onbuild() {
        let c = build("EXPOSE 80 53/udp 90-91\nHEALTHCHECK --interval=2s --retries=3 CMD wget -q x\nVOLUME /data\nLABEL a=b \"c d\"=e\nONBUILD run echo hi\nSTOPSIGNAL SIGUSR1\nMAINTAINER me\n");
        let ports = c.config.exposed_ports.unwrap();
        for p in ["80/tcp", "53/udp", "90/tcp", "91/tcp"] {
            assert!(ports.contains_key(p), "{p}");
        }
        let h = c.config.healthcheck.unwrap();
        assert_eq!(h.interval, Some(2_000_000_000));
        assert_eq!(h.retries, Some(3));
        assert_eq!(h.test.unwrap()[0], "CMD-SHELL");
        assert!(c.config.volumes.unwrap().contains_key("/data"));
        assert_eq!(c.config.labels.unwrap()["c d"], "e");
        assert_eq!(c.config.on_build.unwrap(), vec!["RUN echo hi"]);
        assert_eq!(c.config.stop_signal.as_deref(), Some("SIGUSR1"));
        assert_eq!(c.author.as_deref(), Some("me"));
    }

    #[test]
    fn bad_values_are_errors() {
        let d = parse("FROM scratch\nEXPOSE 80/xyz\nSTOPSIGNAL NOPE\n").unwrap();
        let mut config = ImageConfig::new(vec![], Default::default());
        for s in &d.stages[0].steps {
            assert!(apply(&s.instr, &mut config, &[], '\\', &mut false).is_err());
        }
    }
}
