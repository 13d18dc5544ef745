//! Lifecycle hooks on real containers: `post_start` after each start, `pre_stop` before the
//! stop signal (on `stop` and `down`), a failing hook failing the command with its output.

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;

use compose_helpers::{cmd, engine, Proj, LOOP};

#[test]
fn post_start_and_pre_stop_run_at_the_right_moments_and_failures_say_why() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  app:
    image: busybox
    command: {c}
    volumes: [marks:/marks]
    post_start:
      - command: sh -c 'echo "post $$WHO $$(id -u)" >> /marks/log'
        environment: {{WHO: app}}
        user: "1000"
    pre_stop:
      - command: ["sh", "-c", "test -d /proc/1 && echo pre >> /marks/log"]
  broken_start:
    image: busybox
    profiles: [broken]
    command: {c}
    post_start:
      - command: sh -c 'echo no-config >&2; exit 4'
  broken_stop:
    image: busybox
    profiles: [broken]
    command: {c}
    pre_stop:
      - command: sh -c 'echo still-busy; exit 5'
volumes:
  marks:
"#,
        c = cmd(&format!("chmod 777 /marks; {LOOP}"))
    );
    let p = Proj::new(&w, "hooks", &yaml);
    let log = || {
        w.ok(&[
            "run",
            "--rm",
            "-v",
            "hooks_marks:/m",
            "busybox",
            "cat",
            "/m/log",
        ])
    };
    p.ok(&["up", "-d"]);
    assert_eq!(log(), "post app 1000\n");
    p.ok(&["stop"]);
    assert_eq!(log(), "post app 1000\npre\n");
    p.ok(&["up", "-d"]);
    p.ok(&["down"]);
    assert_eq!(log(), "post app 1000\npre\npost app 1000\npre\n");

    // a failing post_start fails up with the hook's output
    let (_, _, err) = p.fails(&["--profile", "broken", "up", "-d", "broken_start"]);
    assert!(
        err.contains("post_start hook") && err.contains("exited with code 4: no-config"),
        "{err}"
    );
    // a failing pre_stop aborts the stop: the container keeps running
    p.ok(&["--profile", "broken", "up", "-d", "broken_stop"]);
    let (_, _, err) = p.fails(&["--profile", "broken", "stop", "broken_stop"]);
    assert!(
        err.contains("pre_stop hook") && err.contains("exited with code 5: still-busy"),
        "{err}"
    );
    assert_eq!(p.state("hooks-broken_stop-1"), "running");
    p.ok(&["--profile", "broken", "kill", "broken_stop"]);
    p.ok(&["--profile", "broken", "down", "-v"]);
}
