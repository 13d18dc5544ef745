//! Docker's config file: read, its credentials looked up and changed, written back whole.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use serde_json::{json, Map, Value};

use super::*;

/// Docker's config file, as read (a missing file is an empty one).
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    value: Value,
    /// Where helpers are looked for instead of `PATH` (the unit tests' own helpers).
    pub(super) helper_dir: Option<PathBuf>,
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
