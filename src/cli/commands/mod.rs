//! One module per command family; each turns parsed arguments into API calls and output.

pub(crate) mod container;
mod df;
mod dial;
mod dispatch;
pub(crate) mod image;
mod network;
pub(crate) mod resources;
pub(crate) mod run;
mod search;
mod system;
mod volume;

use super::{CliResult, Exit};
use crate::api::client::ClientError;

pub use dispatch::dispatch;

/// `--filter k=v` flags to Docker's filters map.
pub fn filters(flags: &[String]) -> std::collections::HashMap<String, Vec<String>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for f in flags {
        let (k, v) = f.split_once('=').unwrap_or((f.as_str(), ""));
        out.entry(k.to_string()).or_default().push(v.to_string());
    }
    out
}

/// `--label k=v` / `--opt k=v` flags to a map (`k` alone maps to an empty value).
pub fn key_values(list: &[String]) -> std::collections::HashMap<String, String> {
    list.iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// Run `f` for each name, one at a time, printing the name on success like docker; exit 1 if
/// any failed.
pub(crate) async fn each<F, Fut>(names: &[String], f: F) -> CliResult
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    each_limited(names, 1, f).await
}

/// How many requests `each_parallel` keeps in flight (the docker CLI's limit too).
pub(crate) const PARALLEL: usize = 50;

/// [`each`], with up to [`PARALLEL`] names at once, as the docker CLI runs `rm`, `stop`,
/// `kill`, `pause` and `unpause`: names are still printed in the order given. One at a time,
/// `rm -f` of 100 containers waits 100 times for each one's kill and teardown.
pub(crate) async fn each_parallel<F, Fut>(names: &[String], f: F) -> CliResult
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    each_limited(names, PARALLEL, f).await
}

pub(crate) async fn each_limited<F, Fut>(names: &[String], limit: usize, f: F) -> CliResult
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    use futures_util::stream::{self, StreamExt};
    let f = &f;
    let mut results = stream::iter(names.iter().cloned())
        .map(|n| async move {
            let r = f(n.clone()).await;
            (n, r)
        })
        .buffered(limit.max(1));
    let mut failed = false;
    while let Some((n, r)) = results.next().await {
        match r {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Exit::code(1))
    } else {
        Ok(())
    }
}
