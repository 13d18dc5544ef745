//! Registry credentials: what Docker clients send (`X-Registry-Auth`, `/auth` bodies) and the
//! `Authorization` header they become. A client may send an identity token (`identitytoken`,
//! what a credential helper or an earlier login kept) instead of a password: as with dockerd,
//! it is an OAuth2 refresh token that the session trades at the registry's token endpoint
//! (`grant_type=refresh_token`) for an access token, and it cannot answer a Basic challenge.

use base64::Engine as _;
use serde::Deserialize;

use super::super::error::{Error, Result};

/// A user name and password, or an identity token, for one registry.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// `base64(user:password)`, as in `~/.docker/config.json`; used when the fields are empty.
    #[serde(default)]
    pub auth: String,
    #[serde(default, rename = "serveraddress")]
    pub server_address: String,
    /// An OAuth2 refresh token for the registry's token endpoint (Docker's `identitytoken`).
    #[serde(default, rename = "identitytoken")]
    pub identity_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("server_address", &self.server_address)
            .field("identity_token", &!self.identity_token.is_empty())
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// From an `X-Registry-Auth` header: base64url (padded or not) JSON. An empty or `{}`
    /// value means anonymous.
    pub fn from_header(value: &str) -> Result<Option<Credentials>> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        let json = [
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &base64::engine::general_purpose::STANDARD,
        ]
        .iter()
        .find_map(|e| e.decode(value).ok())
        .ok_or_else(|| Error::invalid("X-Registry-Auth: not base64"))?;
        let c: Credentials = serde_json::from_slice(&json)
            .map_err(|e| Error::invalid(format!("X-Registry-Auth: {e}")))?;
        Ok(c.filled())
    }

    /// From a JSON body (`POST /auth`).
    pub fn from_json(body: &[u8]) -> Result<Credentials> {
        let c: Credentials =
            serde_json::from_slice(body).map_err(|e| Error::invalid(format!("auth: {e}")))?;
        c.filled().ok_or_else(|| {
            Error::invalid("auth: a user name and password (or an identity token) are required")
        })
    }

    /// User and password taken from `auth` when missing; `None` when there are neither they
    /// nor an identity token.
    fn filled(mut self) -> Option<Credentials> {
        if self.username.is_empty() && !self.auth.is_empty() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(self.auth.trim())
                .ok()?;
            let (u, p) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
            self.username = u.to_string();
            self.password = p.to_string();
        }
        (!self.username.is_empty() || !self.identity_token.is_empty()).then_some(self)
    }

    /// Whether a Basic challenge can be answered (dockerd wants both a user and a password).
    pub fn has_password(&self) -> bool {
        !self.username.is_empty() && !self.password.is_empty()
    }

    /// `Authorization: Basic ...`.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// The registry a login names: a host[:port], a URL (`https://host/v1/`), or nothing for
/// Docker Hub, whose aliases all become `docker.io`.
pub fn login_registry(server: &str) -> String {
    let host = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    match host {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        other => other.into(),
    }
}

/// The scheme and parameters of a `WWW-Authenticate` challenge.
pub fn parse_challenge(challenge: &str) -> (String, std::collections::HashMap<String, String>) {
    let (scheme, rest) = challenge
        .trim()
        .split_once(' ')
        .unwrap_or((challenge.trim(), ""));
    let params = rest
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect();
    (scheme.to_ascii_lowercase(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let json = r#"{"username":"u","password":"p:w","serveraddress":"r:5000"}"#;
        let h = base64::engine::general_purpose::URL_SAFE.encode(json);
        let c = Credentials::from_header(&h).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p:w"));
        assert_eq!(c.basic(), "Basic dTpwOnc=");
        let auth = base64::engine::general_purpose::STANDARD.encode("me:secret");
        let json = format!(r#"{{"auth":"{auth}"}}"#);
        let h = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        let c = Credentials::from_header(&h).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("me", "secret"));
        let empty = base64::engine::general_purpose::URL_SAFE.encode("{}");
        assert!(Credentials::from_header(&empty).unwrap().is_none());
        assert!(Credentials::from_header("").unwrap().is_none());
        assert!(Credentials::from_header("%%%").is_err());
        assert!(!format!("{c:?}").contains("secret"));
        // An identity token alone is credentials too (what a helper's `<token>` becomes).
        let json = r#"{"identitytoken":"refresh-me","serveraddress":"r:5000"}"#;
        let h = base64::engine::general_purpose::URL_SAFE.encode(json);
        let c = Credentials::from_header(&h).unwrap().unwrap();
        assert_eq!(c.identity_token, "refresh-me");
        assert!(c.username.is_empty() && !c.has_password());
        assert!(!format!("{c:?}").contains("refresh-me"));
        let c = Credentials::from_json(json.as_bytes()).unwrap();
        assert_eq!(c.server_address, "r:5000");
        assert!(Credentials::from_json(br#"{"serveraddress":"r:5000"}"#).is_err());
    }

    #[test]
    fn login_registries() {
        assert_eq!(login_registry(""), "docker.io");
        assert_eq!(login_registry("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(login_registry("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            login_registry("https://reg.example:5000/"),
            "reg.example:5000"
        );
    }

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/x:pull""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["scope"], "repository:library/x:pull");
        let (s, p) = parse_challenge(r#"Basic realm="basic-realm""#);
        assert_eq!((s.as_str(), p["realm"].as_str()), ("basic", "basic-realm"));
    }
}
