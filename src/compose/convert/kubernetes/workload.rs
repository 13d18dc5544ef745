//! The controller that runs a service's pods: a Deployment, a StatefulSet (one replica keeping
//! a named volume), a DaemonSet (`mode: global`) or a Job (it runs once).

use serde_json::{json, Map, Value};

use super::{dns_label, Cx};
use crate::compose::model::{
    Deploy, DeployMode, MountType, RestartCondition, RestartPolicy, Service, UpdateOrder,
};

/// Push the workload of `name` with the pod spec `pod`.
pub(super) fn workload(cx: &mut Cx<'_>, name: &str, svc: &Service, pod: Value, one_shot: bool) {
    let key = format!("services.{name}");
    let deploy = svc.deploy.clone().unwrap_or_default();
    let mode = deploy.mode.unwrap_or_default();
    let keeps_volume = svc
        .volumes
        .iter()
        .any(|m| m.kind == MountType::Volume && m.source.is_some());
    let replicas = svc.replicas();
    let kind = if one_shot {
        "Job"
    } else if mode == DeployMode::Global {
        "DaemonSet"
    } else if keeps_volume && replicas == 1 {
        "StatefulSet"
    } else {
        "Deployment"
    };
    let k8s = dns_label(name);
    let mut template_meta = json!({ "labels": cx.labels(name) });
    if !svc.labels.is_empty() {
        // compose labels are free-form; annotations take any key and value
        template_meta["annotations"] = json!(svc.labels);
    }
    let mut pod = pod;
    let mut spec = Map::new();
    match kind {
        "Job" => {
            pod["restartPolicy"] = json!(job_restart(svc, &deploy));
            if let Some(n) = job_backoff(svc, &deploy) {
                spec.insert("backoffLimit".into(), json!(n));
            }
            if mode == DeployMode::ReplicatedJob && replicas > 1 {
                spec.insert("completions".into(), json!(replicas));
                spec.insert("parallelism".into(), json!(replicas));
            }
            if mode == DeployMode::GlobalJob {
                cx.report.drop_key(
                    format!("{key}.deploy.mode"),
                    "a global job runs once in the cluster, not once per node",
                );
            }
        }
        _ => {
            spec.insert(
                "selector".into(),
                json!({ "matchLabels": cx.selector(name) }),
            );
            if kind != "DaemonSet" {
                spec.insert("replicas".into(), json!(replicas));
            }
            if kind == "StatefulSet" {
                spec.insert("serviceName".into(), json!(k8s));
            }
            if kind == "Deployment" {
                if let Some(s) = strategy(&deploy) {
                    spec.insert("strategy".into(), s);
                }
            }
            not_for_long_running(cx, &key, svc, &deploy);
        }
    }
    spec.insert(
        "template".into(),
        json!({ "metadata": template_meta, "spec": pod }),
    );
    let api = if kind == "Job" { "batch/v1" } else { "apps/v1" };
    let mut meta = cx.metadata(&k8s, Some(name));
    if !deploy.labels.is_empty() {
        meta["annotations"] = json!(deploy.labels);
    }
    let body = json!({
        "apiVersion": api,
        "kind": kind,
        "metadata": meta,
        "spec": spec,
    });
    cx.push(kind, &k8s, body);
}

fn job_restart(svc: &Service, deploy: &Deploy) -> &'static str {
    let condition = deploy.restart_policy.as_ref().and_then(|r| r.condition);
    match (condition, svc.restart) {
        (Some(RestartCondition::OnFailure | RestartCondition::Any), _) => "OnFailure",
        (None, Some(RestartPolicy::OnFailure(_) | RestartPolicy::Always)) => "OnFailure",
        _ => "Never",
    }
}

fn job_backoff(svc: &Service, deploy: &Deploy) -> Option<u64> {
    if let Some(n) = deploy.restart_policy.as_ref().and_then(|r| r.max_attempts) {
        return Some(n);
    }
    match svc.restart {
        Some(RestartPolicy::OnFailure(Some(n))) => Some(n.into()),
        _ => Some(0).filter(|_| job_restart(svc, deploy) == "Never"),
    }
}

/// `update_config` as a rolling update: `start-first` surges by `parallelism` pods before
/// stopping old ones, `stop-first` stops `parallelism` pods first.
fn strategy(deploy: &Deploy) -> Option<Value> {
    let u = deploy.update_config.as_ref()?;
    let step = u.parallelism.filter(|p| *p > 0).unwrap_or(1);
    let (surge, unavailable) = match u.order {
        Some(UpdateOrder::StartFirst) => (step, 0),
        _ => (0, step),
    };
    Some(json!({
        "type": "RollingUpdate",
        "rollingUpdate": { "maxSurge": surge, "maxUnavailable": unavailable },
    }))
}

/// Keys of long-running services that the controllers have no field for.
fn not_for_long_running(cx: &mut Cx<'_>, key: &str, svc: &Service, deploy: &Deploy) {
    if deploy.restart_policy.is_some() {
        cx.report.drop_key(
            format!("{key}.deploy.restart_policy"),
            "pods of a long-running workload always restart, with the kubelet's back-off",
        );
    }
    if matches!(
        svc.restart,
        Some(RestartPolicy::No | RestartPolicy::OnFailure(_))
    ) {
        cx.report.drop_key(
            format!("{key}.restart"),
            "pods of a long-running workload always restart",
        );
    }
    if deploy.rollback_config.is_some() {
        cx.report.drop_key(
            format!("{key}.deploy.rollback_config"),
            "Kubernetes rolls back with `kubectl rollout undo`",
        );
    }
    if let Some(u) = &deploy.update_config {
        if u.delay.is_some()
            || u.monitor.is_some()
            || u.failure_action.is_some()
            || u.max_failure_ratio.is_some()
        {
            cx.report.drop_key(
                format!("{key}.deploy.update_config"),
                "only parallelism and order are converted (to maxSurge / maxUnavailable)",
            );
        }
    }
    if deploy.endpoint_mode.is_some() {
        cx.report.drop_key(
            format!("{key}.deploy.endpoint_mode"),
            "a Service with ports has a virtual IP, one without is headless (DNS round robin)",
        );
    }
}
