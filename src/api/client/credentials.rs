//! Registry credentials on the client side, kept in Docker's config file
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): the file the docker CLI reads
//! and writes, so one `login` serves both. Credential helpers (`credsStore`) are not run: a
//! registry whose secret lives in one is pulled anonymously.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{json, Value};

/// Docker Hub's key in the file.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

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

fn read() -> Value {
    std::fs::read(config_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}))
}

/// The `X-Registry-Auth` header value for `registry`, when credentials are stored for it.
pub fn header_for(registry: &str) -> Option<String> {
    let k = key(registry);
    let auths = read();
    let entry = auths["auths"].get(&k).or_else(|| {
        // Docker also accepts URL forms of a host key.
        auths["auths"].as_object().and_then(|m| {
            m.iter()
                .find(|(name, _)| name.trim_start_matches("https://").trim_end_matches('/') == k)
                .map(|(_, v)| v)
        })
    })?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry["auth"].as_str()?)
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(header(user, password, &k))
}

/// An `X-Registry-Auth` value.
pub fn header(user: &str, password: &str, server: &str) -> String {
    let v = json!({"username": user, "password": password, "serveraddress": server});
    base64::engine::general_purpose::URL_SAFE.encode(v.to_string())
}

fn write(v: &Value) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = config_path();
    let dir = path.parent().expect("a file in a directory");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(".config.json.wharf-tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(serde_json::to_string_pretty(v)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)
}

/// Store credentials for `registry`, keeping everything else in the file.
pub fn save(registry: &str, user: &str, password: &str) -> std::io::Result<()> {
    let mut v = read();
    if !v.is_object() {
        v = json!({});
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    if !v["auths"].is_object() {
        v["auths"] = json!({});
    }
    v["auths"][key(registry)] = json!({ "auth": auth });
    write(&v)
}

/// Forget the credentials of `registry`; `false` if there were none.
pub fn remove(registry: &str) -> std::io::Result<bool> {
    let mut v = read();
    let removed = v["auths"]
        .as_object_mut()
        .and_then(|m| m.remove(&key(registry)))
        .is_some();
    if removed {
        write(&v)?;
    }
    Ok(removed)
}
