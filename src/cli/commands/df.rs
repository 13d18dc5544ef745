//! `system df [-v]`: disk usage by images, containers, local volumes and build cache, in the
//! docker CLI's tables (the summary with what is reclaimable, or every object with `-v`).

use bollard_stubs::models::{
    BuildCache, ContainerSummary, ContainerSummaryStateEnum, ImageSummary, SystemDataUsageResponse,
    Volume,
};

use crate::api::client::Client;
use crate::cli::args::DfArgs;
use crate::cli::output::{ago, print_columns};
use crate::cli::CliResult;
use crate::util::bytesize::{human_size, human_size_digits};

/// `1.2MB (40%)` as the docker CLI prints a reclaimable size.
fn with_share(part: i64, total: i64) -> String {
    if total == 0 {
        return human_size(part);
    }
    format!("{} ({}%)", human_size(part), part * 100 / total)
}

fn size_rw(c: &ContainerSummary) -> i64 {
    c.size_rw.unwrap_or(0).max(0)
}

fn running(c: &ContainerSummary) -> bool {
    c.state == Some(ContainerSummaryStateEnum::RUNNING)
}

/// A volume's size and how many containers use it (`UsageData`; -1 when unknown reads as 0).
fn usage(v: &Volume) -> (i64, i64) {
    v.usage_data
        .as_ref()
        .map_or((0, 0), |u| (u.size.max(0), u.ref_count.max(0)))
}

fn cache_size(c: &BuildCache) -> i64 {
    c.size.unwrap_or(0).max(0)
}

/// Shared entries are not the cache's own: the docker CLI counts them in no total.
fn own(c: &BuildCache) -> bool {
    c.shared != Some(true)
}

pub async fn df(client: &Client, a: DfArgs) -> CliResult {
    let v: serde_json::Value = client.get_json("/system/df").await?;
    if a.format.as_deref() == Some("json") {
        println!("{v}");
        return Ok(());
    }
    let du: SystemDataUsageResponse = serde_json::from_value(v)
        .map_err(|e| crate::cli::Exit::msg(1, format!("reading the daemon's disk usage: {e}")))?;
    let images = du.images.unwrap_or_default();
    let containers = du.containers.unwrap_or_default();
    let volumes = du.volumes.unwrap_or_default();
    let cache = du.build_cache.unwrap_or_default();
    if a.verbose {
        return verbose(&images, &containers, &volumes, &cache);
    }
    let used = |i: &ImageSummary| i.containers > 0;
    let image_size: i64 = images.iter().map(|i| i.size.max(0)).sum();
    // As the docker CLI counts it: what used images hold on their own is not reclaimable.
    let image_unique_used: i64 = images
        .iter()
        .filter(|i| used(i))
        .map(|i| i.size.max(0) - i.shared_size.max(0))
        .sum();
    let image_unused = image_size - image_unique_used;
    let rw: i64 = containers.iter().map(size_rw).sum();
    let rw_stopped: i64 = containers.iter().filter(|c| !running(c)).map(size_rw).sum();
    let vol_size: i64 = volumes.iter().map(|v| usage(v).0).sum();
    let vol_unused: i64 = volumes
        .iter()
        .filter(|v| usage(v).1 == 0)
        .map(|v| usage(v).0)
        .sum();
    let in_use = |c: &BuildCache| c.in_use == Some(true);
    let count = |n: usize| n.to_string();
    let rows = vec![
        vec![
            "Images".into(),
            count(images.len()),
            count(images.iter().filter(|i| used(i)).count()),
            human_size(image_size),
            with_share(image_unused, image_size),
        ],
        vec![
            "Containers".into(),
            count(containers.len()),
            count(containers.iter().filter(|c| running(c)).count()),
            human_size(rw),
            with_share(rw_stopped, rw),
        ],
        vec![
            "Local Volumes".into(),
            count(volumes.len()),
            count(volumes.iter().filter(|v| usage(v).1 > 0).count()),
            human_size(vol_size),
            with_share(vol_unused, vol_size),
        ],
        vec![
            "Build Cache".into(),
            count(cache.len()),
            count(cache.iter().filter(|c| in_use(c)).count()),
            human_size(cache.iter().filter(|c| own(c)).map(cache_size).sum()),
            human_size(
                cache
                    .iter()
                    .filter(|c| own(c) && !in_use(c))
                    .map(cache_size)
                    .sum(),
            ),
        ],
    ];
    let header = ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"].map(String::from);
    print_columns(&mut std::io::stdout().lock(), &header, &rows)?;
    Ok(())
}

/// The first 12 characters of an id, without its `sha256:`.
fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

fn verbose(
    images: &[ImageSummary],
    containers: &[ContainerSummary],
    volumes: &[Volume],
    cache: &[BuildCache],
) -> CliResult {
    let out = &mut std::io::stdout().lock();
    use std::io::Write;
    writeln!(out, "Images space usage:\n")?;
    let mut rows = Vec::new();
    for i in images {
        let tags = if i.repo_tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            i.repo_tags.clone()
        };
        let (size, shared) = (i.size.max(0), i.shared_size.max(0));
        for t in tags {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((&t, "<none>"));
            rows.push(vec![
                repo.to_string(),
                tag.to_string(),
                short(&i.id),
                ago(i.created),
                human_size_digits(size, 3),
                human_size(shared),
                human_size(size - shared),
                i.containers.max(0).to_string(),
            ]);
        }
    }
    let header = [
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "CREATED",
        "SIZE",
        "SHARED SIZE",
        "UNIQUE SIZE",
        "CONTAINERS",
    ]
    .map(String::from);
    print_columns(out, &header, &rows)?;
    writeln!(out, "\nContainers space usage:\n")?;
    let rows: Vec<Vec<String>> = containers
        .iter()
        .map(|c| {
            let volumes = c.mounts.as_ref().map_or(0, |m| {
                m.iter()
                    .filter(|m| m.typ.map(|t| t.to_string()).as_deref() == Some("volume"))
                    .count()
            });
            let mut command = c.command.clone().unwrap_or_default();
            if command.chars().count() > 20 {
                command = format!("{}…", command.chars().take(19).collect::<String>());
            }
            let names = c
                .names
                .iter()
                .flatten()
                .map(|n| n.trim_start_matches('/'))
                .collect::<Vec<_>>()
                .join(",");
            vec![
                short(c.id.as_deref().unwrap_or_default()),
                c.image.clone().unwrap_or_default(),
                format!("\"{command}\""),
                volumes.to_string(),
                human_size(size_rw(c)),
                ago(c.created.unwrap_or(0)),
                c.status.clone().unwrap_or_default(),
                names,
            ]
        })
        .collect();
    let header = [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "LOCAL VOLUMES",
        "SIZE",
        "CREATED",
        "STATUS",
        "NAMES",
    ]
    .map(String::from);
    print_columns(out, &header, &rows)?;
    writeln!(out, "\nLocal Volumes space usage:\n")?;
    let rows: Vec<Vec<String>> = volumes
        .iter()
        .map(|v| {
            let (size, links) = usage(v);
            vec![v.name.clone(), links.to_string(), human_size(size)]
        })
        .collect();
    print_columns(
        out,
        &["VOLUME NAME", "LINKS", "SIZE"].map(String::from),
        &rows,
    )?;
    let total: i64 = cache.iter().filter(|c| own(c)).map(cache_size).sum();
    writeln!(out, "\nBuild cache usage: {}\n", human_size(total))?;
    let since = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| ago(t.timestamp()))
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = cache
        .iter()
        .map(|c| {
            vec![
                c.id.as_deref()
                    .unwrap_or_default()
                    .chars()
                    .take(12)
                    .collect(),
                c.typ.map(|t| t.to_string()).unwrap_or_default(),
                human_size_digits(cache_size(c), 3),
                since(&c.created_at),
                since(&c.last_used_at),
                c.usage_count.unwrap_or(0).to_string(),
                c.shared.unwrap_or(false).to_string(),
            ]
        })
        .collect();
    let header = [
        "CACHE ID",
        "CACHE TYPE",
        "SIZE",
        "CREATED",
        "LAST USED",
        "USAGE",
        "SHARED",
    ];
    print_columns(out, &header.map(String::from), &rows)?;
    Ok(())
}
