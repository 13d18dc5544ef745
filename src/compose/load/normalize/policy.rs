//! Policies rewritten as docker compose reads them: `pull_policy` (aliases and the ones wharf
//! has not got fall back to `missing`) and `logging` (drivers other than json-file dropped).

use crate::compose::error::{ComposeError, Result};
use crate::compose::model::RestartPolicy;
use crate::compose::value::{KeyPath, Node, V};

use super::scalar::{string_map, to_string};
use super::{not_applied, NormCtx};

pub(super) fn pull_policy(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let s = to_string(n, p)?;
    let v = match s.as_str() {
        "always" | "never" | "missing" | "build" => s.clone(),
        "if_not_present" => "missing".into(),
        "refresh" | "daily" | "weekly" => {
            ctx.warnings.push(format!(
                "{p}: pull_policy {s:?} is not supported by wharf, using \"missing\""
            ));
            "missing".into()
        }
        _ if s.starts_with("every_") => {
            ctx.warnings.push(format!(
                "{p}: pull_policy {s:?} is not supported by wharf, using \"missing\""
            ));
            "missing".into()
        }
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                s,
                "always, never, missing, if_not_present or build",
            ))
        }
    };
    Ok(n.derive(V::Str(v)))
}

/// `logging:`; a driver wharf does not have (syslog, journald, ...) is not applied: the
/// container logs to json-file, and the section is dropped with a warning.
pub(super) fn logging(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Option<Node>> {
    let Some(m) = n.as_map() else {
        return Ok(Some(n.clone()));
    };
    let mut o = m.clone();
    if let Some(opts) = m.get("options") {
        o.insert("options".into(), string_map(opts, &p.key("options"))?);
    }
    if let Some(d) = m.get("driver") {
        let s = to_string(d, &p.key("driver"))?;
        if s != "json-file" && s != "local" && s != "none" {
            not_applied(ctx, d, &p.key("driver"));
            return Ok(None);
        }
    }
    Ok(Some(n.derive(V::Map(o))))
}

/// `restart:` is checked here and kept as written; the model parses it.
pub(super) fn restart(n: &Node, p: &KeyPath) -> Result<()> {
    let s = to_string(n, p)?;
    RestartPolicy::try_from(s.clone()).map_err(|_| {
        ComposeError::value(
            n.pos.clone(),
            p,
            s,
            "no, always, on-failure[:N] or unless-stopped",
        )
    })?;
    Ok(())
}
