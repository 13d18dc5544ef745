//! Storage: named volumes as PersistentVolumeClaims; configs and secrets as ConfigMaps and
//! Secrets; the ConfigMap of a service's `env_file` variables; and each service's mounts as
//! pod volumes (claims, emptyDirs for anonymous volumes and tmpfs, ConfigMaps for bound files).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::{dns_label, Cx};
use crate::compose::convert::{file_object_bytes, ConvertError};
use crate::compose::model::{MountType, Service, ServiceFileRef};

/// A bound file larger than this is not put in a ConfigMap (Kubernetes caps one at 1 MiB).
const MAX_CONFIG_MAP_FILE: u64 = 1 << 20;

/// The claim name of the named volume `key`.
fn claim_name(cx: &Cx<'_>, key: &str) -> String {
    match cx.project.volumes.get(key) {
        Some(v) if v.external => dns_label(&v.name),
        _ => dns_label(key),
    }
}

/// A claim per named volume that is not external. One used by several services must be
/// mountable from several nodes.
pub(super) fn volumes(cx: &mut Cx<'_>) {
    for (key, vol) in &cx.project.volumes {
        if vol.external {
            continue;
        }
        let users = cx
            .project
            .services
            .values()
            .filter(|s| {
                s.volumes
                    .iter()
                    .any(|m| m.kind == MountType::Volume && m.source.as_deref() == Some(key))
            })
            .count();
        if vol.driver.is_some() || !vol.driver_opts.is_empty() {
            cx.report.drop_key(
                format!("volumes.{key}.driver"),
                "volume drivers are not converted: the claim uses the cluster's default storage class",
            );
        }
        let mode = if users > 1 {
            "ReadWriteMany"
        } else {
            "ReadWriteOnce"
        };
        let name = dns_label(key);
        let mut meta = cx.metadata(&name, None);
        if !vol.labels.is_empty() {
            meta["annotations"] = json!(vol.labels);
        }
        let body = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta,
            "spec": {
                "accessModes": [mode],
                "resources": { "requests": { "storage": "1Gi" } },
            },
        });
        cx.push("PersistentVolumeClaim", &name, body);
    }
}

/// A ConfigMap per config and a Secret per secret (external ones exist already).
pub(super) fn files(cx: &mut Cx<'_>) -> Result<(), ConvertError> {
    for (section, kind) in [("configs", "ConfigMap"), ("secrets", "Secret")] {
        let objects = match section {
            "configs" => &cx.project.configs,
            _ => &cx.project.secrets,
        };
        for (key, obj) in objects {
            let path = format!("{section}.{key}");
            let Some(bytes) = file_object_bytes(&path, obj, cx.env, cx.locations)? else {
                continue;
            };
            let name = dns_label(key);
            let body = file_object(cx, kind, &name, &data_key(key), bytes);
            cx.push(kind, &name, body);
        }
    }
    Ok(())
}

/// The key a file is stored under in a ConfigMap or Secret (`[-._a-zA-Z0-9]+`).
fn data_key(s: &str) -> String {
    let k: String = s
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' | '_' => c,
            _ => '_',
        })
        .collect();
    if k.is_empty() || k == "." || k == ".." {
        "data".into()
    } else {
        k
    }
}

/// A ConfigMap or Secret holding one file.
fn file_object(cx: &Cx<'_>, kind: &str, name: &str, key: &str, bytes: Vec<u8>) -> Value {
    let mut body = json!({
        "apiVersion": "v1",
        "kind": kind,
        "metadata": cx.metadata(name, None),
    });
    if kind == "Secret" {
        body["type"] = json!("Opaque");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        body["data"] = json!({ key: b64 });
        return body;
    }
    match String::from_utf8(bytes) {
        Ok(text) => body["data"] = json!({ key: text }),
        Err(e) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(e.as_bytes());
            body["binaryData"] = json!({ key: b64 });
        }
    }
    body
}

/// The ConfigMap of a service's variables (it has `env_file`s); returns its name.
pub(super) fn env_config_map(
    cx: &mut Cx<'_>,
    service: &str,
    vars: &[(&String, &String)],
) -> String {
    let name = dns_label(&format!("{service}-env"));
    let data: BTreeMap<&String, &String> = vars.iter().copied().collect();
    let body = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": cx.metadata(&name, Some(service)),
        "data": data,
    });
    cx.push("ConfigMap", &name, body);
    name
}

/// A pod's volumes and its container's mounts of them.
#[derive(Default)]
pub(super) struct Mounts {
    pub volumes: Vec<Value>,
    pub mounts: Vec<Value>,
}

impl Mounts {
    fn add(&mut self, volume: Value, mount: Value) {
        self.volumes.push(volume);
        self.mounts.push(mount);
    }

    /// The next pod volume's name.
    fn next_name(&self, what: &str) -> String {
        format!("{what}-{}", self.volumes.len())
    }
}

/// The pod volumes and mounts of `name`'s `volumes`, `tmpfs`, `shm_size`, configs and secrets.
pub(super) fn mounts(cx: &mut Cx<'_>, name: &str, svc: &Service) -> Result<Mounts, ConvertError> {
    let mut out = Mounts::default();
    for (i, m) in svc.volumes.iter().enumerate() {
        let key = format!("services.{name}.volumes");
        let vname = out.next_name(match m.kind {
            MountType::Volume => "volume",
            MountType::Bind => "bind",
            _ => "tmpfs",
        });
        let mut mount = json!({ "name": vname, "mountPath": m.target });
        if m.read_only {
            mount["readOnly"] = json!(true);
        }
        let volume = match (m.kind, &m.source) {
            (MountType::Volume, Some(src)) => {
                if let Some(sub) = m.volume.as_ref().and_then(|v| v.subpath.as_ref()) {
                    mount["subPath"] = json!(sub);
                }
                json!({ "name": vname, "persistentVolumeClaim": { "claimName": claim_name(cx, src) } })
            }
            (MountType::Volume, None) => json!({ "name": vname, "emptyDir": {} }),
            (MountType::Tmpfs, _) => {
                let size = m.tmpfs.as_ref().and_then(|t| t.size);
                memory_dir(&vname, size.map(|s| s.0))
            }
            (MountType::Bind, Some(src)) => match bound_file(cx, name, i, src, &key)? {
                Some((cm, file_key)) => {
                    mount["subPath"] = json!(file_key);
                    json!({ "name": vname, "configMap": { "name": cm } })
                }
                None => bind_dir(cx, &vname, src, &key),
            },
            (kind, _) => {
                cx.report
                    .drop_key(key, format!("a {kind:?} mount has no pod equivalent"));
                continue;
            }
        };
        out.add(volume, mount);
    }
    for t in &svc.tmpfs {
        let path = t.split(':').next().unwrap_or(t);
        let vname = out.next_name("tmpfs");
        out.add(
            memory_dir(&vname, None),
            json!({ "name": vname, "mountPath": path }),
        );
    }
    if let Some(shm) = svc.shm_size {
        let vname = out.next_name("shm");
        out.add(
            memory_dir(&vname, Some(shm.0)),
            json!({ "name": vname, "mountPath": "/dev/shm" }),
        );
    }
    for (section, refs) in [("configs", &svc.configs), ("secrets", &svc.secrets)] {
        for r in refs {
            file_ref(cx, name, section, r, &mut out);
        }
    }
    Ok(out)
}

fn memory_dir(name: &str, size: Option<u64>) -> Value {
    let mut dir = json!({ "medium": "Memory" });
    if let Some(s) = size {
        dir["sizeLimit"] = json!(s.to_string());
    }
    json!({ "name": name, "emptyDir": dir })
}

/// A bind mount of a regular file of the project: its content goes into a ConfigMap of its
/// own. `None` for a directory or a file outside the project.
fn bound_file(
    cx: &mut Cx<'_>,
    service: &str,
    index: usize,
    src: &str,
    key: &str,
) -> Result<Option<(String, String)>, ConvertError> {
    let path = Path::new(src);
    let inside = path.starts_with(&cx.project.working_dir);
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if !inside || !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > MAX_CONFIG_MAP_FILE {
        cx.report.drop_key(
            key,
            format!("{src} is larger than a ConfigMap can hold (1 MiB)"),
        );
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|source| ConvertError::Read {
        at: cx.locations.of(key),
        key: key.to_string(),
        path: src.to_string(),
        source,
    })?;
    let file_key = data_key(
        &path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let name = dns_label(&format!("{service}-file-{index}"));
    let body = file_object(cx, "ConfigMap", &name, &file_key, bytes);
    cx.push("ConfigMap", &name, body);
    Ok(Some((name, file_key)))
}

/// A bound directory: a cluster has no project checkout to bind, so the pod gets an empty
/// directory there; a host path outside the project (a device, a socket) stays a hostPath.
fn bind_dir(cx: &mut Cx<'_>, vname: &str, src: &str, key: &str) -> Value {
    let inside_project = Path::new(src).starts_with(&cx.project.working_dir);
    if inside_project {
        cx.report.drop_key(
            key,
            format!("the project directory {src} is not in the cluster: mounted as an empty directory (copy it into the image)"),
        );
        json!({ "name": vname, "emptyDir": {} })
    } else {
        cx.report.drop_key(
            key,
            format!("{src} is a path on whichever node runs the pod (a hostPath)"),
        );
        json!({ "name": vname, "hostPath": { "path": src } })
    }
}

/// A service's config or secret: its object mounted as one file at the compose target.
fn file_ref(cx: &mut Cx<'_>, name: &str, section: &str, r: &ServiceFileRef, out: &mut Mounts) {
    let is_secret = section == "secrets";
    let objects = if is_secret {
        &cx.project.secrets
    } else {
        &cx.project.configs
    };
    let object_name = match objects.get(&r.source) {
        Some(o) if o.external => dns_label(&o.name),
        _ => dns_label(&r.source),
    };
    let target = match &r.target {
        Some(t) if t.starts_with('/') => t.clone(),
        Some(t) if is_secret => format!("/run/secrets/{t}"),
        Some(t) => format!("/{t}"),
        None if is_secret => format!("/run/secrets/{}", r.source),
        None => format!("/{}", r.source),
    };
    if r.uid.is_some() || r.gid.is_some() {
        cx.report.drop_key(
            format!("services.{name}.{section}"),
            "file owners are set by the pod's fsGroup, not per file",
        );
    }
    let key = data_key(&r.source);
    let mut item = Map::new();
    item.insert("key".into(), json!(key));
    item.insert("path".into(), json!(key));
    if let Some(mode) = r.mode {
        item.insert("mode".into(), json!(mode));
    }
    let vname = out.next_name(if is_secret { "secret" } else { "config" });
    let source = if is_secret {
        json!({ "secretName": object_name, "items": [Value::Object(item)] })
    } else {
        json!({ "name": object_name, "items": [Value::Object(item)] })
    };
    let field = if is_secret { "secret" } else { "configMap" };
    out.add(
        json!({ "name": vname, field: source }),
        json!({ "name": vname, "mountPath": target, "subPath": key, "readOnly": true }),
    );
}
