//! `/networks` routes.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use bytes::Bytes;

use super::{json, no_content, ok_json, parse_json, ApiError, ApiResult, Query, State};
use crate::api::models::{
    Ipam, IpamConfig, Network as ApiNetwork, NetworkConnectRequest, NetworkContainer,
    NetworkCreateRequest, NetworkDisconnectRequest,
};
use crate::engine::filters::{self, parse as parse_filters};
use crate::engine::network::EndpointRequest;
use crate::engine::{Engine, Error};
use crate::net::types::SubnetRequest;
use crate::net::{Network, NetworkCreate};

/// Docker's view of a network; `containers` only for inspect.
pub async fn to_api(engine: &Engine, n: &Network, with_containers: bool) -> ApiNetwork {
    let containers = if with_containers {
        let mut map = HashMap::new();
        for (id, (name, ep)) in engine.network_containers(n).await {
            map.insert(
                id,
                serde_json::from_value::<NetworkContainer>(serde_json::json!({
                    "Name": name,
                    "EndpointID": ep.host_ifname,
                    "MacAddress": ep.mac,
                    "IPv4Address": format!("{}/{}", ep.ip, ep.prefix_len),
                    "IPv6Address": ep.v6.map(|v| format!("{}/{}", v.ip, v.prefix_len)).unwrap_or_default(),
                }))
                .unwrap_or_default(),
            );
        }
        Some(map)
    } else {
        Some(HashMap::new())
    };
    // Only what the user set, as dockerd: compose compares these with its file's options.
    let mut options: HashMap<String, String> = n.options.clone().into_iter().collect();
    if n.name == crate::net::DEFAULT_NETWORK {
        for (k, v) in [
            ("com.docker.network.bridge.default_bridge", "true"),
            ("com.docker.network.bridge.enable_icc", "true"),
            ("com.docker.network.bridge.enable_ip_masquerade", "true"),
            ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
        ] {
            options.insert(k.into(), v.into());
        }
        options.insert("com.docker.network.bridge.name".into(), n.bridge.clone());
        options.insert(
            "com.docker.network.driver.mtu".into(),
            n.mtu.unwrap_or(1500).to_string(),
        );
    }
    let created = if n.created.is_empty() {
        "0001-01-01T00:00:00Z".to_string()
    } else {
        n.created.clone()
    };
    ApiNetwork {
        name: Some(n.name.clone()),
        id: Some(n.id.clone()),
        created: Some(created),
        scope: Some("local".into()),
        driver: Some(n.driver.clone()),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(
                std::iter::once(ipam_config(&n.ipam))
                    .chain(n.ipam6.as_ref().map(ipam_config))
                    .collect(),
            ),
            options: None,
        }),
        enable_ipv6: Some(n.enable_ipv6()),
        internal: Some(n.internal),
        attachable: Some(true),
        ingress: Some(false),
        config_only: Some(false),
        containers,
        options: Some(options),
        labels: Some(n.labels.clone().into_iter().collect()),
        ..Default::default()
    }
}

/// One family's `IPAM.Config` entry.
fn ipam_config<N: crate::net::family::Family>(i: &crate::net::ipam::IpamOf<N>) -> IpamConfig {
    IpamConfig {
        subnet: Some(i.subnet.to_string()),
        ip_range: i.ip_range.map(|r| r.to_string()),
        gateway: Some(i.gateway.to_string()),
        auxiliary_addresses: (!i.aux_addresses.is_empty()).then(|| {
            i.aux_addresses
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect()
        }),
    }
}

/// The built-in `host` and `none` networks, listed like Docker's.
fn predefined(name: &str) -> ApiNetwork {
    ApiNetwork {
        name: Some(name.into()),
        id: Some(crate::util::ids::sha256_digest(name.as_bytes())[7..].to_string()),
        created: Some("0001-01-01T00:00:00Z".into()),
        scope: Some("local".into()),
        driver: Some(if name == "host" { "host" } else { "null" }.into()),
        containers: Some(HashMap::new()),
        labels: Some(HashMap::new()),
        options: Some(HashMap::new()),
        ..Default::default()
    }
}

pub async fn list(AxState(engine): AxState<State>, q: Query) -> ApiResult {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    engine.default_network().await?;
    let mut out = Vec::new();
    let mut all: Vec<ApiNetwork> = Vec::new();
    for n in engine.net()?.networks().await {
        all.push(to_api(&engine, &n, false).await);
    }
    all.push(predefined("host"));
    all.push(predefined("none"));
    for n in all {
        let labels = n.labels.clone().unwrap_or_default();
        let keep = filters::all_match(&filters, |k, v| match k {
            "name" => n.name.as_deref().is_some_and(|x| x.contains(v)),
            "id" => n.id.as_deref().is_some_and(|x| x.starts_with(v)),
            "driver" => n.driver.as_deref() == Some(v),
            "label" => filters::label_matches(v, |k| labels.get(k).map(String::as_str)),
            "type" => {
                (v == "builtin") == matches!(n.name.as_deref(), Some("bridge" | "host" | "none"))
            }
            _ => true,
        });
        if keep {
            out.push(n);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    ok_json(&out)
}

pub async fn inspect(AxState(engine): AxState<State>, Path(name): Path<String>) -> ApiResult {
    if name == "host" || name == "none" {
        return ok_json(&predefined(&name));
    }
    let n = engine.find_network(&name).await?;
    ok_json(&to_api(&engine, &n, true).await)
}

pub async fn create(AxState(engine): AxState<State>, body: Bytes) -> ApiResult {
    let req: NetworkCreateRequest = parse_json(&body)?;
    if req.name.is_empty() {
        return Err(ApiError(Error::invalid("network name is required")));
    }
    let driver = req.driver.clone().unwrap_or_else(|| "bridge".into());
    if driver == "overlay" {
        return Err(ApiError(Error::invalid(
            crate::net::manager::plan::OVERLAY_REFUSED,
        )));
    }
    if !matches!(driver.as_str(), "bridge" | "macvlan" | "ipvlan") {
        return Err(ApiError(Error::not_found(format!(
            "could not find plugin {driver} in v1 plugin registry: plugin not found (wharf supports the bridge, macvlan and ipvlan drivers)"
        ))));
    }
    let configs: Vec<SubnetRequest> = req
        .ipam
        .as_ref()
        .and_then(|i| i.config.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| SubnetRequest {
            subnet: c.subnet.filter(|s| !s.is_empty()),
            gateway: c.gateway.filter(|s| !s.is_empty()),
            ip_range: c.ip_range.filter(|s| !s.is_empty()),
        })
        .collect();
    let aux: BTreeMap<String, String> = req
        .ipam
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|c| c.auxiliary_addresses.clone().unwrap_or_default())
        .collect();
    let options: BTreeMap<String, String> = req
        .options
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut create = NetworkCreate {
        name: req.name.clone(),
        driver: Some(driver),
        enable_ipv6: req.enable_ipv6.unwrap_or(false),
        internal: req.internal.unwrap_or(false),
        bridge_name: options.get("com.docker.network.bridge.name").cloned(),
        mtu: options
            .get("com.docker.network.driver.mtu")
            .and_then(|m| m.parse().ok()),
        labels: req.labels.clone().unwrap_or_default().into_iter().collect(),
        aux_addresses: aux,
        options,
        ..Default::default()
    };
    create
        .set_ipam_configs(configs)
        .map_err(|e| ApiError(e.into()))?;
    let n = engine.create_network(create).await?;
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({"Id": n.id, "Warning": ""}),
    ))
}

pub async fn remove(AxState(engine): AxState<State>, Path(name): Path<String>) -> ApiResult {
    engine.remove_network(&name).await?;
    no_content()
}

pub async fn connect(
    AxState(engine): AxState<State>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let req: NetworkConnectRequest = parse_json(&body)?;
    let container = req.container.clone().unwrap_or_default();
    let settings = req.endpoint_config.unwrap_or_default();
    let request = EndpointRequest::from_settings(&settings)?;
    engine.connect_network(&name, &container, request).await?;
    Ok(axum::response::IntoResponse::into_response(StatusCode::OK))
}

pub async fn disconnect(
    AxState(engine): AxState<State>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let req: NetworkDisconnectRequest = parse_json(&body)?;
    let container = req.container.unwrap_or_default();
    // dockerd refuses to disconnect a container that is not connected, forced or not (the
    // engine's force also forgives that, for compose's clean-up).
    let n = engine.find_network(&name).await?;
    let rec = engine.containers.resolve(&container)?;
    let connected =
        rec.networks.contains_key(&n.name) || rec.endpoints.iter().any(|e| e.network_id == n.id);
    engine
        .disconnect_network(&name, &container, req.force.unwrap_or(false) && connected)
        .await?;
    Ok(axum::response::IntoResponse::into_response(StatusCode::OK))
}

pub async fn prune(AxState(engine): AxState<State>, q: Query) -> ApiResult {
    let filters = parse_filters(q.get("filters").map(String::as_str))?;
    let mut deleted = Vec::new();
    for n in engine.net()?.networks().await {
        if n.name == crate::net::DEFAULT_NETWORK {
            continue;
        }
        let label_ok = filters::labels_match(&filters, |k| n.labels.get(k).map(String::as_str));
        if label_ok && engine.remove_network(&n.id).await.is_ok() {
            deleted.push(n.name.clone());
        }
    }
    ok_json(&serde_json::json!({ "NetworksDeleted": deleted }))
}
