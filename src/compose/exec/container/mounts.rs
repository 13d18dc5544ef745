//! `volumes:` as typed mounts (project volumes by their engine names, anonymous ones kept from
//! the container being replaced, bind sources created when allowed), then `volumes_from`.

use std::path::Path;

use crate::api::models::{Mount, MountTmpfsOptions, MountTypeEnum, MountVolumeOptions};
use crate::compose::model::{Mount as ServiceMount, MountType};
use crate::compose::plan::volume_name;

use super::{Ctx, Warnings};

pub(super) fn mounts(cx: &Ctx, warn: &mut Warnings) -> Result<Vec<Mount>, String> {
    let mut mounts: Vec<Mount> = Vec::new();
    for (i, m) in cx.svc.volumes.iter().enumerate() {
        let key = format!("volumes[{i}]");
        let mut out = Mount {
            target: Some(m.target.clone()),
            read_only: m.read_only.then_some(true),
            ..Default::default()
        };
        match m.kind {
            MountType::Volume => volume(cx, m, &key, &mut out, warn),
            MountType::Bind => bind(cx, m, &key, &mut out, warn)?,
            MountType::Tmpfs => {
                out.typ = Some(MountTypeEnum::TMPFS);
                if let Some(t) = &m.tmpfs {
                    out.tmpfs_options = Some(MountTmpfsOptions {
                        size_bytes: t.size.map(|b| b.0 as i64),
                        mode: t.mode.map(i64::from),
                        ..Default::default()
                    });
                }
            }
            other => {
                return Err(cx.err(
                    &key,
                    format!("mount type {other:?} is not supported by this engine"),
                ))
            }
        }
        mounts.push(out);
    }
    for m in &cx.inp.volumes_from {
        if !mounts.iter().any(|x| x.target == m.target) {
            mounts.push(m.clone());
        }
    }
    // anonymous volumes inherited for targets no longer declared: docker compose keeps them
    // only for declared targets, so do we.
    Ok(mounts)
}

fn volume(cx: &Ctx, m: &ServiceMount, key: &str, out: &mut Mount, warn: &mut Warnings) {
    out.typ = Some(MountTypeEnum::VOLUME);
    out.source = match &m.source {
        Some(src) if cx.project.volumes.contains_key(src) => Some(volume_name(cx.project, src)),
        Some(src) => Some(src.clone()),
        None => cx.inp.inherited.get(&m.target).cloned(),
    };
    if let Some(v) = &m.volume {
        if v.nocopy || v.subpath.is_some() {
            out.volume_options = Some(MountVolumeOptions {
                no_copy: v.nocopy.then_some(true),
                subpath: v.subpath.clone(),
                ..Default::default()
            });
        }
        if v.subpath.is_some() {
            warn.warn(
                key,
                "volume.subpath is not supported by this engine: the whole volume is mounted",
            );
        }
    }
}

fn bind(
    cx: &Ctx,
    m: &ServiceMount,
    key: &str,
    out: &mut Mount,
    warn: &mut Warnings,
) -> Result<(), String> {
    out.typ = Some(MountTypeEnum::BIND);
    let src = m
        .source
        .clone()
        .ok_or_else(|| cx.err(key, "a bind mount needs a source"))?;
    let create = m.bind.as_ref().is_none_or(|b| b.create_host_path);
    if !Path::new(&src).exists() {
        if !create {
            return Err(cx.err(key, format!("bind source path does not exist: {src}")));
        }
        std::fs::create_dir_all(&src)
            .map_err(|e| cx.err(key, format!("cannot create bind source {src}: {e}")))?;
    }
    out.source = Some(src);
    if let Some(b) = &m.bind {
        if b.propagation.is_some() {
            warn.warn(
                key,
                "bind.propagation is not supported by this engine (mounts are private)",
            );
        }
        if b.selinux.is_some() {
            warn.warn(
                key,
                "bind.selinux is not supported by this engine (no relabelling)",
            );
        }
    }
    Ok(())
}
