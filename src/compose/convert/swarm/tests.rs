//! The conversion against loaded projects: what docker stack deploy makes of each key (the
//! end-to-end comparison with the docker CLI is `tests/swarm.rs`), and the reports.

use super::*;
use crate::compose::load::env::Environment;
use crate::compose::load::{load_project, LoadOptions, Target};

fn stack(yaml: &str) -> Stack {
    let loaded = load(yaml);
    convert(&loaded, &Namespace::new("shop").unwrap()).unwrap()
}

fn load(yaml: &str) -> Loaded {
    let dir = std::env::temp_dir().join(format!("wharf-swarm-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pw.txt"), "hunter2").unwrap();
    load_project(&LoadOptions {
        files: vec!["-".into()],
        project_name: Some("shop".into()),
        working_dir: Some(dir),
        environment: Some(Environment::default()),
        stdin: Some(yaml.to_string()),
        target: Target::Swarm,
        ..Default::default()
    })
    .unwrap()
}

fn spec_json(s: &Stack, name: &str) -> serde_json::Value {
    let svc = s.services.iter().find(|x| x.name == name).unwrap();
    serde_json::to_value(&svc.spec).unwrap()
}

#[test]
fn names_labels_and_the_default_network_are_scoped_by_the_stack() {
    let s = stack("services:\n  web:\n    image: box:1\n    labels: {tier: front}\n    deploy:\n      labels: {team: a}\n");
    let web = spec_json(&s, "web");
    assert_eq!(web["Name"], "shop_web");
    assert_eq!(web["Labels"]["com.docker.stack.namespace"], "shop");
    assert_eq!(web["Labels"]["com.docker.stack.image"], "box:1");
    assert_eq!(web["Labels"]["team"], "a");
    let c = &web["TaskTemplate"]["ContainerSpec"];
    assert_eq!(c["Labels"]["tier"], "front");
    assert_eq!(c["Labels"]["com.docker.stack.namespace"], "shop");
    assert_eq!(
        web["TaskTemplate"]["Networks"],
        serde_json::json!([{"Target": "shop_default", "Aliases": ["web"]}])
    );
    assert_eq!(s.networks.len(), 1);
    assert_eq!(s.networks[0].name, "shop_default");
    assert_eq!(s.networks[0].driver.as_deref(), Some("overlay"));
}

#[test]
fn deploy_keys_become_mode_resources_policies_and_endpoint() {
    let s = stack(
        "services:
  web:
    image: box:1
    command: [httpd, -f]
    entrypoint: [/bin/sh, -c]
    environment: {B: '2', A: '1'}
    ports: ['8080:80', {target: 53, published: 5353, protocol: udp, mode: host}]
    restart: on-failure:3
    healthcheck: {test: [CMD, 'true'], interval: 2s, retries: 4}
    deploy:
      replicas: 3
      endpoint_mode: dnsrr
      resources: {limits: {cpus: '0.5', memory: 64M}, reservations: {memory: 32M}}
      placement: {constraints: [node.role==manager], preferences: [{spread: node.labels.zone}], max_replicas_per_node: 2}
      update_config: {parallelism: 2, delay: 1s, order: start-first, failure_action: rollback}
      rollback_config: {monitor: 5s}
  agent:
    image: box:1
    deploy: {mode: global, restart_policy: {condition: any, delay: 3s}}
  once:
    image: box:1
    deploy: {mode: replicated-job, replicas: 2}
",
    );
    let web = spec_json(&s, "web");
    let t = &web["TaskTemplate"];
    assert_eq!(
        t["ContainerSpec"]["Command"],
        serde_json::json!(["/bin/sh", "-c"])
    );
    assert_eq!(
        t["ContainerSpec"]["Args"],
        serde_json::json!(["httpd", "-f"])
    );
    assert_eq!(t["ContainerSpec"]["Env"], serde_json::json!(["A=1", "B=2"]));
    assert_eq!(
        t["ContainerSpec"]["HealthCheck"],
        serde_json::json!({"Test": ["CMD", "true"], "Interval": 2_000_000_000i64, "Retries": 4})
    );
    assert_eq!(
        t["RestartPolicy"],
        serde_json::json!({"Condition": "on-failure", "MaxAttempts": 3})
    );
    assert_eq!(
        t["Resources"],
        serde_json::json!({"Limits": {"NanoCPUs": 500_000_000i64, "MemoryBytes": 67_108_864i64}, "Reservations": {"MemoryBytes": 33_554_432i64}})
    );
    assert_eq!(
        t["Placement"]["Constraints"],
        serde_json::json!(["node.role==manager"])
    );
    assert_eq!(
        t["Placement"]["Preferences"],
        serde_json::json!([{"Spread": {"SpreadDescriptor": "node.labels.zone"}}])
    );
    assert_eq!(t["Placement"]["MaxReplicas"], 2);
    assert_eq!(
        web["Mode"],
        serde_json::json!({"Replicated": {"Replicas": 3}})
    );
    assert_eq!(
        web["UpdateConfig"],
        serde_json::json!({"Parallelism": 2, "Delay": 1_000_000_000i64, "FailureAction": "rollback", "Order": "start-first"})
    );
    assert_eq!(
        web["RollbackConfig"],
        serde_json::json!({"Parallelism": 1, "Monitor": 5_000_000_000i64})
    );
    assert_eq!(
        web["EndpointSpec"],
        serde_json::json!({"Mode": "dnsrr", "Ports": [
            {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 5353, "PublishMode": "host"},
            {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"},
        ]})
    );
    let agent = spec_json(&s, "agent");
    assert_eq!(agent["Mode"], serde_json::json!({"Global": {}}));
    assert_eq!(
        agent["TaskTemplate"]["RestartPolicy"],
        serde_json::json!({"Condition": "any", "Delay": 3_000_000_000i64})
    );
    let once = spec_json(&s, "once");
    assert_eq!(
        once["Mode"],
        serde_json::json!({"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 2}})
    );
}

#[test]
fn secrets_configs_and_volumes_are_scoped_and_referenced() {
    let s = stack(
        "services:
  db:
    image: box:1
    secrets: [pw, {source: ext, target: other, mode: 0400}]
    configs: [{source: cfg, target: /etc/app.conf}]
    volumes: [data:/var/lib/data, /srv:/srv:ro]
secrets:
  pw: {file: ./pw.txt}
  ext: {external: true, name: shared_pw}
configs:
  cfg: {content: 'a=1'}
volumes:
  data: {labels: {keep: 'yes'}}
",
    );
    assert_eq!(s.secrets.len(), 1, "an external secret is not created");
    assert_eq!(s.secrets[0].name.as_deref(), Some("shop_pw"));
    assert_eq!(s.secrets[0].data.as_deref(), Some("aHVudGVyMg=="));
    assert_eq!(s.configs[0].name.as_deref(), Some("shop_cfg"));
    let c = &spec_json(&s, "db")["TaskTemplate"]["ContainerSpec"];
    assert_eq!(
        c["Secrets"],
        serde_json::json!([
            {"File": {"Name": "other", "UID": "0", "GID": "0", "Mode": 0o400}, "SecretName": "shared_pw"},
            {"File": {"Name": "pw", "UID": "0", "GID": "0", "Mode": 0o444}, "SecretName": "shop_pw"},
        ])
    );
    assert_eq!(
        c["Configs"][0],
        serde_json::json!({"File": {"Name": "/etc/app.conf", "UID": "0", "GID": "0", "Mode": 0o444}, "ConfigName": "shop_cfg"})
    );
    assert_eq!(
        c["Mounts"],
        serde_json::json!([
            {"Target": "/var/lib/data", "Source": "shop_data", "Type": "volume",
             "VolumeOptions": {"NoCopy": false, "Labels": {"keep": "yes", "com.docker.stack.namespace": "shop"}}},
            {"Target": "/srv", "Source": "/srv", "Type": "bind", "ReadOnly": true},
        ])
    );
}

#[test]
fn keys_a_swarm_cannot_take_are_reported_once_with_their_line() {
    let s = stack(
        "services:
  web:
    image: box:1
    build: .
    privileged: true
    network_mode: host
    depends_on: [db]
  db:
    image: box:1
    depends_on: [cache]
  cache:
    image: box:1
",
    );
    let keys: Vec<String> = s.dropped.iter().map(|d| d.key.clone()).collect();
    assert_eq!(
        keys,
        [
            "services.db.depends_on",
            "services.web.build",
            "services.web.depends_on",
            "services.web.network_mode",
            "services.web.privileged",
        ]
    );
    let build = s.dropped.iter().find(|d| d.key.ends_with("build")).unwrap();
    assert_eq!(build.at.line, Some(4), "{build}");
}

#[test]
fn a_service_without_an_image_or_with_global_replicas_is_refused_with_its_line() {
    let loaded = load("services:\n  web:\n    build: .\n");
    let e = convert(&loaded, &Namespace::new("shop").unwrap()).unwrap_err();
    assert!(e.to_string().contains("services.web.image"), "{e}");
    assert!(e.to_string().contains("needs an image"), "{e}");
    let loaded = load(
        "services:\n  web:\n    image: x\n    deploy:\n      mode: global\n      replicas: 2\n",
    );
    let e = convert(&loaded, &Namespace::new("shop").unwrap()).unwrap_err();
    assert!(e.to_string().contains(":4:"), "{e}");
    assert!(e.to_string().contains("replicas can only be used"), "{e}");
}

#[test]
fn stack_names_follow_dockers_rule() {
    assert!(Namespace::new("shop-1.a_b").is_ok());
    for bad in ["", "-x", "a b", "a/b", &"x".repeat(64)] {
        assert!(Namespace::new(bad).is_err(), "{bad:?}");
    }
}
