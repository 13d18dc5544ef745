//! Volume commands.

use super::{each, filters, key_values as kv};
use crate::api::client::{typed_filters, with_query, Client};
use crate::api::models::Volume;
use crate::cli::args::{PruneArgs, VolumeCreateArgs, VolumeLsArgs, VolumeRmArgs};
use crate::cli::output::{print_table, Row, Table};
use crate::cli::CliResult;
use crate::util::bytesize::human_size;

pub async fn create(client: &Client, a: VolumeCreateArgs) -> CliResult {
    let body = serde_json::json!({
        "Name": a.name.clone().unwrap_or_default(),
        "Driver": a.driver,
        "Labels": kv(&a.label),
        "DriverOpts": kv(&a.opt),
    });
    let v: Volume = client.post_json("/volumes/create", Some(&body)).await?;
    println!("{}", v.name);
    Ok(())
}

pub async fn ls(client: &Client, a: VolumeLsArgs) -> CliResult {
    let f = filters(&a.filter);
    let v: serde_json::Value = client
        .get_json(&with_query("/volumes", &[("filters", typed_filters(&f))]))
        .await?;
    let vols: Vec<Volume> = serde_json::from_value(v["Volumes"].clone()).unwrap_or_default();
    if a.quiet {
        for v in &vols {
            println!("{}", v.name);
        }
        return Ok(());
    }
    let rows = vols
        .iter()
        .map(|v| {
            let mut r = Row::new();
            r.insert("Driver".into(), v.driver.clone());
            r.insert("Name".into(), v.name.clone());
            r.insert("Mountpoint".into(), v.mountpoint.clone());
            r.insert("Scope".into(), "local".into());
            let mut labels: Vec<String> =
                v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            labels.sort();
            r.insert("Labels".into(), labels.join(","));
            r
        })
        .collect();
    print_table(
        &Table {
            columns: &[("DRIVER", "Driver"), ("VOLUME NAME", "Name")],
            rows,
        },
        a.format.as_deref(),
    )?;
    Ok(())
}

pub async fn rm(client: &Client, a: VolumeRmArgs) -> CliResult {
    each(&a.names, |n| async move {
        client.remove_volume(&n, a.force).await
    })
    .await
}

pub async fn prune(client: &Client, a: PruneArgs) -> CliResult {
    let mut f = filters(&a.filter);
    if a.all {
        f.insert("all".into(), vec!["true".into()]);
    }
    let v: serde_json::Value = client
        .post_json::<_, ()>(
            &with_query("/volumes/prune", &[("filters", typed_filters(&f))]),
            None,
        )
        .await?;
    println!("Deleted Volumes:");
    for n in v["VolumesDeleted"].as_array().cloned().unwrap_or_default() {
        println!("{}", n.as_str().unwrap_or_default());
    }
    println!(
        "\nTotal reclaimed space: {}",
        human_size(v["SpaceReclaimed"].as_i64().unwrap_or(0))
    );
    Ok(())
}
