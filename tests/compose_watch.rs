//! `compose watch` and `up --watch` on real containers: real file edits on the host, seen in
//! the container through the archive API (never a bind mount). Every wait is on something
//! observable (a status line the watcher prints once its action is done), with a deadline.

mod common;
#[path = "common/compose.rs"]
mod compose_helpers;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use compose_helpers::{cmd, engine, Proj, LOOP};

/// A running watcher: its stdout and stderr lines, in the order they arrive.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Watcher {
    fn start(p: &Proj, args: &[&str]) -> Watcher {
        let mut child = p
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(l);
            }
        });
        Watcher {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line containing `text` (within 30 s), skipping others.
    fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(text) {
                        return l;
                    }
                }
                Err(_) => panic!("no line with {text:?}; seen:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Ctrl-C, and the exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "watch did not end on Ctrl-C");
            // wait for the next line or the end of output rather than a fixed sleep
            let _ = self.lines.recv_timeout(Duration::from_millis(100));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn exec(p: &Proj, args: &[&str]) -> String {
    let mut a = vec!["exec", "-T", "app"];
    a.extend_from_slice(args);
    p.ok(&a).0
}

#[test]
fn sync_rules_copy_update_and_delete_files_and_run_their_hooks() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  app:
    image: busybox
    command: {c}
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app/src
          ignore: ["*.tmp"]
          initial_sync: true
        - path: ./hooks
          action: sync+exec
          target: /app/hooks
          exec:
            command: sh -c 'cat /app/hooks/* > /tmp/hooked; echo "$$GREETING" >> /tmp/hooked'
            environment: {{GREETING: hi}}
        - path: ./conf
          action: sync+restart
          target: /etc/app
  owned:
    image: busybox
    user: "1000:1001"
    command: {c}
    develop:
      watch:
        - path: ./owned
          action: sync
          target: /data
          initial_sync: true
"#,
        c = cmd(&format!("echo started >> /tmp/starts; {LOOP}"))
    );
    let p = Proj::new(&w, "wsync", &yaml);
    p.write("src/before.txt", "was there\n");
    p.write("hooks/.keep", "");
    p.write("conf/.keep", "");
    p.write("owned/o.txt", "mine\n");
    let mut watch = Watcher::start(&p, &["watch"]);
    watch.expect("Watch enabled");
    // initial_sync copied what was there before watching
    assert_eq!(exec(&p, &["cat", "/app/src/before.txt"]), "was there\n");
    // files are owned by the container's user
    let (owner, _) = p.ok(&["exec", "-T", "owned", "stat", "-c", "%u:%g", "/data/o.txt"]);
    assert_eq!(owner, "1000:1001\n");

    // a new file, then an edit, then a new directory, each visible once its line is printed
    p.write("src/a.txt", "v1\n");
    watch.expect("Syncing service \"app\" after");
    assert_eq!(exec(&p, &["cat", "/app/src/a.txt"]), "v1\n");
    p.write("src/a.txt", "v2\n");
    watch.expect("Syncing service \"app\" after");
    assert_eq!(exec(&p, &["cat", "/app/src/a.txt"]), "v2\n");
    // an editor's save: write a temporary file, rename it over the original
    p.write("src/a.txt.swap", "v3\n");
    std::fs::rename(p.dir.join("src/a.txt.swap"), p.dir.join("src/a.txt")).unwrap();
    watch.expect("Syncing service \"app\" after");
    assert_eq!(exec(&p, &["cat", "/app/src/a.txt"]), "v3\n");
    p.fails(&["exec", "-T", "app", "test", "-e", "/app/src/a.txt.swap"]);
    // ignored files stay out; the real file beside them goes in
    p.write("src/scratch.tmp", "no\n");
    p.write("src/deep/er/b.txt", "b\n");
    watch.expect("Syncing service \"app\" after");
    assert_eq!(exec(&p, &["cat", "/app/src/deep/er/b.txt"]), "b\n");
    p.fails(&["exec", "-T", "app", "test", "-e", "/app/src/scratch.tmp"]);
    // deletions are propagated: a file, then a whole directory
    std::fs::remove_file(p.dir.join("src/a.txt")).unwrap();
    watch.expect("Syncing service \"app\" after");
    p.fails(&["exec", "-T", "app", "test", "-e", "/app/src/a.txt"]);
    std::fs::remove_dir_all(p.dir.join("src/deep")).unwrap();
    watch.expect("Syncing service \"app\" after");
    p.fails(&["exec", "-T", "app", "test", "-e", "/app/src/deep"]);

    // sync+exec: the command runs after the files are in, with its environment
    p.write("hooks/h.txt", "hook-input\n");
    watch.expect("Ran \"sh -c");
    assert_eq!(exec(&p, &["cat", "/tmp/hooked"]), "hook-input\nhi\n");

    // sync+restart: the file is in, then the container restarted
    p.write("conf/app.conf", "x=1\n");
    watch.expect("Restarting service \"app\" after changes were detected: restarted");
    assert_eq!(exec(&p, &["cat", "/etc/app/app.conf"]), "x=1\n");
    assert_eq!(exec(&p, &["cat", "/tmp/starts"]), "started\nstarted\n");

    // a checkout of 1,000 files is batched (one line on a quiet machine; a few when the test's
    // own writes are slowed by a loaded machine and outlast the debounce window), all synced
    for i in 0..1000 {
        p.write(&format!("src/many/f{i}.txt"), &format!("{i}\n"));
    }
    let mut batches = 0;
    let count = || exec(&p, &["sh", "-c", "ls /app/src/many | wc -l"]);
    loop {
        watch.expect("Syncing service \"app\" after");
        batches += 1;
        if count().trim() == "1000" {
            break;
        }
    }
    assert!(
        batches <= 10,
        "1,000 files took {batches} syncs: {:?}",
        watch.seen
    );
    assert_eq!(exec(&p, &["cat", "/app/src/many/f999.txt"]), "999\n");
    // never a bind mount
    let mounts = w.inspect("wsync-app-1", "{{json .Mounts}}");
    assert_eq!(mounts, "[]");

    // Ctrl-C ends watching and leaves the container running
    assert!(watch.interrupt().code().is_some());
    assert_eq!(p.state("wsync-app-1"), "running");
    p.ok(&["down", "-t", "0"]);
}

#[test]
fn rebuild_recreates_the_service_and_a_failed_build_keeps_it() {
    let w = engine();
    let yaml = format!(
        r#"
services:
  app:
    build: ./app
    command: {c}
    develop:
      watch:
        - path: ./app/msg
          action: rebuild
        - path: ./app/Dockerfile
          action: rebuild
  db:
    image: busybox
    command: {c}
  front:
    image: busybox
    command: {c}
    depends_on: [app]
"#,
        c = cmd(LOOP)
    );
    let p = Proj::new(&w, "wrebuild", &yaml);
    p.write("app/Dockerfile", "FROM busybox\nCOPY msg /msg\n");
    p.write("app/msg", "v1\n");
    let mut watch = Watcher::start(&p, &["up", "--watch"]);
    watch.expect("Watch enabled");
    assert_eq!(exec(&p, &["cat", "/msg"]), "v1\n");
    let before = p.ids();

    p.write("app/msg", "v2\n");
    watch.expect("Rebuilding service \"app\" after changes were detected");
    watch.expect("service \"app\" successfully built");
    watch.expect("Container wrebuild-app-1  Started");
    assert_eq!(exec(&p, &["cat", "/msg"]), "v2\n");
    let after = p.ids();
    assert_ne!(after["wrebuild-app-1"], before["wrebuild-app-1"]);
    // the other services are left alone: the dependant has no reason to be recreated
    assert_eq!(after["wrebuild-db-1"], before["wrebuild-db-1"]);
    assert_eq!(after["wrebuild-front-1"], before["wrebuild-front-1"]);

    // a build that fails says so and keeps the running container
    p.write("app/Dockerfile", "FROM busybox\nRUN exit 3\n");
    watch.expect("Rebuild of service \"app\" failed, its running container is kept");
    assert_eq!(p.ids(), after);
    assert_eq!(p.state("wrebuild-app-1"), "running");

    // Ctrl-C on up --watch stops the stack
    watch.interrupt();
    for name in after.keys() {
        assert_eq!(p.state(name), "exited", "{name}");
    }
    p.ok(&["down"]);
}

#[test]
fn watch_refuses_a_project_without_rules_and_up_watch_with_detach() {
    let w = engine();
    let p = Proj::new(&w, "wnone", "services:\n  app:\n    image: busybox\n");
    let (_, _, err) = p.fails(&["watch", "--no-up"]);
    assert!(
        err.contains("none of the selected services is configured for watch"),
        "{err}"
    );
    let (_, _, err) = p.fails(&["up", "-d", "--watch"]);
    assert!(
        err.contains("--watch cannot be combined with --detach"),
        "{err}"
    );
}
