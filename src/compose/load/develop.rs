//! Normalisation of `develop:` (watch rules) and of exec hooks (theirs, `post_start` and
//! `pre_stop`): paths resolved (a rule's
//! `path` against the file's directory, `target` cleaned and made absolute), the action
//! checked against what it needs (`target` for the sync actions, `exec` exactly for
//! `sync+exec`), so that a watch session never meets a rule it cannot carry out. The one
//! check that needs the merged service (`rebuild` needs `build:`) is [`check_rebuild`].

use std::path::Path;

use indexmap::IndexMap;

use crate::compose::develop::WatchAction;
use crate::compose::error::{ComposeError, Result};
use crate::compose::load::normalize::{
    clean_path, command, environment, resolve_path, string_list, to_bool, to_string, NormCtx,
};
use crate::compose::value::{KeyPath, Node, V};

type Map = IndexMap<String, Node>;

/// `develop:` → `{watch: [rule...]}` in the long form.
pub fn develop(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let m = match &n.v {
        V::Null => return Ok(n.derive(V::Map(Map::new()))),
        V::Map(m) => m,
        _ => return Err(ComposeError::value(n.pos.clone(), p, n.kind(), "a mapping")),
    };
    let mut out = Map::new();
    if let Some(w) = m.get("watch") {
        let wp = p.key("watch");
        let rules = match &w.v {
            V::Seq(s) => s,
            V::Null => &Vec::new(),
            _ => {
                return Err(ComposeError::value(
                    w.pos.clone(),
                    &wp,
                    w.kind(),
                    "a list of watch rules",
                ))
            }
        };
        let mut norm = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            norm.push(rule(r, &wp.index(i), ctx)?);
        }
        out.insert("watch".into(), w.derive(V::Seq(norm)));
    }
    Ok(n.derive(V::Map(out)))
}

fn rule(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let Some(m) = n.as_map() else {
        return Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.kind(),
            "a watch rule (a mapping with path and action)",
        ));
    };
    let required = |key: &str| {
        m.get(key).ok_or_else(|| {
            ComposeError::invalid(n.pos.clone(), p, format!("missing required key {key:?}"))
        })
    };
    let action_node = required("action")?;
    let action_text = to_string(action_node, &p.key("action"))?;
    let action = WatchAction::parse(&action_text).ok_or_else(|| {
        ComposeError::value(
            action_node.pos.clone(),
            &p.key("action"),
            action_text.clone(),
            WatchAction::ALL,
        )
    })?;
    let path_node = required("path")?;
    let path = to_string(path_node, &p.key("path"))?;
    if path.is_empty() {
        return Err(ComposeError::value(
            path_node.pos.clone(),
            &p.key("path"),
            "\"\"",
            "a path on the host",
        ));
    }
    let mut out = Map::new();
    out.insert(
        "path".into(),
        path_node.derive(V::Str(resolve_path(&path, ctx))),
    );
    out.insert(
        "action".into(),
        action_node.derive(V::Str(action_text.clone())),
    );
    match m.get("target") {
        Some(t) => {
            let tp = p.key("target");
            // as `docker cp`, a relative container path is relative to its root
            let s = format!("/{}", to_string(t, &tp)?);
            let cleaned = clean_path(Path::new(&s)).display().to_string();
            out.insert("target".into(), t.derive(V::Str(cleaned)));
        }
        None if action.syncs() => {
            return Err(ComposeError::invalid(
                n.pos.clone(),
                p,
                format!("action {action_text} needs a target (the path in the container)"),
            ))
        }
        None => {}
    }
    for key in ["ignore", "include"] {
        if let Some(v) = m.get(key) {
            out.insert(key.into(), string_list(v, &p.key(key))?);
        }
    }
    match (m.get("exec"), action) {
        (Some(e), WatchAction::SyncExec) => {
            out.insert("exec".into(), hook(e, &p.key("exec"), ctx)?);
        }
        (None, WatchAction::SyncExec) => {
            return Err(ComposeError::invalid(
                n.pos.clone(),
                p,
                "action sync+exec needs exec (the command to run after each sync)",
            ))
        }
        (Some(e), _) => {
            return Err(ComposeError::invalid(
                e.pos.clone(),
                &p.key("exec"),
                format!("exec applies to action sync+exec only, not {action_text}"),
            ))
        }
        (None, _) => {}
    }
    if let Some(b) = m.get("initial_sync") {
        let v = to_bool(b, &p.key("initial_sync"))?;
        out.insert("initial_sync".into(), b.derive(V::Bool(v)));
    }
    Ok(n.derive(V::Map(out)))
}

/// `post_start` / `pre_stop`: a list of hooks.
pub fn hooks(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let items = match &n.v {
        V::Seq(s) => s,
        V::Null => return Ok(n.derive(V::Seq(Vec::new()))),
        _ => {
            return Err(ComposeError::value(
                n.pos.clone(),
                p,
                n.kind(),
                "a list of hooks",
            ))
        }
    };
    let mut out = Vec::new();
    for (i, h) in items.iter().enumerate() {
        out.push(hook(h, &p.index(i), ctx)?);
    }
    Ok(n.derive(V::Seq(out)))
}

/// An exec hook (`command` required and not empty, `user`, `privileged`, `working_dir`,
/// `environment`).
pub fn hook(n: &Node, p: &KeyPath, ctx: &mut NormCtx<'_>) -> Result<Node> {
    let Some(m) = n.as_map() else {
        return Err(ComposeError::value(
            n.pos.clone(),
            p,
            n.kind(),
            "a mapping with command (and user, privileged, working_dir, environment)",
        ));
    };
    let mut out = Map::new();
    let cmd = match m.get("command") {
        Some(c) => {
            command(c, &p.key("command"))?.filter(|c| c.as_seq().is_some_and(|s| !s.is_empty()))
        }
        None => None,
    };
    let Some(cmd) = cmd else {
        return Err(ComposeError::invalid(
            n.pos.clone(),
            p,
            "missing required key \"command\" (the command to run, not empty)",
        ));
    };
    out.insert("command".into(), cmd);
    for key in ["user", "working_dir"] {
        if let Some(v) = m.get(key) {
            out.insert(key.into(), v.derive(V::Str(to_string(v, &p.key(key))?)));
        }
    }
    if let Some(v) = m.get("privileged") {
        out.insert(
            "privileged".into(),
            v.derive(V::Bool(to_bool(v, &p.key("privileged"))?)),
        );
    }
    if let Some(v) = m.get("environment") {
        out.insert(
            "environment".into(),
            environment(v, &p.key("environment"), ctx.env)?,
        );
    }
    Ok(n.derive(V::Map(out)))
}

/// A `rebuild` rule needs the (merged) service to have a `build:` section.
pub fn check_rebuild(svc: &Node, p: &KeyPath) -> Result<()> {
    if svc.get("build").is_some() {
        return Ok(());
    }
    let rules = svc
        .get("develop")
        .and_then(|d| d.get("watch"))
        .and_then(Node::as_seq);
    for (i, r) in rules.into_iter().flatten().enumerate() {
        if r.get("action").and_then(Node::scalar_string).as_deref() == Some("rebuild") {
            return Err(ComposeError::invalid(
                r.pos.clone(),
                &p.key("develop").key("watch").index(i),
                "action rebuild needs the service to have a build section",
            ));
        }
    }
    Ok(())
}
