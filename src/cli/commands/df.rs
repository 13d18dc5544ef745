//! `system df [-v]`: disk usage by images, containers, local volumes and build cache, in the
//! docker CLI's tables (the summary with what is reclaimable, or every object with `-v`).

use serde_json::Value;

use crate::api::client::Client;
use crate::cli::args::DfArgs;
use crate::cli::output::{ago, print_columns};
use crate::cli::CliResult;
use crate::util::bytesize::{human_size, human_size_digits};

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0).max(0)
}

/// `1.2MB (40%)` as the docker CLI prints a reclaimable size.
fn with_share(part: i64, total: i64) -> String {
    if total == 0 {
        return human_size(part);
    }
    format!("{} ({}%)", human_size(part), part * 100 / total)
}

pub async fn df(client: &Client, a: DfArgs) -> CliResult {
    let v: Value = client.get_json("/system/df").await?;
    if a.format.as_deref() == Some("json") {
        println!("{v}");
        return Ok(());
    }
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let (images, containers, volumes) = (list("Images"), list("Containers"), list("Volumes"));
    let cache = list("BuildCache");
    if a.verbose {
        return verbose(&images, &containers, &volumes, &cache);
    }
    let used = |i: &Value| int(&i["Containers"]) > 0;
    let image_size: i64 = images.iter().map(|i| int(&i["Size"])).sum();
    // As the docker CLI counts it: what used images hold on their own is not reclaimable.
    let image_unique_used: i64 = images
        .iter()
        .filter(|i| used(i))
        .map(|i| int(&i["Size"]) - int(&i["SharedSize"]))
        .sum();
    let image_unused = image_size - image_unique_used;
    let running = |c: &Value| c["State"] == "running";
    let rw: i64 = containers.iter().map(|c| int(&c["SizeRw"])).sum();
    let rw_stopped: i64 = containers
        .iter()
        .filter(|c| !running(c))
        .map(|c| int(&c["SizeRw"]))
        .sum();
    let linked = |v: &Value| int(&v["UsageData"]["RefCount"]) > 0;
    let vol_size: i64 = volumes.iter().map(|v| int(&v["UsageData"]["Size"])).sum();
    let vol_unused: i64 = volumes
        .iter()
        .filter(|v| !linked(v))
        .map(|v| int(&v["UsageData"]["Size"]))
        .sum();
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
            count(volumes.iter().filter(|v| linked(v)).count()),
            human_size(vol_size),
            with_share(vol_unused, vol_size),
        ],
        {
            // As the docker CLI sums them: shared entries count in neither column.
            let in_use = |c: &Value| c["InUse"] == true;
            let own = || cache.iter().filter(|c| c["Shared"] != true);
            vec![
                "Build Cache".into(),
                count(cache.len()),
                count(cache.iter().filter(|c| in_use(c)).count()),
                human_size(own().map(|c| int(&c["Size"])).sum()),
                human_size(own().filter(|c| !in_use(c)).map(|c| int(&c["Size"])).sum()),
            ]
        },
    ];
    let header = ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"].map(String::from);
    print_columns(&mut std::io::stdout().lock(), &header, &rows)?;
    Ok(())
}

fn verbose(
    images: &[Value],
    containers: &[Value],
    volumes: &[Value],
    cache: &[Value],
) -> CliResult {
    let out = &mut std::io::stdout().lock();
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let short = |id: &Value| {
        let id = s(id);
        id.trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>()
    };
    use std::io::Write;
    writeln!(out, "Images space usage:\n")?;
    let mut rows = Vec::new();
    for i in images {
        let tags: Vec<String> = i["RepoTags"]
            .as_array()
            .map(|t| t.iter().map(s).collect())
            .unwrap_or_default();
        let tags = if tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            tags
        };
        let size = int(&i["Size"]);
        let shared = int(&i["SharedSize"]);
        for t in tags {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((&t, "<none>"));
            rows.push(vec![
                repo.to_string(),
                tag.to_string(),
                short(&i["Id"]),
                ago(int(&i["Created"])),
                human_size_digits(size, 3),
                human_size(shared),
                human_size(size - shared),
                int(&i["Containers"]).to_string(),
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
            let volumes = c["Mounts"]
                .as_array()
                .map_or(0, |m| m.iter().filter(|m| m["Type"] == "volume").count());
            let mut command = s(&c["Command"]);
            if command.chars().count() > 20 {
                command = format!("{}…", command.chars().take(19).collect::<String>());
            }
            let names = c["Names"]
                .as_array()
                .map(|n| n.iter().map(|n| s(n).trim_start_matches('/').to_string()))
                .map(|n| n.collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            vec![
                short(&c["Id"]),
                s(&c["Image"]),
                format!("\"{command}\""),
                volumes.to_string(),
                human_size(int(&c["SizeRw"])),
                ago(int(&c["Created"])),
                s(&c["Status"]),
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
            vec![
                s(&v["Name"]),
                int(&v["UsageData"]["RefCount"]).to_string(),
                human_size(int(&v["UsageData"]["Size"])),
            ]
        })
        .collect();
    print_columns(
        out,
        &["VOLUME NAME", "LINKS", "SIZE"].map(String::from),
        &rows,
    )?;
    // As the docker CLI sums it: shared entries are not the cache's own.
    let total: i64 = cache
        .iter()
        .filter(|c| c["Shared"] != true)
        .map(|c| int(&c["Size"]))
        .sum();
    writeln!(out, "\nBuild cache usage: {}\n", human_size(total))?;
    let since = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(&s(v))
            .map(|t| ago(t.timestamp()))
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = cache
        .iter()
        .map(|c| {
            vec![
                s(&c["ID"]).chars().take(12).collect(),
                s(&c["Type"]),
                human_size_digits(int(&c["Size"]), 3),
                since(&c["CreatedAt"]),
                since(&c["LastUsedAt"]),
                int(&c["UsageCount"]).to_string(),
                c["Shared"].as_bool().unwrap_or(false).to_string(),
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
