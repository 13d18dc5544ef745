//! Server-side detach keys (`detachKeys` on attach and exec start; Docker's default
//! `ctrl-p,ctrl-q`): the client's input is copied to the container until the sequence is
//! typed; then the stream ends and the container keeps running. A partial sequence is held
//! back and passed on as soon as the next byte does not continue it.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::engine::error::{Error, Result};

pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Parse Docker's notation: comma-separated `ctrl-<a-z, @, [, \, ], ^, _>` or single
/// characters.
pub fn parse(keys: &str) -> Result<Vec<u8>> {
    let bad = || Error::invalid(format!("Invalid detach keys ({keys}) provided"));
    let mut out = Vec::new();
    for k in keys.split(',') {
        if let Some(c) = k.strip_prefix("ctrl-") {
            let [c] = c.as_bytes() else { return Err(bad()) };
            out.push(match c {
                b'a'..=b'z' => c - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(bad()),
            });
        } else {
            let [c] = k.as_bytes() else { return Err(bad()) };
            out.push(*c);
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// How an input copy ended.
#[derive(Debug, PartialEq, Eq)]
pub enum InputEnd {
    /// The client closed its side (or an error).
    Closed,
    /// The client typed the detach keys.
    Detached,
}

/// Copy `from` to `to` until EOF or the `keys` sequence (empty: never).
pub async fn copy_until_detach<R, W>(mut from: R, mut to: W, keys: &[u8]) -> InputEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 8192];
    let mut matched = 0usize;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return InputEnd::Closed,
            Ok(n) => n,
        };
        let mut out = Vec::with_capacity(n + matched);
        for &b in &buf[..n] {
            if !keys.is_empty() && b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    let _ = to.write_all(&out).await;
                    return InputEnd::Detached;
                }
                continue;
            }
            // Not the sequence after all: what was held back goes through.
            out.extend_from_slice(&keys[..matched]);
            matched = 0;
            if !keys.is_empty() && b == keys[0] {
                matched = 1;
                continue;
            }
            out.push(b);
        }
        if !out.is_empty() && to.write_all(&out).await.is_err() {
            return InputEnd::Closed;
        }
        let _ = to.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_notation_parses() {
        assert_eq!(parse(DEFAULT_DETACH_KEYS).unwrap(), vec![16, 17]);
        assert_eq!(parse("ctrl-x").unwrap(), vec![24]);
        assert_eq!(parse("a,ctrl-@").unwrap(), vec![b'a', 0]);
        assert!(parse("ctrl-").is_err());
        assert!(parse("ab").is_err());
    }

    #[tokio::test]
    async fn input_passes_until_the_sequence() {
        let keys = parse(DEFAULT_DETACH_KEYS).unwrap();
        let mut out = Vec::new();
        let input: &[u8] = b"hi\x10x\x10\x10\x11rest";
        let end = copy_until_detach(input, &mut out, &keys).await;
        assert_eq!(end, InputEnd::Detached);
        assert_eq!(out, b"hi\x10x\x10");
        let mut out = Vec::new();
        let input: &[u8] = b"no keys\x10";
        assert_eq!(
            copy_until_detach(input, &mut out, &keys).await,
            InputEnd::Closed
        );
        assert_eq!(out, b"no keys");
    }
}
