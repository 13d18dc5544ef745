//! COPY and ADD with Docker's rules: sources inside the context (or a stage/image with
//! `--from`), Go globs, a trailing `/` or several sources meaning a directory destination,
//! a directory source copying its contents, relative destinations under WORKDIR, owner 0:0
//! unless `--chown`, `--chmod`, here-document sources, and ADD unpacking local tar archives
//! (plain or gzip). The files are written as one tar through the engine's chrooted archive
//! helper into a fresh container — so the image's own symlinks resolve inside it — and the
//! container's changes are committed as the step's layer.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::apply::join_workdir;
use super::context::clean_relative;
use super::dockerfile::words::{process_word, process_word_raw_quotes};
use super::dockerfile::{CopySpec, Source};
use super::pattern::{has_glob, segment_match};
use super::plan::Build;
use super::stage::{commit, ensure_image, from_cache, State};
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::image::layer::Donors;

/// The image a `--from` names: a stage (built before this one starts) or a local image.
pub fn from_image(b: &Build, st: &State, name: &str) -> Result<String> {
    let name = process_word(name, b.df.escape, &st.vars()).map_err(Error::invalid)?;
    if let Some(i) = b.df.stage_index(&name) {
        return b
            .results
            .lock()
            .unwrap()
            .get(&i)
            .cloned()
            .ok_or_else(|| Error::internal(format!("stage {name} is not built yet")));
    }
    b.engine.images.resolve(&name).map(|i| i.id).map_err(|_| {
        Error::not_found(format!(
            "--from={name}: no stage of that name and no such image (stages: {})",
            b.df.stages
                .iter()
                .map(|s| s.name.clone().unwrap_or_else(|| s.index.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// One resolved source.
enum Src {
    /// A path under the source root: its host path and its root-relative path.
    Path {
        host: PathBuf,
        rel: PathBuf,
    },
    Doc {
        name: String,
        body: String,
    },
    /// ADD of a URL, before it is downloaded.
    Url(String),
    /// ADD of a URL, downloaded: the file, its name in a directory destination, its digest.
    Fetched {
        host: PathBuf,
        name: String,
        digest: String,
    },
}

/// Expand a root-relative pattern segment by segment.
fn glob(root: &Path, rel: &Path) -> Result<Vec<PathBuf>> {
    let mut found = vec![PathBuf::new()];
    for seg in rel.iter() {
        let seg = seg.to_string_lossy();
        let mut next = Vec::new();
        for base in &found {
            if !has_glob(&seg) {
                let p = base.join(&*seg);
                if std::fs::symlink_metadata(root.join(&p)).is_ok() {
                    next.push(p);
                }
                continue;
            }
            let Ok(rd) = std::fs::read_dir(root.join(base)) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect();
            names.sort();
            for n in names {
                if segment_match(&seg, &n).map_err(Error::invalid)? {
                    next.push(base.join(n));
                }
            }
        }
        found = next;
    }
    Ok(found)
}

fn resolve_sources(
    b: &Build,
    st: &State,
    spec: &CopySpec,
    root: &Path,
    is_add: bool,
) -> Result<Vec<Src>> {
    let kw = if is_add { "ADD" } else { "COPY" };
    let vars = st.vars();
    let mut out = Vec::new();
    for s in &spec.sources {
        match s {
            Source::Heredoc(h) => {
                let body = if h.expand {
                    process_word_raw_quotes(&h.body, b.df.escape, &vars).map_err(Error::invalid)?
                } else {
                    h.body.clone()
                };
                out.push(Src::Doc {
                    name: h.name.clone(),
                    body,
                });
            }
            Source::Path(p) => {
                let p = process_word(p, b.df.escape, &vars).map_err(Error::invalid)?;
                if is_add && super::fetch::is_url(&p) {
                    out.push(Src::Url(p));
                    continue;
                }
                if p.contains("://") || p.starts_with("git@") {
                    return Err(Error::invalid(if is_add {
                        format!("ADD {p}: only http:// and https:// URLs can be added (git sources are not supported)")
                    } else {
                        format!("COPY {p}: COPY does not take URLs (ADD does)")
                    }));
                }
                let rel = clean_relative(&p).ok_or_else(|| {
                    Error::invalid(format!(
                        "{kw} failed: forbidden path outside the build context: {p}"
                    ))
                })?;
                let matches = if has_glob(&p) {
                    let m = glob(root, &rel)?;
                    if m.is_empty() {
                        return Err(Error::invalid(format!(
                            "{kw} failed: no source files were specified ({p} matches nothing)"
                        )));
                    }
                    m
                } else {
                    if std::fs::symlink_metadata(root.join(&rel)).is_err() {
                        return Err(Error::invalid(format!(
                            "{kw} failed: file not found in build context or excluded by .dockerignore: stat {p}: file does not exist"
                        )));
                    }
                    vec![rel]
                };
                for rel in matches {
                    out.push(Src::Path {
                        host: root.join(&rel),
                        rel,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// A build step's download directory, removed with it.
struct Downloads(PathBuf);

impl Drop for Downloads {
    fn drop(&mut self) {
        let _ = crate::util::fsutil::remove_dir_all_quiet(&self.0);
    }
}

/// Download the URL sources into `dir` (the classic builder fetches them on every build:
/// the cache key is their content). `--checksum` applies to URL sources only.
async fn download(sources: Vec<Src>, dir: &Path, checksum: Option<&str>) -> Result<Vec<Src>> {
    let urls = sources.iter().filter(|s| matches!(s, Src::Url(_))).count();
    if checksum.is_some_and(|c| !c.is_empty()) && urls == 0 {
        return Err(Error::invalid(
            "ADD --checksum can't be specified for non-HTTP(S) sources",
        ));
    }
    let mut out = Vec::with_capacity(sources.len());
    for s in sources {
        out.push(match s {
            Src::Url(url) => {
                let f = super::fetch::fetch(&url, dir, checksum).await?;
                Src::Fetched {
                    host: f.path,
                    name: f.name,
                    digest: f.digest,
                }
            }
            other => other,
        });
    }
    Ok(out)
}

/// Owner for the copied files: `--chown` (ids, or names from the image's passwd/group).
fn owner(b: &Build, image: &str, chown: Option<&str>) -> Result<(u32, u32)> {
    let Some(spec) = chown.filter(|c| !c.is_empty()) else {
        return Ok((0, 0));
    };
    let numeric = |s: &str| s.parse::<u32>().ok();
    let (u, g) = spec.split_once(':').unwrap_or((spec, spec));
    if let (Some(u), Some(g)) = (numeric(u), numeric(g)) {
        return Ok((u, g));
    }
    let view = b.engine.image_view(image)?;
    let r = crate::engine::runtime::user::resolve(&view.path, spec, &[])
        .map_err(|e| Error::invalid(format!("--chown={spec}: {e}")))?;
    Ok((r.uid, r.gid))
}

fn parse_chmod(chmod: Option<&str>) -> Result<Option<u32>> {
    match chmod.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => u32::from_str_radix(c, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(Some)
            .ok_or_else(|| Error::invalid(format!("--chmod={c}: expected an octal mode like 644"))),
    }
}

/// Writes the tar of what a COPY puts where.
struct Writer<W: Write> {
    tar: tar::Builder<W>,
    uid: u32,
    gid: u32,
    chmod: Option<u32>,
    /// The host file behind each regular entry: the layer may link them instead of copying.
    donors: Donors,
}

impl<W: Write> Writer<W> {
    fn header(&self, md: &std::fs::Metadata) -> tar::Header {
        use std::os::unix::fs::MetadataExt;
        let mut h = tar::Header::new_gnu();
        h.set_metadata(md);
        h.set_uid(self.uid as u64);
        h.set_gid(self.gid as u64);
        if let Some(m) = self.chmod {
            if !md.file_type().is_symlink() {
                h.set_mode(m);
            }
        } else {
            h.set_mode(md.mode() & 0o7777);
        }
        h
    }

    fn entry(&mut self, host: &Path, dest: &str) -> std::io::Result<()> {
        let md = std::fs::symlink_metadata(host)?;
        let mut h = self.header(&md);
        let dest = dest.trim_start_matches('/');
        if md.file_type().is_symlink() {
            let target = std::fs::read_link(host)?;
            h.set_size(0);
            self.tar.append_link(&mut h, dest, target)
        } else if md.is_dir() {
            h.set_size(0);
            self.tar.append_data(&mut h, dest, std::io::empty())
        } else if md.is_file() {
            let f = std::fs::File::open(host)?;
            self.donors.insert(PathBuf::from(dest), host.to_path_buf());
            self.tar.append_data(&mut h, dest, f)
        } else {
            Ok(()) // sockets, devices: Docker skips them too
        }
    }

    /// A directory on the way to the destination: as the image has it, or (None) new, made
    /// by this COPY with mode 755 and the copy's owner.
    fn directory(
        &mut self,
        path: &str,
        existing: Option<&std::fs::Metadata>,
    ) -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        match existing {
            Some(md) => h.set_metadata(md),
            None => {
                h.set_mode(0o755);
                h.set_uid(self.uid as u64);
                h.set_gid(self.gid as u64);
                h.set_mtime(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0),
                );
            }
        }
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        self.tar.append_data(
            &mut h,
            format!("{}/", path.trim_matches('/')),
            std::io::empty(),
        )
    }

    /// A directory's contents under `dest`.
    fn tree(&mut self, host: &Path, dest: &str) -> std::io::Result<()> {
        let mut entries: Vec<_> =
            std::fs::read_dir(host)?.collect::<std::result::Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let d = format!("{dest}/{}", e.file_name().to_string_lossy());
            self.entry(&e.path(), &d)?;
            if e.file_type()?.is_dir() {
                self.tree(&e.path(), &d)?;
            }
        }
        Ok(())
    }

    fn doc(&mut self, body: &str, dest: &str) -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(self.chmod.unwrap_or(0o644));
        h.set_uid(self.uid as u64);
        h.set_gid(self.gid as u64);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        self.tar
            .append_data(&mut h, dest.trim_start_matches('/'), body.as_bytes())
    }

    /// ADD of a local archive: its entries under the directory `dest`, owners kept unless
    /// `--chown`.
    fn unpack_archive(&mut self, host: &Path, dest: &str, keep_owner: bool) -> std::io::Result<()> {
        let f = std::io::BufReader::new(std::fs::File::open(host)?);
        let reader: Box<dyn Read> = if is_gzip(host) {
            Box::new(flate2::read::GzDecoder::new(f))
        } else {
            Box::new(f)
        };
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.to_string_lossy().to_string();
            let Some(rel) = clean_relative(&path) else {
                continue;
            };
            if rel.as_os_str().is_empty() {
                continue;
            }
            let mut h = entry.header().clone();
            if !keep_owner {
                h.set_uid(self.uid as u64);
                h.set_gid(self.gid as u64);
            }
            if let Some(m) = self.chmod {
                h.set_mode(m);
            }
            let d = format!("{}/{}", dest.trim_end_matches('/'), rel.display());
            let d = d.trim_start_matches('/').to_string();
            match h.entry_type() {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name()?
                        .map(|l| l.into_owned())
                        .unwrap_or_default();
                    let target = if h.entry_type() == tar::EntryType::Link {
                        // Hard links point at paths inside the archive: move them too.
                        PathBuf::from(dest.trim_start_matches('/')).join(target)
                    } else {
                        target
                    };
                    self.tar.append_link(&mut h, &d, target)?;
                }
                _ => self.tar.append_data(&mut h, &d, &mut entry)?,
            }
        }
        Ok(())
    }
}

/// Follow symlinks at `path` as if `root` were `/`, never leaving it.
fn follow_in_root(root: &Path, path: &Path) -> std::io::Result<PathBuf> {
    let mut cur = path.to_path_buf();
    for _ in 0..40 {
        let md = std::fs::symlink_metadata(&cur)?;
        if !md.file_type().is_symlink() {
            return Ok(cur);
        }
        let target = std::fs::read_link(&cur)?;
        let joined = if target.is_absolute() {
            target.clone()
        } else {
            let rel_parent = cur
                .parent()
                .and_then(|p| p.strip_prefix(root).ok())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            Path::new("/").join(rel_parent).join(&target)
        };
        let clean = clean_relative(&joined.to_string_lossy()).unwrap_or_default();
        cur = root.join(clean);
    }
    Err(std::io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

fn head(path: &Path) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buf))
        .unwrap_or(0);
    buf.truncate(n);
    buf
}

fn is_gzip(path: &Path) -> bool {
    head(path).starts_with(&[0x1f, 0x8b])
}

/// A local file ADD unpacks: a tar, plain or gzip-compressed.
fn is_archive(path: &Path) -> bool {
    if is_gzip(path) {
        let mut gz = flate2::read::GzDecoder::new(match std::fs::File::open(path) {
            Ok(f) => f,
            Err(_) => return false,
        });
        let mut buf = vec![0u8; 512];
        return gz.read_exact(&mut buf).is_ok() && &buf[257..262] == b"ustar";
    }
    let h = head(path);
    h.len() == 512 && &h[257..262] == b"ustar"
}

/// What a COPY writes where, once the sources are known.
struct Placement {
    kw: &'static str,
    is_add: bool,
    root: PathBuf,
    sources: Vec<Src>,
    /// Absolute; a trailing `/` means a directory.
    dest: String,
    uid: u32,
    gid: u32,
    mode: Option<u32>,
    keep_owner: bool,
}

/// Where a COPY lands in the image it extends: the destination with the symlinks on its way
/// resolved inside the image's root (as the chrooted copy Docker does would see them), and
/// the directories above it, so that the layer carries the existing ones with the metadata
/// they have in the image (a layer's directory entry replaces the lower one's owner and mode)
/// and new ones as COPY creates them.
#[derive(Debug)]
struct Landing {
    /// Absolute, without a trailing `/` (`/` for the root itself).
    path: String,
    /// What the image has at `path` (after following a final symlink), if anything.
    existing: Option<std::fs::Metadata>,
    /// The directories strictly above `path`, top down, with their metadata in the image
    /// (None: created by this COPY).
    parents: Vec<(String, Option<std::fs::Metadata>)>,
}

impl Landing {
    fn is_dir(&self) -> bool {
        self.existing.as_ref().is_some_and(|m| m.is_dir())
    }
}

fn resolve_dest(root: &Path, dest: &str, kw: &str) -> Result<Landing> {
    let wanted: Vec<&str> = dest.split('/').filter(|c| !c.is_empty()).collect();
    let mut cur = PathBuf::new();
    let mut parents = Vec::new();
    let mut existing = std::fs::symlink_metadata(root).ok();
    let mut missing = false;
    for (i, comp) in wanted.iter().enumerate() {
        if !cur.as_os_str().is_empty() {
            let md = if missing { None } else { existing.take() };
            parents.push((format!("/{}", cur.display()), md));
        }
        let mut next = cur.join(comp);
        existing = None;
        if !missing {
            match std::fs::symlink_metadata(root.join(&next)) {
                Ok(md) if md.file_type().is_symlink() => {
                    let host = follow_in_root(root, &root.join(&next))
                        .ctx(|| format!("{kw}: resolving {dest} in the image"))?;
                    next = host
                        .strip_prefix(root)
                        .map(Path::to_path_buf)
                        .unwrap_or_default();
                    existing = std::fs::symlink_metadata(&host).ok();
                }
                Ok(md) => existing = Some(md),
                Err(_) => {}
            }
            match &existing {
                None => missing = true,
                Some(md) if !md.is_dir() && i + 1 < wanted.len() => {
                    return Err(Error::invalid(format!(
                        "{kw} failed: {dest}: /{} is not a directory in the image",
                        next.display()
                    )))
                }
                Some(_) => {}
            }
        }
        cur = next;
    }
    let path = format!("/{}", cur.display());
    Ok(Landing {
        path: if path == "/" {
            path
        } else {
            path.trim_end_matches('/').to_string()
        },
        existing: if wanted.is_empty() { None } else { existing },
        parents,
    })
}

impl Placement {
    /// Write the layer of the copied files to `out`, landing as `landing` says.
    fn write_tar(&self, landing: &Landing, out: &Path) -> Result<Donors> {
        let kw = self.kw;
        let dest_is_dir = landing.is_dir() || landing.path == "/";
        let dir_dest = self.dest.ends_with('/') || dest_is_dir;
        if self.sources.len() > 1 && !dir_dest {
            return Err(Error::invalid(format!(
                "When using {kw} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        let dest = landing.path.clone();
        let f = std::fs::File::create(out).ctx(|| "creating the copy archive".into())?;
        let mut wr = Writer {
            tar: tar::Builder::new(std::io::BufWriter::new(f)),
            uid: self.uid,
            gid: self.gid,
            chmod: self.mode,
            donors: Donors::new(),
        };
        wr.tar.follow_symlinks(false);
        let into = |name: &str| {
            if dir_dest {
                format!("{}/{name}", dest.trim_end_matches('/'))
            } else {
                dest.clone()
            }
        };
        let written = (|| -> std::io::Result<Donors> {
            for (dir, md) in &landing.parents {
                wr.directory(dir, md.as_ref())?;
            }
            if dest != "/" {
                if landing.is_dir() {
                    wr.directory(&dest, landing.existing.as_ref())?;
                } else if dir_dest {
                    wr.directory(&dest, None)?;
                }
            }
            for s in &self.sources {
                match s {
                    Src::Doc { name, body } => wr.doc(body, &into(name))?,
                    Src::Url(url) => {
                        return Err(std::io::Error::other(format!("{url}: not downloaded")))
                    }
                    Src::Fetched { host, name, .. } => {
                        if dir_dest && name.is_empty() {
                            return Err(std::io::Error::other(
                                "cannot determine a file name from the URL: give a destination file",
                            ));
                        }
                        wr.entry(host, &into(name))?
                    }
                    Src::Path { host, .. } => {
                        // A top-level symlink is followed, as Docker does, inside the root.
                        let host = &follow_in_root(&self.root, host)?;
                        let md = std::fs::symlink_metadata(host)?;
                        if md.is_dir() {
                            if !dir_dest && dest != "/" {
                                wr.entry(host, &dest)?;
                            }
                            wr.tree(host, dest.trim_end_matches('/'))?;
                        } else if self.is_add && is_archive(host) {
                            wr.unpack_archive(host, &dest, self.keep_owner)?;
                        } else {
                            let name = host
                                .file_name()
                                .map(|n| n.to_string_lossy().to_string())
                                .unwrap_or_default();
                            wr.entry(host, &into(&name))?;
                        }
                    }
                }
            }
            wr.tar.into_inner()?.flush()?;
            Ok(wr.donors)
        })();
        written.ctx(|| format!("{kw}: writing the files"))
    }
}

/// Write the files as a layer over `image`: a tar made here, laid out by the image's own
/// directories and symlinks (read from a read-only view of it), stored as the step's layer.
/// No container is made, and the layer links the context's files where their owner and mode
/// are the layer's: a COPY of 1,000 files costs one tar and 1,000 links.
async fn apply(
    b: &Build,
    image: String,
    p: Placement,
) -> Result<crate::engine::image::layer::LayerRecord> {
    let (engine, ingest) = (b.engine.clone(), b.ingest.clone());
    let tmp = b
        .engine
        .paths
        .tmp()
        .join(format!("copy-{}.tar", &crate::util::ids::random_id()[..12]));
    let job_tmp = tmp.clone();
    let layer = tokio::task::spawn_blocking(move || -> Result<_> {
        let view = engine.image_view(&image)?;
        let landing = resolve_dest(&view.path, &p.dest, p.kw)?;
        let donors = p.write_tar(&landing, &job_tmp)?;
        drop(view);
        let f = std::fs::File::open(&job_tmp).ctx(|| "reading the copy archive".into())?;
        ingest.add_layer_with(f, &donors)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()));
    let _ = std::fs::remove_file(&tmp);
    layer?
}

pub async fn copy_step(b: &Build, st: &mut State, spec: &CopySpec, is_add: bool) -> Result<()> {
    let kw = if is_add { "ADD" } else { "COPY" };
    let vars = st.vars();
    let w = |s: &str| process_word(s, b.df.escape, &vars).map_err(Error::invalid);
    let dest_raw = w(&spec.dest)?;
    let chown = spec.chown.as_deref().map(w).transpose()?;
    let chmod = spec.chmod.as_deref().map(w).transpose()?;
    let mode = parse_chmod(chmod.as_deref())?;
    let from_id = match &spec.from {
        Some(f) => Some(from_image(b, st, f)?),
        None => None,
    };
    let view = match &from_id {
        Some(id) => Some(b.engine.image_view(id)?),
        None => None,
    };
    let root = view
        .as_ref()
        .map(|v| v.path.clone())
        .unwrap_or_else(|| b.context.dir.clone());
    let sources = resolve_sources(b, st, spec, &root, is_add)?;
    let downloads = Downloads(
        b.engine
            .paths
            .tmp()
            .join(format!("add-{}", &crate::util::ids::random_id()[..12])),
    );
    let sources = download(sources, &downloads.0, spec.checksum.as_deref()).await?;
    let names: Vec<String> = spec
        .sources
        .iter()
        .map(|s| match s {
            Source::Path(p) => w(p).unwrap_or_else(|_| p.clone()),
            Source::Heredoc(h) => format!("<<{}", h.name),
        })
        .collect();
    let mut text = kw.to_string();
    for (flag, v) in [("from", &spec.from), ("chown", &chown), ("chmod", &chmod)] {
        if let Some(v) = v {
            text.push_str(&format!(" --{flag}={v}"));
        }
    }
    text.push_str(&format!(" {} {dest_raw}", names.join(" ")));
    let mut key = st.key(&text);
    key.part(st.config.config.working_dir.as_deref().unwrap_or("/"));
    for s in &sources {
        match s {
            Src::Path { rel, .. } => match &from_id {
                Some(id) => key.part(&format!("{id}:{}", rel.display())),
                None => key.part(&b.context.content_hash(rel)),
            },
            Src::Doc { body, .. } => key.part(body),
            Src::Fetched { digest, name, .. } => key.part(&format!("{name}:{digest}")),
            Src::Url(url) => key.part(url),
        };
    }
    let key = key.finish();
    if from_cache(b, st, &key).await? {
        return Ok(());
    }
    let image = ensure_image(b, st)?;
    let (uid, gid) = owner(b, &image, chown.as_deref())?;
    let dest = if dest_raw.starts_with('/') {
        dest_raw.clone()
    } else {
        let joined = join_workdir(st.config.config.working_dir.as_deref(), &dest_raw);
        if dest_raw.ends_with('/') || dest_raw == "." {
            format!("{}/", joined.trim_end_matches('/'))
        } else {
            joined
        }
    };
    let placement = Placement {
        kw,
        is_add,
        root,
        sources,
        dest,
        uid,
        gid,
        mode,
        keep_owner: chown.is_none(),
    };
    let layer = apply(b, image, placement).await;
    drop(view);
    let config = st.config.clone();
    commit(b, st, config, Some(layer?), text, key).await
}
