//! The build cache: step key → the intermediate image that step produced, in the engine's
//! SQLite store (so it survives restarts and is shared by every build). A key is the hash of
//! the parent image, the instruction after substitution, the build args in scope and, for
//! COPY/ADD, the content of what is copied; see `Key`.

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::engine::error::Result;
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
        let tagged: std::collections::HashSet<String> =
            self.images.tags()?.into_iter().map(|(_, id)| id).collect();
        // Ancestors of tagged images: their cache is what the next build of them reuses.
        let by_id: std::collections::HashMap<&str, &crate::engine::image::ImageRecord> =
            images.iter().map(|i| (i.id.as_str(), i)).collect();
        let mut live = std::collections::HashSet::new();
        for id in &tagged {
            let mut cur = by_id.get(id.as_str()).copied();
            while let Some(img) = cur {
                if !live.insert(img.id.clone()) {
                    break;
                }
                cur = img.parent.as_deref().and_then(|p| by_id.get(p).copied());
            }
        }
        let cutoff = older_than.map(|s| now() - s);
        let mut pruned = Pruned::default();
        for (key, id, last_used) in self.build_cache_entries()? {
            let old_enough = cutoff.is_none_or(|c| last_used <= c);
            if old_enough && (all || !live.contains(&id)) {
                self.db.tx(|tx| {
                    tx.execute("DELETE FROM build_cache WHERE key = ?1", [&key])?;
                    Ok(())
                })?;
                pruned.entries.push(id);
            }
        }
        let still: std::collections::HashSet<String> = self
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
