//! The builder against loaded projects: each section maps its keys or warns.

use super::*;
use crate::compose::load::{load_project, LoadOptions};

fn project(yaml: &str) -> Project {
    let dir = std::env::temp_dir().join(format!("wharf-ctr-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut env = Environment::default();
    env.vars.insert("TOKEN".into(), "from-env".into());
    load_project(&LoadOptions {
        files: vec!["-".into()],
        project_name: Some("demo".into()),
        working_dir: Some(dir),
        environment: Some(env.clone()),
        stdin: Some(yaml.to_string()),
        ..Default::default()
    })
    .unwrap()
    .project
}

fn inputs<'a>(service: &'a str, networking: bool, env: &'a Environment) -> BuildInputs<'a> {
    BuildInputs {
        service,
        number: 1,
        name: "demo-x-1",
        config_hash: "h",
        networking,
        environment: Some(env),
        ..Default::default()
    }
}

#[test]
fn networks_as_docker_api_shapes() {
    let p = project(
        "services:\n  web:\n    image: busybox\n    links: [db:database]\n    networks:\n      front:\n        aliases: [www]\n        ipv4_address: 10.9.0.5\n      back: {}\n  db:\n    image: busybox\n    networks: [back]\nnetworks:\n  front:\n  back:\n",
    );
    let env = Environment::default();
    let b = build(&p, &inputs("web", true, &env)).unwrap();
    let host = b.body.host_config.unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("demo_back"));
    let eps = b.body.networking_config.unwrap().endpoints_config.unwrap();
    assert_eq!(
        eps["demo_front"].aliases.clone().unwrap(),
        vec!["web", "www"]
    );
    assert_eq!(
        eps["demo_front"]
            .ipam_config
            .clone()
            .unwrap()
            .ipv4_address
            .as_deref(),
        Some("10.9.0.5")
    );
    assert_eq!(
        eps["demo_back"].links.clone().unwrap(),
        vec!["demo-db-1:database"]
    );
    // without networking: the default network, and a warning for what is lost
    let b = build(&p, &inputs("web", false, &env)).unwrap();
    assert!(b.body.networking_config.is_none());
    assert!(b.body.host_config.unwrap().network_mode.is_none());
    assert!(
        b.warnings.iter().any(|w| w.contains("links")),
        "{:?}",
        b.warnings
    );
    assert!(
        b.warnings.iter().any(|w| w.contains("networks.front")),
        "{:?}",
        b.warnings
    );
}

#[test]
fn keys_map_or_warn() {
    let p = project(
        r#"
services:
  app:
    image: busybox
    command: ["sh", "-c", "true"]
    entrypoint: ["/bin/sh"]
    environment: {A: "1", UNSET: null}
    ports: ["127.0.0.1:8080:80/udp"]
    expose: ["9000-9001"]
    user: "1000:1000"
    working_dir: /w
    hostname: h
    extra_hosts: ["db:10.0.0.2"]
    dns: [1.1.1.1]
    init: true
    stop_signal: SIGINT
    stop_grace_period: 1500ms
    tty: true
    cap_add: [NET_ADMIN]
    read_only: true
    ulimits: {nofile: {soft: 10, hard: 20}}
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    shm_size: 1m
    tmpfs: ["/run:size=1m"]
    restart: on-failure:3
    healthcheck: {test: ["CMD", "true"], interval: 2s, retries: 4}
    logging: {driver: none, options: {max-size: 1m}}
    deploy: {resources: {reservations: {cpus: "0.1", memory: 10m}}}
    labels: {mine: "yes"}
"#,
    );
    let env = Environment::default();
    let b = build(&p, &inputs("app", false, &env)).unwrap();
    let body = &b.body;
    assert_eq!(body.cmd.clone().unwrap(), vec!["sh", "-c", "true"]);
    assert_eq!(body.entrypoint.clone().unwrap(), vec!["/bin/sh"]);
    assert_eq!(body.env.clone().unwrap(), vec!["A=1"]);
    assert!(body.exposed_ports.clone().unwrap().contains_key("9001/tcp"));
    assert_eq!(body.stop_timeout, Some(2));
    assert_eq!(
        body.healthcheck.clone().unwrap().interval,
        Some(2_000_000_000)
    );
    assert_eq!(body.labels.clone().unwrap()["mine"], "yes");
    assert_eq!(
        body.labels.clone().unwrap()["com.docker.compose.project"],
        "demo"
    );
    let host = body.host_config.clone().unwrap();
    let pb = host.port_bindings.unwrap();
    let b80 = pb["80/udp"].clone().unwrap();
    assert_eq!(b80[0].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(b80[0].host_port.as_deref(), Some("8080"));
    assert_eq!(host.memory, Some(64 << 20));
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.pids_limit, Some(50));
    assert_eq!(host.init, Some(true));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.extra_hosts.unwrap(), vec!["db:10.0.0.2"]);
    assert_eq!(host.restart_policy.unwrap().maximum_retry_count, Some(3));
    assert_eq!(host.tmpfs.unwrap()["/run"], "size=1m");
    for key in [
        "logging.driver",
        "logging.options",
        "reservations.cpus",
        "reservations.memory",
    ] {
        assert!(
            b.warnings.iter().any(|w| w.contains(key)),
            "{key}: {:?}",
            b.warnings
        );
    }
}

#[test]
fn secrets_and_configs() {
    let p = project(
        "services:\n  app:\n    image: busybox\n    secrets: [tok]\n    configs:\n      - source: cfg\n        target: /etc/app.conf\n        mode: 288\n        uid: \"33\"\nsecrets:\n  tok:\n    environment: TOKEN\nconfigs:\n  cfg:\n    content: hello\n",
    );
    let mut env = Environment::default();
    env.vars.insert("TOKEN".into(), "from-env".into());
    let b = build(&p, &inputs("app", false, &env)).unwrap();
    assert_eq!(b.files.len(), 2);
    assert_eq!(b.files[0].target, "/run/secrets/tok");
    assert_eq!(b.files[0].content, b"from-env");
    assert_eq!(
        (b.files[1].target.as_str(), b.files[1].mode, b.files[1].uid),
        ("/etc/app.conf", 0o440, 33)
    );
    let tar = files_tar(&b.files).unwrap();
    let names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"run/secrets/tok".to_string()), "{names:?}");
    // the variable is unset: a clear error naming the service
    let empty = Environment::default();
    let e = build(&p, &inputs("app", false, &empty)).unwrap_err();
    assert!(e.contains("\"app\"") && e.contains("TOKEN"), "{e}");
}
