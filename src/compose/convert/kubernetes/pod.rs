//! A service's pod template: the container (image, command, environment, ports, resources,
//! security context, probe, hooks), the pod-level keys (host aliases, DNS, sysctls, grace
//! period, placement) and the volumes its mounts need.

use serde_json::{json, Map, Value};

use super::{dns_label, service, storage, wait, Cx};
use crate::compose::convert::ConvertError;
use crate::compose::model::{
    Healthcheck, NetworkMode, PullPolicy, ResourceLimits, Service, ServiceHook,
};

/// The pod spec of `name`'s pods.
pub(super) fn pod_spec(cx: &mut Cx<'_>, name: &str, svc: &Service) -> Result<Value, ConvertError> {
    let key = format!("services.{name}");
    let mut container = Map::new();
    container.insert("name".into(), json!(dns_label(name)));
    container.insert("image".into(), json!(image(cx, name, svc)));
    if let Some(ep) = &svc.entrypoint {
        container.insert("command".into(), json!(ep));
    }
    if let Some(cmd) = &svc.command {
        container.insert("args".into(), json!(cmd));
    }
    if let Some(dir) = &svc.working_dir {
        container.insert("workingDir".into(), json!(dir));
    }
    environment(cx, name, svc, &mut container);
    let ports = container_ports(svc);
    if !ports.is_empty() {
        container.insert("ports".into(), Value::Array(ports));
    }
    if let Some(r) = resources(cx, &key, svc) {
        container.insert("resources".into(), r);
    }
    if let Some(sc) = security_context(cx, &key, svc) {
        container.insert("securityContext".into(), sc);
    }
    if let Some(probe) = svc.healthcheck.as_ref().and_then(readiness_probe) {
        container.insert("readinessProbe".into(), probe);
    }
    if let Some(l) = lifecycle(cx, &key, svc) {
        container.insert("lifecycle".into(), l);
    }
    if svc.tty {
        container.insert("tty".into(), json!(true));
    }
    if svc.stdin_open {
        container.insert("stdin".into(), json!(true));
    }
    if let Some(p) = svc.pull_policy {
        let policy = match p {
            PullPolicy::Always => "Always",
            PullPolicy::Never => "Never",
            PullPolicy::Missing | PullPolicy::Build => "IfNotPresent",
        };
        container.insert("imagePullPolicy".into(), json!(policy));
    }
    let mut pod = Map::new();
    let mounts = storage::mounts(cx, name, svc)?;
    if !mounts.mounts.is_empty() {
        container.insert("volumeMounts".into(), Value::Array(mounts.mounts));
        pod.insert("volumes".into(), Value::Array(mounts.volumes));
    }
    pod.insert("containers".into(), json!([Value::Object(container)]));
    let inits = wait::init_containers(cx, name, svc);
    if !inits.is_empty() {
        pod.insert("initContainers".into(), Value::Array(inits));
        if wait::waits_for_a_job(cx.project, svc) {
            pod.insert(
                "serviceAccountName".into(),
                json!(wait::waiter_account(cx.project)),
            );
        }
    }
    pod_keys(cx, &key, svc, &mut pod);
    Ok(Value::Object(pod))
}

fn image(cx: &mut Cx<'_>, name: &str, svc: &Service) -> String {
    let image = svc
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{name}", cx.project.name));
    if svc.build.is_some() {
        cx.report.drop_key(
            format!("services.{name}.build"),
            format!("a cluster does not build images: build and push {image} first (`wharf compose build` and `wharf compose push`)"),
        );
    }
    image
}

/// `environment`: inline, or, for a service with `env_file`s, from a ConfigMap of all its
/// variables (the file contents are already merged with `environment` by the loader).
fn environment(cx: &mut Cx<'_>, name: &str, svc: &Service, container: &mut Map<String, Value>) {
    let vars: Vec<(&String, &String)> = svc
        .environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
    if vars.is_empty() {
        return;
    }
    if svc.env_file.is_empty() {
        let env: Vec<Value> = vars
            .iter()
            .map(|(k, v)| json!({ "name": k, "value": v }))
            .collect();
        container.insert("env".into(), Value::Array(env));
    } else {
        let cm = storage::env_config_map(cx, name, &vars);
        container.insert(
            "envFrom".into(),
            json!([{ "configMapRef": { "name": cm } }]),
        );
    }
}

/// The container's ports: those it publishes and those it exposes.
fn container_ports(svc: &Service) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (port, proto) in service::target_ports(svc) {
        if seen.insert((port, proto)) {
            out.push(json!({ "containerPort": port, "protocol": proto }));
        }
    }
    out
}

fn quantity_cpu(cpus: f64) -> String {
    format!("{}m", (cpus * 1000.0).round() as u64)
}

fn limits_json(cx: &mut Cx<'_>, key: &str, l: &ResourceLimits) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(c) = l.cpus {
        m.insert("cpu".into(), json!(quantity_cpu(c)));
    }
    if let Some(mem) = l.memory {
        m.insert("memory".into(), json!(mem.0.to_string()));
    }
    if l.pids.is_some() {
        cx.report.drop_key(
            format!("{key}.pids"),
            "Kubernetes limits pids per node (kubelet podPidsLimit), not per container",
        );
    }
    m
}

fn resources(cx: &mut Cx<'_>, key: &str, svc: &Service) -> Option<Value> {
    let res = svc.deploy.as_ref().and_then(|d| d.resources.as_ref());
    let rkey = format!("{key}.deploy.resources");
    let mut limits = res
        .and_then(|r| r.limits.as_ref())
        .map(|l| limits_json(cx, &format!("{rkey}.limits"), l))
        .unwrap_or_default();
    let requests = res
        .and_then(|r| r.reservations.as_ref())
        .map(|l| limits_json(cx, &format!("{rkey}.reservations"), l))
        .unwrap_or_default();
    if let Some(m) = svc.mem_limit {
        limits
            .entry("memory")
            .or_insert_with(|| json!(m.0.to_string()));
    }
    if let Some(c) = svc.cpus {
        limits
            .entry("cpu")
            .or_insert_with(|| json!(quantity_cpu(c)));
    }
    if svc.pids_limit.is_some() {
        cx.report.drop_key(
            format!("{key}.pids_limit"),
            "Kubernetes limits pids per node (kubelet podPidsLimit), not per container",
        );
    }
    let mut out = Map::new();
    if !limits.is_empty() {
        out.insert("limits".into(), Value::Object(limits));
    }
    if !requests.is_empty() {
        out.insert("requests".into(), Value::Object(requests));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// `user: uid[:gid]`, `cap_add`, `cap_drop`, `privileged`, `read_only`.
fn security_context(cx: &mut Cx<'_>, key: &str, svc: &Service) -> Option<Value> {
    let mut sc = Map::new();
    if let Some(user) = &svc.user {
        let (u, g) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        match (u.parse::<i64>(), g.map(str::parse::<i64>)) {
            (Ok(uid), None) => {
                sc.insert("runAsUser".into(), json!(uid));
            }
            (Ok(uid), Some(Ok(gid))) => {
                sc.insert("runAsUser".into(), json!(uid));
                sc.insert("runAsGroup".into(), json!(gid));
            }
            _ => cx.report.drop_key(
                format!("{key}.user"),
                format!("Kubernetes takes numeric ids only: {user:?} is left to the image (set runAsUser by hand)"),
            ),
        }
    }
    let caps = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|c| c.trim_start_matches("CAP_").to_ascii_uppercase())
            .collect()
    };
    let mut capabilities = Map::new();
    if !svc.cap_add.is_empty() {
        capabilities.insert("add".into(), json!(caps(&svc.cap_add)));
    }
    if !svc.cap_drop.is_empty() {
        capabilities.insert("drop".into(), json!(caps(&svc.cap_drop)));
    }
    if !capabilities.is_empty() {
        sc.insert("capabilities".into(), Value::Object(capabilities));
    }
    if svc.privileged {
        sc.insert("privileged".into(), json!(true));
    }
    if svc.read_only {
        sc.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    (!sc.is_empty()).then_some(Value::Object(sc))
}

/// Whole seconds, at least `min` (Kubernetes probes count in seconds).
fn seconds(d: Option<crate::compose::model::Duration>, min: u64) -> Option<u64> {
    d.map(|d| d.0.as_secs_f64().ceil() as u64)
        .map(|s| s.max(min))
}

/// A compose healthcheck gates dependants on health: that is a readiness probe (a failing one
/// takes the pod out of its Service, as an unhealthy container stops gating `depends_on`).
fn readiness_probe(h: &Healthcheck) -> Option<Value> {
    if h.disable {
        return None;
    }
    let command: Vec<String> = match h.test.split_first() {
        Some((kind, rest)) if kind == "CMD" => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        _ => return None,
    };
    let mut p = Map::new();
    p.insert("exec".into(), json!({ "command": command }));
    if let Some(s) = seconds(h.interval, 1) {
        p.insert("periodSeconds".into(), json!(s));
    }
    if let Some(s) = seconds(h.timeout, 1) {
        p.insert("timeoutSeconds".into(), json!(s));
    }
    if let Some(r) = h.retries {
        p.insert("failureThreshold".into(), json!(r.max(1)));
    }
    if let Some(s) = seconds(h.start_period, 0) {
        p.insert("initialDelaySeconds".into(), json!(s));
    }
    Some(Value::Object(p))
}

/// `post_start` / `pre_stop`: Kubernetes runs one handler each, so several hooks run in one
/// shell, in order; hook users, environments and privileges have no equivalent.
fn lifecycle(cx: &mut Cx<'_>, key: &str, svc: &Service) -> Option<Value> {
    let mut l = Map::new();
    for (field, hooks, k8s) in [
        ("post_start", &svc.post_start, "postStart"),
        ("pre_stop", &svc.pre_stop, "preStop"),
    ] {
        if hooks.is_empty() {
            continue;
        }
        if hooks.iter().any(hook_has_options) {
            cx.report.drop_key(
                format!("{key}.{field}"),
                "a Kubernetes hook runs as the container: its user, privileged, working_dir and environment are not carried over",
            );
        }
        let command = match hooks.as_slice() {
            [one] => one.command.clone(),
            many => {
                let script: Vec<String> =
                    many.iter().map(|h| shell_words::join(&h.command)).collect();
                vec!["/bin/sh".into(), "-c".into(), script.join(" && ")]
            }
        };
        l.insert(k8s.into(), json!({ "exec": { "command": command } }));
    }
    (!l.is_empty()).then_some(Value::Object(l))
}

fn hook_has_options(h: &ServiceHook) -> bool {
    h.user.is_some() || h.privileged || h.working_dir.is_some() || !h.environment.is_empty()
}

/// Pod-level keys, and the reports for the keys no pod has.
fn pod_keys(cx: &mut Cx<'_>, key: &str, svc: &Service, pod: &mut Map<String, Value>) {
    if let Some(h) = &svc.hostname {
        pod.insert("hostname".into(), json!(dns_label(h)));
    }
    if !svc.extra_hosts.is_empty() {
        let mut aliases: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (host, ips) in &svc.extra_hosts {
            for ip in ips {
                if ip == "host-gateway" {
                    cx.report.drop_key(
                        format!("{key}.extra_hosts"),
                        "host-gateway has no meaning in a cluster",
                    );
                    continue;
                }
                aliases.entry(ip).or_default().push(host);
            }
        }
        let list: Vec<Value> = aliases
            .into_iter()
            .map(|(ip, hosts)| json!({ "ip": ip, "hostnames": hosts }))
            .collect();
        if !list.is_empty() {
            pod.insert("hostAliases".into(), Value::Array(list));
        }
    }
    dns_config(svc, pod);
    if !svc.sysctls.is_empty() {
        let list: Vec<Value> = svc
            .sysctls
            .iter()
            .map(|(k, v)| json!({ "name": k, "value": v }))
            .collect();
        pod.insert("securityContext".into(), json!({ "sysctls": list }));
    }
    if let Some(g) = svc.stop_grace_period {
        pod.insert(
            "terminationGracePeriodSeconds".into(),
            json!(g.0.as_secs_f64().ceil() as u64),
        );
    }
    if svc.init == Some(true) {
        // the pod's pause process becomes PID 1 and reaps orphans, as an init would
        pod.insert("shareProcessNamespace".into(), json!(true));
    }
    match &svc.network_mode {
        Some(NetworkMode::Host) => {
            pod.insert("hostNetwork".into(), json!(true));
        }
        Some(other) => cx.report.drop_key(
            format!("{key}.network_mode"),
            format!(
                "{:?} has no pod equivalent: the pod gets its own network",
                String::from(other.clone())
            ),
        ),
        None => {}
    }
    placement(cx, key, svc, pod);
    unsupported(cx, key, svc);
}

fn dns_config(svc: &Service, pod: &mut Map<String, Value>) {
    let mut dns = Map::new();
    if !svc.dns.is_empty() {
        dns.insert("nameservers".into(), json!(svc.dns));
    }
    if !svc.dns_search.is_empty() {
        dns.insert("searches".into(), json!(svc.dns_search));
    }
    if !svc.dns_opt.is_empty() {
        let opts: Vec<Value> = svc
            .dns_opt
            .iter()
            .map(|o| match o.split_once(':') {
                Some((n, v)) => json!({ "name": n, "value": v }),
                None => json!({ "name": o }),
            })
            .collect();
        dns.insert("options".into(), Value::Array(opts));
    }
    if !dns.is_empty() {
        // added to the cluster's resolver, so service names still resolve
        pod.insert("dnsConfig".into(), Value::Object(dns));
    }
}

/// `platform` and `deploy.placement.constraints` → a node selector (and affinity for `!=`).
fn placement(cx: &mut Cx<'_>, key: &str, svc: &Service, pod: &mut Map<String, Value>) {
    let mut selector = Map::new();
    let mut not_in: Vec<Value> = Vec::new();
    if let Some(p) = &svc.platform {
        let mut parts = p.split('/');
        if let Some(os) = parts.next() {
            selector.insert("kubernetes.io/os".into(), json!(os));
        }
        if let Some(arch) = parts.next() {
            selector.insert("kubernetes.io/arch".into(), json!(arch));
        }
    }
    let placement = svc.deploy.as_ref().and_then(|d| d.placement.as_ref());
    let pkey = format!("{key}.deploy.placement");
    for c in placement.map(|p| p.constraints.as_slice()).unwrap_or(&[]) {
        let (field, value, equal) = match (c.split_once("!="), c.split_once("==")) {
            (Some((f, v)), _) => (f.trim(), v.trim(), false),
            (None, Some((f, v))) => (f.trim(), v.trim(), true),
            _ => {
                cx.report.drop_key(
                    format!("{pkey}.constraints"),
                    format!("{c:?}: not a constraint"),
                );
                continue;
            }
        };
        let label = match field {
            "node.hostname" => "kubernetes.io/hostname".to_string(),
            "node.platform.os" => "kubernetes.io/os".to_string(),
            "node.platform.arch" => "kubernetes.io/arch".to_string(),
            f => match f.strip_prefix("node.labels.") {
                Some(l) => l.to_string(),
                None => {
                    cx.report.drop_key(
                        format!("{pkey}.constraints"),
                        format!("{c:?} has no node label in Kubernetes (only node.hostname, node.platform.* and node.labels.*)"),
                    );
                    continue;
                }
            },
        };
        let value = match (label.as_str(), value) {
            ("kubernetes.io/arch", "x86_64") => "amd64",
            ("kubernetes.io/arch", "aarch64") => "arm64",
            (_, v) => v,
        };
        if equal {
            selector.insert(label, json!(value));
        } else {
            not_in.push(json!({ "key": label, "operator": "NotIn", "values": [value] }));
        }
    }
    if let Some(p) = placement {
        if !p.preferences.is_empty() {
            cx.report.drop_key(
                format!("{pkey}.preferences"),
                "spread preferences are not converted: write topologySpreadConstraints by hand",
            );
        }
        if p.max_replicas_per_node.is_some() {
            cx.report.drop_key(
                format!("{pkey}.max_replicas_per_node"),
                "not converted: write topologySpreadConstraints by hand",
            );
        }
    }
    if !selector.is_empty() {
        pod.insert("nodeSelector".into(), Value::Object(selector));
    }
    if !not_in.is_empty() {
        pod.insert(
            "affinity".into(),
            json!({ "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{ "matchExpressions": not_in }] } } }),
        );
    }
}

/// Keys a pod has no field for.
fn unsupported(cx: &mut Cx<'_>, key: &str, svc: &Service) {
    let checks: [(&str, bool, &str); 7] = [
        (
            "container_name",
            svc.container_name.is_some(),
            "pods get generated names; the service's name is its Service's",
        ),
        (
            "domainname",
            svc.domainname.is_some(),
            "pods take the cluster's domain",
        ),
        (
            "stop_signal",
            svc.stop_signal.is_some(),
            "Kubernetes sends SIGTERM (set STOPSIGNAL in the image)",
        ),
        (
            "ulimits",
            !svc.ulimits.is_empty(),
            "Kubernetes has no per-container ulimits",
        ),
        (
            "security_opt",
            !svc.security_opt.is_empty(),
            "write seccompProfile / appArmorProfile in the securityContext by hand",
        ),
        (
            "logging",
            svc.logging.is_some(),
            "the cluster collects container output itself",
        ),
        (
            "volumes_from",
            !svc.volumes_from.is_empty(),
            "pods cannot share another pod's volumes",
        ),
    ];
    for (k, present, why) in checks {
        if present {
            cx.report.drop_key(format!("{key}.{k}"), why);
        }
    }
}
