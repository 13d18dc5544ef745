//! Dockerfile-like `--change` instructions for `import` and `commit`
//! (`CMD`, `ENTRYPOINT`, `ENV`, `WORKDIR`, `EXPOSE`, `USER`, `VOLUME`, `LABEL`, `STOPSIGNAL`).

use std::collections::HashMap;

use super::config::RunConfig;

/// Apply each change to `config`; the error names the instruction that could not be applied.
pub fn apply_changes(config: &mut RunConfig, changes: &[String]) -> Result<(), String> {
    for change in changes {
        apply_one(config, change.trim())?;
    }
    Ok(())
}

fn apply_one(config: &mut RunConfig, change: &str) -> Result<(), String> {
    let (instr, rest) = change
        .split_once(char::is_whitespace)
        .map(|(i, r)| (i, r.trim()))
        .unwrap_or((change, ""));
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => config.cmd = Some(exec_or_shell(rest)?),
        "ENTRYPOINT" => config.entrypoint = Some(exec_or_shell(rest)?),
        "WORKDIR" => config.working_dir = Some(rest.to_string()),
        "USER" => config.user = Some(rest.to_string()),
        "STOPSIGNAL" => config.stop_signal = Some(rest.to_string()),
        "ENV" => {
            for (k, v) in key_values(rest, true)? {
                let env = config.env.get_or_insert_with(Vec::new);
                env.retain(|e| e.split('=').next() != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            for (k, v) in key_values(rest, false)? {
                config
                    .labels
                    .get_or_insert_with(HashMap::new)
                    .insert(k, v);
            }
        }
        "EXPOSE" => {
            for port in rest.split_whitespace() {
                let port = if port.contains('/') {
                    port.to_string()
                } else {
                    format!("{port}/tcp")
                };
                config
                    .exposed_ports
                    .get_or_insert_with(HashMap::new)
                    .insert(port, serde_json::json!({}));
            }
        }
        "VOLUME" => {
            let paths = if rest.starts_with('[') {
                serde_json::from_str::<Vec<String>>(rest)
                    .map_err(|e| format!("VOLUME {rest}: {e}"))?
            } else {
                rest.split_whitespace().map(String::from).collect()
            };
            for p in paths {
                config
                    .volumes
                    .get_or_insert_with(HashMap::new)
                    .insert(p, serde_json::json!({}));
            }
        }
        other => {
            return Err(format!(
                "{other} is not a valid change command (expected one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)"
            ))
        }
    }
    Ok(())
}

/// `["a", "b"]` (exec form) or `a b` (shell form → `/bin/sh -c "a b"`).
fn exec_or_shell(rest: &str) -> Result<Vec<String>, String> {
    if rest.starts_with('[') {
        serde_json::from_str(rest).map_err(|e| format!("invalid JSON array {rest}: {e}"))
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), rest.into()])
    }
}

/// `k=v k2="v 2"` or, for ENV's legacy form, `k v w`.
fn key_values(rest: &str, legacy_space_form: bool) -> Result<Vec<(String, String)>, String> {
    let words = shell_words::split(rest).map_err(|e| format!("{rest}: {e}"))?;
    if words.is_empty() {
        return Err("missing arguments".into());
    }
    if !words[0].contains('=') {
        if legacy_space_form {
            let (k, v) = rest
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("{rest}: expected KEY VALUE"))?;
            return Ok(vec![(k.to_string(), v.trim().to_string())]);
        }
        return Err(format!("{rest}: expected KEY=VALUE"));
    }
    words
        .into_iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("{w}: expected KEY=VALUE"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_changes() {
        let mut c = RunConfig::default();
        apply_changes(
            &mut c,
            &[
                r#"CMD ["sh"]"#.into(),
                "ENV A=1 B=\"two words\"".into(),
                "ENV C 3 4".into(),
                "WORKDIR /srv".into(),
                "EXPOSE 80 53/udp".into(),
                "VOLUME /data".into(),
                "LABEL x=y".into(),
                "ENTRYPOINT echo hi".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd.unwrap(), vec!["sh"]);
        assert_eq!(c.env.unwrap(), vec!["A=1", "B=two words", "C=3 4"]);
        assert_eq!(c.working_dir.unwrap(), "/srv");
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
        assert!(c.exposed_ports.unwrap().contains_key("53/udp"));
        assert!(c.volumes.unwrap().contains_key("/data"));
        assert_eq!(c.labels.unwrap()["x"], "y");
        assert_eq!(c.entrypoint.unwrap(), vec!["/bin/sh", "-c", "echo hi"]);
        assert!(apply_changes(&mut RunConfig::default(), &["FROM x".into()]).is_err());
    }
}
