//! A credential helper, `docker-credential-NAME`, spoken to as the docker-credential-helpers
//! protocol says.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::*;

/// The JSON a helper reads (`store`) and writes (`get`).
#[derive(Serialize, Deserialize)]
pub(super) struct HelperCredentials {
    #[serde(rename = "ServerURL", default)]
    pub(super) server_url: String,
    #[serde(rename = "Username", default)]
    pub(super) username: String,
    #[serde(rename = "Secret", default)]
    pub(super) secret: String,
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
