//! The compose commands against the in-memory engine: dependency order, waits on health and
//! completion, `--abort-on-container-exit` / `--exit-code-from`, interrupts, `down`.

use std::sync::{Arc, Mutex};

use super::logs::LogSink;
use super::{Compose, DownRequest, Error, ExitStatus, Interrupt, UpRequest};
use crate::compose::engine::fake::{FakeEngine, OnStart};
use crate::compose::exec::progress::{Event, Progress};
use crate::compose::load::env::Environment;
use crate::compose::model::Project;
use crate::compose::plan::PlanOptions;
use crate::compose::{load_project, LoadOptions};

/// Progress lines and log sink lines, recorded.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Recorder {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl Progress for Recorder {
    fn event(&self, e: Event) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {} {}", e.kind, e.name, e.status));
    }
    fn warning(&self, message: &str) {
        self.0.lock().unwrap().push(format!("WARN {message}"));
    }
    fn notice(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

impl LogSink for Recorder {
    fn line(&self, name: &str, line: &[u8], _stderr: bool) {
        let line = String::from_utf8_lossy(line);
        self.0.lock().unwrap().push(format!("{name} | {line}"));
    }
    fn status(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    project: Arc<Project>,
    environment: Environment,
    engine: Arc<FakeEngine>,
    progress: Arc<Recorder>,
    compose: Compose,
}

fn setup(yaml: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, yaml).unwrap();
    let loaded = load_project(&LoadOptions {
        files: vec![file],
        project_name: Some("demo".into()),
        ..Default::default()
    })
    .unwrap();
    let engine = Arc::new(FakeEngine::new());
    engine.add_image("box");
    let progress = Arc::new(Recorder::default());
    let compose = Compose::new(engine.clone(), progress.clone(), 0);
    Setup {
        _dir: dir,
        project: Arc::new(loaded.project),
        environment: loaded.environment,
        engine,
        progress,
        compose,
    }
}

impl Setup {
    async fn up(&self, req: UpRequest) -> (Result<ExitStatus, Error>, Arc<Recorder>) {
        let sink = Arc::new(Recorder::default());
        let (_tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let r = self
            .compose
            .up(
                &self.project,
                self.environment.clone(),
                &req,
                sink.clone(),
                &mut rx,
            )
            .await;
        (r, sink)
    }

    /// Index of the first call equal to `call`.
    fn at(&self, call: &str) -> usize {
        let calls = self.engine.calls();
        calls
            .iter()
            .position(|c| c == call)
            .unwrap_or_else(|| panic!("no call {call:?} in {calls:#?}"))
    }
}

fn detached() -> UpRequest {
    UpRequest {
        detach: true,
        ..Default::default()
    }
}

const WEB_DB: &str = r#"
services:
  db:
    image: box
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    volumes: [data:/data]
  web:
    image: box
    depends_on:
      db: {condition: service_healthy}
volumes:
  data: {}
"#;

#[tokio::test]
async fn up_creates_in_dependency_order_and_waits_for_health() {
    let s = setup(WEB_DB);
    s.engine.on_start("demo-db-1", OnStart::Health("healthy"));
    let (r, _) = s.up(detached()).await;
    assert_eq!(r.unwrap(), ExitStatus::SUCCESS);
    assert!(s.at("create network demo_default") < s.at("create demo-db-1"));
    assert!(s.at("create volume demo_data") < s.at("create demo-db-1"));
    assert!(s.at("start demo-db-1") < s.at("start demo-web-1"));
    let states = s.engine.containers();
    assert_eq!(states["demo-db-1"], "running");
    assert_eq!(states["demo-web-1"], "running");
    let lines = s.progress.lines();
    assert!(
        lines.iter().any(|l| l == "Container demo-db-1 Healthy"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn an_unhealthy_dependency_fails_up_and_its_dependant_never_starts() {
    let s = setup(WEB_DB);
    s.engine.on_start("demo-db-1", OnStart::Health("unhealthy"));
    let (r, _) = s.up(detached()).await;
    let e = r.unwrap_err().to_string();
    assert!(e.contains("demo-db-1") && e.contains("unhealthy"), "{e}");
    assert!(!s.engine.calls().iter().any(|c| c == "start demo-web-1"));
}

#[tokio::test]
async fn a_second_up_changes_nothing() {
    let s = setup(WEB_DB);
    s.engine.on_start("demo-db-1", OnStart::Health("healthy"));
    s.up(detached()).await.0.unwrap();
    let before = s.engine.calls().len();
    s.up(detached()).await.0.unwrap();
    let after = s.engine.calls();
    let changes: Vec<_> = after[before..]
        .iter()
        .filter(|c| c.starts_with("create") || c.starts_with("start") || c.starts_with("stop"))
        .collect();
    assert!(changes.is_empty(), "{changes:?}");
}

const MIGRATE: &str = r#"
services:
  migrate: {image: box}
  app:
    image: box
    depends_on:
      migrate: {condition: service_completed_successfully}
"#;

#[tokio::test]
async fn completed_successfully_gates_on_exit_zero() {
    let s = setup(MIGRATE);
    s.engine.on_start("demo-migrate-1", OnStart::Exit(0));
    s.up(detached()).await.0.unwrap();
    assert_eq!(s.engine.containers()["demo-app-1"], "running");

    let s = setup(MIGRATE);
    s.engine.on_start("demo-migrate-1", OnStart::Exit(3));
    let e = s.up(detached()).await.0.unwrap_err().to_string();
    assert!(e.contains("didn't complete successfully: exit 3"), "{e}");
    assert_eq!(s.engine.containers()["demo-app-1"], "created");
}

const TESTS: &str = r#"
services:
  app: {image: box}
  tests:
    image: box
    depends_on: [app]
"#;

#[tokio::test]
async fn exit_code_from_aborts_the_session_and_stops_the_others() {
    let s = setup(TESTS);
    s.engine.on_start("demo-tests-1", OnStart::Exit(5));
    let (r, sink) = s
        .up(UpRequest {
            exit_code_from: Some("tests".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(r.unwrap(), ExitStatus(5));
    let lines = sink.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Attaching to app, tests")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l == "tests exited with code 5"),
        "{lines:#?}"
    );
    assert_eq!(s.engine.containers()["demo-app-1"], "exited(0)");
    assert!(s.at("stop demo-app-1") > s.at("start demo-tests-1"));
}

#[tokio::test]
async fn attached_up_ends_when_every_container_exited() {
    let s = setup(TESTS);
    s.engine.on_start("demo-tests-1", OnStart::Exit(0));
    let engine = s.engine.clone();
    // app ends once tests did: the session must see both exits and return 0
    let tests_died = s.engine.until("demo-tests-1", "die");
    let ender = tokio::spawn(async move {
        tests_died.await;
        engine.exit("demo-app-1", 0);
    });
    let (r, sink) = s.up(UpRequest::default()).await;
    ender.await.unwrap();
    assert_eq!(r.unwrap(), ExitStatus::SUCCESS);
    let lines = sink.lines();
    assert!(
        lines.iter().any(|l| l == "app exited with code 0"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn an_interrupt_while_waiting_stops_what_started() {
    let s = setup(WEB_DB);
    // db never becomes healthy: up waits until the interrupt
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let db_started = s.engine.until("demo-db-1", "start");
    let interrupter = tokio::spawn(async move {
        db_started.await;
        tx.send(Interrupt::Interrupt).unwrap();
        tx
    });
    let sink = Arc::new(Recorder::default());
    let r = s
        .compose
        .up(
            &s.project,
            s.environment.clone(),
            &UpRequest::default(),
            sink,
            &mut rx,
        )
        .await;
    let _tx = interrupter.await.unwrap();
    assert!(
        matches!(r, Err(Error::Interrupted(ExitStatus::INTERRUPTED))),
        "{r:?}"
    );
    let states = s.engine.containers();
    assert_eq!(states["demo-db-1"], "exited(0)", "{states:?}");
    assert_eq!(states["demo-web-1"], "created", "{states:?}");
    assert!(s
        .progress
        .lines()
        .iter()
        .any(|l| l.starts_with("Gracefully stopping")));
}

#[tokio::test]
async fn down_removes_containers_networks_and_volumes() {
    let s = setup(WEB_DB);
    s.engine.on_start("demo-db-1", OnStart::Health("healthy"));
    s.up(detached()).await.0.unwrap();
    let req = DownRequest {
        volumes: true,
        from_file: true,
        ..Default::default()
    };
    let plan = s.compose.plan_down(&s.project, &req).await.unwrap();
    s.compose.down(plan, None, &req).await.unwrap();
    assert!(s.engine.containers().is_empty());
    assert!(s.engine.networks().is_empty());
    assert!(s.engine.volumes().is_empty());
    // web stops before db
    assert!(s.at("stop demo-web-1") < s.at("stop demo-db-1"));
}

#[tokio::test]
async fn a_missing_image_that_cannot_be_pulled_creates_nothing() {
    let s = setup("services:\n  web: {image: nowhere}\n");
    let e = s.up(detached()).await.0.unwrap_err().to_string();
    assert!(e.contains("nowhere"), "{e}");
    assert!(s.engine.containers().is_empty());
    assert!(s.engine.networks().is_empty());

    let s = setup("services:\n  web: {image: elsewhere}\n");
    s.engine.add_pullable("elsewhere");
    s.up(UpRequest {
        plan: PlanOptions::default(),
        ..detached()
    })
    .await
    .0
    .unwrap();
    assert!(s.at("pull elsewhere") < s.at("create demo-web-1"));
}

#[tokio::test]
async fn build_only_services_are_built_by_up_and_rebuilt_with_build() {
    let s = setup("services:\n  app:\n    build: .\n  db: {image: box}\n");
    std::fs::write(s._dir.path().join("Dockerfile"), "FROM box\n").unwrap();
    s.up(detached()).await.0.unwrap();
    assert!(s.at("build demo-app") < s.at("create demo-app-1"));
    let before = s.engine.calls().len();
    // a second up builds nothing (the image is present) and changes nothing
    s.up(detached()).await.0.unwrap();
    assert!(!s.engine.calls()[before..]
        .iter()
        .any(|c| c.starts_with("build")));
    // --build: a new image, so app (and only app) is recreated
    let before = s.engine.calls().len();
    let mut req = detached();
    req.plan.build = true;
    s.up(req).await.0.unwrap();
    let calls = s.engine.calls()[before..].to_vec();
    assert!(calls.contains(&"build demo-app".to_string()), "{calls:?}");
    assert!(
        calls.contains(&"create demo-app-1".to_string()),
        "{calls:?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.ends_with("demo-db-1") && !c.starts_with("logs")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn push_sends_what_the_services_build_with_their_extra_tags_and_names_failures() {
    let s = setup(
        "services:\n  app:\n    image: reg.local/app:1\n    build: {context: ., tags: [\"reg.local/app:extra\"]}\n  db: {image: box}\n",
    );
    std::fs::write(s._dir.path().join("Dockerfile"), "FROM box\n").unwrap();
    // nothing built yet: the failure names the service and the image
    let err = s
        .compose
        .push(&s.project, &super::PushRequest::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("service app: cannot push reg.local/app:1"),
        "{err}"
    );
    s.compose
        .build(&s.project, s.environment.clone(), &Default::default())
        .await
        .unwrap();
    let before = s.engine.calls().len();
    s.compose
        .push(&s.project, &super::PushRequest::default())
        .await
        .unwrap();
    let mut pushes: Vec<String> = s.engine.calls()[before..]
        .iter()
        .filter(|c| c.starts_with("push"))
        .cloned()
        .collect();
    pushes.sort();
    // db's image comes from a registry already: it is not pushed
    assert_eq!(pushes, ["push reg.local/app:1", "push reg.local/app:extra"]);
}
