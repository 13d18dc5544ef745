//! `depends_on` in a cluster, which starts pods in any order: a dependency a service waits on
//! becomes an init container that blocks until the dependency is ready. `service_healthy`
//! waits for the dependency's Service to answer (its pods pass their readiness probe, which
//! is the compose healthcheck); `service_completed_successfully` waits, through the API, for
//! the dependency's Job to complete, with a ServiceAccount allowed to read Jobs.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{dns_label, service, Cx};
use crate::compose::model::{DependsCondition, Project, Service};

/// The image of the init containers that wait on a Service.
const WAIT_IMAGE: &str = "busybox:1.36";
/// The image of the init containers that wait on a Job.
const KUBECTL_IMAGE: &str = "bitnami/kubectl:1.31";

/// Services that run once: jobs by `deploy.mode`, and those another service waits on with
/// `service_completed_successfully`.
pub(super) fn one_shot_services(project: &Project) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = project
        .services
        .iter()
        .filter(|(_, s)| {
            s.deploy
                .as_ref()
                .and_then(|d| d.mode)
                .is_some_and(|m| m.is_job())
        })
        .map(|(n, _)| n.clone())
        .collect();
    for svc in project.services.values() {
        for (dep, d) in &svc.depends_on {
            if d.condition == DependsCondition::ServiceCompletedSuccessfully {
                out.insert(dep.clone());
            }
        }
    }
    out
}

pub(super) fn waits_for_a_job(project: &Project, svc: &Service) -> bool {
    svc.depends_on.iter().any(|(dep, d)| {
        d.condition == DependsCondition::ServiceCompletedSuccessfully
            && project.services.contains_key(dep)
    })
}

pub(super) fn needs_job_waiter(project: &Project) -> bool {
    project
        .services
        .values()
        .any(|s| waits_for_a_job(project, s))
}

pub(super) fn waiter_account(project: &Project) -> String {
    dns_label(&format!("{}-waiter", project.name))
}

/// The ServiceAccount the Job-waiting init containers run as, allowed to read Jobs.
pub(super) fn waiter_rbac(cx: &mut Cx<'_>) {
    let name = waiter_account(cx.project);
    let account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": cx.metadata(&name, None),
    });
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": cx.metadata(&name, None),
        "rules": [{ "apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"] }],
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": cx.metadata(&name, None),
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name },
        "subjects": [{ "kind": "ServiceAccount", "name": name }],
    });
    cx.push("ServiceAccount", &name, account);
    cx.push("Role", &name, role);
    cx.push("RoleBinding", &name, binding);
}

/// The init containers of `name`: one per dependency it waits on.
pub(super) fn init_containers(cx: &mut Cx<'_>, name: &str, svc: &Service) -> Vec<Value> {
    let mut out = Vec::new();
    for (dep, d) in &svc.depends_on {
        let Some(dep_svc) = cx.project.services.get(dep) else {
            continue;
        };
        let host = dns_label(dep);
        let script = match d.condition {
            DependsCondition::ServiceStarted => {
                cx.report.drop_key(
                    format!("services.{name}.depends_on"),
                    "service_started has no equivalent: pods start in any order (use service_healthy to wait)",
                );
                continue;
            }
            DependsCondition::ServiceHealthy => {
                match service::target_ports(dep_svc).first() {
                    // a Service without ready pods refuses connections
                    Some(_) => {
                        let port = service_port(dep_svc);
                        format!("until nc -z -w 2 {host} {port}; do echo waiting for {host}; sleep 1; done")
                    }
                    // a headless Service resolves only to ready pods
                    None => format!(
                        "until nslookup {host} >/dev/null 2>&1; do echo waiting for {host}; sleep 1; done"
                    ),
                }
            }
            DependsCondition::ServiceCompletedSuccessfully => {
                out.push(json!({
                    "name": dns_label(&format!("wait-for-{dep}")),
                    "image": KUBECTL_IMAGE,
                    "command": ["kubectl", "wait", "--for=condition=complete", "--timeout=-1s", format!("job/{host}")],
                }));
                continue;
            }
        };
        out.push(json!({
            "name": dns_label(&format!("wait-for-{dep}")),
            "image": WAIT_IMAGE,
            "command": ["sh", "-c", script],
        }));
    }
    out
}

/// The first port of a dependency's Service (as the Service publishes it).
fn service_port(svc: &Service) -> u16 {
    svc.ports
        .first()
        .and_then(|p| p.published.as_deref())
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0)
        .or_else(|| service::target_ports(svc).first().map(|(p, _)| *p))
        .unwrap_or(0)
}
