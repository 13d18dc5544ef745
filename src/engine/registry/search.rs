//! `docker search`: Docker Hub's search API (`GET https://index.docker.io/v1/search`), or, for
//! a term naming another registry (`HOST[:PORT]/term`, split as dockerd splits it), that
//! registry's `/v2/_catalog` (the distribution API has no search) filtered by the term; then
//! dockerd's filters (`stars=N`, `is-official=`, `is-automated=`) and limit (1 to 100,
//! default 25).

use serde::{Deserialize, Serialize};

use super::session::session;
use super::{transport, Credentials};
use crate::engine::error::{Error, Result};
use crate::engine::filters::FilterMap;
use crate::engine::Engine;

/// One search result, in the Engine API's shape (`GET /images/search`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchResult {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: u64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}

/// dockerd's default and largest limits.
pub const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
/// Catalog pages followed at most (of up to 1000 names each).
const MAX_CATALOG_PAGES: usize = 50;

/// The search filters, checked as dockerd checks them.
#[derive(Debug, Default, PartialEq)]
pub struct SearchFilter {
    stars: Option<u64>,
    official: Option<bool>,
    automated: Option<bool>,
}

impl SearchFilter {
    pub fn parse(filters: &FilterMap) -> Result<Self> {
        let mut out = SearchFilter::default();
        for (key, values) in filters {
            match key.as_str() {
                "stars" => {
                    for v in values {
                        let n: u64 = v
                            .parse()
                            .map_err(|_| Error::invalid(format!("invalid filter 'stars={v}'")))?;
                        out.stars = Some(out.stars.unwrap_or(0).max(n));
                    }
                }
                "is-official" | "is-automated" => {
                    let b = match values.as_slice() {
                        [v] if v == "true" => true,
                        [v] if v == "false" => false,
                        _ => {
                            return Err(Error::invalid(format!(
                                "invalid filter '{key}={}'",
                                values.join(",")
                            )))
                        }
                    };
                    if key == "is-official" {
                        out.official = Some(b);
                    } else {
                        out.automated = Some(b);
                    }
                }
                other => return Err(Error::invalid(format!("invalid filter '{other}'"))),
            }
        }
        Ok(out)
    }

    fn keeps(&self, r: &SearchResult) -> bool {
        self.stars.is_none_or(|n| r.star_count >= n)
            && self.official.is_none_or(|o| r.is_official == o)
            && self.automated.is_none_or(|a| r.is_automated == a)
    }
}

/// The registry a search term names and the term within it (`localhost:5000/box` →
/// (`localhost:5000`, `box`); `bitnami/nginx` → Docker Hub).
pub fn split_term(term: &str) -> (Option<&str>, &str) {
    match term.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => {
            if host == "docker.io" || host == "index.docker.io" {
                (None, rest)
            } else {
                (Some(host), rest)
            }
        }
        _ => (None, term),
    }
}

#[derive(Deserialize)]
struct HubAnswer {
    #[serde(default)]
    results: Vec<SearchResult>,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Vec<String>,
}

impl Engine {
    /// Search Docker Hub or the registry the term names; at most `limit` results
    /// ([`DEFAULT_LIMIT`] when 0) that pass `filter`.
    pub async fn registry_search(
        &self,
        term: &str,
        limit: usize,
        filter: &SearchFilter,
        credentials: Option<Credentials>,
    ) -> Result<Vec<SearchResult>> {
        let limit = if limit == 0 { DEFAULT_LIMIT } else { limit };
        if limit > MAX_LIMIT {
            return Err(Error::invalid(format!(
                "limit {limit} is outside the range of [1, {MAX_LIMIT}]"
            )));
        }
        let found = match split_term(term) {
            (None, q) => self.search_hub(q, limit, credentials).await?,
            (Some(host), q) => self.search_catalog(host, q, credentials).await?,
        };
        Ok(found
            .into_iter()
            .filter(|r| filter.keeps(r))
            .take(limit)
            .collect())
    }

    async fn search_hub(
        &self,
        q: &str,
        limit: usize,
        credentials: Option<Credentials>,
    ) -> Result<Vec<SearchResult>> {
        let mut s = session(transport::hub_index()?, "", credentials);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", q)
            .append_pair("n", &limit.to_string())
            .finish();
        let what = format!("searching Docker Hub ({}/v1/search?{query})", s.base);
        let (body, _) = s
            .fetch_bytes(&format!("/v1/search?{query}"), None, "the answer")
            .await
            .map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        let answer: HubAnswer =
            serde_json::from_slice(&body).map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        Ok(answer.results)
    }

    /// The repositories of `host`'s catalog whose name contains `q`, named `host/repo`.
    async fn search_catalog(
        &self,
        host: &str,
        q: &str,
        credentials: Option<Credentials>,
    ) -> Result<Vec<SearchResult>> {
        let endpoint = self.registry_host_endpoint(host).await?;
        let mut s = session(endpoint, "", credentials);
        let what = format!("the catalog of {host}");
        let needle = q.to_lowercase();
        let mut out = Vec::new();
        let mut path = "/v2/_catalog?n=1000".to_string();
        for _ in 0..MAX_CATALOG_PAGES {
            let resp = s.get(&path, Some("application/json")).await?;
            let next = next_link(&resp);
            let status = resp.status();
            if !status.is_success() {
                return Err(Error::invalid(format!(
                    "{what}: {}",
                    super::session::error_text(resp).await
                )));
            }
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .map_err(|e| Error::invalid(format!("{what}: {e}")))?
                .to_bytes();
            let page: Catalog = serde_json::from_slice(&body)
                .map_err(|e| Error::invalid(format!("{what}: {e}")))?;
            out.extend(
                page.repositories
                    .into_iter()
                    .filter(|r| r.to_lowercase().contains(&needle))
                    .map(|r| SearchResult {
                        name: format!("{host}/{r}"),
                        description: String::new(),
                        star_count: 0,
                        is_official: false,
                        is_automated: false,
                    }),
            );
            match next {
                Some(n) => path = n,
                None => break,
            }
        }
        Ok(out)
    }
}

/// The path of a `Link: </v2/_catalog?last=x&n=1000>; rel="next"` header.
fn next_link<B>(resp: &hyper::Response<B>) -> Option<String> {
    let link = resp.headers().get("link")?.to_str().ok()?;
    let (target, rel) = link.split_once(';')?;
    if !rel.contains("next") {
        return None;
    }
    let target = target.trim().trim_start_matches('<').trim_end_matches('>');
    target.starts_with('/').then(|| target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(pairs: &[(&str, &str)]) -> FilterMap {
        let mut m = FilterMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        m
    }

    #[test]
    fn terms_split_as_dockerd_splits_them() {
        assert_eq!(split_term("busybox"), (None, "busybox"));
        assert_eq!(split_term("bitnami/nginx"), (None, "bitnami/nginx"));
        assert_eq!(split_term("docker.io/nginx"), (None, "nginx"));
        assert_eq!(
            split_term("127.0.0.1:5000/team"),
            (Some("127.0.0.1:5000"), "team")
        );
        assert_eq!(split_term("localhost/x"), (Some("localhost"), "x"));
        assert_eq!(split_term("reg.example/a/b"), (Some("reg.example"), "a/b"));
    }

    #[test]
    fn filters_as_dockerd() {
        let f = SearchFilter::parse(&filters(&[("stars", "3"), ("stars", "10")])).unwrap();
        assert_eq!(f.stars, Some(10));
        let f = SearchFilter::parse(&filters(&[("is-official", "true")])).unwrap();
        let r = |stars, official| SearchResult {
            name: "x".into(),
            description: String::new(),
            star_count: stars,
            is_official: official,
            is_automated: false,
        };
        assert!(f.keeps(&r(0, true)) && !f.keeps(&r(99, false)));
        for (bad, said) in [
            (("stars", "many"), "invalid filter 'stars=many'"),
            (("is-official", "yes"), "invalid filter 'is-official=yes'"),
            (("color", "red"), "invalid filter 'color'"),
        ] {
            let e = SearchFilter::parse(&filters(&[bad]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(said), "{e}");
        }
    }

    #[test]
    fn catalog_pages_follow_the_next_link() {
        let r = hyper::Response::builder()
            .header("link", r#"</v2/_catalog?last=b&n=1000>; rel="next""#)
            .body(())
            .unwrap();
        assert_eq!(next_link(&r).as_deref(), Some("/v2/_catalog?last=b&n=1000"));
        assert_eq!(next_link(&hyper::Response::new(())), None);
    }
}
