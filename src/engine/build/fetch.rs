//! ADD's remote sources, as Docker's classic builder treats them: the daemon downloads the
//! URL (HTTP, or HTTPS verified against the system's roots; redirects followed) into a file
//! of the build's own, hashing it as it streams so that a `--checksum=sha256:…` is checked
//! and the step's cache key is the content, not the URL. The file is named after the URL
//! path's last segment, gets mode 600 and the `Last-Modified` time, and is never unpacked.
//! Bounded: a stalled server is given up on, and a body larger than the limit is refused.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::engine::error::{Error, IoContext, Result};
use crate::util::body::empty;

/// How many redirects are followed.
const MAX_REDIRECTS: usize = 10;
/// How long the server may take to answer, and to send each piece of the body.
const STALL: Duration = Duration::from_secs(60);
/// The largest download taken (a layer of that size is already absurd).
const MAX_BYTES: u64 = 8 << 30;

/// A downloaded source.
#[derive(Debug)]
pub struct Fetched {
    pub path: PathBuf,
    /// The name it lands under in a directory destination.
    pub name: String,
    /// `sha256:<hex>` of the content.
    pub digest: String,
}

/// Whether an ADD source is a URL the builder downloads.
pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// The last path segment of `url` (without query or fragment).
pub fn file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .map(str::to_string)
}

fn check_sum(expected: &str) -> Result<String> {
    let hex = expected.strip_prefix("sha256:").ok_or_else(|| {
        Error::invalid(format!(
            "--checksum={expected}: expected sha256:<64 hex digits>"
        ))
    })?;
    if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid(format!(
            "--checksum={expected}: expected sha256:<64 hex digits>"
        )));
    }
    Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// Download `url` into `dir`; `checksum` (`sha256:…`) must match when given.
pub async fn fetch(url: &str, dir: &Path, checksum: Option<&str>) -> Result<Fetched> {
    let expected = checksum.map(check_sum).transpose()?;
    let client = crate::engine::registry::web_client()?;
    let mut current = url.to_string();
    let mut redirects = 0;
    let resp = loop {
        let req = hyper::Request::get(&current)
            .header("User-Agent", concat!("wharf/", env!("CARGO_PKG_VERSION")))
            .body(empty())
            .map_err(|e| Error::invalid(format!("ADD {url}: {e}")))?;
        let resp = tokio::time::timeout(STALL, client.request(req))
            .await
            .map_err(|_| Error::invalid(format!("ADD {url}: no answer in {STALL:?}")))?
            .map_err(|e| {
                Error::invalid(format!(
                    "ADD {url}: {}",
                    crate::engine::registry::describe(&e)
                ))
            })?;
        let status = resp.status();
        if status.is_redirection() {
            let next = resp
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::invalid(format!("ADD {url}: a redirect without Location")))?;
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(Error::invalid(format!("ADD {url}: too many redirects")));
            }
            current = join_location(&current, next);
            continue;
        }
        if !status.is_success() {
            return Err(Error::invalid(format!(
                "ADD {url}: failed to GET {current} with status {status}"
            )));
        }
        break resp;
    };
    let modified = resp
        .headers()
        .get(hyper::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs(t.timestamp().max(0) as u64));
    std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("url-{}", &crate::util::ids::random_id()[..12]));
    let mut file = tokio::fs::File::create(&path)
        .await
        .ctx(|| format!("creating {}", path.display()))?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut body = resp.into_body();
    loop {
        let frame = tokio::time::timeout(STALL, body.frame())
            .await
            .map_err(|_| Error::invalid(format!("ADD {url}: the download stalled")))?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| Error::invalid(format!("ADD {url}: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len() as u64;
        if size > MAX_BYTES {
            return Err(Error::invalid(format!(
                "ADD {url}: larger than {MAX_BYTES} bytes"
            )));
        }
        hash.update(&data);
        file.write_all(&data)
            .await
            .ctx(|| format!("writing {}", path.display()))?;
    }
    file.flush().await.ctx(|| "writing the download".into())?;
    drop(file);
    let digest = format!("sha256:{}", hex::encode(hash.finalize()));
    if let Some(want) = expected {
        if want != digest {
            return Err(Error::invalid(format!(
                "ADD {url}: checksum mismatch: expected {want}, got {digest}"
            )));
        }
    }
    let f = std::fs::File::options()
        .write(true)
        .open(&path)
        .ctx(|| "opening the download".into())?;
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .ctx(|| "setting the download's mode".into())?;
    f.set_modified(modified.unwrap_or_else(SystemTime::now))
        .ctx(|| "setting the download's time".into())?;
    Ok(Fetched {
        path,
        name: file_name(url).unwrap_or_default(),
        digest,
    })
}

/// A `Location` against the URL it came from (absolute, host-relative or path-relative).
fn join_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let host = rest.split('/').next().unwrap_or(rest);
    if location.starts_with('/') {
        return format!("{scheme}://{host}{location}");
    }
    let dir = base.rsplit_once('/').map(|(d, _)| d).unwrap_or(base);
    format!("{dir}/{location}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_locations() {
        assert_eq!(
            file_name("https://h/a/b/pkg.tar.gz?x=1").as_deref(),
            Some("pkg.tar.gz")
        );
        assert_eq!(file_name("http://h/").as_deref(), None);
        assert_eq!(file_name("http://h").as_deref(), None);
        assert_eq!(join_location("http://h:1/a/b", "/c"), "http://h:1/c");
        assert_eq!(join_location("http://h/a/b", "c"), "http://h/a/c");
        assert_eq!(join_location("http://h/a", "https://o/x"), "https://o/x");
    }

    #[test]
    fn checksums_are_sha256_hex() {
        assert!(check_sum("sha256:abc").is_err());
        assert!(check_sum("md5:0123").is_err());
        let ok = format!("sha256:{}", "A".repeat(64));
        assert_eq!(
            check_sum(&ok).unwrap(),
            format!("sha256:{}", "a".repeat(64))
        );
    }
}
