//! One conversation with a registry for one repository: requests with the `Authorization` the
//! registry asked for (Basic, or a Bearer token fetched from its realm on the first 401: with
//! Basic credentials as a GET, or, for an identity token, as an OAuth2 `refresh_token` POST
//! as dockerd does),
//! redirects followed without leaking credentials to a CDN, uploads, and the small helpers
//! (digest check, error text) that pull and push share.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Request, StatusCode};
use sha2::Digest;

use super::{auth, retry, transport, Credentials};
use crate::engine::error::{Error, Result};
use crate::util::body::{empty, full, ReqBody};

/// The OAuth2 client id dockerd gives token endpoints.
const CLIENT_ID: &str = "docker";

#[derive(Clone)]
pub(super) struct Session {
    client: transport::RegistryClient,
    pub(super) base: String,
    repo: String,
    credentials: Option<Credentials>,
    /// The `Authorization` header value once a challenge was answered.
    authorization: Option<String>,
    /// A login's session: the token endpoint is asked for a refresh token too
    /// (`offline_token=true`), which `docker login` then keeps as an identity token.
    offline: bool,
    /// The refresh token a token endpoint gave, if any.
    pub(super) refresh_token: Option<String>,
    /// A mirror of Docker Hub: on a connection error the pull goes on to the next source
    /// instead of trying this one again.
    pub(super) mirror: bool,
}

impl Session {
    pub(super) async fn get(
        &mut self,
        path: &str,
        accept: Option<&str>,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        self.get_range(path, accept, None).await
    }

    /// A `GET`, from byte `from` on when given (`Range: bytes=N-`), answering the registry's
    /// challenge once and asking again (see [`retry`]) after a connection error, a 429 or a
    /// 5xx. A mirror is not asked again after a connection error: the next source is.
    pub(super) async fn get_range(
        &mut self,
        path: &str,
        accept: Option<&str>,
        from: Option<u64>,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        let range = from.map(|n| format!("bytes={n}-"));
        let mut authenticated = false;
        let mut attempt = 0;
        loop {
            let mut req = Request::get(format!("{}{path}", self.base));
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            if let Some(r) = &range {
                req = req.header("Range", r);
            }
            if let Some(a) = &self.authorization {
                req = req.header("Authorization", a);
            }
            let resp = match self
                .client
                .request(req.body(empty()).map_err(Error::internal)?)
                .await
            {
                Ok(resp) => resp,
                Err(e) if attempt + 1 < retry::ATTEMPTS && !(self.mirror && e.is_connect()) => {
                    let wait = retry::delay(attempt, None);
                    tracing::info!(
                        "{}{path}: {}; again in {wait:?}",
                        self.base,
                        transport::describe(&e)
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(self.unreachable(&e)),
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !authenticated {
                self.authenticate(&challenge(&resp)).await?;
                authenticated = true;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(Error::invalid(format!(
                    "registry {}: unauthorized: {}",
                    self.base,
                    if self.credentials.is_some() {
                        "incorrect username or password"
                    } else {
                        "authentication required (wharf login)"
                    }
                )));
            }
            if retry::retryable(status) && attempt + 1 < retry::ATTEMPTS {
                let wait = retry::delay(attempt, resp.headers().get("retry-after"));
                tracing::info!("{}{path}: {status}; again in {wait:?}", self.base);
                drop(resp);
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return self.follow_redirects(resp, accept, range.as_deref()).await;
        }
    }

    /// Follow a registry's redirects (Docker Hub sends blobs to a CDN). Credentials go only to
    /// the registry itself: a signed CDN URL refuses a second one.
    pub(super) async fn follow_redirects(
        &self,
        mut resp: hyper::Response<hyper::body::Incoming>,
        accept: Option<&str>,
        range: Option<&str>,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        for _ in 0..5 {
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let Some(location) = resp.headers().get("location").and_then(|h| h.to_str().ok())
            else {
                return Ok(resp);
            };
            let url = if location.starts_with('/') {
                format!("{}{location}", self.base)
            } else {
                location.to_string()
            };
            let mut req = Request::get(&url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            if let Some(r) = range {
                req = req.header("Range", r);
            }
            let same_registry = url
                .strip_prefix(self.base.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if let Some(a) = self.authorization.as_ref().filter(|_| same_registry) {
                req = req.header("Authorization", a);
            }
            resp = self
                .client
                .request(req.body(empty()).map_err(Error::internal)?)
                .await
                .map_err(|e| Error::invalid(format!("{url}: {}", transport::describe(&e))))?;
        }
        Err(Error::invalid(format!(
            "registry {}: too many redirects",
            self.base
        )))
    }

    /// Answer a `WWW-Authenticate` challenge: Basic with the credentials, or Bearer with a
    /// token from the named realm (fetched with the credentials when there are some).
    pub(super) async fn authenticate(&mut self, challenge: &str) -> Result<()> {
        let (scheme, params) = auth::parse_challenge(challenge);
        self.authorization = Some(match scheme.as_str() {
            "basic" => match &self.credentials {
                Some(c) if c.has_password() => c.basic(),
                Some(_) => {
                    return Err(Error::invalid(format!(
                        "registry {}: unauthorized: no basic auth credentials",
                        self.base
                    )))
                }
                None => {
                    return Err(Error::invalid(format!(
                        "registry {}: unauthorized: authentication required (wharf login)",
                        self.base
                    )))
                }
            },
            _ => format!("Bearer {}", self.fetch_token(challenge, &params).await?),
        });
        Ok(())
    }

    /// A bearer token from the realm named in a `WWW-Authenticate: Bearer ...` challenge: with
    /// an identity token, an OAuth2 refresh (`POST`, form `grant_type=refresh_token`); else a
    /// `GET` with the Basic credentials when there are some. A refresh token in the answer is
    /// kept in [`refresh_token`](Self::refresh_token).
    pub(super) async fn fetch_token(
        &mut self,
        challenge: &str,
        params: &HashMap<String, String>,
    ) -> Result<String> {
        let realm = params.get("realm").ok_or_else(|| {
            Error::invalid(format!(
                "registry {}: authentication required ({challenge})",
                self.base
            ))
        })?;
        let scope = params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{}:pull", self.repo));
        let refresh = self
            .credentials
            .as_ref()
            .map(|c| c.identity_token.as_str())
            .filter(|t| !t.is_empty());
        let req = match refresh {
            Some(token) => {
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", token)
                    .append_pair("client_id", CLIENT_ID);
                if let Some(s) = params.get("service") {
                    form.append_pair("service", s);
                }
                if !scope.is_empty() {
                    form.append_pair("scope", &scope);
                }
                if self.offline {
                    form.append_pair("access_type", "offline");
                }
                Request::post(realm.as_str())
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(full(form.finish()))
                    .map_err(|e| Error::invalid(format!("token from {realm}: {e}")))?
            }
            None => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                if !scope.is_empty() {
                    query.append_pair("scope", &scope);
                }
                if let Some(s) = params.get("service") {
                    query.append_pair("service", s);
                }
                if self.offline {
                    query
                        .append_pair("offline_token", "true")
                        .append_pair("client_id", CLIENT_ID);
                }
                let sep = if realm.contains('?') { '&' } else { '?' };
                let mut req = Request::get(format!("{realm}{sep}{}", query.finish()));
                if let Some(c) = self.credentials.as_ref().filter(|c| c.has_password()) {
                    req = req.header("Authorization", c.basic());
                }
                req.body(empty())
                    .map_err(|e| Error::invalid(format!("token from {realm}: {e}")))?
            }
        };
        let resp = self.client.request(req).await.map_err(|e| {
            Error::invalid(format!("token from {realm}: {}", transport::describe(&e)))
        })?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED && refresh.is_none() {
            return Err(Error::invalid(format!(
                "token from {realm}: unauthorized: incorrect username or password"
            )));
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(Error::internal)?
            .to_bytes();
        if !status.is_success() {
            return Err(Error::invalid(format!(
                "token from {realm}: {status}: {}",
                String::from_utf8_lossy(&body).trim()
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::invalid(format!("token from {realm}: {e}")))?;
        if let Some(r) = v["refresh_token"].as_str().filter(|r| !r.is_empty()) {
            self.refresh_token = Some(r.to_string());
        }
        v["token"]
            .as_str()
            .or(v["access_token"].as_str())
            .map(String::from)
            .ok_or_else(|| Error::invalid(format!("no token from {realm}")))
    }

    /// A request with a body (uploads); the authorization is reused.
    pub(super) async fn send(
        &mut self,
        method: hyper::Method,
        url: &str,
        content_type: Option<&str>,
        len: Option<u64>,
        body: ReqBody,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        self.send_with(method, url, content_type, len, &[], body)
            .await
    }

    /// [`send`](Self::send) with more headers.
    pub(super) async fn send_with(
        &mut self,
        method: hyper::Method,
        url: &str,
        content_type: Option<&str>,
        len: Option<u64>,
        headers: &[(&str, &str)],
        body: ReqBody,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.base)
        };
        let mut req = Request::builder().method(method).uri(&url);
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a);
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(l) = len {
            req = req.header("Content-Length", l.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.client
            .request(req.body(body).map_err(Error::internal)?)
            .await
            .map_err(|e| self.unreachable(&e))
    }

    /// A request that got no answer.
    fn unreachable(&self, e: &(dyn std::error::Error + 'static)) -> Error {
        Error::invalid(format!(
            "registry {}: {}",
            self.base,
            transport::describe(e)
        ))
    }

    pub(super) async fn fetch_bytes(
        &mut self,
        path: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<(Bytes, Option<String>)> {
        let resp = self.get(path, accept).await?;
        let status = resp.status();
        let digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|h| h.to_str().ok())
            .map(String::from);
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::invalid(format!("{what}: {e}")))?
            .to_bytes();
        if status == StatusCode::NOT_FOUND {
            return Err(Error::not_found(format!("{what}: not found")));
        }
        if !status.is_success() {
            return Err(Error::invalid(format!(
                "{what}: {status}: {}",
                String::from_utf8_lossy(&body).trim()
            )));
        }
        Ok((body, digest))
    }
}

pub(super) fn verify(digest: &str, data: &[u8]) -> Result<()> {
    let got = format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)));
    if got != digest {
        return Err(Error::invalid(format!(
            "digest mismatch: expected {digest}, got {got}"
        )));
    }
    Ok(())
}

pub(super) fn session(
    endpoint: transport::Endpoint,
    repo: &str,
    credentials: Option<Credentials>,
) -> Session {
    Session {
        mirror: endpoint.mirror,
        client: endpoint.client,
        base: endpoint.base,
        repo: repo.to_string(),
        credentials,
        authorization: None,
        offline: false,
        refresh_token: None,
    }
}

/// A login's [`session`]: it asks the token endpoint for a refresh token as well.
pub(super) fn login_session(endpoint: transport::Endpoint, credentials: Credentials) -> Session {
    Session {
        offline: true,
        ..session(endpoint, "", Some(credentials))
    }
}

pub(super) async fn error_text(resp: hyper::Response<hyper::body::Incoming>) -> String {
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    format!("{status}: {}", String::from_utf8_lossy(&body).trim())
}

/// The 12-digit short form of a digest, as progress lines show it (the whole digest when it is
/// shorter than that).
pub(super) fn short_digest(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    hex.get(..12).unwrap_or(hex).to_string()
}

/// The `WWW-Authenticate` challenge of a 401 (empty when there is none).
pub(super) fn challenge<B>(resp: &hyper::Response<B>) -> String {
    resp.headers()
        .get("www-authenticate")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
