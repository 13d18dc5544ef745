//! `--all-tags`: a repository's tags as its registry lists them (`GET /v2/<name>/tags/list`,
//! pages followed through their `Link: <…>; rel="next"` headers), each pulled in turn in one
//! progress stream; and the local tags of a repository, each pushed in turn, as dockerd does
//! for a pull or push without a tag.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::session::{error_text, session};
use super::Credentials;
use crate::docker::platform::Platform;
use crate::engine::error::{Error, Result};
use crate::engine::image::reference::Reference;
use crate::engine::Engine;

/// More pages than this is a registry that loops.
const MAX_PAGES: usize = 1000;

impl Engine {
    /// The tags of `r`'s repository in its registry, sorted.
    pub async fn registry_tags(
        &self,
        r: &Reference,
        credentials: Option<Credentials>,
    ) -> Result<Vec<String>> {
        let endpoint = self.registry_endpoint(r).await?;
        let mut s = session(endpoint, &r.repository, credentials);
        let mut path = format!("/v2/{}/tags/list", r.repository);
        let mut tags = Vec::new();
        for _ in 0..MAX_PAGES {
            let resp = s.get(&path, Some("application/json")).await?;
            if !resp.status().is_success() {
                return Err(Error::not_found(format!(
                    "tags of {}: {}",
                    r.familiar_name(),
                    error_text(resp).await
                )));
            }
            let next = next_page(resp.headers());
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .map_err(|e| Error::invalid(format!("tags of {}: {e}", r.familiar_name())))?
                .to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| Error::invalid(format!("tags of {}: {e}", r.familiar_name())))?;
            tags.extend(
                v["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(String::from)),
            );
            match next {
                Some(p) => path = p,
                None => {
                    tags.sort();
                    tags.dedup();
                    return Ok(tags);
                }
            }
        }
        Err(Error::invalid(format!(
            "tags of {}: more than {MAX_PAGES} pages",
            r.familiar_name()
        )))
    }

    /// `pull --all-tags`: every tag of the repository, one after the other.
    pub async fn pull_all_tags(
        self: &Arc<Self>,
        r: &Reference,
        platform: Option<&Platform>,
        credentials: Option<Credentials>,
        progress_tx: mpsc::Sender<Bytes>,
    ) -> Result<()> {
        let tags = self.registry_tags(r, credentials.clone()).await?;
        if tags.is_empty() {
            return Err(Error::not_found(format!(
                "repository {} has no tags",
                r.familiar_name()
            )));
        }
        for tag in tags {
            let name = format!("{}:{tag}", r.full_name());
            self.pull_image(&name, platform, credentials.clone(), progress_tx.clone())
                .await?;
        }
        Ok(())
    }

    /// `push --all-tags`: every local tag of the repository, one after the other.
    pub async fn push_all_tags(
        self: &Arc<Self>,
        r: &Reference,
        credentials: Option<Credentials>,
        progress_tx: mpsc::Sender<Bytes>,
    ) -> Result<()> {
        let mut tags = Vec::new();
        for image in self.images.list()? {
            for t in self.images.tags_of(&image.id)? {
                if let Ok(tagged) = Reference::parse(&t) {
                    if tagged.full_name() == r.full_name() {
                        tags.push(tagged.to_string());
                    }
                }
            }
        }
        tags.sort();
        if tags.is_empty() {
            return Err(Error::not_found(format!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            )));
        }
        for t in tags {
            self.push_image(&t, credentials.clone(), progress_tx.clone())
                .await?;
        }
        Ok(())
    }
}

/// The path of the next page from a `Link: </v2/…?n=…&last=…>; rel="next"` header.
fn next_page(headers: &hyper::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            let t = target.trim().trim_start_matches('<').trim_end_matches('>');
            // An absolute URL keeps only its path and query (the session knows the host).
            match t.split_once("://") {
                Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_string(),
                None => t.to_string(),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next_page() {
        let h = |v: &str| {
            let mut m = hyper::HeaderMap::new();
            m.insert("link", v.parse().unwrap());
            m
        };
        assert_eq!(
            next_page(&h(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#)).as_deref(),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_page(&h(r#"<https://r.example/v2/a/tags/list?n=2>; rel="next""#)).as_deref(),
            Some("/v2/a/tags/list?n=2")
        );
        assert_eq!(next_page(&h(r#"</x>; rel="prev""#)), None);
        assert_eq!(next_page(&hyper::HeaderMap::new()), None);
    }
}
