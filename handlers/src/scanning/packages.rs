//! What an image has installed: its distribution (`etc/os-release`) and the packages of
//! its package database (dpkg's `status` and `status.d/`, apk's `installed`), named as
//! the OSV ecosystems of that distribution name them; and for enhanced scans its language
//! packages (`Cargo.lock`, `package-lock.json`, Python `*.dist-info/METADATA`).

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
    /// The manifest a language package was read from.
    pub file_path: Option<String>,
}

/// An image's operating system packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The OSV ecosystem, e.g. `Debian:12`, `Alpine:v3.20`, `Ubuntu:22.04`.
    pub ecosystem: String,
    pub scheme: VersionScheme,
    /// Inspector's name of the package manager (`OS`, `CARGO`, `NPM`, `PYTHONPKG`).
    pub package_manager: &'static str,
    pub packages: Vec<Package>,
}

/// `KEY=value` lines of os-release, quotes removed.
fn os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| {
            (k.trim().to_string(), v.trim().trim_matches('"').trim_matches('\'').to_string())
        })
        .collect()
}

/// The OSV ecosystem of a distribution (`ID` and `VERSION_ID` of os-release).
fn ecosystem(id: &str, version: Option<&str>, codename: Option<&str>) -> Option<String> {
    match id {
        "debian" => Some(format!("Debian:{}", version.or(codename).unwrap_or("unstable"))),
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
    let field = |key: &str| release.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let (version, codename) = (field("VERSION_ID"), field("VERSION_CODENAME"));
    let ids = std::iter::once(field("ID").unwrap_or(""))
        .chain(field("ID_LIKE").unwrap_or("").split_whitespace())
        .collect::<Vec<_>>();
    let named = |wanted: &[&str]| {
        ids.iter().find(|id| wanted.contains(id)).and_then(|id| ecosystem(id, version, codename))
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
            package_manager: "OS",
            packages: dpkg,
        });
    }
    let apk = files.get("lib/apk/db/installed")?;
    Some(Inventory {
        ecosystem: named(&["alpine"]).unwrap_or_else(|| "Alpine:unknown".into()),
        scheme: VersionScheme::Apk,
        package_manager: "OS",
        packages: parse_apk_installed(&String::from_utf8_lossy(apk)),
    })
}

fn language_package(name: &str, version: &str, path: &str) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        source: name.to_string(),
        source_version: version.to_string(),
        file_path: Some(format!("/{path}")),
    }
}

/// The image's language packages, one inventory per ecosystem that has any.
pub fn language_inventories(files: &ImageFiles) -> Vec<Inventory> {
    let (mut cargo, mut npm, mut python) = (Vec::new(), Vec::new(), Vec::new());
    for (path, bytes) in files.all() {
        let text = String::from_utf8_lossy(bytes);
        let file = path.rsplit('/').next().unwrap_or(path);
        match file {
            "Cargo.lock" => cargo.extend(
                parse_cargo_lock(&text).into_iter().map(|(n, v)| language_package(&n, &v, path)),
            ),
            "package-lock.json" => npm.extend(
                parse_package_lock(&text).into_iter().map(|(n, v)| language_package(&n, &v, path)),
            ),
            "METADATA" => {
                let field = |key: &str| {
                    text.lines()
                        .take_while(|l| !l.is_empty())
                        .find_map(|l| l.strip_prefix(key))
                        .map(str::trim)
                };
                if let (Some(name), Some(version)) = (field("Name:"), field("Version:")) {
                    python.push(language_package(name, version, path));
                }
            }
            _ => {}
        }
    }
    [
        ("crates.io", VersionScheme::Semver, "CARGO", cargo),
        ("npm", VersionScheme::Semver, "NPM", npm),
        ("PyPI", VersionScheme::Pep440, "PYTHONPKG", python),
    ]
    .into_iter()
    .filter(|(_, _, _, packages)| !packages.is_empty())
    .map(|(ecosystem, scheme, package_manager, packages)| Inventory {
        ecosystem: ecosystem.to_string(),
        scheme,
        package_manager,
        packages,
    })
    .collect()
}

/// `[[package]]` entries of a Cargo.lock: (name, version).
fn parse_cargo_lock(text: &str) -> Vec<(String, String)> {
    let value = |line: &str, key: &str| {
        line.strip_prefix(key)
            .map(|rest| rest.trim().trim_start_matches('=').trim().trim_matches('"').to_string())
    };
    text.split("[[package]]")
        .skip(1)
        .filter_map(|block| {
            let name = block.lines().find_map(|l| value(l.trim(), "name "));
            let version = block.lines().find_map(|l| value(l.trim(), "version "));
            name.zip(version)
        })
        .collect()
}

/// The packages of an npm lockfile (v2/v3 `packages`, v1 `dependencies`): (name, version).
fn parse_package_lock(text: &str) -> Vec<(String, String)> {
    let Ok(lock) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(packages) = lock["packages"].as_object() {
        for (path, package) in packages {
            let Some(name) = path
                .rsplit("node_modules/")
                .next()
                .filter(|n| !n.is_empty() && path.contains("node_modules/"))
            else {
                continue;
            };
            if let Some(version) = package["version"].as_str() {
                out.push((name.to_string(), version.to_string()));
            }
        }
    } else if let Some(dependencies) = lock["dependencies"].as_object() {
        for (name, package) in dependencies {
            if let Some(version) = package["version"].as_str() {
                out.push((name.clone(), version.to_string()));
            }
        }
    }
    out
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
        let get =
            |key: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| *v);
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
            file_path: None,
        });
    }
    packages
}

/// The packages of apk's `installed` database (`P:` name, `V:` version, `o:` origin).
pub fn parse_apk_installed(text: &str) -> Vec<Package> {
    let mut packages = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |key: &str| stanza.lines().find_map(|l| l.strip_prefix(key)).map(str::trim);
        let (Some(name), Some(version)) = (field("P:"), field("V:")) else {
            continue;
        };
        packages.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            source: field("o:").unwrap_or(name).to_string(),
            source_version: version.to_string(),
            file_path: None,
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
            .map(|p| (p.name.as_str(), p.source.as_str(), p.source_version.as_str()))
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
        assert_eq!(inventory(&ImageFiles::default()), None, "no package database");
    }

    #[test]
    fn language_packages_of_enhanced_scans() {
        let mut files = ImageFiles::default();
        let layer = tarball(&[
            (
                "app/Cargo.lock",
                Some(b"version = 3\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n"),
            ),
            (
                "srv/package-lock.json",
                Some(br#"{"lockfileVersion":3,"packages":{"":{"name":"srv"},"node_modules/lodash":{"version":"4.17.20"},"node_modules/a/node_modules/@scope/b":{"version":"1.0.0"}}}"#),
            ),
            (
                "usr/lib/python3/site-packages/requests-2.25.0.dist-info/METADATA",
                Some(b"Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n\nbody\n"),
            ),
            ("usr/lib/python3/site-packages/notes/METADATA", Some(b"Name: no\n")),
        ]);
        files.apply_layer(0, layer.as_slice()).unwrap();
        let inventories = language_inventories(&files);
        let summary: Vec<(String, Vec<(String, String)>)> = inventories
            .iter()
            .map(|i| {
                (
                    i.ecosystem.clone(),
                    i.packages.iter().map(|p| (p.name.clone(), p.version.clone())).collect(),
                )
            })
            .collect();
        let pair = |n: &str, v: &str| (n.to_string(), v.to_string());
        assert_eq!(
            summary,
            [
                ("crates.io".to_string(), vec![pair("smallvec", "1.6.0"), pair("app", "0.1.0")]),
                ("npm".to_string(), vec![pair("@scope/b", "1.0.0"), pair("lodash", "4.17.20")]),
                ("PyPI".to_string(), vec![pair("requests", "2.25.0")]),
            ]
        );
        assert_eq!(inventories[0].packages[0].file_path.as_deref(), Some("/app/Cargo.lock"));
    }
}
