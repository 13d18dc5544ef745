//! A service → the Engine API's container create body. Every service key is mapped, or named
//! in an explicit warning (what this engine does not enforce) or error (what it cannot do).
//!
//! One module per section of the body (`sections` for process, ports, resources, security and
//! logging; `mounts`; `files` for secrets and configs; `network`); the body's wire shape comes
//! from `docker::create`, which `wharf run` fills from its flags the same way.

mod files;
mod mounts;
mod network;
mod sections;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::api::models::{ContainerCreateBody, Mount};
use crate::compose::load::env::Environment;
use crate::compose::model::{Project, Service};
use crate::docker::create::{Dns, Storage};

pub use files::{files_tar, read_file_object, FileCopy};

/// What creating a service container needs.
#[derive(Clone, Debug, Default)]
pub struct Built {
    pub body: ContainerCreateBody,
    /// Keys this engine does not enforce (warned, never silent).
    pub warnings: Vec<String>,
    /// Secrets and configs to copy in before start.
    pub files: Vec<FileCopy>,
}

/// Inputs beyond the project.
#[derive(Clone, Debug, Default)]
pub struct BuildInputs<'a> {
    pub service: &'a str,
    pub number: u32,
    pub name: &'a str,
    pub config_hash: &'a str,
    pub oneoff: bool,
    pub image_id: Option<&'a str>,
    /// Whether the engine has bridge networks (else containers get the default network).
    pub networking: bool,
    /// Anonymous volumes of the container being replaced: destination → volume name.
    pub inherited: HashMap<String, String>,
    /// Mounts resolved from `volumes_from` (the source containers' mounts).
    pub volumes_from: Vec<Mount>,
    /// `network_mode: service:x` resolved to a container id or name.
    pub network_container: Option<String>,
    /// The environment (for secrets and configs from `environment:`).
    pub environment: Option<&'a Environment>,
}

/// What one build is about: the project, the service and the caller's inputs.
struct Ctx<'a> {
    project: &'a Project,
    svc: &'a Service,
    inp: &'a BuildInputs<'a>,
}

impl Ctx<'_> {
    /// An error naming the service and the key.
    fn err(&self, key: &str, msg: impl std::fmt::Display) -> String {
        err(self.inp.service, key, msg)
    }
}

fn err(service: &str, key: &str, msg: impl std::fmt::Display) -> String {
    format!("service {service:?}: {key}: {msg}")
}

/// The warnings of one build, each naming the service and the key.
struct Warnings<'a> {
    service: &'a str,
    list: Vec<String>,
}

impl Warnings<'_> {
    fn warn(&mut self, key: &str, msg: &str) {
        self.list
            .push(format!("service {:?}: {key}: {msg}", self.service));
    }
}

/// Build the create body for a container of `inp.service`.
pub fn build(project: &Project, inp: &BuildInputs) -> Result<Built, String> {
    let s = inp.service;
    let svc: &Service = project
        .services
        .get(s)
        .ok_or_else(|| format!("no such service: {s}"))?;
    let cx = Ctx { project, svc, inp };
    let mut warn = Warnings {
        service: s,
        list: Vec::new(),
    };
    let mut body = ContainerCreateBody::default();
    sections::process(&cx).apply(&mut body);
    sections::ports(&cx)?.apply(&mut body);
    Storage {
        binds: Vec::new(),
        mounts: mounts::mounts(&cx, &mut warn)?,
        tmpfs: crate::docker::create::tmpfs_map(&svc.tmpfs),
    }
    .apply(&mut body);
    let files = files::collect(&cx)?;
    body.healthcheck = svc.healthcheck.as_ref().map(sections::health);
    sections::resources(svc, &mut warn).apply(&mut body);
    sections::security(svc).apply(&mut body);
    Dns {
        servers: svc.dns.clone(),
        search: svc.dns_search.clone(),
        options: svc.dns_opt.clone(),
        extra_hosts: crate::compose::model::host_entries(&svc.extra_hosts),
    }
    .apply(&mut body);
    let log_config = sections::logging(svc, &mut warn);
    sections::platform(svc, &mut warn);
    let host = body.host_config.get_or_insert_with(Default::default);
    host.restart_policy = svc.restart.map(sections::restart);
    host.log_config = log_config;
    network::networking(&cx, &mut warn)?.apply(&mut body);
    Ok(Built {
        body,
        warnings: warn.list,
        files,
    })
}
