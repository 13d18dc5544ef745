//! The build cache: step key → the intermediate image that step produced, in the engine's
//! SQLite store (so it survives restarts and is shared by every build). A key is the hash of
//! the parent image, the instruction after substitution, the build args in scope and, for
//! COPY/ADD, the content of what is copied; see `Key`.

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use std::collections::{HashMap, HashSet};

use crate::engine::error::Result;
use crate::engine::image::ImageRecord;
use crate::engine::Engine;

/// Builds a step's cache key from its parts, each length-delimited so parts cannot run into
/// each other.
pub struct Key(Sha256);

impl Key {
    pub fn new(parent: &str, instruction: &str) -> Self {
        let mut k = Key(Sha256::new());
        k.part(parent);
        k.part(instruction);
        k
    }
    pub fn part(&mut self, s: &str) -> &mut Self {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
        self
    }
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What `builder prune` removed.
#[derive(Debug, Default)]
pub struct Pruned {
    pub entries: Vec<String>,
    pub reclaimed: u64,
}

impl Engine {
    /// The image a cached step produced, if the entry and its image are still there.
    pub fn build_cache_get(&self, key: &str) -> Result<Option<String>> {
        let id: Option<String> = self.db.tx(|tx| {
            let id: Option<String> = tx
                .query_row(
                    "SELECT image_id FROM build_cache WHERE key = ?1",
                    [key],
                    |r| r.get(0),
                )
                .optional()?;
            if id.is_some() {
                tx.execute(
                    "UPDATE build_cache SET last_used = ?2 WHERE key = ?1",
                    params![key, now()],
                )?;
                tx.execute(
                    "INSERT INTO build_cache_uses (key, uses) VALUES (?1, 1) ON CONFLICT(key) DO UPDATE SET uses = uses + 1",
                    [key],
                )?;
            }
            Ok(id)
        })?;
        Ok(id.filter(|id| self.images.get(id).is_ok()))
    }

    pub fn build_cache_put(&self, key: &str, image_id: &str) -> Result<()> {
        let t = now();
        self.db.tx(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO build_cache (key, image_id, created, last_used) VALUES (?1, ?2, ?3, ?3)",
                params![key, image_id, t],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO build_cache_uses (key, uses) VALUES (?1, 1)",
                [key],
            )?;
            Ok(())
        })
    }

    /// (key, image id, last used) of every entry.
    pub fn build_cache_entries(&self) -> Result<Vec<(String, String, i64)>> {
        self.db.tx(|tx| {
            let mut stmt = tx.prepare("SELECT key, image_id, last_used FROM build_cache")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Bytes the cache holds on its own: layers of intermediate images only it refers to.
    pub fn build_cache_size(&self) -> Result<u64> {
        let ids: std::collections::HashSet<String> = self
            .build_cache_entries()?
            .into_iter()
            .map(|(_, id, _)| id)
            .collect();
        let mut own = std::collections::HashSet::new();
        let mut shared = std::collections::HashSet::new();
        for img in self.images.list()? {
            let target = if ids.contains(&img.id) && img.intermediate {
                &mut own
            } else {
                &mut shared
            };
            target.extend(img.layers.iter().cloned());
        }
        Ok(own
            .difference(&shared)
            .filter_map(|d| self.images.layer(d).ok())
            .map(|l| l.size)
            .sum())
    }

    /// `builder prune`: drop entries (all of them with `all`, else those whose image is not
    /// an ancestor of a tagged image), only those unused for `older_than` seconds if given;
    /// then remove the intermediate images no entry or container needs any more.
    pub fn build_cache_prune(&self, all: bool, older_than: Option<i64>) -> Result<Pruned> {
        let before = self.build_cache_size()?;
        let images = self.images.list()?;
        let tagged: HashSet<String> = self.images.tags()?.into_iter().map(|(_, id)| id).collect();
        let live = ancestors_of(&images, &tagged);
        let cutoff = older_than.map(|s| now() - s);
        let mut pruned = Pruned::default();
        for (key, id, last_used) in self.build_cache_entries()? {
            let old_enough = cutoff.is_none_or(|c| last_used <= c);
            if old_enough && (all || !live.contains(&id)) {
                self.db.tx(|tx| {
                    tx.execute("DELETE FROM build_cache WHERE key = ?1", [&key])?;
                    tx.execute("DELETE FROM build_cache_uses WHERE key = ?1", [&key])?;
                    Ok(())
                })?;
                pruned.entries.push(id);
            }
        }
        let still: HashSet<String> = self
            .build_cache_entries()?
            .into_iter()
            .map(|(_, id, _)| id)
            .collect();
        let in_use = self.containers.images_in_use();
        for img in images {
            if img.intermediate
                && !tagged.contains(&img.id)
                && !still.contains(&img.id)
                && !in_use.contains(&img.id)
                && self.images.get(&img.id).is_ok()
            {
                self.images.remove(&img.id, true, false)?;
            }
        }
        self.images.collect_garbage()?;
        pruned.reclaimed = before.saturating_sub(self.build_cache_size()?);
        // Kept copies of local contexts are cache too (the next build copies afresh).
        pruned.reclaimed += self.build_contexts.prune();
        Ok(pruned)
    }
}

/// One entry of the build cache as `system df` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRecord {
    pub key: String,
    /// The step that made it (its image's last history entry).
    pub description: String,
    /// Bytes of the layers this entry brought first (each layer counts once, for the oldest
    /// entry that has it; those of images that are no step's result, such as the FROM image,
    /// not at all).
    pub size: u64,
    /// Its image is, or is an ancestor of, a tagged image: `builder prune` without `--all`
    /// keeps it, and it is not reclaimable.
    pub shared: bool,
    pub created: i64,
    pub last_used: i64,
    pub uses: u64,
}

/// The images in `roots` and their ancestors (the parents committed and built images record).
fn ancestors_of(images: &[ImageRecord], roots: &HashSet<String>) -> HashSet<String> {
    let by_id: HashMap<&str, &ImageRecord> = images.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut live = HashSet::new();
    for id in roots {
        let mut cur = by_id.get(id.as_str()).copied();
        while let Some(img) = cur {
            if !live.insert(img.id.clone()) {
                break;
            }
            cur = img.parent.as_deref().and_then(|p| by_id.get(p).copied());
        }
    }
    live
}

impl Engine {
    /// Every entry whose image is still there, oldest first, for `system df`.
    pub fn build_cache_records(&self) -> Result<Vec<CacheRecord>> {
        let rows: Vec<(String, String, i64, i64, u64)> = self.db.tx(|tx| {
            let mut stmt = tx.prepare(
                "SELECT c.key, c.image_id, c.created, c.last_used, COALESCE(u.uses, 1) \
                 FROM build_cache c LEFT JOIN build_cache_uses u ON u.key = c.key \
                 ORDER BY c.created, c.key",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        let images = self.images.list()?;
        let tagged: HashSet<String> = self.images.tags()?.into_iter().map(|(_, id)| id).collect();
        let live = ancestors_of(&images, &tagged);
        let by_id: HashMap<&str, &ImageRecord> =
            images.iter().map(|i| (i.id.as_str(), i)).collect();
        // Layers of images that are no step's result (the FROM images) are not the cache's.
        let results: HashSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        let mut counted: HashSet<&str> = images
            .iter()
            .filter(|i| !results.contains(i.id.as_str()))
            .flat_map(|i| i.layers.iter().map(String::as_str))
            .collect();
        let mut out = Vec::new();
        for (key, image_id, created, last_used, uses) in rows {
            let Some(img) = by_id.get(image_id.as_str()) else {
                continue;
            };
            let size = img
                .layers
                .iter()
                .filter(|l| counted.insert(l.as_str()))
                .filter_map(|l| self.images.layer(l).ok())
                .map(|l| l.size)
                .sum();
            let description = self
                .images
                .config(&img.id)
                .ok()
                .and_then(|c| c.history.iter().rev().find_map(|h| h.created_by.clone()))
                .unwrap_or_default();
            out.push(CacheRecord {
                key,
                description,
                size,
                shared: live.contains(&img.id),
                created,
                last_used,
                uses,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_their_parts() {
        let a = Key::new("ab", "c").finish();
        let b = Key::new("a", "bc").finish();
        assert_ne!(a, b);
        let mut c = Key::new("p", "RUN x");
        c.part("A=1");
        let mut d = Key::new("p", "RUN x");
        d.part("A=2");
        assert_ne!(c.finish(), d.finish());
    }
}
