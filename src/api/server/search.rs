//! `GET /images/search` (`docker search`): the term, `limit` and `filters` handed to the
//! engine's registry search with the client's `X-Registry-Auth`, the results in dockerd's
//! shape.

use axum::extract::State as AxState;
use axum::http::HeaderMap;

use super::{ok_json, ApiError, ApiResult, Query, State};
use crate::engine::filters::parse as parse_filters;
use crate::engine::registry::SearchFilter;
use crate::engine::Error;

pub async fn search(AxState(engine): AxState<State>, q: Query, headers: HeaderMap) -> ApiResult {
    let term = q.get("term").cloned().unwrap_or_default();
    let limit = match q.get("limit").map(String::as_str) {
        None | Some("") => 0,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError(Error::invalid(format!("invalid limit {l:?}"))))?,
    };
    let filter = SearchFilter::parse(&parse_filters(q.get("filters").map(String::as_str))?)?;
    let credentials = super::images::registry_auth(&headers)?;
    let results = engine
        .registry_search(&term, limit, &filter, credentials)
        .await?;
    ok_json(&results)
}
