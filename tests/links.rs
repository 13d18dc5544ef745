//! Links (issue 12, found by docker-py): legacy `--link` on the default bridge gives Docker's
//! variables and host entries, names the child `/parent/alias` and goes with `rm --link`; on a
//! user-defined network a link is a name only the linking container resolves, also when its
//! target comes later; and a container whose only network was disconnected is attached again
//! at once by `network connect`.

#[path = "common/clients.rs"]
mod clients;
mod common;

use clients::{api_json, Docker};
use common::Wharf;

fn ip_on(w: &Wharf, container: &str, network: &str) -> String {
    let nets = w.ok(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        container,
    ]);
    let nets: serde_json::Value = serde_json::from_str(&nets).unwrap();
    nets[network]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn legacy_links_give_variables_hosts_and_names_and_go_with_rm_link() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    w.ok(&[
        "run", "-d", "--name", "lchild", "-e", "FOO=1", "--expose", "80", "box", "sleep", "600",
    ]);
    let ip = ip_on(&w, "lchild", "bridge");
    let hostname = w.ok(&["inspect", "-f", "{{.Config.Hostname}}", "lchild"]);
    let probe = "env | sort; cat /etc/hosts";
    for (client, name) in [("wharf", "lparent"), ("docker", "dparent")] {
        let args = [
            "run",
            "--name",
            name,
            "--link",
            "lchild:my-db",
            "box",
            "sh",
            "-c",
            probe,
        ];
        let out = if client == "wharf" {
            w.ok(&args)
        } else {
            d.ok(&args)
        };
        for want in [
            format!("MY_DB_NAME=/{name}/my-db"),
            "MY_DB_ENV_FOO=1".to_string(),
            format!("MY_DB_PORT=tcp://{ip}:80"),
            format!("MY_DB_PORT_80_TCP=tcp://{ip}:80"),
            format!("MY_DB_PORT_80_TCP_ADDR={ip}"),
            "MY_DB_PORT_80_TCP_PORT=80".to_string(),
            "MY_DB_PORT_80_TCP_PROTO=tcp".to_string(),
            format!("{ip}\tmy-db {} lchild", hostname.trim()),
        ] {
            assert!(
                out.lines().any(|l| l == want),
                "{want:?} missing from:\n{out}"
            );
        }
        assert!(!out.contains("MY_DB_ENV_PATH"), "{out}");
    }
    assert_eq!(
        w.ok(&["inspect", "-f", "{{json .HostConfig.Links}}", "lparent"])
            .trim(),
        r#"["/lchild:/lparent/my-db"]"#
    );
    let list = api_json(&w, "GET", "/containers/json?all=1", None, 200);
    let names = |id: &str| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["Names"][0] == id)
            .map(|c| serde_json::from_value(c["Names"].clone()).unwrap())
            .unwrap_or_default()
    };
    assert_eq!(names("/lchild")[0], "/lchild");
    let mut links: Vec<String> = names("/lchild")[1..].to_vec();
    links.sort();
    assert_eq!(links, ["/dparent/my-db", "/lparent/my-db"]);

    // rm --link: the link goes, both containers stay.
    w.ok(&["rm", "--link", "lparent/my-db"]);
    d.ok(&["rm", "--link", "dparent/my-db"]);
    assert_eq!(
        w.ok(&["inspect", "-f", "{{json .HostConfig.Links}}", "lparent"])
            .trim(),
        "null"
    );
    let list = api_json(&w, "GET", "/containers/json?all=1", None, 200);
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(list.to_string().contains("\"/lchild\"") && !list.to_string().contains("my-db"));
    let err = d.fails(&["rm", "--link", "lparent"]);
    assert!(err.contains("cannot remove the default link name"), "{err}");

    // A link needs its target, and a running one to start.
    let (_, err) = w.fails(&["create", "--link", "nope:x", "box", "true"]);
    assert!(err.contains("could not get container for nope"), "{err}");
    w.ok(&["create", "--name", "lstopped", "box", "true"]);
    w.ok(&[
        "create",
        "--name",
        "lwants",
        "--link",
        "lstopped:s",
        "box",
        "true",
    ]);
    let (_, err) = w.fails(&["start", "lwants"]);
    assert!(
        err.contains("Cannot link to a non running container: /lstopped AS /lwants/s"),
        "{err}"
    );
    w.ok(&[
        "rm", "-f", "lchild", "lparent", "dparent", "lstopped", "lwants",
    ]);
}

#[test]
fn links_on_user_networks_are_the_linking_containers_names() {
    let w = Wharf::new();
    w.busybox_image("box", &[]);
    let d = Docker::new(&w);
    w.ok(&["network", "create", "lnet"]);
    // The linking container first, its target after: the name follows the target.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "asker",
        "--network",
        "lnet",
        "--link",
        "upstream:bar",
        "box",
        "sleep",
        "600",
    ]);
    let nets = w.ok(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        "asker",
    ]);
    let nets: serde_json::Value = serde_json::from_str(&nets).unwrap();
    assert_eq!(nets["lnet"]["Links"], serde_json::json!(["upstream:bar"]));
    w.ok(&[
        "run",
        "-d",
        "--name",
        "upstream",
        "--network",
        "lnet",
        "box",
        "sleep",
        "600",
    ]);
    w.ok(&[
        "run",
        "-d",
        "--name",
        "other",
        "--network",
        "lnet",
        "box",
        "sleep",
        "600",
    ]);
    let up = ip_on(&w, "upstream", "lnet");
    let out = w.ok(&["exec", "asker", "sh", "-c", "nslookup bar"]);
    assert!(out.contains(&up), "{out}");
    // Nobody else knows the name.
    let out = w.output(&["exec", "other", "sh", "-c", "nslookup bar"]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Disconnected from its only network and connected again, with a link this time: the
    // running container is attached at once.
    w.ok(&["network", "disconnect", "lnet", "other"]);
    d.ok(&[
        "network",
        "connect",
        "--link",
        "upstream:baz",
        "lnet",
        "other",
    ]);
    let out = w.ok(&["exec", "other", "sh", "-c", "nslookup baz"]);
    assert!(out.contains(&up), "{out}");
    let out = w.ok(&["exec", "other", "sh", "-c", "nslookup upstream"]);
    assert!(out.contains(&up), "{out}");
    w.ok(&["rm", "-f", "asker", "upstream", "other"]);
    w.ok(&["network", "rm", "lnet"]);
}
