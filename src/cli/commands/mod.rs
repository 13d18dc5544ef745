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

/// Run `f` for each name, printing the name on success like docker; exit 1 if any failed.
pub(crate) async fn each<F, Fut>(names: &[String], f: F) -> CliResult
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    let mut failed = false;
    for n in names {
        match f(n.clone()).await {
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
