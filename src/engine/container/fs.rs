//! A container's filesystem from the outside: `export`, `cp` (archive get/put), `commit`, `top`.

use std::io::Write;
use std::path::{Path, PathBuf};

use bollard_stubs::models::EventMessageTypeEnum;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::ContainerRecord;
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::image::cancel::{Cancel, CANCELLED};
use crate::engine::image::changes::apply_changes;
use crate::engine::image::config::{History, RunConfig};
use crate::engine::image::ingest::Ingest;
use crate::engine::image::layer::tar_upper_dir;
use crate::engine::image::reference::Reference;
use crate::engine::runtime::cgroups::Cgroup;
use crate::engine::Engine;

/// Mount points the engine creates in every container: not part of its changes.
pub(super) const ENGINE_FILES: &[&str] = &[
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    ".wharf-init",
];

/// A temporary overlay mount of a stopped container's root filesystem, unmounted on drop.
struct TempRoot {
    path: PathBuf,
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = umount2(&self.path, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Unmount and remove the image views a killed daemon left mounted (their builds are gone).
pub fn clear_image_views(run_root: &Path) {
    let Ok(rd) = std::fs::read_dir(run_root) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(IMAGE_VIEW_PREFIX)
        {
            drop(TempRoot { path: e.path() });
        }
    }
}

const IMAGE_VIEW_PREFIX: &str = "image-view-";

/// A read-only view of an image's merged filesystem (COPY --from, RUN --mount from=);
/// unmounted and removed on drop.
pub struct ImageView {
    pub path: PathBuf,
    _mount: Option<TempRoot>,
}

pub struct CommitOptions {
    pub reference: Option<String>,
    pub author: Option<String>,
    pub comment: Option<String>,
    pub changes: Vec<String>,
    pub pause: bool,
    /// Set when the client went away: archiving the changes stops, nothing is registered.
    pub cancel: Cancel,
}

/// Create the directory `rel` under `root` where it is missing, one component at a time and
/// only below a parent that resolves inside `root` (an image's symlink never leads out).
fn make_mount_point(root: &Path, rel: &str) -> Result<()> {
    let mut at = root.to_path_buf();
    for part in Path::new(rel).components() {
        let std::path::Component::Normal(name) = part else {
            return Ok(());
        };
        let next = at.join(name);
        if std::fs::symlink_metadata(&next).is_err() {
            std::fs::create_dir(&next)
                .ctx(|| format!("creating mount point {}", next.display()))?;
        }
        match std::fs::canonicalize(&next) {
            Ok(p) if p.starts_with(root) && p.is_dir() => at = p,
            _ => return Ok(()),
        }
    }
    Ok(())
}

impl Engine {
    /// A container's disk use as dockerd reports it: its writable layer (`SizeRw`), and that
    /// over its image's layers (`SizeRootFs`). Walks the writable layer: call it off the
    /// async threads.
    pub fn container_sizes(&self, rec: &ContainerRecord) -> (i64, i64) {
        let rw = crate::util::fsutil::dir_size(&self.containers.dir(&rec.id).join("upper")) as i64;
        let image = self.images.get(&rec.image_id).map_or(0, |i| i.size as i64);
        (rw, rw + image)
    }

    /// A path to the container's root filesystem: the live one of a running container, or a
    /// temporary overlay mount (read-only unless `writable`).
    fn rootfs_view(
        &self,
        rec: &ContainerRecord,
        writable: bool,
    ) -> Result<(PathBuf, Option<TempRoot>)> {
        if rec.state.is_running() && rec.state.pid > 0 {
            return Ok((PathBuf::from(format!("/proc/{}/root", rec.state.pid)), None));
        }
        let (path, guard, missing) = self.mount_view(rec, writable)?;
        if writable || !missing {
            return Ok((path, Some(guard)));
        }
        // A container never started lacks its mount points (start makes them in its upper
        // layer): a writable view makes them first, so a `cp` stat sees /vol1 as dockerd's.
        drop(guard);
        drop(self.mount_view(rec, true)?);
        let (path, guard, _) = self.mount_view(rec, false)?;
        Ok((path, Some(guard)))
    }

    /// Mount the container's filesystem and its volumes at a fresh directory; also says
    /// whether a directory mount point was missing (and so left unmounted).
    fn mount_view(
        &self,
        rec: &ContainerRecord,
        writable: bool,
    ) -> Result<(PathBuf, TempRoot, bool)> {
        let image = self.images.get(&rec.image_id)?;
        let dir = self.containers.dir(&rec.id);
        let run_dir = self.paths.container_run_dir(&rec.id);
        let target = run_dir.join(format!("view-{}", &crate::util::ids::random_id()[..8]));
        std::fs::create_dir_all(&target).ctx(|| format!("creating {}", target.display()))?;
        let mut lowers: Vec<String> = Vec::new();
        if !writable {
            lowers.push(dir.join("upper").display().to_string());
        }
        lowers.push(dir.join("init").display().to_string());
        for l in self.images.layer_dirs(&image).iter().rev() {
            lowers.push(l.display().to_string());
        }
        let opts = if writable {
            format!(
                "lowerdir={},upperdir={},workdir={}",
                lowers.join(":"),
                dir.join("upper").display(),
                dir.join("work").display()
            )
        } else {
            format!("lowerdir={}", lowers.join(":"))
        };
        let flags = if writable {
            MsFlags::empty()
        } else {
            MsFlags::MS_RDONLY
        };
        mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            flags,
            Some(opts.as_str()),
        )
        .map_err(|e| Error::internal(format!("mounting the container's filesystem: {e}")))?;
        let guard = TempRoot {
            path: target.clone(),
        };
        let missing = self.mount_volumes_in_view(rec, &target, writable)?;
        Ok((target, guard, missing))
    }

    /// The volumes and bind mounts of a stopped container inside its temporary root, so `cp`
    /// sees them as it would while the container runs (the view's unmount takes them along).
    /// A writable view gets the mount points a never-started container still lacks, as
    /// dockerd makes them at create (`put_archive` into a volume before the first start).
    fn mount_volumes_in_view(
        &self,
        rec: &ContainerRecord,
        root: &Path,
        writable: bool,
    ) -> Result<bool> {
        let root = &std::fs::canonicalize(root).ctx(|| format!("resolving {}", root.display()))?;
        let mut missing = false;
        for (m, source) in super::create::mount_sources(self, &rec.mounts) {
            if m.kind == super::mounts::MountKind::Tmpfs {
                continue;
            }
            let rel = m.destination.trim_start_matches('/');
            if writable && source.is_dir() {
                make_mount_point(root, rel)?;
            }
            // Only onto mount points the container's filesystem has, and never through a
            // symlink that leads out of the view.
            let Ok(dest) = std::fs::canonicalize(root.join(rel)) else {
                missing |= source.is_dir();
                continue;
            };
            if !dest.starts_with(root) || !source.exists() {
                continue;
            }
            mount(
                Some(&source),
                &dest,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| {
                Error::internal(format!("mounting {} for the copy: {e}", m.destination))
            })?;
        }
        Ok(missing)
    }

    /// Mount an image's layers read-only at a fresh directory under the run root.
    pub fn image_view(&self, image_id: &str) -> Result<ImageView> {
        let image = self.images.get(image_id)?;
        let target = self.paths.run_root.join(format!(
            "{IMAGE_VIEW_PREFIX}{}",
            &crate::util::ids::random_id()[..12]
        ));
        std::fs::create_dir_all(&target).ctx(|| format!("creating {}", target.display()))?;
        let guard = TempRoot {
            path: target.clone(),
        };
        let dirs = self.images.layer_dirs(&image);
        let result = match dirs.as_slice() {
            [] => Ok(()),
            [one] => mount(
                Some(one.as_path()),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            ),
            many => {
                let lowers: Vec<String> =
                    many.iter().rev().map(|d| d.display().to_string()).collect();
                let opts = format!("lowerdir={}", lowers.join(":"));
                mount(
                    Some("overlay"),
                    &target,
                    Some("overlay"),
                    MsFlags::MS_RDONLY,
                    Some(opts.as_str()),
                )
            }
        };
        result.map_err(|e| Error::internal(format!("mounting image {image_id}: {e}")))?;
        Ok(ImageView {
            path: target,
            _mount: Some(guard),
        })
    }

    /// `export`: the container's filesystem as a tar (without volumes), written to `out`.
    pub fn export_container<W: Write>(&self, key: &str, out: W) -> Result<W> {
        let rec = self.containers.resolve(key)?;
        let (root, _guard) = self.rootfs_view(
            // Like docker export: the container's own filesystem, without its volumes.
            &ContainerRecord {
                state: Default::default(),
                mounts: Vec::new(),
                ..rec
            },
            false,
        )?;
        crate::engine::image::layer::tar_tree(&root, out, &["proc", "sys", "dev"])
            .ctx(|| "writing the export archive".into())
    }

    /// Run the `__archive` helper chrooted into the container's root filesystem, so that the
    /// container's symlinks resolve inside it and never reach the host.
    fn archive_helper(
        &self,
        key: &str,
        op: &str,
        path: &str,
        writable: bool,
    ) -> Result<(ContainerRecord, std::process::Command, Option<TempRoot>)> {
        let rec = self.containers.resolve(key)?;
        let (root, guard) = self.rootfs_view(&rec, writable)?;
        let mut cmd = std::process::Command::new(&self.binary);
        cmd.arg("__archive").arg(op).arg(&root).arg(path);
        Ok((rec, cmd, guard))
    }

    /// `cp` from a container: a tar of `path` written to `out`.
    pub fn archive_get<W: Write>(&self, key: &str, path: &str, mut out: W) -> Result<W> {
        let (rec, mut cmd, _guard) = self.archive_helper(key, "get", path, false)?;
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .ctx(|| "starting the archive helper".into())?;
        let mut stdout = child.stdout.take().expect("piped");
        std::io::copy(&mut stdout, &mut out).ctx(|| "sending the archive".into())?;
        let output = child.wait_with_output().ctx(|| "archive helper".into())?;
        if !output.status.success() {
            return Err(helper_error(&rec, path, &output.stderr));
        }
        Ok(out)
    }

    /// The stat Docker sends in `X-Docker-Container-Path-Stat`.
    pub fn archive_stat(&self, key: &str, path: &str) -> Result<serde_json::Value> {
        let (rec, mut cmd, _guard) = self.archive_helper(key, "stat", path, false)?;
        let output = cmd.output().ctx(|| "starting the archive helper".into())?;
        if !output.status.success() {
            return Err(helper_error(&rec, path, &output.stderr));
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|e| Error::internal(format!("archive helper: {e}")))
    }

    /// `cp` into a container: extract a tar under `path` (a directory).
    pub fn archive_put<R: std::io::Read>(&self, key: &str, path: &str, mut input: R) -> Result<()> {
        let rec = self.containers.resolve(key)?;
        if rec.host_config.readonly_rootfs.unwrap_or(false) {
            return Err(Error::conflict("container rootfs is marked read-only"));
        }
        let (rec, mut cmd, _guard) = self.archive_helper(key, "put", path, true)?;
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .ctx(|| "starting the archive helper".into())?;
        let mut stdin = child.stdin.take().expect("piped");
        let copied = std::io::copy(&mut input, &mut stdin);
        drop(stdin);
        let output = child.wait_with_output().ctx(|| "archive helper".into())?;
        if !output.status.success() {
            return Err(helper_error(&rec, path, &output.stderr));
        }
        match copied {
            // The helper stops at the archive's end blocks: padding a client sends after
            // them (the docker CLI does) finds the pipe closed, and that is no failure.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map(|_| ()).ctx(|| "receiving the archive".into()),
        }
    }

    /// `commit`: the container's changes as one new layer on its image.
    pub fn commit_container(&self, key: &str, opts: CommitOptions) -> Result<String> {
        let rec = self.containers.resolve(key)?;
        let reference = match &opts.reference {
            Some(r) if !r.is_empty() => Some(Reference::parse(r).map_err(Error::invalid)?),
            _ => None,
        };
        let cgroup = Cgroup::detect(&format!("wharf/{}", rec.id));
        let freeze =
            opts.pause && rec.state.status == crate::engine::supervisor::RunStatus::Running;
        if freeze {
            if let Some(cg) = &cgroup {
                match cg.freeze(true) {
                    // It ended meanwhile (its cgroup went with it): nothing left to pause.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    other => other.ctx(|| "pausing the container".into())?,
                }
            }
        }
        // Until the image is registered, its layer is safe from collection.
        let ingest = self.images.ingest();
        let layer = self.layer_from_upper_until(&rec, &[], &opts.cancel, &ingest);
        if freeze {
            if let Some(cg) = &cgroup {
                let _ = cg.freeze(false);
            }
        }
        let layer = layer?;
        let mut config = self.images.config(&rec.image_id)?;
        let c = &rec.config;
        let mut run = RunConfig {
            user: c.user.clone(),
            env: c.env.clone(),
            entrypoint: c.entrypoint.clone().filter(|e| !e.is_empty()),
            cmd: c.cmd.clone(),
            working_dir: c.working_dir.clone(),
            labels: c.labels.clone(),
            stop_signal: c.stop_signal.clone(),
            exposed_ports: c.exposed_ports.as_ref().map(|m| {
                m.keys()
                    .map(|k| (k.clone(), serde_json::json!({})))
                    .collect()
            }),
            volumes: c.volumes.as_ref().map(|m| {
                m.keys()
                    .map(|k| (k.clone(), serde_json::json!({})))
                    .collect()
            }),
            healthcheck: config.config.healthcheck.clone(),
            ..Default::default()
        };
        apply_changes(&mut run, &opts.changes).map_err(Error::invalid)?;
        config.config = run;
        config.created = Some(crate::engine::now_rfc3339());
        config.author = opts.author.clone().filter(|a| !a.is_empty());
        config.rootfs.diff_ids.push(layer.diff_id.clone());
        config.history.push(History {
            created: config.created.clone(),
            created_by: Some(
                format!("{} {}", rec.path, rec.args.join(" "))
                    .trim()
                    .to_string(),
            ),
            author: config.author.clone(),
            comment: opts.comment.clone().filter(|c| !c.is_empty()),
            empty_layer: false,
        });
        let bytes = serde_json::to_vec(&config)?;
        let mut layers = Vec::new();
        for d in &config.rootfs.diff_ids {
            layers.push(if *d == layer.diff_id {
                layer.clone()
            } else {
                self.images.layer(d)?
            });
        }
        let tags: Vec<Reference> = reference.into_iter().collect();
        if opts.cancel.is_cancelled() {
            // The new layer, referenced by nothing, goes with the next garbage collection.
            return Err(Error::conflict(CANCELLED));
        }
        let image = self
            .images
            .register(&bytes, &layers, &tags, Some(rec.image_id.clone()))?;
        let mut attrs = std::collections::HashMap::new();
        attrs.insert("name".into(), rec.name.clone());
        self.events
            .publish(EventMessageTypeEnum::CONTAINER, "commit", &rec.id, attrs);
        Ok(image.id)
    }

    /// A container's changes (its overlay upper directory) as a new layer in the store.
    /// Engine-made mount points are not changes; `also_skip` names more of them (relative
    /// paths: a build step's mount targets).
    pub fn layer_from_upper(
        &self,
        rec: &ContainerRecord,
        also_skip: &[String],
        ingest: &Ingest,
    ) -> Result<crate::engine::image::layer::LayerRecord> {
        self.layer_from_upper_until(rec, also_skip, &Cancel::new(), ingest)
    }

    /// [`Self::layer_from_upper`], stopped once `cancel` is set.
    pub fn layer_from_upper_until(
        &self,
        rec: &ContainerRecord,
        also_skip: &[String],
        cancel: &Cancel,
        ingest: &Ingest,
    ) -> Result<crate::engine::image::layer::LayerRecord> {
        let tmp = self.paths.tmp().join(format!(
            "commit-{}.tar",
            &crate::util::ids::random_id()[..12]
        ));
        let mut skip: Vec<&str> = ENGINE_FILES.to_vec();
        skip.extend(also_skip.iter().map(String::as_str));
        let written = (|| -> Result<()> {
            let f = std::fs::File::create(&tmp).ctx(|| "creating the layer file".into())?;
            let w = tar_upper_dir(
                &self.containers.dir(&rec.id).join("upper"),
                std::io::BufWriter::new(cancel.wrap(f)),
                &skip,
            )
            .ctx(|| "archiving the container's changes".into())?;
            w.into_inner()
                .map_err(|e| Error::internal(e.to_string()))?
                .into_inner()
                .sync_all()
                .ctx(|| "syncing".into())?;
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let f = std::fs::File::open(&tmp).ctx(|| "reading the layer file".into());
        let r = f.and_then(|f| ingest.add_layer_until(f, cancel));
        let _ = std::fs::remove_file(&tmp);
        r
    }

    /// `top`: the host's `ps` with `ps_args` (dockerd's default `-ef`), its rows narrowed to
    /// the container's processes, as dockerd does; without a `ps` on the host, the `-ef`
    /// columns read from `/proc`.
    pub fn top_container(
        &self,
        key: &str,
        ps_args: Option<&str>,
    ) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let rec = self.containers.resolve(key)?;
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let args: Vec<&str> = ps_args.unwrap_or("-ef").split_whitespace().collect();
        match std::process::Command::new("ps").args(&args).output() {
            Ok(out) if out.status.success() => {
                let pids = self.container_pids(&rec);
                parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
            }
            Ok(out) => Err(Error::internal(format!(
                "Error running ps: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
            Err(_) if ps_args.is_none() => self.top_from_proc(&rec),
            Err(e) => Err(Error::internal(format!("Error running ps: {e}"))),
        }
    }

    /// The pids of the container's processes (its cgroup's, else its init).
    fn container_pids(&self, rec: &ContainerRecord) -> Vec<i32> {
        let cg = Cgroup::detect(&format!("wharf/{}", rec.id));
        let mut pids = cg.map(|c| c.pids()).unwrap_or_default();
        if pids.is_empty() {
            pids.push(rec.state.pid);
        }
        pids
    }

    /// `ps -ef`'s columns read from `/proc` (a host without `ps`).
    fn top_from_proc(&self, rec: &ContainerRecord) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let mut pids = self.container_pids(rec);
        pids.sort();
        let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut rows = Vec::new();
        for pid in pids {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
            let fields: Vec<&str> = after.split_whitespace().collect();
            let ppid = fields.get(1).copied().unwrap_or("0").to_string();
            let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
                + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
            let secs = ticks / 100;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| {
                    b.split(|c| *c == 0)
                        .filter(|s| !s.is_empty())
                        .map(|s| String::from_utf8_lossy(s).to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            use std::os::unix::fs::MetadataExt;
            let uid = std::fs::metadata(format!("/proc/{pid}"))
                .map(|m| m.uid())
                .unwrap_or(0);
            rows.push(vec![
                if uid == 0 {
                    "root".into()
                } else {
                    uid.to_string()
                },
                pid.to_string(),
                ppid,
                "0".into(),
                "-".into(),
                "?".into(),
                format!(
                    "{:02}:{:02}:{:02}",
                    secs / 3600,
                    (secs / 60) % 60,
                    secs % 60
                ),
                cmdline,
            ]);
        }
        Ok((titles, rows))
    }
}

/// `ps` output narrowed to `pids`, as dockerd parses it: the header's words are the titles,
/// the last column takes the rest of each line (a command with spaces).
fn parse_ps(out: &str, pids: &[i32]) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut lines = out.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::invalid("Couldn't find PID field in ps output"))?;
    let mut rows = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i32>() else {
            return Err(Error::internal(format!(
                "Unexpected pid '{}': not a number",
                fields[pid_col]
            )));
        };
        if !pids.contains(&pid) {
            continue;
        }
        let last = titles.len() - 1;
        let mut row: Vec<String> = fields[..last].iter().map(|f| f.to_string()).collect();
        row.push(fields[last..].join(" "));
        rows.push(row);
    }
    Ok((titles, rows))
}

fn helper_error(rec: &ContainerRecord, path: &str, stderr: &[u8]) -> Error {
    let msg = String::from_utf8_lossy(stderr).trim().to_string();
    if msg.contains("No such file") || msg.contains("not found") {
        Error::not_found(format!(
            "Could not find the file {path} in container {}",
            rec.name
        ))
    } else {
        Error::invalid(msg)
    }
}

/// The `__archive OP ROOT PATH` helper: chroot into ROOT, then `get` (tar of PATH to stdout),
/// `put` (extract stdin into the directory PATH) or `stat` (Docker's path stat as JSON).
pub fn archive_helper_main(op: &str, root: &Path, path: &str) -> i32 {
    let result = (|| -> std::result::Result<(), String> {
        nix::unistd::chroot(root).map_err(|e| format!("chroot {}: {e}", root.display()))?;
        nix::unistd::chdir("/").map_err(|e| e.to_string())?;
        let target = resolve_in(Path::new("/"), path).map_err(|e| e.to_string())?;
        let md = std::fs::symlink_metadata(&target)
            .map_err(|e| format!("{path}: No such file or directory ({e})"))?;
        match op {
            "get" => {
                let name = Path::new(path)
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| ".".into());
                let mut b = tar::Builder::new(std::io::BufWriter::new(std::io::stdout().lock()));
                b.follow_symlinks(false);
                if md.is_dir() {
                    b.append_dir_all(&name, &target)
                        .map_err(|e| e.to_string())?;
                } else {
                    b.append_path_with_name(&target, &name)
                        .map_err(|e| e.to_string())?;
                }
                b.into_inner()
                    .map_err(|e| e.to_string())?
                    .flush()
                    .map_err(|e| e.to_string())?;
            }
            "put" => {
                if !md.is_dir() {
                    return Err(format!("{path}: not a directory"));
                }
                let mut archive = tar::Archive::new(std::io::stdin().lock());
                archive.set_preserve_permissions(true);
                archive.set_preserve_ownerships(true);
                archive.set_overwrite(true);
                archive
                    .unpack(&target)
                    .map_err(|e| format!("extracting into {path}: {e}"))?;
            }
            "stat" => {
                use std::os::unix::fs::MetadataExt;
                let mut mode = md.mode() & 0o777;
                if md.is_dir() {
                    mode |= 1 << 31;
                }
                if md.file_type().is_symlink() {
                    mode |= 1 << 27;
                }
                let link = std::fs::read_link(&target)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let v = serde_json::json!({
                    "name": Path::new(path).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "/".into()),
                    "size": md.len(),
                    "mode": mode,
                    "mtime": chrono::DateTime::from_timestamp(md.mtime(), 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
                    "linkTarget": link,
                });
                println!("{v}");
            }
            other => return Err(format!("unknown archive operation {other}")),
        }
        Ok(())
    })();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// Join a container path onto a root without escaping it.
fn resolve_in(root: &Path, path: &str) -> Result<PathBuf> {
    let mut out = root.to_path_buf();
    for c in Path::new(path).components() {
        match c {
            std::path::Component::Normal(p) => out.push(p),
            std::path::Component::ParentDir if out != root => {
                out.pop();
            }
            _ => {}
        }
    }
    Ok(out)
}
