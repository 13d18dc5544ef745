//! Resolve `user[:group]` (names or ids) against a container's /etc/passwd and /etc/group,
//! as Docker does: a numeric id need not exist, a name must.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd(root: &Path) -> Vec<PasswdEntry> {
    let text = std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// (name, gid, members)
fn groups(root: &Path) -> Vec<(String, u32, Vec<String>)> {
    let text = std::fs::read_to_string(root.join("etc/group")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some((
                f[0].to_string(),
                f[2].parse().ok()?,
                f[3].split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            ))
        })
        .collect()
}

/// Resolve `spec` (empty means root) inside the filesystem at `root`.
pub fn resolve(root: &Path, spec: &str, extra_groups: &[String]) -> Result<ResolvedUser, String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let users = passwd(root);
    let user = if user.is_empty() { "0" } else { user };
    let (uid, mut gid, home, name) = match user.parse::<u32>() {
        Ok(uid) => match users.iter().find(|e| e.uid == uid) {
            Some(e) => (uid, e.gid, e.home.clone(), Some(e.name.clone())),
            None => (uid, 0, "/".to_string(), None),
        },
        Err(_) => match users.iter().find(|e| e.name == user) {
            Some(e) => (e.uid, e.gid, e.home.clone(), Some(e.name.clone())),
            None => {
                return Err(format!(
                    "unable to find user {user}: no matching entries in passwd file"
                ))
            }
        },
    };
    let all_groups = groups(root);
    let lookup_group = |g: &str| -> Result<u32, String> {
        match g.parse::<u32>() {
            Ok(n) => Ok(n),
            Err(_) => all_groups
                .iter()
                .find(|(n, _, _)| n == g)
                .map(|(_, id, _)| *id)
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                }),
        }
    };
    if let Some(g) = group {
        gid = lookup_group(g)?;
    }
    let mut additional: Vec<u32> = Vec::new();
    if let Some(name) = &name {
        for (_, id, members) in &all_groups {
            if members.iter().any(|m| m == name) && !additional.contains(id) {
                additional.push(*id);
            }
        }
    }
    for g in extra_groups {
        let id = lookup_group(g)?;
        if !additional.contains(&id) {
            additional.push(id);
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids: additional,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_ids() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\nwww:x:33:\nstaff:x:50:www\n",
        )
        .unwrap();
        let u = resolve(d.path(), "www", &[]).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.additional_gids.clone()),
            (33, 33, vec![50])
        );
        assert_eq!(u.home, "/var/www");
        let u = resolve(d.path(), "1000:staff", &[]).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        assert!(resolve(d.path(), "nobody", &[])
            .unwrap_err()
            .contains("no matching entries"));
        assert_eq!(resolve(d.path(), "", &[]).unwrap().uid, 0);
    }
}
