//! Secrets and configs: read from their file, inline content or environment variable, and
//! copied into the container (as one tar archive) before it starts.

use std::collections::BTreeMap;

use crate::compose::model::{FileObject, ServiceFileRef};

use super::Ctx;

/// A file to copy into the container before it starts (secrets and configs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCopy {
    pub target: String,
    pub content: Vec<u8>,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
}

/// The service's secrets (under `/run/secrets`) and configs (at `/<name>`).
pub(super) fn collect(cx: &Ctx) -> Result<Vec<FileCopy>, String> {
    let mut files = Vec::new();
    let (svc, project) = (cx.svc, cx.project);
    copy_refs(
        cx,
        &svc.secrets,
        &project.secrets,
        "secrets",
        "/run/secrets",
        &mut files,
    )?;
    copy_refs(
        cx,
        &svc.configs,
        &project.configs,
        "configs",
        "",
        &mut files,
    )?;
    if svc.read_only && !files.is_empty() {
        // the files cannot be copied into a read-only root filesystem: bind them from a
        // directory next to the project instead would leak state; refuse clearly
        return Err(cx.err(
            "read_only",
            "secrets and configs cannot be copied into a read-only root filesystem by this engine",
        ));
    }
    Ok(files)
}

fn copy_refs(
    cx: &Ctx,
    refs: &[ServiceFileRef],
    defs: &BTreeMap<String, FileObject>,
    what: &str,
    default_dir: &str,
    files: &mut Vec<FileCopy>,
) -> Result<(), String> {
    for r in refs {
        let def = defs
            .get(&r.source)
            .ok_or_else(|| cx.err(what, format!("undefined {what} {:?}", r.source)))?;
        let content = content(cx, def, r, what)?;
        let target = match &r.target {
            Some(t) if t.starts_with('/') => t.clone(),
            Some(t) => format!("{default_dir}/{t}"),
            None if default_dir == "/run/secrets" => format!("/run/secrets/{}", r.source),
            None => format!("/{}", r.source),
        };
        let num = |v: &Option<String>| v.as_ref().and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        files.push(FileCopy {
            target,
            content,
            uid: num(&r.uid),
            gid: num(&r.gid),
            mode: r.mode.unwrap_or(0o444),
        });
    }
    Ok(())
}

fn content(cx: &Ctx, def: &FileObject, r: &ServiceFileRef, what: &str) -> Result<Vec<u8>, String> {
    read_file_object(def, &r.source, what, cx.inp.environment).map_err(|e| cx.err(what, e))
}

/// The bytes of secret or config `name` (`what`): its file, inline content or environment
/// variable (from `env`, the project's environment).
pub fn read_file_object(
    def: &FileObject,
    name: &str,
    what: &str,
    env: Option<&crate::compose::load::env::Environment>,
) -> Result<Vec<u8>, String> {
    if def.external {
        return Err(format!(
            "external {what} {name:?} needs a swarm; it is not supported by this engine"
        ));
    }
    if let Some(f) = &def.file {
        return std::fs::read(f).map_err(|e| format!("cannot read {f}: {e}"));
    }
    if let Some(c) = &def.content {
        return Ok(c.clone().into_bytes());
    }
    if let Some(var) = &def.environment {
        let value = env.and_then(|e| e.get(var)).ok_or_else(|| {
            format!("{what} {name:?} comes from environment variable {var}, which is not set")
        })?;
        return Ok(value.into_bytes());
    }
    Err(format!(
        "{what} {name:?} has no file, content or environment"
    ))
}

/// A tar archive of files to extract at `/` (parent directories included).
pub fn files_tar(files: &[FileCopy]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for f in files {
        let rel = f.target.trim_start_matches('/');
        let mut acc = String::new();
        let parts: Vec<&str> = rel.split('/').collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            acc.push_str(p);
            acc.push('/');
            if dirs.insert(acc.clone()) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(0);
                b.append_data(&mut h, &acc, std::io::empty())?;
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(f.mode);
        h.set_size(f.content.len() as u64);
        h.set_uid(f.uid);
        h.set_gid(f.gid);
        h.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
        b.append_data(&mut h, rel, &f.content[..])?;
    }
    b.into_inner()
}
