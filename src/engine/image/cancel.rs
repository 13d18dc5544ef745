//! Stopping long image work (load, import, pull, commit) when the client that asked for it has
//! gone away.
//!
//! That work runs on blocking threads, which a dropped request future cannot stop: the API
//! server flips a shared flag when it sees the client hang up (a streaming response whose
//! receiver went, or a handler future dropped mid-way), and the work observes it through the
//! readers and writers it already pulls its bytes through. A cancelled read fails like a broken
//! connection, so the existing error paths clean up: temporary directories are removed and
//! nothing is registered.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// The error text of work stopped because its client went away.
pub const CANCELLED: &str = "cancelled: the client went away";

/// A flag shared between the server (which sets it) and the work (which checks it).
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// An I/O error once cancelled, to stop a loop between two steps. Not `Interrupted`:
    /// `read_exact`, `io::copy` and their kin retry that one forever.
    pub fn check(&self) -> io::Result<()> {
        if self.is_cancelled() {
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, CANCELLED));
        }
        Ok(())
    }

    /// `inner`, failing every read or write once cancelled.
    pub fn wrap<T>(&self, inner: T) -> Cancellable<T> {
        Cancellable {
            inner,
            cancel: self.clone(),
        }
    }

    /// Cancel once the receiver of `tx` is gone (a streaming response the client stopped
    /// reading), for as long as the returned guard lives.
    pub fn when_closed<T: Send + 'static>(&self, tx: &mpsc::Sender<T>) -> Watch {
        let (tx, cancel) = (tx.clone(), self.clone());
        Watch(tokio::spawn(async move {
            tx.closed().await;
            cancel.cancel();
        }))
    }

    /// A guard that cancels when dropped: held by a request handler whose future hyper drops
    /// when the connection closes.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// See [`Cancel::when_closed`]: dropping it ends the watch (and frees its sender, so the
/// stream can end).
pub struct Watch(tokio::task::JoinHandle<()>);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// See [`Cancel::on_drop`]. Cancelling after the work has finished changes nothing.
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A reader or writer that stops once its [`Cancel`] is set.
pub struct Cancellable<T> {
    inner: T,
    cancel: Cancel,
}

impl<T> Cancellable<T> {
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<R: Read> Read for Cancellable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.cancel.check()?;
        self.inner.read(buf)
    }
}

impl<W: Write> Write for Cancellable<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.cancel.check()?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_fail_once_cancelled() {
        let cancel = Cancel::new();
        let mut r = cancel.wrap(&b"abcdef"[..]);
        let mut buf = [0u8; 3];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        let mut w = cancel.wrap(Vec::new());
        w.write_all(b"x").unwrap();
        drop(cancel.on_drop());
        let e = r.read(&mut buf).unwrap_err();
        assert_eq!(e.to_string(), CANCELLED);
        assert!(w.write_all(b"y").is_err());
        assert!(cancel.check().is_err());
    }
}
