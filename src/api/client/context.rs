//! Packing the build context on the client (for `wharf build` and compose's `build:`), as the
//! docker CLI does: the context directory
//! as a tar written while it is sent (never whole in memory), without what `.dockerignore`
//! (or `<Dockerfile>.dockerignore` next to the Dockerfile) leaves out — the Dockerfile and
//! the ignore file themselves always go — and a Dockerfile from outside the context or from
//! stdin added under a private name.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::ReqBody;
use crate::engine::build::mirror::LocalContext;
use crate::engine::build::pattern::Ignore;
use crate::engine::build::walk::included;

/// What goes into the tar besides the context directory.
pub struct Plan {
    pub dir: Option<PathBuf>,
    pub ignore: Ignore,
    /// The text `ignore` was parsed from.
    pub ignore_text: String,
    /// The Dockerfile's name in the tar (the `dockerfile` query value).
    pub dockerfile: String,
    /// A Dockerfile that is not a file of the context: (name in the tar, content).
    pub extra: Option<(String, Vec<u8>)>,
    /// Context-relative paths sent even when ignored.
    pub keep: Vec<String>,
}

/// An ignore file's rules and its text (the text goes to the daemon for a local context).
fn read_ignore(path: &Path) -> Result<Option<(Ignore, String)>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ignore::parse(&text)
            .map(|i| Some((i, text)))
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(_) => Ok(None),
    }
}

/// Decide what to send: `dir` (None: no context, Dockerfile only), `-f` (relative to the
/// current directory like docker's), a Dockerfile read from stdin.
pub fn plan(
    dir: Option<&Path>,
    file: Option<&str>,
    stdin_dockerfile: Option<Vec<u8>>,
) -> Result<Plan, String> {
    let private = format!(".dockerfile.{}", &crate::util::ids::random_id()[..20]);
    let Some(dir) = dir else {
        let content = stdin_dockerfile.ok_or("no Dockerfile given")?;
        return Ok(Plan {
            dir: None,
            ignore: Ignore::default(),
            ignore_text: String::new(),
            dockerfile: private.clone(),
            extra: Some((private, content)),
            keep: Vec::new(),
        });
    };
    if !dir.is_dir() {
        return Err(format!(
            "unable to prepare context: path {:?} not found",
            dir.display().to_string()
        ));
    }
    let canon_dir = std::fs::canonicalize(dir).map_err(|e| e.to_string())?;
    let (dockerfile, extra, ignore_next_to) = match (stdin_dockerfile, file) {
        (Some(content), _) => (private.clone(), Some((private, content)), None),
        (None, Some(f)) => {
            let path = PathBuf::from(f);
            let canon = std::fs::canonicalize(&path).map_err(|_| {
                format!("unable to prepare context: the Dockerfile ({f}) cannot be found")
            })?;
            let ignore_path = PathBuf::from(format!("{}.dockerignore", canon.display()));
            match canon.strip_prefix(&canon_dir) {
                Ok(rel) => (rel.display().to_string(), None, Some(ignore_path)),
                Err(_) => {
                    let content = std::fs::read(&canon).map_err(|e| format!("{f}: {e}"))?;
                    (private.clone(), Some((private, content)), Some(ignore_path))
                }
            }
        }
        (None, None) => {
            let df = canon_dir.join("Dockerfile");
            if !df.exists() {
                return Err(format!(
                    "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory",
                    df.display()
                ));
            }
            (
                "Dockerfile".to_string(),
                None,
                Some(canon_dir.join("Dockerfile.dockerignore")),
            )
        }
    };
    let (ignore, ignore_text) = match ignore_next_to
        .map(|p| read_ignore(&p))
        .transpose()?
        .flatten()
    {
        Some(i) => i,
        None => read_ignore(&canon_dir.join(".dockerignore"))?.unwrap_or_default(),
    };
    let keep = vec![dockerfile.clone(), ".dockerignore".to_string()];
    Ok(Plan {
        dir: Some(canon_dir),
        ignore,
        ignore_text,
        dockerfile,
        extra,
        keep,
    })
}

/// Counts what passes.
pub struct Counting<W> {
    pub inner: W,
    pub bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Write the context tar to `out`; returns how many bytes it took.
pub fn write<W: Write>(plan: &Plan, out: W) -> std::io::Result<u64> {
    let mut b = tar::Builder::new(Counting {
        inner: out,
        bytes: 0,
    });
    b.follow_symlinks(false);
    if let Some(dir) = &plan.dir {
        included(dir, &plan.ignore, &plan.keep, &mut |rel, path, _| {
            b.append_path_with_name(path, rel)
        })?;
    }
    if let Some((name, content)) = &plan.extra {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, content.as_slice())?;
    }
    let mut c = b.into_inner()?;
    c.flush()?;
    Ok(c.bytes)
}

/// For a daemon on this machine: the `X-Wharf-Context` header naming the context directory,
/// and the small tar that carries only the Dockerfile. None when there is no directory (a
/// Dockerfile on stdin alone) or it cannot be read: then the whole context goes as a tar.
pub fn local_request(plan: &Plan) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    let dir = plan.dir.as_ref()?;
    let local = LocalContext::of(dir, plan.ignore_text.clone()).ok()?;
    let header = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&local).ok()?);
    let content = match &plan.extra {
        Some((_, content)) => content.clone(),
        None => std::fs::read(dir.join(&plan.dockerfile)).ok()?,
    };
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    b.append_data(&mut h, &plan.dockerfile, content.as_slice())
        .ok()?;
    Some((header, b.into_inner().ok()?))
}

/// Pack the context while it is sent: the request body, the Dockerfile's name in the tar,
/// and the packing job (its result: the bytes sent).
pub fn spawn_pack(
    plan: Plan,
) -> (
    ReqBody,
    Option<String>,
    Option<tokio::task::JoinHandle<std::io::Result<u64>>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let name = plan.dockerfile.clone();
    let job = tokio::task::spawn_blocking(move || {
        let mut w = crate::api::io::ChannelWriter::new(tx);
        match write(&plan, &mut w) {
            Ok(n) => {
                std::io::Write::flush(&mut w)?;
                Ok(n)
            }
            Err(e) => {
                let msg = e.to_string();
                w.fail(std::io::Error::other(msg.clone()));
                Err(std::io::Error::other(msg))
            }
        }
    });
    (super::build::channel_body(rx), Some(name), Some(job))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn dockerignore_filters_but_keeps_the_dockerfile() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::write(p.join("Dockerfile"), "FROM x\n").unwrap();
        std::fs::write(
            p.join(".dockerignore"),
            "Dockerfile\n*.log\nsecret\n!secret/ok\n",
        )
        .unwrap();
        std::fs::write(p.join("a.log"), "x").unwrap();
        std::fs::write(p.join("b.txt"), "x").unwrap();
        std::fs::create_dir(p.join("secret")).unwrap();
        std::fs::write(p.join("secret/key"), "x").unwrap();
        std::fs::write(p.join("secret/ok"), "x").unwrap();
        let plan = plan(Some(p), None, None).unwrap();
        let mut out = Vec::new();
        write(&plan, &mut out).unwrap();
        let n = names(&out);
        assert!(n.contains(&"Dockerfile".to_string()));
        assert!(n.contains(&".dockerignore".to_string()));
        assert!(n.contains(&"b.txt".to_string()));
        assert!(n.contains(&"secret/ok".to_string()));
        assert!(!n.contains(&"a.log".to_string()));
        assert!(!n.contains(&"secret/key".to_string()));
    }

    #[test]
    fn dockerfile_specific_ignore_wins_and_outside_dockerfile_is_added() {
        let d = tempfile::tempdir().unwrap();
        let ctx = d.path().join("ctx");
        std::fs::create_dir(&ctx).unwrap();
        std::fs::write(ctx.join(".dockerignore"), "b.txt\n").unwrap();
        std::fs::write(ctx.join("a.txt"), "x").unwrap();
        std::fs::write(ctx.join("b.txt"), "x").unwrap();
        let df = d.path().join("Prod.Dockerfile");
        std::fs::write(&df, "FROM x\n").unwrap();
        std::fs::write(d.path().join("Prod.Dockerfile.dockerignore"), "a.txt\n").unwrap();
        let plan = plan(Some(&ctx), Some(df.to_str().unwrap()), None).unwrap();
        assert!(plan.dockerfile.starts_with(".dockerfile."));
        let mut out = Vec::new();
        write(&plan, &mut out).unwrap();
        let n = names(&out);
        assert!(n.contains(&"b.txt".to_string()));
        assert!(!n.contains(&"a.txt".to_string()));
        assert!(n.contains(&plan.dockerfile));
    }

    #[test]
    fn missing_dockerfile_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        assert!(plan(Some(d.path()), None, None).is_err());
        assert!(plan(Some(&d.path().join("nope")), None, None).is_err());
    }
}
