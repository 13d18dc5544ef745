//! `GET /distribution/{name}/json`: a reference's manifest descriptor and platforms, from its
//! registry with the client's `X-Registry-Auth` (docker-py's `inspect_distribution`).

use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;

use super::{ok_json, ApiResult, State};
use crate::engine::Error;

pub async fn inspect(
    AxState(engine): AxState<State>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    // The name has slashes of its own: the route takes everything, `/json` ends it.
    let name = rest
        .strip_suffix("/json")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Error::not_found(format!("page not found: GET /distribution/{rest}")))?;
    let credentials = super::images::registry_auth(&headers)?;
    ok_json(&engine.distribution_inspect(name, credentials).await?)
}
