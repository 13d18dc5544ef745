//! Image commands: images, rmi, tag, history, import, load, save, commit, prune.

use hyper::Method;

use super::filters;
use crate::api::client::{credentials, empty, reader_body, with_query, Client};
use crate::api::models::ImageDeleteResponseItem;
use crate::cli::args::{
    CommitArgs, HistoryArgs, ImagesArgs, ImportArgs, LoadArgs, LoginArgs, LogoutArgs, PruneArgs,
    PullArgs, RmiArgs, SaveArgs, TagArgs,
};
use crate::cli::output::{ago, print_table, Row, Table};
use crate::cli::progress_stream::{self, Out};
use crate::cli::{CliResult, Exit};
use crate::engine::registry::auth::login_registry;
use crate::util::bytesize::human_size;
use crate::util::ids::short_id;

pub async fn images(client: &Client, a: ImagesArgs) -> CliResult {
    let mut f = filters(&a.filter);
    if let Some(r) = &a.reference {
        f.entry("reference".into()).or_default().push(r.clone());
    }
    let list = client.list_images(&f).await?;
    let mut rows = Vec::new();
    for img in &list {
        let id = if a.no_trunc {
            img.id.clone()
        } else {
            short_id(&img.id).to_string()
        };
        let tags: Vec<(String, String)> = if img.repo_tags.is_empty() {
            // Known only by digest (a pull by digest): its repository, as the docker CLI shows.
            let repo = img
                .repo_digests
                .first()
                .and_then(|d| d.split_once('@'))
                .map_or("<none>", |(r, _)| r);
            vec![(repo.to_string(), "<none>".into())]
        } else {
            img.repo_tags
                .iter()
                .map(
                    |t| match t.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
                        Some((r, tag)) => (r.to_string(), tag.to_string()),
                        None => (t.clone(), "<none>".into()),
                    },
                )
                .collect()
        };
        for (repo, tag) in tags {
            let mut row = Row::new();
            row.insert("Repository".into(), repo);
            row.insert("Tag".into(), tag);
            row.insert("ID".into(), id.clone());
            row.insert(
                "Digest".into(),
                img.repo_digests
                    .first()
                    .and_then(|d| d.split('@').nth(1))
                    .unwrap_or("<none>")
                    .to_string(),
            );
            row.insert("CreatedSince".into(), ago(img.created));
            row.insert(
                "CreatedAt".into(),
                chrono::DateTime::from_timestamp(img.created, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
                    .unwrap_or_default(),
            );
            row.insert("Size".into(), human_size(img.size));
            row.insert("Containers".into(), img.containers.to_string());
            rows.push(row);
        }
    }
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            if seen.insert(r["ID"].clone()) {
                println!("{}", r["ID"]);
            }
        }
        return Ok(());
    }
    let columns: &[(&str, &str)] = if a.digests {
        &[
            ("REPOSITORY", "Repository"),
            ("TAG", "Tag"),
            ("DIGEST", "Digest"),
            ("IMAGE ID", "ID"),
            ("CREATED", "CreatedSince"),
            ("SIZE", "Size"),
        ]
    } else {
        &[
            ("REPOSITORY", "Repository"),
            ("TAG", "Tag"),
            ("IMAGE ID", "ID"),
            ("CREATED", "CreatedSince"),
            ("SIZE", "Size"),
        ]
    };
    print_table(&Table { columns, rows }, a.format.as_deref())?;
    Ok(())
}

pub async fn rmi(client: &Client, a: RmiArgs) -> CliResult {
    let mut failed = false;
    for name in &a.images {
        let path = with_query(
            &format!("/images/{name}"),
            &[
                ("force", a.force.to_string()),
                ("noprune", a.no_prune.to_string()),
            ],
        );
        match client.delete(&path).await {
            Ok(bytes) => {
                let items: Vec<ImageDeleteResponseItem> =
                    serde_json::from_slice(&bytes).unwrap_or_default();
                for it in items {
                    if let Some(u) = it.untagged {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = it.deleted {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Exit::code(1))
    } else {
        Ok(())
    }
}

pub async fn tag(client: &Client, a: TagArgs) -> CliResult {
    let r = crate::engine::image::reference::Reference::parse(&a.target)
        .map_err(|e| Exit::msg(1, e))?;
    let repo = r.familiar_name();
    let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
    client
        .send(
            Method::POST,
            &with_query(
                &format!("/images/{}/tag", a.source),
                &[("repo", repo), ("tag", tag)],
            ),
            empty(),
            None,
        )
        .await?;
    Ok(())
}

pub async fn history(client: &Client, a: HistoryArgs) -> CliResult {
    let rows: Vec<serde_json::Value> = client
        .get_json(&format!("/images/{}/history", a.image))
        .await?;
    let rows: Vec<Row> = rows
        .iter()
        .map(|h| {
            let mut r = Row::new();
            let id = h["Id"].as_str().unwrap_or("<missing>");
            r.insert(
                "ID".into(),
                if a.no_trunc || id == "<missing>" {
                    id.to_string()
                } else {
                    short_id(id).to_string()
                },
            );
            r.insert(
                "CreatedSince".into(),
                ago(h["Created"].as_i64().unwrap_or(0)),
            );
            let by = h["CreatedBy"].as_str().unwrap_or_default().to_string();
            r.insert(
                "CreatedBy".into(),
                if a.no_trunc || by.chars().count() <= 45 {
                    by
                } else {
                    format!("{}…", by.chars().take(44).collect::<String>())
                },
            );
            r.insert("Size".into(), human_size(h["Size"].as_i64().unwrap_or(0)));
            r.insert(
                "Comment".into(),
                h["Comment"].as_str().unwrap_or_default().to_string(),
            );
            r
        })
        .collect();
    if a.quiet {
        for r in &rows {
            println!("{}", r["ID"]);
        }
        return Ok(());
    }
    let columns = &[
        ("IMAGE", "ID"),
        ("CREATED", "CreatedSince"),
        ("CREATED BY", "CreatedBy"),
        ("SIZE", "Size"),
        ("COMMENT", "Comment"),
    ];
    print_table(&Table { columns, rows }, a.format.as_deref())?;
    Ok(())
}

async fn open_input(path: Option<&std::path::Path>) -> CliResult<crate::api::client::ReqBody> {
    Ok(match path {
        Some(p) if p.as_os_str() != "-" => {
            let f = tokio::fs::File::open(p)
                .await
                .map_err(|e| Exit::msg(1, format!("open {}: {e}", p.display())))?;
            reader_body(f)
        }
        _ => reader_body(tokio::io::stdin()),
    })
}

/// Show a JSON-lines progress body on stdout (see [`progress_stream`]).
async fn print_progress(
    resp: hyper::Response<hyper::body::Incoming>,
    quiet: bool,
    error_prefix: &str,
) -> CliResult {
    progress_stream::show(resp, quiet, error_prefix, Out::Stdout).await
}

pub async fn pull(client: &Client, a: PullArgs) -> CliResult {
    let r =
        crate::engine::image::reference::Reference::parse(&a.image).map_err(|e| Exit::msg(1, e))?;
    if a.all_tags {
        all_tags_without_tag(&a.image)?;
    }
    let pull = Pull {
        image: &a.image,
        platform: a.platform.as_deref(),
        all_tags: a.all_tags,
        quiet: a.quiet,
    };
    pull_image(client, pull, Out::Stdout).await?;
    if a.all_tags {
        println!("{}", r.familiar_name());
    } else {
        println!("{}", r.familiar());
    }
    Ok(())
}

/// `--all-tags` takes a repository, not a tag (the docker CLI's check).
fn all_tags_without_tag(image: &str) -> CliResult {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        return Err(Exit::msg(1, "tag can't be used with --all-tags/-a"));
    }
    Ok(())
}

/// What to pull.
pub struct Pull<'a> {
    pub image: &'a str,
    pub platform: Option<&'a str>,
    /// Every tag of the repository (no tag sent: the daemon lists them).
    pub all_tags: bool,
    pub quiet: bool,
}

/// `POST /images/create`, its progress shown on `out`: `wharf pull`, and the pull of a `run`
/// or `create` whose image is missing.
pub async fn pull_image(client: &Client, p: Pull<'_>, out: Out) -> CliResult {
    let r =
        crate::engine::image::reference::Reference::parse(p.image).map_err(|e| Exit::msg(1, e))?;
    let mut params: Vec<(&str, String)> = vec![("fromImage", r.full_name())];
    if !p.all_tags {
        let tag = r.digest.clone().or(r.tag.clone());
        params.push(("tag", tag.unwrap_or_else(|| "latest".into())));
    }
    if let Some(platform) = p.platform {
        params.push(("platform", platform.to_string()));
    }
    let auth = credentials::header_for(&r.registry)
        .await
        .map_err(|e| Exit::msg(1, e.to_string()))?;
    let resp = client
        .send_with_auth(
            Method::POST,
            &with_query("/images/create", &params),
            empty(),
            None,
            auth.as_deref(),
        )
        .await?;
    progress_stream::show(resp, p.quiet, "Error response from daemon: ", out).await
}

pub async fn push(client: &Client, a: PullArgs) -> CliResult {
    let r =
        crate::engine::image::reference::Reference::parse(&a.image).map_err(|e| Exit::msg(1, e))?;
    let path = if a.all_tags {
        // No tag: the daemon pushes every local tag of the repository.
        all_tags_without_tag(&a.image)?;
        format!("/images/{}/push", r.full_name())
    } else {
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        with_query(&format!("/images/{}/push", r.full_name()), &[("tag", tag)])
    };
    let auth = credentials::header_for(&r.registry)
        .await
        .map_err(|e| Exit::msg(1, e.to_string()))?;
    let resp = client
        .send_with_auth(Method::POST, &path, empty(), None, auth.as_deref())
        .await?;
    print_progress(resp, a.quiet, "Error response from daemon: ").await
}

pub async fn login(client: &Client, a: LoginArgs) -> CliResult {
    let registry = login_registry(a.server.as_deref().unwrap_or_default());
    let user = a
        .username
        .ok_or_else(|| Exit::msg(1, "a username is required (-u)"))?;
    let password = match (a.password, a.password_stdin) {
        (Some(_), true) => {
            return Err(Exit::msg(
                1,
                "--password and --password-stdin are exclusive",
            ));
        }
        (Some(p), false) => p,
        (None, _) => read_password(!a.password_stdin)
            .map_err(|e| Exit::msg(1, format!("reading the password: {e}")))?,
    };
    let body = serde_json::json!({
        "username": user,
        "password": password,
        "serveraddress": credentials::key(&registry),
    });
    let answer = client
        .post_json::<serde_json::Value, _>("/auth", Some(&body))
        .await?;
    // A registry that gave an identity token is logged in to with it, not the password.
    let identity_token = answer["IdentityToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let auth = credentials::AuthConfig {
        username: user,
        password: if identity_token.is_empty() {
            password
        } else {
            String::new()
        },
        identity_token,
        server_address: credentials::key(&registry),
    };
    credentials::save(&registry, &auth)
        .await
        .map_err(|e| Exit::msg(1, format!("Error saving credentials: {e}")))?;
    println!("Login Succeeded");
    Ok(())
}

/// One line of stdin; on a terminal (and `prompt`), asked for with `Password: ` and not echoed.
fn read_password(prompt: bool) -> std::io::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    use std::io::{IsTerminal as _, Write as _};
    let stdin = std::io::stdin();
    let saved = if prompt && stdin.is_terminal() {
        eprint!("Password: ");
        std::io::stderr().flush()?;
        let saved = tcgetattr(&stdin).map_err(std::io::Error::from)?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(std::io::Error::from)?;
        Some(saved)
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    if let Some(saved) = saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub async fn logout(a: LogoutArgs) -> CliResult {
    let registry = login_registry(a.server.as_deref().unwrap_or_default());
    let done = credentials::remove(&registry)
        .await
        .map_err(|e| Exit::msg(1, e.to_string()))?;
    if !done.logged_in {
        println!("Not logged in to {}", done.name);
        return Ok(());
    }
    println!("Removing login credentials for {}", done.name);
    // As docker: a warning, not a failure, and only when nothing could be erased.
    if done.failed.len() == done.tried {
        eprintln!("WARNING: could not erase credentials:");
        for (name, e) in &done.failed {
            eprintln!("{name}: {e}");
        }
    }
    Ok(())
}

pub async fn import(client: &Client, a: ImportArgs) -> CliResult {
    let mut params: Vec<(&str, String)> = vec![("fromSrc", "-".into())];
    if let Some(r) = &a.reference {
        let parsed =
            crate::engine::image::reference::Reference::parse(r).map_err(|e| Exit::msg(1, e))?;
        params.push(("repo", parsed.familiar_name()));
        params.push(("tag", parsed.tag.clone().unwrap_or_else(|| "latest".into())));
    }
    for c in &a.change {
        params.push(("changes", c.clone()));
    }
    if let Some(m) = &a.message {
        params.push(("message", m.clone()));
    }
    let body = open_input(Some(std::path::Path::new(&a.file))).await?;
    let resp = client
        .send(
            Method::POST,
            &with_query("/images/create", &params),
            body,
            Some("application/x-tar"),
        )
        .await?;
    print_progress(resp, false, "").await
}

pub async fn load(client: &Client, a: LoadArgs) -> CliResult {
    let body = open_input(a.input.as_deref()).await?;
    let resp = client
        .send(
            Method::POST,
            &with_query("/images/load", &[("quiet", a.quiet.to_string())]),
            body,
            Some("application/x-tar"),
        )
        .await?;
    print_progress(resp, a.quiet, "").await
}

pub async fn save(client: &Client, a: SaveArgs) -> CliResult {
    let params: Vec<(&str, String)> = a.images.iter().map(|i| ("names", i.clone())).collect();
    let resp = client
        .send(
            Method::GET,
            &with_query("/images/get", &params),
            empty(),
            None,
        )
        .await?;
    super::container::save_body(resp.into_body(), a.output.as_deref()).await
}

pub async fn commit(client: &Client, a: CommitArgs) -> CliResult {
    let mut params: Vec<(&str, String)> = vec![
        ("container", a.container.clone()),
        ("pause", a.pause.to_string()),
    ];
    if let Some(r) = &a.reference {
        let parsed =
            crate::engine::image::reference::Reference::parse(r).map_err(|e| Exit::msg(1, e))?;
        params.push(("repo", parsed.familiar_name()));
        params.push(("tag", parsed.tag.clone().unwrap_or_else(|| "latest".into())));
    }
    if let Some(au) = &a.author {
        params.push(("author", au.clone()));
    }
    if let Some(m) = &a.message {
        params.push(("comment", m.clone()));
    }
    for c in &a.change {
        params.push(("changes", c.clone()));
    }
    let v: serde_json::Value = client
        .post_json::<_, ()>(&with_query("/commit", &params), None)
        .await?;
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(())
}

pub async fn prune(client: &Client, a: PruneArgs) -> CliResult {
    let mut f = filters(&a.filter);
    if a.all {
        f.insert("dangling".into(), vec!["false".into()]);
    }
    let v: serde_json::Value = client
        .post_json::<_, ()>(
            &with_query(
                "/images/prune",
                &[("filters", crate::api::client::typed_filters(&f))],
            ),
            None,
        )
        .await?;
    println!("Deleted Images:");
    for item in v["ImagesDeleted"].as_array().cloned().unwrap_or_default() {
        if let Some(u) = item["Untagged"].as_str() {
            println!("untagged: {u}");
        }
        if let Some(d) = item["Deleted"].as_str() {
            println!("deleted: {d}");
        }
    }
    println!(
        "\nTotal reclaimed space: {}",
        human_size(v["SpaceReclaimed"].as_i64().unwrap_or(0))
    );
    Ok(())
}
