//! A vulnerability feed in the OSV format (the public OSV exports: one advisory per JSON
//! file), read once and indexed by ecosystem and package, and matched against an image's
//! packages with the ecosystem's own version ordering.

use super::enhanced::{enhanced_finding, ScannedImage};
use super::packages::{Inventory, Package};
use super::versions::VersionScheme;
use berth_generated::ecr::{
    Attribute, EnhancedImageScanFinding, FindingSeverity, ImageScanFinding,
};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// The indexed feed.
#[derive(Debug, Default)]
pub struct VulnerabilityFeed {
    /// (ecosystem, package) -> the advisories' statements about it.
    index: HashMap<(String, String), Vec<Affected>>,
    /// The newest `modified` of any advisory (epoch seconds).
    pub updated_at: Option<f64>,
    /// Advisories read.
    pub advisories: usize,
}

/// What one advisory says about one package.
#[derive(Debug)]
struct Affected {
    advisory: Arc<Advisory>,
    versions: Vec<String>,
    ranges: Vec<Vec<Event>>,
}

/// The parts of an advisory a finding shows.
#[derive(Debug)]
pub(super) struct Advisory {
    pub(super) name: String,
    /// The advisory's id and aliases other than `name`.
    pub(super) aliases: Vec<String>,
    pub(super) description: String,
    pub(super) uri: String,
    pub(super) severity: FindingSeverity,
    pub(super) cvss2: Option<(String, f64)>,
    pub(super) cvss3: Option<(String, f64)>,
}

#[derive(Debug, Clone)]
enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
}

#[derive(Deserialize)]
struct RawAdvisory {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    modified: String,
    #[serde(default)]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    affected: Vec<RawAffected>,
    #[serde(default)]
    references: Vec<RawReference>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    #[serde(default)]
    ranges: Vec<RawRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct RawReference {
    #[serde(rename = "type", default)]
    kind: String,
    url: String,
}

/// `Ubuntu:22.04:LTS` and `Ubuntu:22.04` are one release; other ecosystems are as named.
fn ecosystem_key(ecosystem: &str) -> String {
    let mut parts = ecosystem.splitn(3, ':');
    match (parts.next(), parts.next()) {
        (Some(name), Some(release)) => format!("{name}:{release}"),
        _ => ecosystem.to_string(),
    }
}

/// ECR's severity of a CVSS v3 base score.
fn severity_of_score(score: f64) -> FindingSeverity {
    match score {
        s if s >= 9.0 => FindingSeverity::Critical,
        s if s >= 7.0 => FindingSeverity::High,
        s if s >= 4.0 => FindingSeverity::Medium,
        s if s > 0.0 => FindingSeverity::Low,
        _ => FindingSeverity::Informational,
    }
}

/// A database's own severity word.
fn severity_of_word(word: &str) -> FindingSeverity {
    match word.to_ascii_uppercase().as_str() {
        "CRITICAL" => FindingSeverity::Critical,
        "HIGH" | "IMPORTANT" => FindingSeverity::High,
        "MEDIUM" | "MODERATE" => FindingSeverity::Medium,
        "LOW" => FindingSeverity::Low,
        "NEGLIGIBLE" | "UNIMPORTANT" | "INFORMATIONAL" => FindingSeverity::Informational,
        _ => FindingSeverity::Undefined,
    }
}

fn database_severity(value: &Option<serde_json::Value>) -> Option<FindingSeverity> {
    value
        .as_ref()
        .and_then(|v| v.get("severity"))
        .and_then(|v| v.as_str())
        .map(severity_of_word)
        .filter(|s| *s != FindingSeverity::Undefined)
}

impl VulnerabilityFeed {
    /// Reads every `*.json` file under `dir` (recursively). A file that is not an OSV
    /// advisory is skipped with a warning, so that one bad file does not stop scanning.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let mut feed = VulnerabilityFeed::default();
        let mut pending = vec![dir.to_path_buf()];
        let mut skipped = 0usize;
        while let Some(directory) = pending.pop() {
            let entries = std::fs::read_dir(&directory).map_err(|e| {
                format!("cannot read the vulnerability feed {}: {e}", directory.display())
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let parsed = std::fs::read(&path)
                        .ok()
                        .and_then(|bytes| serde_json::from_slice::<RawAdvisory>(&bytes).ok());
                    match parsed {
                        Some(raw) => feed.add(raw),
                        None => skipped += 1,
                    }
                }
            }
        }
        if skipped > 0 {
            tracing::warn!(
                skipped,
                "vulnerability feed: files that are not OSV advisories were skipped"
            );
        }
        Ok(feed)
    }

    fn add(&mut self, raw: RawAdvisory) {
        self.advisories += 1;
        if let Some(at) = crate::clock::parse_rfc3339(&raw.modified) {
            self.updated_at = Some(self.updated_at.map_or(at, |u| u.max(at)));
        }
        let name = if raw.id.starts_with("CVE-") {
            raw.id.clone()
        } else {
            raw.aliases
                .iter()
                .find(|a| a.starts_with("CVE-"))
                .cloned()
                .unwrap_or_else(|| raw.id.clone())
        };
        let uri = raw
            .references
            .iter()
            .find(|r| r.kind == "ADVISORY")
            .or_else(|| raw.references.first())
            .map(|r| r.url.clone())
            .unwrap_or_else(|| format!("https://osv.dev/vulnerability/{}", raw.id));
        let description =
            if raw.details.is_empty() { raw.summary.clone() } else { raw.details.clone() };
        for affected in raw.affected {
            let Some(package) = &affected.package else {
                continue;
            };
            let severities: Vec<&RawSeverity> =
                affected.severity.iter().chain(&raw.severity).collect();
            let cvss3 = severities.iter().filter(|s| s.kind == "CVSS_V3").find_map(|s| {
                let vector: cvss::v3::Vector = s.score.parse().ok()?;
                Some((s.score.clone(), vector.base_score().value()))
            });
            let cvss2 = severities.iter().filter(|s| s.kind == "CVSS_V2").find_map(|s| {
                let vector: cvss::v2::Vector = s.score.parse().ok()?;
                Some((s.score.clone(), vector.score().value()))
            });
            let severity = match &cvss3 {
                Some((_, score)) => severity_of_score(*score),
                None => database_severity(&affected.database_specific)
                    .or_else(|| database_severity(&raw.database_specific))
                    .unwrap_or(FindingSeverity::Undefined),
            };
            let advisory = Arc::new(Advisory {
                name: name.clone(),
                aliases: std::iter::once(&raw.id)
                    .chain(&raw.aliases)
                    .filter(|a| **a != name)
                    .cloned()
                    .collect(),
                description: description.clone(),
                uri: uri.clone(),
                severity,
                cvss2,
                cvss3,
            });
            let ranges = affected
                .ranges
                .iter()
                .filter(|r| r.kind != "GIT")
                .map(|r| {
                    r.events
                        .iter()
                        .flat_map(|e| e.iter())
                        .filter_map(|(k, v)| match k.as_str() {
                            "introduced" => Some(Event::Introduced(v.clone())),
                            "fixed" => Some(Event::Fixed(v.clone())),
                            "last_affected" => Some(Event::LastAffected(v.clone())),
                            _ => None,
                        })
                        .collect()
                })
                .collect();
            self.index
                .entry((ecosystem_key(&package.ecosystem), package.name.clone()))
                .or_default()
                .push(Affected { advisory, versions: affected.versions, ranges });
        }
    }

    /// Each advisory that affects a package, once per source package, most severe first
    /// (then by name), with the version that fixes it when the feed says.
    fn matches<'a>(&'a self, inventory: &'a Inventory) -> Vec<Match<'a>> {
        let ecosystem = ecosystem_key(&inventory.ecosystem);
        let mut seen = BTreeSet::new();
        let mut found = Vec::new();
        for package in &inventory.packages {
            let Some(statements) = self.index.get(&(ecosystem.clone(), package.source.clone()))
            else {
                continue;
            };
            for affected in statements {
                let Some(fixed_in) =
                    affected_until(affected, &package.source_version, inventory.scheme)
                else {
                    continue;
                };
                let advisory = &*affected.advisory;
                if seen.insert((advisory.name.clone(), package.source.clone())) {
                    found.push(Match { advisory, package, fixed_in });
                }
            }
        }
        found.sort_by(|a, b| {
            rank(Some(a.advisory.severity))
                .cmp(&rank(Some(b.advisory.severity)))
                .then_with(|| a.advisory.name.cmp(&b.advisory.name))
                .then_with(|| a.package.source.cmp(&b.package.source))
        });
        found
    }

    /// The findings of a basic scan, in ECR's shape: named by CVE, `package_name` and
    /// `package_version` of the source package (ECR's basic scans report e.g. `e2fsprogs`,
    /// not each binary package built from it), CVSS vectors and scores.
    pub fn findings(&self, inventory: &Inventory) -> Vec<ImageScanFinding> {
        self.matches(inventory)
            .into_iter()
            .map(|m| {
                let (advisory, package) = (m.advisory, m.package);
                let mut attributes = vec![
                    attribute("package_version", &package.source_version),
                    attribute("package_name", &package.source),
                ];
                if let Some((vector, score)) = &advisory.cvss2 {
                    attributes.push(attribute("CVSS2_VECTOR", vector));
                    attributes.push(attribute("CVSS2_SCORE", &format!("{score:.1}")));
                }
                if let Some((vector, score)) = &advisory.cvss3 {
                    attributes.push(attribute("CVSS3_VECTOR", vector));
                    attributes.push(attribute("CVSS3_SCORE", &format!("{score:.1}")));
                }
                ImageScanFinding {
                    name: Some(advisory.name.clone()),
                    description: Some(advisory.description.clone()),
                    uri: Some(advisory.uri.clone()),
                    severity: Some(advisory.severity),
                    attributes: Some(attributes),
                }
            })
            .collect()
    }

    /// The findings of an enhanced scan, in Amazon Inspector's shape.
    pub fn enhanced_findings(
        &self, inventory: &Inventory, image: &ScannedImage,
    ) -> Vec<EnhancedImageScanFinding> {
        self.matches(inventory)
            .into_iter()
            .map(|m| enhanced_finding(&m, inventory.package_manager, image))
            .collect()
    }
}

/// One advisory affecting one package.
pub(super) struct Match<'a> {
    pub(super) advisory: &'a Advisory,
    pub(super) package: &'a Package,
    /// The version that fixes it, when the advisory names one.
    pub(super) fixed_in: Option<String>,
}

fn rank(severity: Option<FindingSeverity>) -> u8 {
    match severity {
        Some(FindingSeverity::Critical) => 0,
        Some(FindingSeverity::High) => 1,
        Some(FindingSeverity::Medium) => 2,
        Some(FindingSeverity::Low) => 3,
        Some(FindingSeverity::Informational) => 4,
        _ => 5,
    }
}

fn attribute(key: &str, value: &str) -> Attribute {
    Attribute { key: Some(key.to_string()), value: Some(value.to_string()) }
}

/// OSV's rule: listed in `versions`, or inside a range (events in version order; from an
/// `introduced` on, up to a `fixed` or past a `last_affected`). `Some(fixed version)` when
/// affected.
fn affected_until(
    affected: &Affected, version: &str, scheme: VersionScheme,
) -> Option<Option<String>> {
    let mut listed = affected.versions.iter().any(|v| v == version);
    let mut fixed_in = None;
    for events in &affected.ranges {
        let at = |e: &Event| match e {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) => v.clone(),
        };
        let mut ordered = events.clone();
        ordered.sort_by(|a, b| match (at(a).as_str(), at(b).as_str()) {
            ("0", "0") => std::cmp::Ordering::Equal,
            ("0", _) => std::cmp::Ordering::Less,
            (_, "0") => std::cmp::Ordering::Greater,
            (x, y) => scheme.compare(x, y),
        });
        let mut inside = false;
        let mut fix = None;
        for event in &ordered {
            match event {
                Event::Introduced(v) => {
                    if v == "0" || scheme.compare(version, v).is_ge() {
                        inside = true;
                    }
                }
                Event::Fixed(v) => {
                    if scheme.compare(version, v).is_ge() {
                        inside = false;
                    } else if inside && fix.is_none() {
                        fix = Some(v.clone());
                    }
                }
                Event::LastAffected(v) => {
                    if scheme.compare(version, v).is_gt() {
                        inside = false;
                    }
                }
            }
        }
        if inside {
            listed = true;
            fixed_in = fixed_in.or(fix);
        }
    }
    listed.then_some(fixed_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, advisory: serde_json::Value) {
        std::fs::write(dir.join(name), advisory.to_string()).unwrap();
    }

    fn package(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            source: name.into(),
            source_version: version.into(),
            file_path: None,
        }
    }

    #[test]
    fn advisories_match_by_ecosystem_package_and_version_order() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "DSA-1.json",
            serde_json::json!({
                "id": "DSA-1", "aliases": ["CVE-2024-0001"], "modified": "2024-05-01T12:00:00Z",
                "summary": "fixed in an epoch",
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
                "affected": [{"package": {"ecosystem": "Debian:12", "name": "zlib"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.2.13-2"}]}]}]
            }),
        );
        write(
            dir.path(),
            "CVE-2024-0002.json",
            serde_json::json!({
                "id": "CVE-2024-0002", "modified": "2024-06-01T00:00:00Z", "details": "tilde",
                "database_specific": {"severity": "low"},
                "affected": [{"package": {"ecosystem": "Debian:12", "name": "zlib"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.2.13-1~deb12u1"}]}]}]
            }),
        );
        write(
            dir.path(),
            "other.json",
            serde_json::json!({
                "id": "CVE-2024-0003",
                "affected": [{"package": {"ecosystem": "Debian:11", "name": "zlib"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]
            }),
        );
        std::fs::write(dir.path().join("broken.json"), "{not json").unwrap();
        let feed = VulnerabilityFeed::load(dir.path()).unwrap();
        assert_eq!(feed.advisories, 3);
        assert_eq!(feed.updated_at, Some(1717200000.0));

        let inventory = |version: &str| Inventory {
            ecosystem: "Debian:12".into(),
            scheme: VersionScheme::Dpkg,
            package_manager: "OS",
            packages: vec![package("zlib", version)],
        };
        let names = |version: &str| -> Vec<(String, FindingSeverity)> {
            feed.findings(&inventory(version))
                .into_iter()
                .map(|f| (f.name.unwrap(), f.severity.unwrap()))
                .collect()
        };
        // 1:1.2.13-1 is before both fixes: the epoch counts, and `~` sorts first.
        assert_eq!(
            names("1:1.2.13-1~deb11u1"),
            [
                ("CVE-2024-0001".to_string(), FindingSeverity::Critical),
                ("CVE-2024-0002".to_string(), FindingSeverity::Low)
            ]
        );
        assert_eq!(
            names("1:1.2.13-1~deb12u1"),
            [("CVE-2024-0001".to_string(), FindingSeverity::Critical)]
        );
        assert!(names("1:1.2.13-2").is_empty());
        // Without an epoch, 1.2.13-9 is older than any 1:...; the Debian:11 advisory never
        // applies to a Debian:12 image.
        let image = ScannedImage {
            account: "000000000000".into(),
            region: "us-east-1".into(),
            repository: "app".into(),
            digest: "sha256:00".into(),
            tags: vec!["v1".into()],
            pushed_at: 0.0,
            scanned_at: 1.0,
        };
        let enhanced = feed.enhanced_findings(&inventory("1:1.2.13-1~deb11u1"), &image);
        assert_eq!(enhanced.len(), 2);
        let critical = &enhanced[0];
        assert_eq!(critical.severity.as_deref(), Some("CRITICAL"));
        assert_eq!(critical.fix_available.as_deref(), Some("YES"));
        assert_eq!(critical.score, 9.8);
        let details = critical.package_vulnerability_details.as_ref().unwrap();
        assert_eq!(details.related_vulnerabilities.as_deref(), Some(&["DSA-1".to_string()][..]));
        let package = &details.vulnerable_packages.as_ref().unwrap()[0];
        assert_eq!(package.fixed_in_version.as_deref(), Some("1:1.2.13-2"));
        assert_eq!(enhanced[1].severity.as_deref(), Some("LOW"));

        let old = names("1.2.13-9");
        assert_eq!(old.len(), 2);
        assert!(old.iter().all(|(name, _)| name != "CVE-2024-0003"));
    }

    #[test]
    fn last_affected_and_listed_versions() {
        let mut feed = VulnerabilityFeed::default();
        feed.add(
            serde_json::from_value(serde_json::json!({
                "id": "GHSA-x", "aliases": ["CVE-2024-9"],
                "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "openssl"},
                  "versions": ["3.3.0-r9"],
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.1.0-r0"}, {"last_affected": "3.2.1-r3"}]}]}]
            }))
            .unwrap(),
        );
        let hit = |version: &str| {
            !feed
                .findings(&Inventory {
                    ecosystem: "Alpine:v3.20".into(),
                    scheme: VersionScheme::Apk,
                    package_manager: "OS",
                    packages: vec![package("openssl", version)],
                })
                .is_empty()
        };
        assert!(hit("3.2.1-r3"));
        assert!(hit("3.1.0-r0"));
        assert!(!hit("3.2.1-r4"));
        assert!(!hit("3.0.9-r0"));
        assert!(hit("3.3.0-r9"), "listed");
    }
}
