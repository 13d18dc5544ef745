//! Platforms as Docker spells them (`os[/arch[/variant]]`, containerd's `platforms` package):
//! one parser for `--platform`, compose `platform:`, `FROM --platform` and the registry's
//! manifest lists, with the architecture aliases normalised (`x86_64` → `amd64`, `aarch64` →
//! `arm64`), so a mismatch is found once, the same way everywhere.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    /// Empty when unset (`linux/amd64`); `v8` in `linux/arm64/v8`.
    pub variant: String,
}

/// The Go spelling of the architecture this binary runs on.
pub fn host_arch() -> &'static str {
    normalise_arch(std::env::consts::ARCH)
}

fn normalise_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        "armhf" | "armel" => "arm",
        other => other,
    }
}

impl Platform {
    /// The platform of this host: `linux/<arch>`.
    pub fn host() -> Self {
        Platform {
            os: "linux".into(),
            architecture: host_arch().into(),
            variant: String::new(),
        }
    }

    /// Parse `os`, `os/arch` or `os/arch/variant` (an omitted arch is the host's, as
    /// containerd's `platforms.Parse` does); the error says what was expected.
    pub fn parse(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        let bad =
            || format!("invalid platform {s:?}: expected os[/arch[/variant]], e.g. linux/amd64");
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty() || !valid_part(p)) {
            return Err(bad());
        }
        let architecture = parts
            .get(1)
            .map(|a| normalise_arch(a))
            .unwrap_or(host_arch());
        let mut variant = parts.get(2).copied().unwrap_or("").to_string();
        // arm64's only variant is v8, which containerd drops.
        if architecture == "arm64" && variant == "v8" {
            variant.clear();
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: architecture.to_string(),
            variant,
        })
    }

    /// Whether an image of `os`/`architecture`/`variant` satisfies this requested platform: a
    /// request without a variant takes any.
    pub fn matches(&self, os: &str, architecture: &str, variant: &str) -> bool {
        let variant = if architecture == "arm64" && variant == "v8" {
            ""
        } else {
            variant
        };
        self.os == os.to_ascii_lowercase()
            && self.architecture == normalise_arch(&architecture.to_ascii_lowercase())
            && (self.variant.is_empty() || self.variant == variant)
    }
}

fn valid_part(p: &str) -> bool {
    p.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises_as_containerd() {
        let p = Platform::parse("linux/x86_64").unwrap();
        assert_eq!(p.to_string(), "linux/amd64");
        assert_eq!(
            Platform::parse("Linux/arm64/v8").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(Platform::parse("linux/arm/v7").unwrap().variant, "v7");
        assert_eq!(Platform::parse("linux").unwrap(), Platform::host());
        for bad in ["", "linux/", "a/b/c/d", "linux/am d64", "/amd64"] {
            let e = Platform::parse(bad).unwrap_err();
            assert!(e.contains("os[/arch[/variant]]"), "{bad}: {e}");
        }
    }

    #[test]
    fn matches_images_with_or_without_a_variant() {
        let arm = Platform::parse("linux/arm/v7").unwrap();
        assert!(arm.matches("linux", "arm", "v7"));
        assert!(!arm.matches("linux", "arm", "v6"));
        let any_arm = Platform::parse("linux/arm").unwrap();
        assert!(any_arm.matches("linux", "arm", "v6"));
        assert!(Platform::parse("linux/arm64")
            .unwrap()
            .matches("linux", "aarch64", "v8"));
        assert!(!Platform::parse("windows/amd64")
            .unwrap()
            .matches("linux", "amd64", ""));
    }
}
