//! The manifest a pull works from: a tag's (or digest's) manifest, and when it is an index (a
//! manifest list), the entry for the requested platform (this host's by default), matched by
//! [`Platform::matches`] so a variant is honoured (`linux/arm/v7`) and a request without one
//! takes any. When no entry matches, the error is dockerd's, with what the index does offer.

use sha2::Digest;

use super::session::{verify, Session};
use super::{Manifest, ACCEPT};
use crate::docker::platform::Platform;
use crate::engine::error::{Error, Result};
use crate::engine::image::config::ImageConfig;
use crate::engine::image::reference::Reference;

/// The manifest of `tag` for `wanted`, with the digest `tag` names: for an index, the index's
/// own (what dockerd records in RepoDigests and prints as `Digest:`), not the entry's.
pub(super) async fn platform_manifest(
    s: &mut Session,
    r: &Reference,
    tag: &str,
    what: &str,
    wanted: &Platform,
) -> Result<(Manifest, String)> {
    let (mut body, mut digest) = s
        .fetch_bytes(
            &format!("/v2/{}/manifests/{tag}", r.repository),
            Some(ACCEPT),
            what,
        )
        .await?;
    if tag.starts_with("sha256:") {
        verify(tag, &body).map_err(|e| Error::invalid(format!("{what}: {e}")))?;
        digest = Some(tag.to_string());
    }
    let parse = |b: &[u8]| -> Result<Manifest> {
        serde_json::from_slice(b).map_err(|e| Error::invalid(format!("{what}: {e}")))
    };
    let mut manifest = parse(&body)?;
    let digest =
        digest.unwrap_or_else(|| format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body))));
    if let Some(list) = &manifest.manifests {
        let pick = choose(list, wanted)?;
        let path = format!("/v2/{}/manifests/{pick}", r.repository);
        let (b, _) = s.fetch_bytes(&path, Some(ACCEPT), what).await?;
        verify(&pick, &b)?;
        body = b;
        manifest = parse(&body)?;
        if manifest.manifests.is_some() {
            return Err(Error::invalid(format!(
                "{what}: an index entry is itself an index"
            )));
        }
    }
    Ok((manifest, digest))
}

/// The digest of the index entry for `wanted`: the first that matches (entries without a
/// platform, such as attestations, never do).
fn choose(list: &[super::Descriptor], wanted: &Platform) -> Result<String> {
    if let Some(d) = list.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| wanted.matches(&p.os, &p.architecture, p.variant()))
    }) {
        return Ok(d.digest.clone());
    }
    let available: Vec<String> = list
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(|p| p.to_string())
        .collect();
    Err(Error::not_found(format!(
        "no matching manifest for {wanted} in the manifest list entries (available: {})",
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    )))
}

/// The layer media types a pull unpacks (the compression itself is recognised from the
/// blob's first bytes): OCI's plain, gzip and zstd tars, Docker's gzip tar, and the
/// non-distributable variants of them, which a registry may still serve.
const LAYER_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
];

/// A layer of a type no pull can unpack (encrypted, some artifact's blob) is refused before
/// anything is downloaded; a descriptor without a media type is taken as a tar.
pub(super) fn check_layer_type(what: &str, d: &super::Descriptor) -> Result<()> {
    match d.media_type.as_deref() {
        None => Ok(()),
        Some(t) if LAYER_TYPES.contains(&t) => Ok(()),
        Some(t) => Err(Error::invalid(format!(
            "{what}: layer {} has media type {t:?}, which is not an image layer (supported: tar, tar+gzip, tar+zstd)",
            d.digest
        ))),
    }
}

/// A single-platform image pulled for an explicit platform must be of it (dockerd's check).
pub(super) fn check_config_platform(
    wanted: &Platform,
    r: &Reference,
    config: &ImageConfig,
) -> Result<()> {
    let variant = config
        .extra
        .get("variant")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if config.architecture.is_empty() || wanted.matches(&config.os, &config.architecture, variant) {
        return Ok(());
    }
    let mut actual = format!("{}/{}", config.os, config.architecture);
    if !variant.is_empty() {
        actual = format!("{actual}/{variant}");
    }
    Err(Error::not_found(format!(
        "image with reference {} was found but does not match the specified platform: wanted {wanted}, actual: {actual}",
        r.familiar()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Vec<super::super::Descriptor> {
        serde_json::from_str(
            r#"[
            {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
            {"digest": "sha256:c", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
            {"digest": "sha256:d", "platform": {"os": "unknown", "architecture": "unknown"}}
        ]"#,
        )
        .unwrap()
    }

    #[test]
    fn picks_the_entry_of_the_platform_and_variant() {
        let p = |s: &str| Platform::parse(s).unwrap();
        assert_eq!(choose(&index(), &p("linux/amd64")).unwrap(), "sha256:a");
        assert_eq!(choose(&index(), &p("linux/arm/v7")).unwrap(), "sha256:c");
        assert_eq!(choose(&index(), &p("linux/arm")).unwrap(), "sha256:b");
        let e = choose(&index(), &p("linux/s390x")).unwrap_err().to_string();
        assert!(
            e.contains("no matching manifest for linux/s390x in the manifest list entries")
                && e.contains("linux/amd64, linux/arm/v6, linux/arm/v7)"),
            "{e}"
        );
    }
}
