//! Network commands.

use super::{each, filters, key_values as kv};
use crate::api::client::{typed_filters, with_query, Client};
use crate::cli::args::{
    NamesArgs, NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, PruneArgs,
    VolumeLsArgs,
};
use crate::cli::output::{print_table, Row, Table};
use crate::cli::CliResult;

pub async fn create(client: &Client, a: NetworkCreateArgs) -> CliResult {
    let mut ipam = serde_json::Map::new();
    if let Some(s) = &a.subnet {
        ipam.insert("Subnet".into(), s.clone().into());
    }
    if let Some(g) = &a.gateway {
        ipam.insert("Gateway".into(), g.clone().into());
    }
    if let Some(r) = &a.ip_range {
        ipam.insert("IPRange".into(), r.clone().into());
    }
    if !a.aux_address.is_empty() {
        ipam.insert(
            "AuxiliaryAddresses".into(),
            serde_json::json!(kv(&a.aux_address)),
        );
    }
    let body = serde_json::json!({
        "Name": a.name,
        "Driver": a.driver,
        "Internal": a.internal,
        "Attachable": a.attachable,
        "Labels": kv(&a.label),
        "Options": kv(&a.opt),
        "IPAM": {"Driver": "default", "Config": if ipam.is_empty() { vec![] } else { vec![serde_json::Value::Object(ipam)] }},
    });
    let v: serde_json::Value = client.post_json("/networks/create", Some(&body)).await?;
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(())
}

pub async fn ls(client: &Client, a: VolumeLsArgs) -> CliResult {
    let f = filters(&a.filter);
    let nets: Vec<serde_json::Value> = client
        .get_json(&with_query("/networks", &[("filters", typed_filters(&f))]))
        .await?;
    if a.quiet {
        for n in &nets {
            println!("{}", &n["Id"].as_str().unwrap_or_default()[..12]);
        }
        return Ok(());
    }
    let rows = nets
        .iter()
        .map(|n| {
            let mut r = Row::new();
            let id = n["Id"].as_str().unwrap_or_default();
            r.insert("ID".into(), id.chars().take(12).collect());
            r.insert(
                "Name".into(),
                n["Name"].as_str().unwrap_or_default().to_string(),
            );
            r.insert(
                "Driver".into(),
                n["Driver"].as_str().unwrap_or_default().to_string(),
            );
            r.insert(
                "Scope".into(),
                n["Scope"].as_str().unwrap_or("local").to_string(),
            );
            r.insert(
                "Internal".into(),
                n["Internal"].as_bool().unwrap_or(false).to_string(),
            );
            r
        })
        .collect();
    let columns = &[
        ("NETWORK ID", "ID"),
        ("NAME", "Name"),
        ("DRIVER", "Driver"),
        ("SCOPE", "Scope"),
    ];
    print_table(&Table { columns, rows }, a.format.as_deref())?;
    Ok(())
}

pub async fn rm(client: &Client, a: NamesArgs) -> CliResult {
    each(&a.containers, |n| async move {
        client.delete(&format!("/networks/{n}")).await.map(|_| ())
    })
    .await
}

pub async fn prune(client: &Client, a: PruneArgs) -> CliResult {
    let f = filters(&a.filter);
    let v: serde_json::Value = client
        .post_json::<_, ()>(
            &with_query("/networks/prune", &[("filters", typed_filters(&f))]),
            None,
        )
        .await?;
    println!("Deleted Networks:");
    for n in v["NetworksDeleted"].as_array().cloned().unwrap_or_default() {
        println!("{}", n.as_str().unwrap_or_default());
    }
    Ok(())
}

pub async fn connect(client: &Client, a: NetworkConnectArgs) -> CliResult {
    let mut endpoint = serde_json::json!({ "Aliases": a.alias });
    if let Some(ip) = &a.ip {
        endpoint["IPAMConfig"] = serde_json::json!({ "IPv4Address": ip });
    }
    let body = serde_json::json!({ "Container": a.container, "EndpointConfig": endpoint });
    client
        .send(
            hyper::Method::POST,
            &format!("/networks/{}/connect", a.network),
            crate::api::client::full(serde_json::to_vec(&body).unwrap_or_default()),
            Some("application/json"),
        )
        .await?;
    Ok(())
}

pub async fn disconnect(client: &Client, a: NetworkDisconnectArgs) -> CliResult {
    let body = serde_json::json!({ "Container": a.container, "Force": a.force });
    client
        .send(
            hyper::Method::POST,
            &format!("/networks/{}/disconnect", a.network),
            crate::api::client::full(serde_json::to_vec(&body).unwrap_or_default()),
            Some("application/json"),
        )
        .await?;
    Ok(())
}
