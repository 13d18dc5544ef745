//! The engine's transactional state: SQLite (WAL) under the root. Records are stored as JSON
//! documents keyed by id so the schema stays small; every multi-row change is one transaction,
//! so a killed daemon never leaves a half-registered image or container.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{de::DeserializeOwned, Serialize};

use super::error::Result;

pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags (name TEXT PRIMARY KEY, image_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS layers (diff_id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS containers (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS volumes (name TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS build_cache (key TEXT PRIMARY KEY, image_id TEXT NOT NULL, created INTEGER NOT NULL, last_used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS build_cache_uses (key TEXT PRIMARY KEY, uses INTEGER NOT NULL);
";

/// The tables that hold one JSON record per key.
#[derive(Clone, Copy, Debug)]
pub enum Table {
    Images,
    Layers,
    Containers,
    Volumes,
    Networks,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Images => "images",
            Table::Layers => "layers",
            Table::Containers => "containers",
            Table::Volumes => "volumes",
            Table::Networks => "networks",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Table::Layers => "diff_id",
            Table::Volumes => "name",
            _ => "id",
        }
    }
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// Run `f` in one transaction.
    pub fn tx<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let _phase = tracing::debug_span!(target: "phase", "db write").entered();
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>> {
        let conn = self.conn.lock().unwrap();
        get(&conn, table, key)
    }

    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<T>> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare(&format!("SELECT record FROM {}", table.name()))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?)?);
        }
        Ok(out)
    }

    pub fn put<T: Serialize>(&self, table: Table, key: &str, value: &T) -> Result<()> {
        self.tx(|tx| put(tx, table, key, value))
    }

    pub fn delete(&self, table: Table, key: &str) -> Result<()> {
        self.tx(|tx| delete(tx, table, key))
    }

    pub fn tags(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare("SELECT name, image_id FROM tags ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn tag_target(&self, name: &str) -> Result<Option<String>> {
        let conn = self.conn.lock().unwrap();
        Ok(conn
            .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }
}

pub fn get<T: DeserializeOwned>(conn: &Connection, table: Table, key: &str) -> Result<Option<T>> {
    let rec: Option<String> = conn
        .query_row(
            &format!(
                "SELECT record FROM {} WHERE {} = ?1",
                table.name(),
                table.key()
            ),
            [key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match rec {
        Some(s) => Some(serde_json::from_str(&s)?),
        None => None,
    })
}

pub fn put<T: Serialize>(tx: &Transaction, table: Table, key: &str, value: &T) -> Result<()> {
    let json = serde_json::to_string(value)?;
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO {} ({}, record) VALUES (?1, ?2)",
            table.name(),
            table.key()
        ),
        params![key, json],
    )?;
    Ok(())
}

/// Containers and networks also carry a unique name column.
pub fn put_named<T: Serialize>(
    tx: &Transaction,
    table: Table,
    key: &str,
    name: &str,
    value: &T,
) -> Result<()> {
    let json = serde_json::to_string(value)?;
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO {} (id, name, record) VALUES (?1, ?2, ?3)",
            table.name()
        ),
        params![key, name, json],
    )?;
    Ok(())
}

pub fn delete(tx: &Transaction, table: Table, key: &str) -> Result<()> {
    tx.execute(
        &format!("DELETE FROM {} WHERE {} = ?1", table.name(), table.key()),
        [key],
    )?;
    Ok(())
}

pub fn set_tag(tx: &Transaction, name: &str, image_id: &str) -> Result<Option<String>> {
    let old: Option<String> = tx
        .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    tx.execute(
        "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?1, ?2)",
        params![name, image_id],
    )?;
    Ok(old)
}

pub fn remove_tag(tx: &Transaction, name: &str) -> Result<()> {
    tx.execute("DELETE FROM tags WHERE name = ?1", [name])?;
    Ok(())
}

pub fn tags_of(tx: &Transaction, image_id: &str) -> Result<Vec<String>> {
    let mut stmt = tx.prepare("SELECT name FROM tags WHERE image_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map([image_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
