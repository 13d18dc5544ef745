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

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

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

/// The JSON a helper reads (`store`) and writes (`get`).
#[derive(Serialize, Deserialize)]
struct HelperCredentials {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// A credential helper program.
#[derive(Debug, Clone)]
pub struct Helper {
    program: OsString,
}

impl Helper {
    /// `docker-credential-NAME`, found on `PATH`.
    pub fn named(name: &str) -> Helper {
        Helper {
            program: format!("docker-credential-{name}").into(),
        }
    }

    /// The program at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Helper {
        Helper {
            program: path.into().into_os_string(),
        }
    }

    /// Run `action` with `input` on stdin: its stdout, or (Go's error text, the helper's
    /// output: stdout, else stderr, trimmed) as docker's client reports them.
    async fn run(
        &self,
        action: &str,
        input: &[u8],
    ) -> std::result::Result<Vec<u8>, (String, String)> {
        use std::process::Stdio;
        use tokio::io::AsyncWriteExt as _;
        let program = self.program.to_string_lossy().into_owned();
        let mut child = tokio::process::Command::new(&self.program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    "executable file not found in $PATH".to_string()
                } else {
                    e.to_string()
                };
                (format!("exec: \"{program}\": {why}"), String::new())
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper may exit without reading its input: its answer says what went wrong.
            let _ = stdin.write_all(input).await;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| (format!("waiting for \"{program}\": {e}"), String::new()))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        let why = match (
            out.status.code(),
            std::os::unix::process::ExitStatusExt::signal(&out.status),
        ) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("signal: {sig}"),
            (None, None) => out.status.to_string(),
        };
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let text = if stdout.is_empty() {
            String::from_utf8_lossy(&out.stderr).trim().to_string()
        } else {
            stdout
        };
        Err((why, text))
    }

    /// The credentials kept for `server`; `None` when the helper has none.
    pub async fn get(&self, server: &str) -> Result<Option<AuthConfig>> {
        let out = match self.run("get", server.as_bytes()).await {
            Ok(out) => out,
            Err((_, text)) if text == NOT_FOUND_MESSAGE => return Ok(None),
            Err((why, text)) => {
                return Err(Error::Helper(format!(
                    "error getting credentials - err: {why}, out: `{text}`"
                )))
            }
        };
        let c: HelperCredentials = serde_json::from_slice(&out).map_err(|e| {
            Error::Helper(format!(
                "error getting credentials - err: {} answered `get` with invalid JSON: {e}",
                self.program.to_string_lossy()
            ))
        })?;
        Ok(Some(AuthConfig::from_helper(server, c)).filter(|a| !a.is_empty()))
    }

    /// Keep `auth` for its server (`<token>` as the user when it is an identity token).
    pub async fn store(&self, auth: &AuthConfig) -> Result<()> {
        let c = if auth.identity_token.is_empty() {
            HelperCredentials {
                server_url: auth.server_address.clone(),
                username: auth.username.clone(),
                secret: auth.password.clone(),
            }
        } else {
            HelperCredentials {
                server_url: auth.server_address.clone(),
                username: TOKEN_USERNAME.into(),
                secret: auth.identity_token.clone(),
            }
        };
        let mut input = serde_json::to_vec(&c)
            .map_err(|e| Error::Helper(format!("error storing credentials - err: {e}")))?;
        input.push(b'\n');
        self.run("store", &input).await.map_err(|(why, text)| {
            Error::Helper(format!(
                "error storing credentials - err: {why}, out: `{text}`"
            ))
        })?;
        Ok(())
    }

    /// Forget the credentials of `server`.
    pub async fn erase(&self, server: &str) -> Result<()> {
        self.run("erase", server.as_bytes())
            .await
            .map_err(|(why, text)| {
                Error::Helper(format!(
                    "error erasing credentials - err: {why}, out: `{text}`"
                ))
            })?;
        Ok(())
    }

    /// Every server the helper keeps credentials for, with its user.
    pub async fn list(&self) -> Result<BTreeMap<String, String>> {
        let out = self.run("list", b"unused").await.map_err(|(why, text)| {
            Error::Helper(format!(
                "error listing credentials - err: {why}, out: `{text}`"
            ))
        })?;
        serde_json::from_slice(&out).map_err(|e| {
            Error::Helper(format!(
                "error listing credentials - err: {} answered `list` with invalid JSON: {e}",
                self.program.to_string_lossy()
            ))
        })
    }
}

/// Docker's config file, as read (a missing file is an empty one).
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    value: Value,
    /// Where helpers are looked for instead of `PATH` (the unit tests' own helpers).
    helper_dir: Option<PathBuf>,
}

impl ConfigFile {
    /// The file the docker CLI uses ([`config_path`]).
    pub fn load() -> Result<ConfigFile> {
        Self::load_from(config_path())
    }

    pub fn load_from(path: impl Into<PathBuf>) -> Result<ConfigFile> {
        let path = path.into();
        let value = match std::fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => json!({}),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Read {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
            Err(e) => {
                return Err(Error::Read {
                    path,
                    message: e.to_string(),
                })
            }
        };
        if !value.is_object() {
            return Err(Error::Read {
                path,
                message: "not a JSON object".into(),
            });
        }
        Ok(ConfigFile {
            path,
            value,
            helper_dir: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The file's object, to change keys other than credentials (`currentContext`).
    pub fn object_mut(&mut self) -> &mut Map<String, Value> {
        self.value
            .as_object_mut()
            .expect("load_from keeps only JSON objects")
    }

    /// Where the credentials of `key` are kept.
    pub fn store_for(&self, key: &str) -> Store {
        store_for(&self.value, key)
    }

    fn helper(&self, name: &str) -> Helper {
        match &self.helper_dir {
            Some(dir) => Helper::at(dir.join(format!("docker-credential-{name}"))),
            None => Helper::named(name),
        }
    }

    /// The inline entry of `key` (or of a URL form of it, as docker accepts).
    fn file_entry(&self, key: &str) -> Option<(&String, &Value)> {
        let auths = self.value["auths"].as_object()?;
        auths
            .get_key_value(key)
            .or_else(|| auths.iter().find(|(name, _)| hostname(name) == key))
    }

    /// The inline credentials of `key`; `None` when there are none (or only an empty entry).
    fn file_get(&self, key: &str) -> Result<Option<AuthConfig>> {
        let Some((name, entry)) = self.file_entry(key) else {
            return Ok(None);
        };
        let mut a = AuthConfig {
            server_address: name.clone(),
            identity_token: entry["identitytoken"].as_str().unwrap_or_default().into(),
            ..AuthConfig::default()
        };
        if let Some(auth) = entry["auth"].as_str().filter(|s| !s.is_empty()) {
            let bad = |why: String| Error::Read {
                path: self.path.clone(),
                message: format!("auths.{name}.auth: {why}"),
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| bad(e.to_string()))?;
            let pair = String::from_utf8(decoded).map_err(|e| bad(e.to_string()))?;
            let (user, password) = pair
                .split_once(':')
                .ok_or_else(|| bad("not base64 of user:password".into()))?;
            a.username = user.into();
            a.password = password.into();
        }
        Ok(Some(a).filter(|a| !a.is_empty()))
    }

    /// The credentials of `key` (see [`key`]), from where [`store_for`] says.
    pub async fn get(&self, key: &str) -> Result<Option<AuthConfig>> {
        match self.store_for(key) {
            Store::File => self.file_get(key),
            Store::Helper(name) => self.helper(&name).get(key).await,
        }
    }

    /// Keep `auth` for `key`: in its helper (leaving an empty inline entry, as docker does),
    /// or inline. Written to disk by [`save`](Self::save).
    pub async fn store(&mut self, key: &str, auth: &AuthConfig) -> Result<()> {
        let entry = match self.store_for(key) {
            Store::Helper(name) => {
                let auth = AuthConfig {
                    server_address: key.into(),
                    ..auth.clone()
                };
                self.helper(&name).store(&auth).await?;
                json!({})
            }
            Store::File => {
                // With an identity token, docker keeps the user and no password.
                let password = if auth.identity_token.is_empty() {
                    auth.password.as_str()
                } else {
                    ""
                };
                let mut entry = Map::new();
                if !auth.username.is_empty() || !password.is_empty() {
                    let pair = format!("{}:{password}", auth.username);
                    entry.insert(
                        "auth".into(),
                        base64::engine::general_purpose::STANDARD
                            .encode(pair)
                            .into(),
                    );
                }
                if !auth.identity_token.is_empty() {
                    entry.insert("identitytoken".into(), auth.identity_token.clone().into());
                }
                Value::Object(entry)
            }
        };
        let auths = self
            .value
            .as_object_mut()
            .map(|m| m.entry("auths").or_insert_with(|| json!({})));
        if let Some(auths) = auths {
            if !auths.is_object() {
                *auths = json!({});
            }
            auths[key] = entry;
        }
        Ok(())
    }

    /// The `auths` keys docker's `logout` considers for a registry key: the key itself and,
    /// but for Docker Hub, its host form with and without a scheme; those present in the file.
    pub fn logged_in_keys(&self, key: &str) -> Vec<String> {
        let mut tries = vec![key.to_string()];
        if key != DOCKER_HUB_KEY {
            let host = hostname(key);
            for k in [
                host.to_string(),
                format!("http://{host}"),
                format!("https://{host}"),
            ] {
                if !tries.contains(&k) {
                    tries.push(k);
                }
            }
        }
        tries.retain(|k| self.value["auths"].get(k).is_some());
        tries
    }

    /// Forget the credentials of the `auths` key `name`: through its helper, then the inline
    /// entry (kept if the helper failed, as docker does). Written by [`save`](Self::save).
    pub async fn erase(&mut self, name: &str) -> Result<()> {
        if let Store::Helper(helper) = self.store_for(name) {
            self.helper(&helper).erase(name).await?;
        }
        if let Some(auths) = self.value["auths"].as_object_mut() {
            auths.remove(name);
        }
        Ok(())
    }

    /// Write the file (created with its directory if need be, mode 0600, replaced atomically).
    pub fn save(&self) -> Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let failed = |source| Error::Write {
            path: self.path.clone(),
            source,
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let tmp = dir.join(".config.json.wharf-tmp");
        let text = serde_json::to_string_pretty(&self.value)
            .map_err(|e| failed(std::io::Error::other(e)))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(failed)?;
        f.write_all(text.as_bytes()).map_err(failed)?;
        f.sync_all().map_err(failed)?;
        std::fs::rename(&tmp, &self.path).map_err(failed)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(header: &str) -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(header)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn precedence_helper_per_registry_then_store_then_file() {
        let v = json!({
            "credsStore": "everything",
            "credHelpers": {"reg.example:5000": "special", "empty.example": ""},
            "auths": {"reg.example:5000": {"auth": "dTpw"}},
        });
        assert_eq!(
            store_for(&v, "reg.example:5000"),
            Store::Helper("special".into())
        );
        assert_eq!(
            store_for(&v, "other.example"),
            Store::Helper("everything".into())
        );
        // an empty name is none: the store applies
        assert_eq!(
            store_for(&v, "empty.example"),
            Store::Helper("everything".into())
        );
        // keys match exactly, as in docker: a host is not its URL
        assert_eq!(
            store_for(&v, DOCKER_HUB_KEY),
            Store::Helper("everything".into())
        );
        let v = json!({"credHelpers": {"reg.example:5000": "special"}, "credsStore": ""});
        assert_eq!(
            store_for(&v, "reg.example:5000"),
            Store::Helper("special".into())
        );
        assert_eq!(store_for(&v, "other.example"), Store::File);
        assert_eq!(store_for(&json!({}), "x"), Store::File);
    }

    #[test]
    fn a_token_user_means_an_identity_token() {
        let c = |user: &str| HelperCredentials {
            server_url: "r:5000".into(),
            username: user.into(),
            secret: "s".into(),
        };
        let a = AuthConfig::from_helper("r:5000", c(TOKEN_USERNAME));
        assert_eq!((a.username.as_str(), a.password.as_str()), ("", ""));
        assert_eq!(a.identity_token, "s");
        assert_eq!(
            decode(&a.header()),
            json!({"serveraddress": "r:5000", "identitytoken": "s"})
        );
        let a = AuthConfig::from_helper("r:5000", c("me"));
        assert_eq!((a.username.as_str(), a.password.as_str()), ("me", "s"));
        assert_eq!(
            decode(&a.header()),
            json!({"username": "me", "password": "s", "serveraddress": "r:5000"})
        );
        assert!(!format!("{a:?}").contains("\"s\""));
    }

    /// A helper script in `dir` keeping one credential in `dir/store.json`.
    fn helper_script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(format!("docker-credential-{name}"));
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nstore={}\n{body}",
                dir.join("store.json").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    const KEEPER: &str = r#"read -r first || true
case "$1" in
  store) printf '%s\n' "$first" > "$store" ;;
  get) if [ -s "$store" ] && grep -qF "\"ServerURL\":\"$first\"" "$store"; then cat "$store"
       else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) : > "$store" ;;
  list) if [ -s "$store" ]; then echo '{"r:5000":"x"}'; else echo '{}'; fi ;;
esac
"#;

    #[tokio::test]
    async fn helpers_store_get_erase_and_fail_in_dockers_words() {
        let dir = tempfile::tempdir().unwrap();
        helper_script(dir.path(), "keeper", KEEPER);
        helper_script(
            dir.path(),
            "broken",
            "echo 'the vault is sealed'; echo 'on stderr' >&2; exit 3\n",
        );
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"credsStore": "keeper", "credHelpers": {"bad:1": "broken", "gone:1": "absent", "mute:1": "mute"},
                "proxies": {"default": {"httpProxy": "http://p:3128"}}}"#,
        )
        .unwrap();
        let load = || {
            let mut f = ConfigFile::load_from(dir.path().join("config.json")).unwrap();
            f.helper_dir = Some(dir.path().to_path_buf());
            f
        };
        let mut f = load();
        // nothing kept: anonymous, not an error
        assert!(f.get("r:5000").await.unwrap().is_none());
        let token = AuthConfig {
            username: "me".into(),
            identity_token: "refresh-me".into(),
            ..AuthConfig::default()
        };
        f.store("r:5000", &token).await.unwrap();
        f.save().unwrap();
        let kept = std::fs::read_to_string(dir.path().join("store.json")).unwrap();
        assert!(
            kept.contains(r#""Username":"<token>","Secret":"refresh-me""#),
            "{kept}"
        );
        let written = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        assert!(!written.contains("refresh-me"), "{written}");
        let f = load();
        assert_eq!(f.value()["auths"], json!({"r:5000": {}}));
        assert_eq!(
            f.value()["proxies"]["default"]["httpProxy"],
            "http://p:3128"
        );
        let a = f.get("r:5000").await.unwrap().unwrap();
        assert_eq!(a.identity_token, "refresh-me");
        assert!(a.username.is_empty() && a.password.is_empty());
        let keeper = Helper::at(dir.path().join("docker-credential-keeper"));
        assert_eq!(keeper.list().await.unwrap()["r:5000"], "x");
        // credHelpers wins over credsStore; a failure is the helper's own words
        let e = f.get("bad:1").await.unwrap_err().to_string();
        assert_eq!(
            e,
            "error getting credentials - err: exit status 3, out: `the vault is sealed`"
        );
        let mut g = load();
        let e = g.store("bad:1", &token).await.unwrap_err().to_string();
        assert_eq!(
            e,
            "error storing credentials - err: exit status 3, out: `the vault is sealed`"
        );
        let e = g.erase("bad:1").await.unwrap_err().to_string();
        assert_eq!(
            e,
            "error erasing credentials - err: exit status 3, out: `the vault is sealed`"
        );
        // with nothing on stdout, what it said on stderr
        helper_script(dir.path(), "mute", "echo 'only on stderr' >&2; exit 1\n");
        let e = f.get("mute:1").await.unwrap_err().to_string();
        assert_eq!(
            e,
            "error getting credentials - err: exit status 1, out: `only on stderr`"
        );
        let e = f.get("gone:1").await.unwrap_err().to_string();
        assert!(
            e.starts_with("error getting credentials - err: exec: \"")
                && e.contains("docker-credential-absent\": executable file not found"),
            "{e}"
        );
        // logout: erased in the helper, the entry gone, the rest kept
        let mut f = load();
        assert_eq!(f.logged_in_keys("r:5000"), vec!["r:5000".to_string()]);
        f.erase("r:5000").await.unwrap();
        f.save().unwrap();
        assert_eq!(std::fs::read(dir.path().join("store.json")).unwrap(), b"");
        let f = load();
        assert_eq!(f.value()["auths"], json!({}));
        assert!(f.get("r:5000").await.unwrap().is_none());
        assert!(f.value()["proxies"].is_object());
    }

    #[tokio::test]
    async fn inline_entries_with_a_password_or_an_identity_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.json");
        let mut f = ConfigFile::load_from(&path).unwrap();
        let pw = AuthConfig {
            username: "me".into(),
            password: "p:w".into(),
            ..AuthConfig::default()
        };
        f.store("r:5000", &pw).await.unwrap();
        let token = AuthConfig {
            username: "me".into(),
            password: "ignored".into(),
            identity_token: "tok".into(),
            ..AuthConfig::default()
        };
        f.store("t:5000", &token).await.unwrap();
        f.save().unwrap();
        let f = ConfigFile::load_from(&path).unwrap();
        assert_eq!(f.value()["auths"]["r:5000"]["auth"], "bWU6cDp3");
        assert_eq!(
            f.value()["auths"]["t:5000"],
            json!({"auth": "bWU6", "identitytoken": "tok"})
        );
        let a = f.get("r:5000").await.unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("me", "p:w"));
        let a = f.get("t:5000").await.unwrap().unwrap();
        assert_eq!(
            (a.username.as_str(), a.identity_token.as_str()),
            ("me", "tok")
        );
        assert!(a.password.is_empty());
        // legacy URL keys are found by host, and logout considers a scheme form
        std::fs::write(
            &path,
            r#"{"auths": {"https://old.example/v1/": {"auth": "dTpw"}, "http://new.example": {}}}"#,
        )
        .unwrap();
        let f = ConfigFile::load_from(&path).unwrap();
        let a = f.get("old.example").await.unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p"));
        assert_eq!(
            f.logged_in_keys("new.example"),
            vec!["http://new.example".to_string()]
        );
        // as with docker, a logout does not look for a `/v1/` URL form
        assert!(f.logged_in_keys("old.example").is_empty());
        // a broken file is an error naming it, not silence
        std::fs::write(&path, "{not json").unwrap();
        let e = ConfigFile::load_from(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!("reading {}", path.display())), "{e}");
    }
}
