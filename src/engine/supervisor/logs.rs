//! Container logs in Docker's json-file format: one JSON object per line with the text, the
//! stream and an RFC 3339 timestamp with nanoseconds.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Splits a byte stream into lines and appends them to the log file.
#[derive(Default)]
pub struct LineWriter {
    pending: [Vec<u8>; 2],
}

/// Docker splits lines longer than this into several entries.
const MAX_LINE: usize = 16 * 1024;

impl LineWriter {
    /// `stream`: 1 stdout, 2 stderr. The entries of one chunk go out in one write, so a
    /// reader of the file (`logs` while the container runs) sees all of a chunk's lines or
    /// none (`ls` printing four lines at once is never seen as two).
    pub fn write(&mut self, out: &mut impl Write, stream: u8, data: &[u8]) -> std::io::Result<()> {
        let idx = if stream == 2 { 1 } else { 0 };
        let mut entries = Vec::new();
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.pending[idx].extend_from_slice(&rest[..=pos]);
            rest = &rest[pos + 1..];
            let line = std::mem::take(&mut self.pending[idx]);
            write_entry(&mut entries, stream, &line)?;
        }
        self.pending[idx].extend_from_slice(rest);
        if self.pending[idx].len() >= MAX_LINE {
            let line = std::mem::take(&mut self.pending[idx]);
            write_entry(&mut entries, stream, &line)?;
        }
        if entries.is_empty() {
            return Ok(());
        }
        out.write_all(&entries)
    }

    /// Write out partial lines (at exit).
    pub fn flush(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        for (idx, stream) in [(0, 1u8), (1, 2u8)] {
            if !self.pending[idx].is_empty() {
                let line = std::mem::take(&mut self.pending[idx]);
                write_entry(out, stream, &line)?;
            }
        }
        Ok(())
    }
}

fn write_entry(out: &mut impl Write, stream: u8, data: &[u8]) -> std::io::Result<()> {
    let entry = LogEntry {
        log: String::from_utf8_lossy(data).into_owned(),
        stream: if stream == 2 { "stderr" } else { "stdout" }.to_string(),
        time: crate::engine::now_rfc3339(),
    };
    let mut line = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

/// Parse one log file line (skipping a torn last line).
pub fn parse_line(line: &str) -> Option<LogEntry> {
    serde_json::from_str(line).ok()
}

/// Read every entry of a log file.
pub fn read_all(path: &std::path::Path) -> Vec<LogEntry> {
    let Ok(f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| parse_line(&l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_per_stream() {
        let mut w = LineWriter::default();
        let mut out = Vec::new();
        w.write(&mut out, 1, b"hel").unwrap();
        w.write(&mut out, 2, b"err\n").unwrap();
        w.write(&mut out, 1, b"lo\nworld").unwrap();
        w.flush(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let entries: Vec<LogEntry> = text.lines().filter_map(parse_line).collect();
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.stream.as_str(), e.log.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("stderr", "err\n"),
                ("stdout", "hello\n"),
                ("stdout", "world")
            ]
        );
    }

    /// Counts the writes it is given.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_lines_of_one_chunk_are_one_write() {
        let mut w = LineWriter::default();
        let mut out = Writes::default();
        w.write(&mut out, 1, b".\n..\nfile.txt\nx").unwrap();
        assert_eq!(out.0.len(), 1);
        assert_eq!(String::from_utf8_lossy(&out.0[0]).lines().count(), 3);
        w.write(&mut out, 1, b"y").unwrap();
        assert_eq!(out.0.len(), 1, "no write without a whole line");
    }
}
