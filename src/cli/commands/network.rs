//! Network commands.

use super::{each, filters, key_values as kv};
use crate::api::client::{typed_filters, with_query, Client};
use crate::cli::args::{
    NamesArgs, NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, PruneArgs,
    VolumeLsArgs,
};
use crate::cli::output::{print_table, Row, Table};
use crate::cli::CliResult;

/// The `IPAM.Config` entries of `network create`: one per family given, each with the
/// `--gateway`, `--ip-range` and `--aux-address` values of its family (IPv6 ones have a `:`).
fn ipam_configs(a: &NetworkCreateArgs) -> Vec<serde_json::Value> {
    let aux = kv(&a.aux_address);
    [false, true]
        .into_iter()
        .filter_map(|v6| {
            let of = |list: &[String]| list.iter().find(|s| s.contains(':') == v6).cloned();
            let mut ipam = serde_json::Map::new();
            for (key, val) in [
                ("Subnet", of(&a.subnet)),
                ("Gateway", of(&a.gateway)),
                ("IPRange", of(&a.ip_range)),
            ] {
                if let Some(v) = val {
                    ipam.insert(key.into(), v.into());
                }
            }
            let aux: serde_json::Map<String, serde_json::Value> = aux
                .iter()
                .filter(|(_, ip)| ip.contains(':') == v6)
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            if !aux.is_empty() {
                ipam.insert("AuxiliaryAddresses".into(), aux.into());
            }
            (!ipam.is_empty()).then_some(serde_json::Value::Object(ipam))
        })
        .collect()
}

pub async fn create(client: &Client, a: NetworkCreateArgs) -> CliResult {
    for (flag, list) in [
        ("--subnet", &a.subnet),
        ("--gateway", &a.gateway),
        ("--ip-range", &a.ip_range),
    ] {
        for v6 in [false, true] {
            if list.iter().filter(|s| s.contains(':') == v6).count() > 1 {
                return Err(crate::cli::Exit::msg(
                    125,
                    format!("{flag}: at most one IPv4 and one IPv6 value"),
                ));
            }
        }
    }
    let configs = ipam_configs(&a);
    let body = serde_json::json!({
        "Name": a.name,
        "Driver": a.driver,
        "EnableIPv6": a.ipv6,
        "Internal": a.internal,
        "Attachable": a.attachable,
        "Labels": kv(&a.label),
        "Options": kv(&a.opt),
        "IPAM": {"Driver": "default", "Config": configs},
    });
    let v: serde_json::Value = client.post_json("/networks/create", Some(&body)).await?;
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(())
}

pub async fn ls(client: &Client, a: VolumeLsArgs) -> CliResult {
    let f = filters(&a.filter);
    let nets: Vec<bollard_stubs::models::Network> = client
        .get_json(&with_query("/networks", &[("filters", typed_filters(&f))]))
        .await?;
    let short_id = |n: &bollard_stubs::models::Network| -> String {
        n.id.as_deref()
            .unwrap_or_default()
            .chars()
            .take(12)
            .collect()
    };
    if a.quiet {
        for n in &nets {
            println!("{}", short_id(n));
        }
        return Ok(());
    }
    let rows = nets
        .iter()
        .map(|n| {
            let mut r = Row::new();
            r.insert("ID".into(), short_id(n));
            r.insert("Name".into(), n.name.clone().unwrap_or_default());
            r.insert("Driver".into(), n.driver.clone().unwrap_or_default());
            r.insert(
                "Scope".into(),
                n.scope.clone().unwrap_or_else(|| "local".into()),
            );
            r.insert("Internal".into(), n.internal.unwrap_or(false).to_string());
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
    let pruned: bollard_stubs::models::NetworkPruneResponse = client
        .post_json::<_, ()>(
            &with_query("/networks/prune", &[("filters", typed_filters(&f))]),
            None,
        )
        .await?;
    println!("Deleted Networks:");
    for n in pruned.networks_deleted.unwrap_or_default() {
        println!("{n}");
    }
    Ok(())
}

pub async fn connect(client: &Client, a: NetworkConnectArgs) -> CliResult {
    let mut endpoint = serde_json::json!({ "Aliases": a.alias });
    if a.ip.is_some() || a.ip6.is_some() {
        endpoint["IPAMConfig"] = serde_json::json!({ "IPv4Address": a.ip, "IPv6Address": a.ip6 });
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
