//! Layers: unpacking a layer tar (any compression) once into its own directory, converting OCI
//! whiteouts into overlayfs ones, while hashing both the blob as stored and the uncompressed
//! stream (the diff id); and the reverse, turning an overlay upper directory into a layer tar.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::unpack::{relative_entry_path, Placer};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MEDIA_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// A layer known to the store: where its blob is and what it unpacked to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRecord {
    /// Digest of the uncompressed tar: the name of its directory under `layers/`.
    pub diff_id: String,
    /// Digest of the blob as stored (compressed or not).
    pub blob_digest: String,
    pub blob_size: u64,
    pub media_type: String,
    /// Bytes of regular files once unpacked.
    pub size: u64,
    /// For a layer a pull unpacked before its image was registered (a pull that then failed
    /// or was stopped): until when (Unix seconds) the store keeps it unreferenced, for the next
    /// pull to find. None once an image refers to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_until: Option<i64>,
}

/// Reads through to `inner`, hashing every byte and optionally copying it to a file.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    copy_to: Option<File>,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, copy_to: Option<File>) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
            copy_to,
        }
    }
    /// Drain what is left, then return (digest, byte count, the copy file).
    pub fn finish(mut self) -> io::Result<(String, u64, Option<File>)> {
        io::copy(&mut self, &mut io::sink())?;
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        Ok((digest, self.count, self.copy_to))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if let Some(f) = &mut self.copy_to {
            f.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

/// Which compression a stream uses, from its first bytes.
pub fn sniff_media_type(head: &[u8]) -> &'static str {
    if head.starts_with(&[0x1f, 0x8b]) {
        MEDIA_TAR_GZIP
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        MEDIA_TAR_ZSTD
    } else {
        MEDIA_TAR
    }
}

/// Files a layer's regular entries may be hard-linked from instead of written (entry path →
/// host file): a build's COPY names the context files it archived, so a layer of 1,000 files
/// costs 1,000 links, not 1,000 new inodes. A donor is used only when its owner, mode, time and
/// size are the entry's, and only where the link can be made (same filesystem).
pub type Donors = std::collections::HashMap<PathBuf, PathBuf>;

/// Unpack a layer stream into `dest` (which must exist and be empty), keeping a copy of the raw
/// blob in `blob_copy`. Returns the layer record (diff id, blob digest, sizes).
pub fn unpack_layer<R: Read>(
    raw: R,
    dest: &Path,
    blob_copy: Option<File>,
) -> io::Result<LayerRecord> {
    unpack_layer_with(raw, dest, blob_copy, &Donors::new())
}

/// [`unpack_layer`], hard-linking regular files from `donors` where they match.
pub fn unpack_layer_with<R: Read>(
    raw: R,
    dest: &Path,
    blob_copy: Option<File>,
    donors: &Donors,
) -> io::Result<LayerRecord> {
    let mut blob = BufReader::with_capacity(256 * 1024, HashingReader::new(raw, blob_copy));
    let media_type = sniff_media_type(blob.fill_buf()?);
    let size;
    let diff = {
        let decompressed: Box<dyn Read + '_> = match media_type {
            MEDIA_TAR_GZIP => Box::new(flate2::read::MultiGzDecoder::new(&mut blob)),
            MEDIA_TAR_ZSTD => Box::new(zstd::stream::read::Decoder::with_buffer(&mut blob)?),
            _ => Box::new(&mut blob),
        };
        let mut diff = HashingReader::new(decompressed, None);
        size = apply_tar(&mut diff, dest, donors)?;
        diff.finish()?
    };
    let (blob_digest, blob_size, _) = blob.into_inner().finish()?;
    Ok(LayerRecord {
        diff_id: diff.0,
        blob_digest,
        blob_size,
        media_type: media_type.to_string(),
        size,
        kept_until: None,
    })
}

/// Extract a tar stream into `dest`, turning OCI whiteouts into overlayfs whiteouts.
fn apply_tar<R: Read>(reader: R, dest: &Path, donors: &Donors) -> io::Result<u64> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    let mut total = 0u64;
    let mut placer = Placer::new(dest);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(rel) = relative_entry_path(&path)? else {
            continue;
        };
        let name = rel
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let parent = dest.join(rel.parent().unwrap_or(Path::new("")));
        if name == OPAQUE_MARKER {
            placer.prepare(&rel)?;
            xattr_set(&parent, OVERLAY_OPAQUE_XATTR, b"y")?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            placer.prepare(&rel)?;
            let target = parent.join(hidden);
            placer.replaced(&rel.with_file_name(hidden));
            let _ = std::fs::remove_dir_all(&target);
            let _ = std::fs::remove_file(&target);
            nix::sys::stat::mknod(
                &target,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )
            .map_err(io::Error::from)?;
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_file() {
            total += entry.header().size().unwrap_or(0);
        }
        let full = placer.prepare(&rel)?;
        if kind.is_hard_link() {
            // The target must be an entry of this layer (tar's `unpack` would take it
            // relative to our working directory).
            let target = entry
                .link_name()?
                .and_then(|t| relative_entry_path(&t).transpose())
                .transpose()?
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "invalid archive entry {}: a hard link without a target",
                            rel.display()
                        ),
                    )
                })?;
            let target_full = placer.prepare(&target)?;
            let _ = std::fs::remove_file(&full);
            std::fs::hard_link(&target_full, &full).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("linking {} to {}: {e}", rel.display(), target.display()),
                )
            })?;
        } else if !(kind.is_file() && link_donor(entry.header(), donors.get(&rel), &full)) {
            entry.unpack(&full).map_err(|e| {
                io::Error::new(e.kind(), format!("unpacking {}: {e}", rel.display()))
            })?;
        }
    }
    // Read the end-of-archive blocks so the diff id covers the whole stream.
    io::copy(&mut archive.into_inner(), &mut io::sink())?;
    Ok(total)
}

/// Hard-link `donor` at `full` when it is exactly what `header` describes; false: unpack.
fn link_donor(header: &tar::Header, donor: Option<&PathBuf>, full: &Path) -> bool {
    let Some(donor) = donor else { return false };
    let Ok(md) = std::fs::symlink_metadata(donor) else {
        return false;
    };
    let same = md.is_file()
        && header.uid().ok() == Some(md.uid() as u64)
        && header.gid().ok() == Some(md.gid() as u64)
        && header.mode().ok() == Some(md.mode() & 0o7777)
        && header.mtime().ok() == Some(md.mtime().max(0) as u64)
        && header.size().ok() == Some(md.size());
    if !same {
        return false;
    }
    let _ = std::fs::remove_file(full);
    std::fs::hard_link(donor, full).is_ok()
}

fn xattr_set(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let p = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let n = std::ffi::CString::new(name)?;
    // SAFETY: valid NUL-terminated strings and a live buffer.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr() as *const libc::c_void,
            value.len(),
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = [0u8; 64];
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let rc = unsafe {
        libc::lgetxattr(
            p.as_ptr(),
            n.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
        )
    };
    (rc >= 0).then(|| buf[..rc as usize].to_vec())
}

/// Write an overlayfs upper directory as a layer tar: overlay whiteouts (0/0 character devices)
/// become `.wh.` files and opaque directories get a `.wh..wh..opq` marker. `skip` lists paths
/// (relative, e.g. `etc/hosts`) that are engine-managed mount points, not changes.
pub fn tar_upper_dir<W: Write>(upper: &Path, out: W, skip: &[&str]) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    append_dir_diff(&mut builder, upper, Path::new(""), skip)?;
    builder.into_inner()
}

fn append_dir_diff<W: Write>(
    b: &mut tar::Builder<W>,
    base: &Path,
    rel: &Path,
    skip: &[&str],
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(base.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let rel_path = rel.join(e.file_name());
        if skip.iter().any(|s| Path::new(s) == rel_path) {
            continue;
        }
        let full = e.path();
        let md = std::fs::symlink_metadata(&full)?;
        use std::os::unix::fs::FileTypeExt;
        if md.file_type().is_char_device() && md.rdev() == 0 {
            let wh = rel.join(format!(
                "{WHITEOUT_PREFIX}{}",
                e.file_name().to_string_lossy()
            ));
            append_empty_file(b, &wh)?;
            continue;
        }
        b.append_path_with_name(&full, &rel_path)?;
        if md.is_dir() {
            if xattr_get(&full, OVERLAY_OPAQUE_XATTR).as_deref() == Some(b"y") {
                append_empty_file(b, &rel_path.join(OPAQUE_MARKER))?;
            }
            append_dir_diff(b, base, &rel_path, skip)?;
        }
    }
    Ok(())
}

fn append_empty_file<W: Write>(b: &mut tar::Builder<W>, path: &Path) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(0);
    b.append_data(&mut h, path, io::empty())
}

/// Write a whole directory tree (a merged root filesystem) as a tar.
pub fn tar_tree<W: Write>(root: &Path, out: W, skip_dirs_content: &[&str]) -> io::Result<W> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    fn walk<W: Write>(
        b: &mut tar::Builder<W>,
        root: &Path,
        rel: &Path,
        skip: &[&str],
    ) -> io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let rel_path = rel.join(e.file_name());
            let full = e.path();
            let md = std::fs::symlink_metadata(&full)?;
            b.append_path_with_name(&full, &rel_path)?;
            if md.is_dir() && !skip.iter().any(|s| OsStr::new(s) == rel_path.as_os_str()) {
                walk(b, root, &rel_path, skip)?;
            }
        }
        Ok(())
    }
    walk(&mut b, root, Path::new(""), skip_dirs_content)?;
    b.into_inner()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn donors_are_linked_only_when_they_are_exactly_the_entry() {
        let d = tempfile::tempdir().unwrap();
        let same = d.path().join("same");
        let other = d.path().join("other");
        for p in [&same, &other] {
            std::fs::write(p, b"data").unwrap();
        }
        let md = std::fs::metadata(&same).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for (name, mode) in [("a/same", md.mode() & 0o7777), ("a/other", 0o600)] {
            let mut h = tar::Header::new_gnu();
            h.set_metadata(&md);
            h.set_mode(mode);
            b.append_data(&mut h, name, &b"data"[..]).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let donors: Donors = [
            (PathBuf::from("a/same"), same.clone()),
            (PathBuf::from("a/other"), other.clone()),
        ]
        .into();
        let dest = d.path().join("layer");
        std::fs::create_dir(&dest).unwrap();
        let plain = unpack_layer(&tar[..], &dest, None).unwrap();
        let dest2 = d.path().join("layer2");
        std::fs::create_dir(&dest2).unwrap();
        let linked = unpack_layer_with(&tar[..], &dest2, None, &donors).unwrap();
        assert_eq!(plain.diff_id, linked.diff_id);
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&dest2.join("a/same")), ino(&same), "linked");
        assert_ne!(
            ino(&dest2.join("a/other")),
            ino(&other),
            "mode differs: copied"
        );
        assert_eq!(std::fs::read(dest2.join("a/other")).unwrap(), b"data");
        assert_eq!(
            std::fs::metadata(dest2.join("a/other")).unwrap().mode() & 0o7777,
            0o600
        );
    }

    /// A layer tar of regular files (name, content), owned by root, mtime 0.
    pub(crate) fn layer_tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn unpacks_and_hashes_a_layer() {
        let dir = tempfile::tempdir().unwrap();
        let tar = layer_tar(&[
            ("etc/motd", b"hi\n"),
            ("etc/.wh.gone", b""),
            ("var/.wh..wh..opq", b""),
        ]);
        let rec = unpack_layer(&tar[..], dir.path(), None).unwrap();
        assert_eq!(rec.diff_id, crate::util::ids::sha256_digest(&tar));
        assert_eq!(rec.blob_digest, rec.diff_id);
        assert_eq!(rec.media_type, MEDIA_TAR);
        assert_eq!(std::fs::read(dir.path().join("etc/motd")).unwrap(), b"hi\n");
        use std::os::unix::fs::FileTypeExt;
        let wh = std::fs::symlink_metadata(dir.path().join("etc/gone")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(
            xattr_get(&dir.path().join("var"), OVERLAY_OPAQUE_XATTR).unwrap(),
            b"y"
        );

        // Round trip: the upper-dir writer produces OCI whiteouts again.
        let out = tar_upper_dir(dir.path(), Vec::new(), &[]).unwrap();
        let names: Vec<String> = tar::Archive::new(&out[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect();
        assert!(names.contains(&"etc/.wh.gone".to_string()), "{names:?}");
        assert!(names.contains(&"var/.wh..wh..opq".to_string()), "{names:?}");
        assert!(names.contains(&"etc/motd".to_string()));
    }

    #[test]
    fn gzip_layers_have_distinct_blob_digest() {
        let dir = tempfile::tempdir().unwrap();
        let tar = layer_tar(&[("a", b"1")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let rec = unpack_layer(&gz[..], dir.path(), None).unwrap();
        assert_eq!(rec.diff_id, crate::util::ids::sha256_digest(&tar));
        assert_eq!(rec.blob_digest, crate::util::ids::sha256_digest(&gz));
        assert_eq!(rec.media_type, MEDIA_TAR_GZIP);
    }

    #[test]
    fn zstd_and_plain_layers_unpack_to_the_same_diff_id() {
        let tar = layer_tar(&[("a", b"1"), ("b/c", b"22")]);
        let zst = zstd::encode_all(&tar[..], 3).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rec = unpack_layer(&zst[..], dir.path(), None).unwrap();
        assert_eq!(rec.diff_id, crate::util::ids::sha256_digest(&tar));
        assert_eq!(rec.blob_digest, crate::util::ids::sha256_digest(&zst));
        assert_eq!(rec.media_type, MEDIA_TAR_ZSTD);
        assert_eq!(std::fs::read(dir.path().join("b/c")).unwrap(), b"22");
        let plain = tempfile::tempdir().unwrap();
        let rec = unpack_layer(&tar[..], plain.path(), None).unwrap();
        assert_eq!(rec.blob_digest, crate::util::ids::sha256_digest(&tar));
        assert_eq!(rec.media_type, MEDIA_TAR);
        // A zstd stream cut short is an error, not a short layer.
        let e = tempfile::tempdir().unwrap();
        assert!(unpack_layer(&zst[..zst.len() / 2], e.path(), None).is_err());
    }

    #[test]
    fn refuses_entries_that_climb_out_or_go_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_entry_type(tar::EntryType::Symlink);
        b.append_link(&mut h, "etc", "/etc").unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(2);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "etc/owned", &b"hi"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let e = unpack_layer(&tar[..], dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("goes through etc"), "{e}");
        assert!(!Path::new("/etc/owned").exists());

        // `..`: tar's builder refuses to write it, so patch the name in the header.
        let mut tar = layer_tar(&[("xx/escape", b"hi")]);
        tar[..2].copy_from_slice(b"..");
        let sum: u32 = tar[..512]
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    *b as u32
                }
            })
            .sum();
        tar[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let dir = tempfile::tempdir().unwrap();
        let e = unpack_layer(&tar[..], dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("..") && e.contains("leave the layer"), "{e}");
    }

    #[test]
    fn refuses_a_truncated_stream() {
        let dir = tempfile::tempdir().unwrap();
        let tar = layer_tar(&[("a", &[7u8; 4000])]);
        assert!(unpack_layer(&tar[..1000], dir.path(), None).is_err());
    }
}
