//! Plans that need files changing between two loads (the config hash covers file contents).

use std::collections::BTreeMap;
use std::path::Path;

use wharf::compose::load::env::Environment;
use wharf::compose::plan::{
    self, labels, ContainerState, ObservedContainer, ObservedResource, ObservedState, PlanOptions,
};
use wharf::compose::{load_project, LoadOptions, Project};

fn load(dir: &Path) -> Project {
    let opts = LoadOptions {
        working_dir: Some(dir.to_path_buf()),
        environment: Some(Environment::default()),
        project_name: Some("demo".into()),
        ..Default::default()
    };
    load_project(&opts).unwrap().project
}

/// Observed state: every service running with the hashes of `project`.
fn running(project: &Project) -> ObservedState {
    let hashes = plan::project_hashes(project).unwrap();
    let mut o = ObservedState::default();
    for (name, svc) in &project.services {
        let image = svc.image.clone().unwrap();
        o.images.insert(image.clone(), format!("sha256:{image}"));
        let mut l = plan::container_labels(project, name, 1, &hashes[name], false, None);
        l.insert(labels::CONFIG_HASH.into(), hashes[name].clone());
        o.containers.push(ObservedContainer {
            id: format!("id-{name}"),
            name: plan::container_name(project, name, 1),
            labels: l,
            image_id: format!("sha256:{image}"),
            state: ContainerState::Running,
            network_mode: None,
        });
    }
    for n in project.networks.values() {
        o.networks.push(ObservedResource {
            name: n.name.clone(),
            labels: BTreeMap::new(),
        });
    }
    o
}

#[test]
fn env_file_content_change_recreates_only_its_service() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("compose.yaml"),
        "services:\n  api:\n    image: api\n    env_file: api.env\n  db:\n    image: db\n",
    )
    .unwrap();
    std::fs::write(t.path().join("api.env"), "LEVEL=1\n").unwrap();
    let before = load(t.path());
    let observed = running(&before);
    let p = plan::plan_up(&before, &observed, &PlanOptions::default()).unwrap();
    assert_eq!(p.render(), "nothing to do\n");

    std::fs::write(t.path().join("api.env"), "LEVEL=2\n").unwrap();
    let after = load(t.path());
    let p = plan::plan_up(&after, &observed, &PlanOptions::default()).unwrap();
    assert_eq!(
        p.render(),
        "stop container demo-api-1 (config changed)\n\
         remove container demo-api-1  <- stop container demo-api-1 (config changed)\n\
         create container demo-api-1 (keeping anonymous volumes)  <- remove container demo-api-1\n\
         start container demo-api-1  <- create container demo-api-1 (keeping anonymous volumes)\n"
    );
}

#[test]
fn secret_and_config_file_contents_are_hashed() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("compose.yaml"),
        "services:\n  app:\n    image: app\n    secrets: [key]\n    configs: [conf]\nsecrets:\n  key:\n    file: ./key.txt\nconfigs:\n  conf:\n    file: ./app.conf\n",
    )
    .unwrap();
    std::fs::write(t.path().join("key.txt"), "s3cret").unwrap();
    std::fs::write(t.path().join("app.conf"), "a=1").unwrap();
    let p = load(t.path());
    let h1 = plan::hash::service_hash(&p, "app").unwrap();
    std::fs::write(t.path().join("key.txt"), "other").unwrap();
    let h2 = plan::hash::service_hash(&p, "app").unwrap();
    assert_ne!(h1, h2);
    std::fs::write(t.path().join("app.conf"), "a=2").unwrap();
    let h3 = plan::hash::service_hash(&p, "app").unwrap();
    assert_ne!(h2, h3);
    // unchanged content, unchanged hash
    assert_eq!(h3, plan::hash::service_hash(&p, "app").unwrap());
}

#[test]
fn scale_and_replicas_do_not_change_the_hash() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("compose.yaml"),
        "services:\n  a:\n    image: a\n",
    )
    .unwrap();
    let p1 = load(t.path());
    std::fs::write(
        t.path().join("compose.yaml"),
        "services:\n  a:\n    image: a\n    deploy: {replicas: 3}\n    pull_policy: always\n",
    )
    .unwrap();
    let p2 = load(t.path());
    assert_eq!(
        plan::hash::service_hash(&p1, "a").unwrap(),
        plan::hash::service_hash(&p2, "a").unwrap()
    );
}

#[test]
fn labels_of_a_container() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("compose.yaml"),
        "services:\n  web:\n    image: web\n    labels: [tier=front]\n    depends_on:\n      db: {condition: service_healthy, restart: true}\n  db:\n    image: db\n",
    )
    .unwrap();
    let p = load(t.path());
    let l = plan::container_labels(&p, "web", 2, "abc", false, Some("sha256:1"));
    let dir = t.path().display().to_string();
    let want: BTreeMap<String, String> = [
        ("tier", "front".to_string()),
        (labels::PROJECT, "demo".into()),
        (labels::SERVICE, "web".into()),
        (labels::NUMBER, "2".into()),
        (labels::CONFIG_HASH, "abc".into()),
        (labels::ONEOFF, "False".into()),
        (labels::WORKING_DIR, dir.clone()),
        (labels::CONFIG_FILES, format!("{dir}/compose.yaml")),
        (labels::DEPENDS_ON, "db:service_healthy:true".into()),
        (labels::IMAGE, "sha256:1".into()),
        (labels::VERSION, plan::COMPOSE_VERSION.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(l, want);
    assert_eq!(plan::network_name(&p, "default"), "demo_default");
    assert_eq!(plan::container_name(&p, "web", 2), "demo-web-2");
}

#[test]
fn config_helpers() {
    use wharf::compose::config::{render_hashes, service_names, volume_names};
    use wharf::compose::{render_config, ConfigFormat};
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("compose.yaml"),
        "services:\n  web:\n    image: web\n    depends_on: [db]\n  db:\n    image: db\n    volumes: [data:/data]\nvolumes:\n  data: {}\n  logs: {}\n",
    )
    .unwrap();
    let p = load(t.path());
    assert_eq!(service_names(&p), vec!["db", "web"]);
    assert_eq!(volume_names(&p), vec!["data", "logs"]);
    let json: serde_json::Value =
        serde_json::from_str(&render_config(&p, ConfigFormat::Json)).unwrap();
    assert_eq!(
        json["services"]["web"]["depends_on"]["db"]["condition"],
        "service_started"
    );
    assert_eq!(json["volumes"]["data"]["name"], "demo_data");
    // the YAML output loads back as the same project
    let yaml = render_config(&p, ConfigFormat::Yaml);
    std::fs::write(t.path().join("compose.yaml"), &yaml).unwrap();
    let again = load(t.path());
    assert_eq!(render_config(&again, ConfigFormat::Yaml), yaml);
    let hashes = render_hashes(&p, &["web".to_string()]).unwrap();
    assert!(
        hashes.starts_with("web ") && hashes.len() == 4 + 64 + 1,
        "{hashes}"
    );
    assert_eq!(
        render_hashes(&p, &["*".to_string()])
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn explicit_files_and_project_directory() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("conf")).unwrap();
    std::fs::write(
        t.path().join("conf/stack.yml"),
        "services:\n  a:\n    image: a\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    let opts = LoadOptions {
        working_dir: Some(t.path().to_path_buf()),
        environment: Some(Environment::default()),
        files: vec!["conf/stack.yml".into()],
        ..Default::default()
    };
    let l = load_project(&opts).unwrap();
    assert_eq!(l.project.name, "conf");
    assert_eq!(l.project.working_dir, t.path().join("conf"));
    let src = l.project.services["a"].volumes[0].source.clone().unwrap();
    assert_eq!(src, t.path().join("conf/data").display().to_string());
    // --project-directory changes where relative paths point and the default name
    let opts = LoadOptions {
        project_directory: Some("elsewhere".into()),
        ..opts
    };
    let l = load_project(&opts).unwrap();
    assert_eq!(l.project.name, "elsewhere");
    let src = l.project.services["a"].volumes[0].source.clone().unwrap();
    assert_eq!(src, t.path().join("elsewhere/data").display().to_string());
}
