//! `wharf compose convert --format kubernetes`: the project as Kubernetes manifests.
//!
//! Each service becomes a workload (a Deployment; a StatefulSet when it keeps a named volume
//! with one replica; a DaemonSet for `mode: global`; a Job when it runs once: `mode:
//! replicated-job` or a dependency others wait on with `service_completed_successfully`) and a
//! Service, headless when it has no ports, so that every compose service name resolves in the
//! cluster as it does on a compose network. Named volumes become PersistentVolumeClaims;
//! configs, secrets, `env_file`s and file bind mounts become ConfigMaps and Secrets;
//! `depends_on` conditions become init containers that wait for the dependency. Every key with
//! no equivalent is reported once, with where it was written.
//!
//! One module per family: [`pod`] (containers and the pod spec), [`workload`] (the controller
//! kind), [`service`] (Services and aliases), [`storage`] (volumes, ConfigMaps, Secrets),
//! [`wait`] (init containers for `depends_on` and their RBAC).

mod pod;
mod service;
mod storage;
#[cfg(test)]
mod tests;
mod wait;
mod workload;

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{ConvertError, Dropped, Report};
use crate::compose::load::env::Environment;
use crate::compose::load::Loaded;
use crate::compose::model::Project;

/// One Kubernetes object.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub kind: &'static str,
    pub name: String,
    pub body: Value,
}

/// The manifests of a project and the keys that did not carry over.
#[derive(Debug)]
pub struct Conversion {
    pub manifests: Vec<Manifest>,
    pub dropped: Vec<Dropped>,
}

/// What the family modules share while converting.
pub(super) struct Cx<'a> {
    pub project: &'a Project,
    pub env: &'a Environment,
    pub report: Report<'a>,
    pub out: Vec<Manifest>,
    pub locations: &'a crate::compose::load::KeyLocations,
}

impl Cx<'_> {
    fn push(&mut self, kind: &'static str, name: &str, body: Value) {
        self.out.push(Manifest {
            kind,
            name: name.to_string(),
            body,
        });
    }

    /// The labels every object of a service carries; the first two are its pods' selector.
    fn labels(&self, service: &str) -> Value {
        json!({
            "app.kubernetes.io/name": dns_label(service),
            "app.kubernetes.io/instance": dns_label(&self.project.name),
            "app.kubernetes.io/part-of": dns_label(&self.project.name),
            "app.kubernetes.io/managed-by": "wharf",
        })
    }

    fn selector(&self, service: &str) -> Value {
        json!({
            "app.kubernetes.io/name": dns_label(service),
            "app.kubernetes.io/instance": dns_label(&self.project.name),
        })
    }

    fn metadata(&self, name: &str, service: Option<&str>) -> Value {
        let labels = match service {
            Some(s) => self.labels(s),
            None => json!({
                "app.kubernetes.io/part-of": dns_label(&self.project.name),
                "app.kubernetes.io/managed-by": "wharf",
            }),
        };
        json!({ "name": name, "labels": labels })
    }
}

/// Convert a loaded project.
pub fn convert(loaded: &Loaded) -> Result<Conversion, ConvertError> {
    let mut cx = Cx {
        project: &loaded.project,
        env: &loaded.environment,
        report: Report::new(&loaded.locations),
        out: Vec::new(),
        locations: &loaded.locations,
    };
    let one_shot = wait::one_shot_services(cx.project);
    if cx.project.networks.len() > 1 {
        cx.report.drop_key(
            "networks",
            "a cluster network is flat: every pod can reach every Service (write NetworkPolicies to isolate)",
        );
    }
    storage::volumes(&mut cx);
    storage::files(&mut cx)?;
    for (name, svc) in &cx.project.services {
        let key = format!("services.{name}");
        let k8s = dns_label(name);
        if k8s != *name {
            cx.report.drop_key(
                key.clone(),
                format!(
                    "not a DNS label: named {k8s} in the cluster, where {name} does not resolve"
                ),
            );
        }
        let pod = pod::pod_spec(&mut cx, name, svc)?;
        workload::workload(&mut cx, name, svc, pod, one_shot.contains(name));
        service::services(&mut cx, name, svc);
    }
    if wait::needs_job_waiter(cx.project) {
        wait::waiter_rbac(&mut cx);
    }
    unique_names(&cx.out)?;
    Ok(Conversion {
        manifests: cx.out,
        dropped: cx.report.dropped,
    })
}

/// Kubernetes refuses a second object of one kind and name; say which keys collided.
fn unique_names(out: &[Manifest]) -> Result<(), ConvertError> {
    let mut seen = BTreeSet::new();
    for m in out {
        if !seen.insert((m.kind, m.name.as_str())) {
            return Err(ConvertError::Invalid {
                at: Default::default(),
                key: m.name.clone(),
                message: format!(
                    "two {} objects would be named {:?}: rename one of the compose keys",
                    m.kind, m.name
                ),
            });
        }
    }
    Ok(())
}

/// A name as Kubernetes accepts it for Services and most objects (an RFC 1035 label):
/// lowercase letters, digits and `-`, starting with a letter, at most 63 characters.
pub fn dns_label(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    let start = out
        .find(|c: char| c.is_ascii_lowercase())
        .unwrap_or(out.len());
    out.drain(..start);
    out.truncate(63);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "x".into()
    } else {
        out
    }
}

/// The manifests as one YAML stream, each preceded by `---`.
pub fn render(c: &Conversion, header: &str) -> String {
    let mut s = String::new();
    for line in header.lines() {
        s.push_str(&format!("# {line}\n"));
    }
    for m in &c.manifests {
        s.push_str("---\n");
        s.push_str(&crate::compose::config::to_yaml(&m.body));
    }
    s
}

/// The file `-o DIR` writes a manifest to: `<name>-<kind>.yaml`.
pub fn file_name(m: &Manifest) -> String {
    format!("{}-{}.yaml", m.name, m.kind.to_ascii_lowercase())
}
