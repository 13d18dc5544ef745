//! Registry credentials on the client side, kept where the docker CLI keeps them, so that one
//! `login` serves both: Docker's config file (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`) says where, and the secrets are either inline (`auths`, base64
//! `user:password`) or in a credential helper.
//!
//! The choice is docker/cli's (`cli/config/credentials`), per registry key (the host, or
//! `https://index.docker.io/v1/` for Docker Hub): a `credHelpers` entry for the key names its
//! helper; else `credsStore` names one for every registry; else the inline `auths` entry. A
//! helper `NAME` is the program `docker-credential-NAME` on `PATH`, spoken to as the
//! docker-credential-helpers protocol says: `get` (server URL on stdin, JSON
//! `{"ServerURL","Username","Secret"}` on stdout; the user `<token>` means the secret is an
//! identity token, sent to the daemon as `identitytoken`), `store` (that JSON on stdin),
//! `erase` (server URL on stdin) and `list` (JSON map URL → user). A helper that answers
//! `credentials not found in native keychain` has none (anonymous access, as with docker);
//! any other failure is an error carrying the helper's own output, in docker's words, since
//! pulling anonymously instead would only end in a registry's less helpful refusal.
//!
//! `login` stores through the helper and, as docker does, leaves an empty `auths` entry for
//! the key in the file: `logout` goes by the file's entries to know where the user is logged
//! in. Writes keep every other key of the file, and the file is replaced atomically (mode
//! 0600), since it may hold secrets.

mod file;
mod helper;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Map, Value};

pub use file::ConfigFile;
pub use helper::Helper;
use helper::HelperCredentials;

/// Docker Hub's key in the file.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The user name with which a helper stores an identity token instead of a password.
pub const TOKEN_USERNAME: &str = "<token>";

/// What a helper answers for a server it has nothing for (docker-credential-helpers'
/// `errCredentialsNotFoundMessage`).
pub const NOT_FOUND_MESSAGE: &str = "credentials not found in native keychain";

/// Why credentials could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file exists but cannot be read or is not a JSON object.
    #[error("reading {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A credential helper failed; the text is docker's (`error getting credentials - err:
    /// exit status 1, out: ...`).
    #[error("{0}")]
    Helper(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Credentials for one registry (docker's `AuthConfig`): a user and password, or an identity
/// token (with or without the user).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    pub username: String,
    pub password: String,
    pub identity_token: String,
    pub server_address: String,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("server_address", &self.server_address)
            .field("identity_token", &!self.identity_token.is_empty())
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Nothing to authenticate with.
    pub fn is_empty(&self) -> bool {
        self.username.is_empty() && self.password.is_empty() && self.identity_token.is_empty()
    }

    /// The `X-Registry-Auth` value: base64url JSON with docker's field names, empty fields
    /// left out.
    pub fn header(&self) -> String {
        let mut v = Map::new();
        for (name, value) in [
            ("username", &self.username),
            ("password", &self.password),
            ("serveraddress", &self.server_address),
            ("identitytoken", &self.identity_token),
        ] {
            if !value.is_empty() {
                v.insert(name.into(), Value::String(value.clone()));
            }
        }
        base64::engine::general_purpose::URL_SAFE.encode(Value::Object(v).to_string())
    }

    /// From what a helper's `get` answered for `server`: the user `<token>` means the secret
    /// is an identity token.
    fn from_helper(server: &str, c: HelperCredentials) -> AuthConfig {
        let mut a = AuthConfig {
            server_address: server.to_string(),
            ..AuthConfig::default()
        };
        if c.username == TOKEN_USERNAME {
            a.identity_token = c.secret;
        } else {
            a.username = c.username;
            a.password = c.secret;
        }
        a
    }
}

pub fn config_path() -> PathBuf {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker")
        });
    dir.join("config.json")
}

/// The key a registry host has in `auths` (`docker.io` is Docker Hub's legacy URL).
pub fn key(registry: &str) -> String {
    match registry {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.into(),
        other => other.into(),
    }
}

/// A key in its host form (docker's `ConvertToHostname`): `https://host:5000/v1/` is
/// `host:5000`.
fn hostname(key: &str) -> &str {
    let rest = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// Where the credentials of a registry key are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// In the helper of this name (`docker-credential-NAME`).
    Helper(String),
    /// Inline, in the file's `auths`.
    File,
}

/// docker/cli's choice for `key`: its `credHelpers` entry, else `credsStore`, else the file.
/// Empty names count as none.
pub fn store_for(config: &Value, key: &str) -> Store {
    let named = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(String::from);
    config["credHelpers"]
        .get(key)
        .and_then(named)
        .or_else(|| named(&config["credsStore"]))
        .map_or(Store::File, Store::Helper)
}

/// The `X-Registry-Auth` header value for `registry`, when credentials are kept for it.
pub async fn header_for(registry: &str) -> Result<Option<String>> {
    let k = key(registry);
    let file = ConfigFile::load()?;
    Ok(file.get(&k).await?.map(|mut a| {
        a.server_address = k;
        a.header()
    }))
}

/// An `X-Registry-Auth` value for a user and password.
pub fn header(user: &str, password: &str, server: &str) -> String {
    AuthConfig {
        username: user.into(),
        password: password.into(),
        server_address: server.into(),
        ..AuthConfig::default()
    }
    .header()
}

/// After a successful login: keep `auth` for `registry` (an identity token the daemon got
/// replaces the password), keeping everything else in the file.
pub async fn save(registry: &str, auth: &AuthConfig) -> Result<()> {
    let mut file = ConfigFile::load()?;
    file.store(&key(registry), auth).await?;
    file.save()
}

/// What `logout` did.
#[derive(Debug)]
pub struct Logout {
    /// The name the user is told about (docker's: the host, or Docker Hub's URL).
    pub name: String,
    /// Whether the file had an entry for the registry.
    pub logged_in: bool,
    /// The entries whose credentials could not be erased, with why (docker warns when every
    /// one failed).
    pub failed: Vec<(String, Error)>,
    /// How many entries there were.
    pub tried: usize,
}

/// `logout`: erase the credentials of `registry` wherever the file says they are.
pub async fn remove(registry: &str) -> Result<Logout> {
    let k = key(registry);
    let mut file = ConfigFile::load()?;
    let names = file.logged_in_keys(&k);
    let mut out = Logout {
        name: if k == DOCKER_HUB_KEY {
            k.clone()
        } else {
            hostname(&k).to_string()
        },
        logged_in: !names.is_empty(),
        failed: Vec::new(),
        tried: names.len(),
    };
    for name in names {
        if let Err(e) = file.erase(&name).await {
            out.failed.push((name, e));
        }
    }
    if out.failed.len() < out.tried {
        file.save()?;
    }
    Ok(out)
}
