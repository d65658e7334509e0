//! What an image has installed: its distribution (`etc/os-release`) and the packages of
//! its package database (dpkg's `status` and `status.d/`, apk's `installed`), named as
//! the OSV ecosystems of that distribution name them.

use super::layers::ImageFiles;
use super::versions::VersionScheme;

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// The package advisories name: dpkg's source package (Debian's advisories are per
    /// source package), apk's origin; the package itself when the database says none.
    pub source: String,
    /// The version advisories compare: the source package's version.
    pub source_version: String,
}

/// An image's operating system packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The OSV ecosystem, e.g. `Debian:12`, `Alpine:v3.20`, `Ubuntu:22.04`.
    pub ecosystem: String,
    pub scheme: VersionScheme,
    pub packages: Vec<Package>,
}

/// `KEY=value` lines of os-release, quotes removed.
fn os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.trim().trim_matches('"').trim_matches('\'').to_string(),
            )
        })
        .collect()
}

/// The OSV ecosystem of a distribution (`ID` and `VERSION_ID` of os-release).
fn ecosystem(id: &str, version: Option<&str>, codename: Option<&str>) -> Option<String> {
    match id {
        "debian" => Some(format!(
            "Debian:{}",
            version.or(codename).unwrap_or("unstable")
        )),
        "ubuntu" => version.map(|v| format!("Ubuntu:{v}")),
        "alpine" => version.map(|v| {
            let mut parts = v.split('.');
            let major = parts.next().unwrap_or("");
            let minor = parts.next().unwrap_or("0");
            format!("Alpine:v{major}.{minor}")
        }),
        _ => None,
    }
}

/// The image's packages, or `None` when it has no package database berth reads (ECR's
/// UnsupportedImageError).
pub fn inventory(files: &ImageFiles) -> Option<Inventory> {
    let release = files
        .get("etc/os-release")
        .or_else(|| files.get("usr/lib/os-release"))
        .map(|b| os_release(&String::from_utf8_lossy(b)))
        .unwrap_or_default();
    let field = |key: &str| {
        release
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let (version, codename) = (field("VERSION_ID"), field("VERSION_CODENAME"));
    let ids = std::iter::once(field("ID").unwrap_or(""))
        .chain(field("ID_LIKE").unwrap_or("").split_whitespace())
        .collect::<Vec<_>>();
    let named = |wanted: &[&str]| {
        ids.iter()
            .find(|id| wanted.contains(id))
            .and_then(|id| ecosystem(id, version, codename))
    };

    let mut dpkg = Vec::new();
    if let Some(status) = files.get("var/lib/dpkg/status") {
        dpkg.extend(parse_dpkg_status(&String::from_utf8_lossy(status)));
    }
    for (_, status) in files.under("var/lib/dpkg/status.d") {
        dpkg.extend(parse_dpkg_status(&String::from_utf8_lossy(status)));
    }
    if !dpkg.is_empty() || files.get("var/lib/dpkg/status").is_some() {
        return Some(Inventory {
            ecosystem: named(&["debian", "ubuntu"]).unwrap_or_else(|| "Debian:unknown".into()),
            scheme: VersionScheme::Dpkg,
            packages: dpkg,
        });
    }
    let apk = files.get("lib/apk/db/installed")?;
    Some(Inventory {
        ecosystem: named(&["alpine"]).unwrap_or_else(|| "Alpine:unknown".into()),
        scheme: VersionScheme::Apk,
        packages: parse_apk_installed(&String::from_utf8_lossy(apk)),
    })
}

/// The installed packages of a dpkg status file (stanzas whose `Status` ends in
/// `installed`), with their source package: `Source: name` or `Source: name (version)`.
pub fn parse_dpkg_status(text: &str) -> Vec<Package> {
    let mut packages = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: Vec<(&str, &str)> = Vec::new();
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                continue; // a continuation (Description, Conffiles)
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim(), v.trim()));
            }
        }
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| *v)
        };
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            continue;
        };
        // distroless status.d files carry no Status: what is there is installed.
        if get("Status").is_some_and(|s| !s.ends_with(" installed")) {
            continue;
        }
        let (source, source_version) = match get("Source") {
            Some(source) => match source.split_once(" (") {
                Some((s, v)) => (s.trim(), v.trim_end_matches(')').trim()),
                None => (source, version),
            },
            None => (name, version),
        };
        packages.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            source: source.to_string(),
            source_version: source_version.to_string(),
        });
    }
    packages
}

/// The packages of apk's `installed` database (`P:` name, `V:` version, `o:` origin).
pub fn parse_apk_installed(text: &str) -> Vec<Package> {
    let mut packages = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |key: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
        };
        let (Some(name), Some(version)) = (field("P:"), field("V:")) else {
            continue;
        };
        packages.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            source: field("o:").unwrap_or(name).to_string(),
            source_version: version.to_string(),
        });
    }
    packages
}

#[cfg(test)]
mod tests {
    use super::super::layers::tests::tarball;
    use super::*;

    #[test]
    fn dpkg_status_reads_installed_packages_and_their_sources() {
        let status = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\nSource: glibc\nDescription: GNU C Library\n continued: here\n\nPackage: openssl\nStatus: install ok installed\nSource: openssl (3.0.11-1~deb12u2)\nVersion: 3.0.11-1~deb12u2+b1\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n";
        let packages = parse_dpkg_status(status);
        let summary: Vec<(&str, &str, &str)> = packages
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.source.as_str(),
                    p.source_version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("libc6", "glibc", "2.36-9+deb12u4"),
                ("openssl", "openssl", "3.0.11-1~deb12u2"),
                ("zlib1g", "zlib1g", "1:1.2.13.dfsg-1"),
            ]
        );
    }

    #[test]
    fn the_distribution_names_the_ecosystem() {
        let mut files = ImageFiles::default();
        let layer = tarball(&[
            ("etc/os-release", Some(b"ID=alpine\nVERSION_ID=3.20.3\n")),
            (
                "lib/apk/db/installed",
                Some(b"C:Q1\nP:musl\nV:1.2.5-r0\no:musl\n\nP:libcrypto3\nV:3.3.2-r0\no:openssl\n"),
            ),
        ]);
        files.apply_layer(0, layer.as_slice()).unwrap();
        let alpine = inventory(&files).unwrap();
        assert_eq!(alpine.ecosystem, "Alpine:v3.20");
        assert_eq!(alpine.scheme, VersionScheme::Apk);
        assert_eq!(alpine.packages[1].source, "openssl");

        let mut debian = ImageFiles::default();
        let layer = tarball(&[
            (
                "usr/lib/os-release",
                Some(b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"),
            ),
            ("var/lib/dpkg/status", Some(b"Package: a\nVersion: 1\nStatus: install ok installed\n")),
        ]);
        debian.apply_layer(0, layer.as_slice()).unwrap();
        assert_eq!(inventory(&debian).unwrap().ecosystem, "Debian:12");
        assert_eq!(
            inventory(&ImageFiles::default()),
            None,
            "no package database"
        );
    }
}
