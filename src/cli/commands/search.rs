//! `wharf search`: the daemon's `GET /images/search` (Docker Hub, or the catalog of the
//! registry the term names), printed as docker prints it: NAME, DESCRIPTION (45 characters
//! unless `--no-trunc`), STARS, OFFICIAL, or through `--format`.

use super::filters;
use crate::api::client::{credentials, decode, empty, with_query, Client};
use crate::cli::args::SearchArgs;
use crate::cli::output::{print_table, Row, Table};
use crate::cli::{CliResult, Exit};
use crate::engine::registry::{split_term, SearchResult};

/// docker's width of a truncated description.
const DESCRIPTION_WIDTH: usize = 45;

pub async fn search(client: &Client, a: SearchArgs) -> CliResult {
    let registry = split_term(&a.term).0.unwrap_or("docker.io");
    let auth = credentials::header_for(registry)
        .await
        .map_err(|e| Exit::msg(1, e.to_string()))?;
    let mut params: Vec<(&str, String)> = vec![("term", a.term.clone())];
    if a.limit > 0 {
        params.push(("limit", a.limit.to_string()));
    }
    if !a.filter.is_empty() {
        let f = serde_json::to_string(&filters(&a.filter)).unwrap_or_default();
        params.push(("filters", f));
    }
    let resp = client
        .send_with_auth(
            hyper::Method::GET,
            &with_query("/images/search", &params),
            empty(),
            None,
            auth.as_deref(),
        )
        .await?;
    let results: Vec<SearchResult> = decode(resp).await?;
    let rows = results.iter().map(|r| row(r, !a.no_trunc)).collect();
    let columns = &[
        ("NAME", "Name"),
        ("DESCRIPTION", "Description"),
        ("STARS", "StarCount"),
        ("OFFICIAL", "IsOfficial"),
    ];
    print_table(&Table { columns, rows }, a.format.as_deref())
        .map_err(|e| Exit::msg(1, e.to_string()))
}

/// One result as docker's template fields (`.Name`, `.Description`, `.StarCount`,
/// `.IsOfficial`, `.IsAutomated`).
fn row(r: &SearchResult, trunc: bool) -> Row {
    let flag = |b: bool| if b { "[OK]" } else { "" }.to_string();
    let mut description = r.description.replace(['\n', '\r'], " ");
    if trunc && description.chars().count() > DESCRIPTION_WIDTH {
        description = format!(
            "{}…",
            description
                .chars()
                .take(DESCRIPTION_WIDTH - 1)
                .collect::<String>()
        );
    }
    let mut row = Row::new();
    row.insert("Name".into(), r.name.clone());
    row.insert("Description".into(), description);
    row.insert("StarCount".into(), r.star_count.to_string());
    row.insert("IsOfficial".into(), flag(r.is_official));
    row.insert("IsAutomated".into(), flag(r.is_automated));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_as_docker_prints_them() {
        let r = SearchResult {
            name: "nginx".into(),
            description: "Official build of Nginx, the web server\nthat runs half the web.".into(),
            star_count: 20000,
            is_official: true,
            is_automated: false,
        };
        let short = row(&r, true);
        assert_eq!(
            short["Description"],
            "Official build of Nginx, the web server that…"
        );
        assert_eq!(short["Description"].chars().count(), 45);
        assert_eq!(short["IsOfficial"], "[OK]");
        assert_eq!(short["IsAutomated"], "");
        assert_eq!(short["StarCount"], "20000");
        assert!(row(&r, false)["Description"].ends_with("half the web."));
    }
}
