//! Sync: changed host files copied into running containers through the engine's archive API
//! (one tar per container and batch, extracted at `/`, owned by the container's user), and
//! paths gone from the host removed in the container with `rm -rf` run as an exec (the
//! archive API has no delete; docker compose does the same). Never a bind mount: the
//! container sees a copy, as it would after a rebuild.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::api::models::ExecConfig;
use crate::compose::engine::ComposeEngine;

use super::rules::{Change, Matcher};

/// A batch's meaning for the containers of one service.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SyncSet {
    /// Container path → host path to copy (a directory with what its rule keeps under it).
    pub copy: BTreeMap<String, PathBuf>,
    /// Container paths whose host side is gone.
    pub delete: Vec<String>,
}

impl SyncSet {
    pub fn is_empty(&self) -> bool {
        self.copy.is_empty() && self.delete.is_empty()
    }

    pub fn len(&self) -> usize {
        self.copy.len() + self.delete.len()
    }

    /// Sort the changes by whether the host path still exists; a directory is walked with
    /// `matcher` deciding what under it is kept.
    pub fn add(&mut self, matcher: &Matcher, change: &Change) {
        let Some(target) = &change.container else {
            return;
        };
        match std::fs::symlink_metadata(&change.host) {
            Ok(meta) if meta.is_dir() => self.add_dir(matcher, &change.host, target),
            Ok(_) => {
                self.copy.insert(target.clone(), change.host.clone());
            }
            Err(_) => self.delete.push(target.clone()),
        }
    }

    fn add_dir(&mut self, matcher: &Matcher, dir: &Path, target: &str) {
        self.copy.insert(target.to_string(), dir.to_path_buf());
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if let Some(c) = matcher.accept(&e.path()) {
                self.add(matcher, &c);
            }
        }
    }
}

/// Who owns synced files in the container: its configured user, numerically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

impl Owner {
    /// A container's `User` (`""`, `uid`, `uid:gid`, `name[:group]`); names are looked up in
    /// the container with `id`.
    pub async fn of(engine: &dyn ComposeEngine, id: &str, user: &str) -> Owner {
        let (u, g) = user.split_once(':').unwrap_or((user, ""));
        let numeric = |s: &str| s.parse::<u64>().ok();
        let lookup = |flag: &'static str, name: String| async move {
            let cfg = ExecConfig {
                cmd: Some(vec!["id".into(), flag.into(), name]),
                ..Default::default()
            };
            match engine.exec(id, &cfg).await {
                Ok((0, out)) => String::from_utf8_lossy(&out).trim().parse().ok(),
                _ => None,
            }
        };
        let uid = match numeric(u) {
            Some(n) => n,
            None if u.is_empty() => 0,
            None => lookup("-u", u.to_string()).await.unwrap_or(0),
        };
        let gid = match numeric(g) {
            Some(n) => n,
            None if g.is_empty() && numeric(u).is_some() => 0,
            None if g.is_empty() => lookup("-g", u.to_string()).await.unwrap_or(0),
            // a group name: the user's primary group is the best guess without /etc/group
            None => lookup("-g", u.to_string()).await.unwrap_or(0),
        };
        Owner { uid, gid }
    }
}

/// The tar of `copy` (names are the container paths, relative to `/`), owned by `owner`.
pub fn tar_of(copy: &BTreeMap<String, PathBuf>, owner: Owner) -> io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    for (target, host) in copy {
        let name = target.trim_start_matches('/');
        if name.is_empty() {
            continue;
        }
        let meta = match std::fs::symlink_metadata(host) {
            Ok(m) => m,
            // gone since the batch was sorted: the next batch deletes it
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&meta);
        h.set_uid(owner.uid);
        h.set_gid(owner.gid);
        if meta.file_type().is_symlink() {
            let to = std::fs::read_link(host)?;
            b.append_link(&mut h, name, to)?;
        } else if meta.is_dir() {
            h.set_size(0);
            b.append_data(&mut h, name, io::empty())?;
        } else if meta.is_file() {
            match std::fs::File::open(host) {
                Ok(f) => b.append_data(&mut h, name, f)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
    }
    b.into_inner()
}

/// Apply a sync set to one running container.
pub async fn apply(
    engine: &dyn ComposeEngine,
    id: &str,
    set: &SyncSet,
    owner: Owner,
) -> Result<(), String> {
    if !set.copy.is_empty() {
        let copy = set.copy.clone();
        let tar = tokio::task::spawn_blocking(move || tar_of(&copy, owner))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("reading the changed files: {e}"))?;
        engine
            .put_archive(id, "/", tar)
            .await
            .map_err(|e| format!("copying into the container: {e}"))?;
    }
    for chunk in set.delete.chunks(256) {
        let mut cmd = vec!["rm".to_string(), "-rf".into(), "--".into()];
        cmd.extend(chunk.iter().cloned());
        let cfg = ExecConfig {
            cmd: Some(cmd),
            user: Some("0".into()),
            ..Default::default()
        };
        match engine.exec(id, &cfg).await {
            Ok((0, _)) => {}
            Ok((code, out)) => {
                return Err(format!(
                    "removing deleted files: rm exited with {code}: {}",
                    String::from_utf8_lossy(&out).trim()
                ))
            }
            Err(e) => return Err(format!("removing deleted files: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{WatchAction, WatchRule};

    #[test]
    fn existing_paths_are_copied_with_their_tree_and_gone_ones_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/e/f.js"), "f").unwrap();
        std::fs::write(root.join("d/skip.tmp"), "x").unwrap();
        std::fs::write(root.join("a.js"), "a").unwrap();
        let rule = WatchRule {
            path: root.display().to_string(),
            action: WatchAction::Sync,
            target: Some("/app".into()),
            ignore: vec!["**/*.tmp".into()],
            include: vec![],
            exec: None,
            initial_sync: false,
        };
        let m = Matcher::new(&rule, None).unwrap();
        let mut set = SyncSet::default();
        for p in ["a.js", "d", "gone.js"] {
            set.add(&m, &m.accept(&root.join(p)).unwrap());
        }
        let copied: Vec<&str> = set.copy.keys().map(String::as_str).collect();
        assert_eq!(copied, ["/app/a.js", "/app/d", "/app/d/e", "/app/d/e/f.js"]);
        assert_eq!(set.delete, ["/app/gone.js"]);
        let tar = tar_of(&set.copy, Owner { uid: 7, gid: 8 }).unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let entries: Vec<(String, u64, u64)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                let p = e.path().unwrap().display().to_string();
                (p, h.uid().unwrap(), h.gid().unwrap())
            })
            .collect();
        assert_eq!(entries.len(), 4);
        assert!(entries.iter().all(|(_, u, g)| (*u, *g) == (7, 8)));
        assert_eq!(entries[0].0, "app/a.js");
    }
}
