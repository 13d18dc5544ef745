//! Mounts of a container: `-v` binds and volumes, `--mount`, `--tmpfs`, and anonymous volumes
//! for the image's `VOLUME`s, resolved into one list.

use std::collections::HashMap;
use std::path::Path;

use bollard_stubs::models::{HostConfig, Mount, MountTypeEnum};
use serde::{Deserialize, Serialize};

use crate::engine::error::{Error, Result};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResolvedMount {
    pub kind: MountKind,
    /// Host path (bind) or volume name (volume); empty for tmpfs.
    pub source: String,
    pub destination: String,
    pub read_only: bool,
    /// tmpfs mount options.
    #[serde(default)]
    pub options: String,
    /// Created for this container (image VOLUME or `-v /path`): removed with `rm -v`.
    #[serde(default)]
    pub anonymous: bool,
    /// `nocopy`: do not fill a new volume from the image.
    #[serde(default)]
    pub no_copy: bool,
    /// Bind propagation asked for (`rshared`, `rslave`, ...); `rprivate` when unset.
    #[serde(default)]
    pub propagation: Option<String>,
    /// A volume's `Subpath`: only this directory of the volume is mounted.
    #[serde(default)]
    pub subpath: Option<String>,
}

/// Docker's volume name rule.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn check_destination(dest: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid mount config: mount path must be absolute: {dest:?}"
        )));
    }
    if dest == "/" {
        return Err(Error::invalid(
            "invalid mount config: destination can't be '/'",
        ));
    }
    Ok(())
}

/// Parse one `-v` / `Binds` entry: `src:dst[:opts]`.
pub fn parse_bind(spec: &str) -> Result<ResolvedMount> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => {
            return Err(Error::invalid(format!(
                "invalid volume specification: '{spec}'"
            )))
        }
    };
    check_destination(dst).map_err(|_| {
        Error::invalid(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"bind\": invalid mount path: '{dst}' mount path must be absolute"
        ))
    })?;
    let mut read_only = false;
    let mut no_copy = false;
    let mut propagation = None;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" => no_copy = true,
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {
                propagation = Some(o.to_string())
            }
            "z" | "Z" | "consistent" | "cached" | "delegated" => {}
            other => {
                return Err(Error::invalid(format!(
                    "invalid volume specification: '{spec}': invalid mode: {other}"
                )))
            }
        }
    }
    // A `-v` mount: anonymous volume (no source), bind (a path) or named volume.
    let (kind, anonymous) = match src {
        "" => (MountKind::Volume, true),
        s if s.starts_with('/') => (MountKind::Bind, false),
        s if !valid_volume_name(s) => {
            return Err(Error::invalid(format!(
                "create {src}: \"{src}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )))
        }
        _ => (MountKind::Volume, false),
    };
    Ok(ResolvedMount {
        kind,
        source: src.to_string(),
        destination: dst.to_string(),
        read_only,
        options: String::new(),
        anonymous,
        no_copy,
        // Propagation applies to binds only.
        propagation: propagation.filter(|_| kind == MountKind::Bind),
        subpath: None,
    })
}

/// Parse one `--mount` / `Mounts` entry.
pub fn from_api_mount(m: &Mount) -> Result<ResolvedMount> {
    let dest = m.target.clone().unwrap_or_default();
    let kind = m.typ.unwrap_or(MountTypeEnum::VOLUME);
    let type_name = match kind {
        MountTypeEnum::BIND => "bind",
        MountTypeEnum::TMPFS => "tmpfs",
        _ => "volume",
    };
    check_destination(&dest).map_err(|e| {
        Error::invalid(format!(
            "invalid mount config for type \"{type_name}\": {e}"
        ))
    })?;
    let read_only = m.read_only.unwrap_or(false);
    let source = m.source.clone().unwrap_or_default();
    match kind {
        MountTypeEnum::BIND => {
            if source.is_empty() {
                return Err(Error::invalid(
                    "invalid mount config for type \"bind\": field Source must not be empty",
                ));
            }
            if !Path::new(&source).exists() {
                return Err(Error::invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {source}"
                )));
            }
            Ok(ResolvedMount {
                kind: MountKind::Bind,
                source,
                destination: dest,
                read_only,
                options: String::new(),
                anonymous: false,
                no_copy: false,
                propagation: m
                    .bind_options
                    .as_ref()
                    .and_then(|b| b.propagation)
                    .map(|p| p.to_string())
                    .filter(|p| !p.is_empty()),
                subpath: None,
            })
        }
        MountTypeEnum::TMPFS => {
            let mut opts = Vec::new();
            if let Some(t) = &m.tmpfs_options {
                if let Some(size) = t.size_bytes {
                    opts.push(format!("size={size}"));
                }
                if let Some(mode) = t.mode {
                    opts.push(format!("mode={mode:o}"));
                }
            }
            Ok(ResolvedMount {
                kind: MountKind::Tmpfs,
                source: String::new(),
                destination: dest,
                read_only,
                options: opts.join(","),
                anonymous: false,
                no_copy: false,
                propagation: None,
                subpath: None,
            })
        }
        MountTypeEnum::VOLUME => {
            if !source.is_empty() && !valid_volume_name(&source) {
                return Err(Error::invalid(format!(
                    "invalid mount config for type \"volume\": invalid volume name {source:?}"
                )));
            }
            let subpath = volume_subpath(m)?;
            if subpath.is_some() && source.is_empty() {
                return Err(Error::invalid(
                    "invalid mount config for type \"volume\": a subpath needs a named volume",
                ));
            }
            Ok(ResolvedMount {
                kind: MountKind::Volume,
                anonymous: source.is_empty(),
                source,
                destination: dest,
                read_only,
                options: String::new(),
                no_copy: m
                    .volume_options
                    .as_ref()
                    .and_then(|v| v.no_copy)
                    .unwrap_or(false),
                propagation: None,
                subpath,
            })
        }
        other => Err(Error::invalid(format!(
            "mount type {other:?} is not supported"
        ))),
    }
}

/// `VolumeOptions.Subpath`: relative, and never out of the volume.
fn volume_subpath(m: &Mount) -> Result<Option<String>> {
    let Some(sub) = m
        .volume_options
        .as_ref()
        .and_then(|v| v.subpath.clone())
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let escapes = Path::new(&sub).components().any(|c| {
        !matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    if escapes {
        return Err(Error::invalid(format!(
            "invalid mount config for type \"volume\": subpath {sub:?} must be a relative path inside the volume"
        )));
    }
    Ok(Some(sub))
}

/// All mounts of a new container, in order, with image volumes not otherwise covered added as
/// anonymous volumes. Duplicate destinations are refused.
pub fn resolve(host: &HostConfig, config_volumes: &[String]) -> Result<Vec<ResolvedMount>> {
    let mut out: Vec<ResolvedMount> = Vec::new();
    for b in host.binds.iter().flatten() {
        out.push(parse_bind(b)?);
    }
    for m in host.mounts.iter().flatten() {
        out.push(from_api_mount(m)?);
    }
    let tmpfs: HashMap<String, String> = host.tmpfs.clone().unwrap_or_default();
    let mut tmpfs_sorted: Vec<_> = tmpfs.into_iter().collect();
    tmpfs_sorted.sort();
    for (dest, opts) in tmpfs_sorted {
        check_destination(&dest)?;
        out.push(ResolvedMount {
            kind: MountKind::Tmpfs,
            source: String::new(),
            destination: dest,
            read_only: false,
            options: opts,
            anonymous: false,
            no_copy: false,
            propagation: None,
            subpath: None,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for m in &out {
        let d = m.destination.trim_end_matches('/');
        if !seen.insert(d.to_string()) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                m.destination
            )));
        }
    }
    for v in config_volumes {
        let d = v.trim_end_matches('/');
        if seen.insert(d.to_string()) {
            check_destination(v)?;
            out.push(ResolvedMount {
                kind: MountKind::Volume,
                source: String::new(),
                destination: v.clone(),
                read_only: false,
                options: String::new(),
                anonymous: true,
                no_copy: false,
                propagation: None,
                subpath: None,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binds() {
        let m = parse_bind("data:/data:ro").unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.read_only),
            (MountKind::Volume, "data", true)
        );
        let m = parse_bind("/srv:/srv").unwrap();
        assert_eq!(m.kind, MountKind::Bind);
        let m = parse_bind("/cache").unwrap();
        assert!(m.anonymous);
        assert!(parse_bind("a:relative").is_err());
        assert!(parse_bind("bad name:/x").is_err());
        assert!(parse_bind("/a:/b:xx").is_err());
    }

    #[test]
    fn image_volumes_become_anonymous_unless_covered() {
        let host = HostConfig {
            binds: Some(vec!["data:/data".into()]),
            ..Default::default()
        };
        let ms = resolve(&host, &["/data".into(), "/logs".into()]).unwrap();
        assert_eq!(ms.len(), 2);
        assert!(ms[1].anonymous && ms[1].destination == "/logs");
        let dup = HostConfig {
            binds: Some(vec!["a1:/x".into(), "b1:/x".into()]),
            ..Default::default()
        };
        assert!(resolve(&dup, &[]).is_err());
    }
}
