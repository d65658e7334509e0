//! Version ordering per ecosystem, as each package manager orders its own versions: dpkg
//! (epochs, `~` before anything, deb-version(7)), apk (apk-tools' letters, `_alpha` ...
//! `_p` suffixes and `-r` revisions), semver (crates.io, npm) and PEP 440 (PyPI).

use std::cmp::Ordering;

/// The ordering an ecosystem uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionScheme {
    Dpkg,
    Apk,
    Semver,
    Pep440,
}

impl VersionScheme {
    /// Compares two versions of this scheme.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            VersionScheme::Dpkg => compare_dpkg(a, b),
            VersionScheme::Apk => compare_apk(a, b),
            VersionScheme::Semver => compare_semver(a, b),
            VersionScheme::Pep440 => compare_pep440(a, b),
        }
    }
}

/// dpkg's order: epoch numerically, then upstream version, then revision, each compared
/// by deb-version(7)'s rule (non-digit runs by character with `~` lowest, digit runs
/// numerically).
pub fn compare_dpkg(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_dpkg(a);
    let (eb, ub, rb) = split_dpkg(b);
    ea.cmp(&eb).then_with(|| compare_dpkg_part(ua, ub)).then_with(|| compare_dpkg_part(ra, rb))
}

fn split_dpkg(version: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match version.split_once(':') {
        Some((e, rest)) if e.chars().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, version),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// The weight of a character in a non-digit run (the end of the string weighs 0).
fn dpkg_weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn compare_dpkg_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (wa, wb) = (dpkg_weight(a.get(i).copied()), dpkg_weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_difference = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_difference == Ordering::Equal {
                first_difference = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_difference != Ordering::Equal {
            return first_difference;
        }
    }
    Ordering::Equal
}

/// An apk version taken apart: `1.2.3b_rc2_p1-r4`.
#[derive(Debug, PartialEq, Eq)]
struct ApkVersion {
    numbers: Vec<u64>,
    letter: Option<u8>,
    /// (rank, number): `_alpha` < `_beta` < `_pre` < `_rc` < none < `_cvs` < `_svn` <
    /// `_git` < `_hg` < `_p`.
    suffixes: Vec<(i8, u64)>,
    revision: u64,
}

/// The rank of "no suffix" among apk's suffixes.
const APK_NO_SUFFIX: i8 = 0;

fn apk_suffix_rank(name: &str) -> i8 {
    match name {
        "alpha" => -4,
        "beta" => -3,
        "pre" => -2,
        "rc" => -1,
        "cvs" => 1,
        "svn" => 2,
        "git" => 3,
        "hg" => 4,
        "p" => 5,
        _ => APK_NO_SUFFIX,
    }
}

fn parse_apk(version: &str) -> ApkVersion {
    let (body, revision) = match version.rsplit_once("-r") {
        Some((body, r)) if r.chars().all(|c| c.is_ascii_digit()) && !r.is_empty() => {
            (body, r.parse().unwrap_or(u64::MAX))
        }
        _ => (version, 0),
    };
    let mut parts = body.split('_');
    let main = parts.next().unwrap_or("");
    let (numbers_text, letter) = match main.as_bytes().last() {
        Some(c) if c.is_ascii_alphabetic() => (&main[..main.len() - 1], Some(*c)),
        _ => (main, None),
    };
    let numbers = numbers_text.split('.').map(|n| n.parse().unwrap_or(0)).collect();
    let suffixes = parts
        .map(|s| {
            let split = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
            let (name, number) = s.split_at(split);
            (apk_suffix_rank(name), number.parse().unwrap_or(0))
        })
        .collect();
    ApkVersion { numbers, letter, suffixes, revision }
}

/// apk's order (apk-tools `apk_version_compare`).
pub fn compare_apk(a: &str, b: &str) -> Ordering {
    let (a, b) = (parse_apk(a), parse_apk(b));
    let numbers = a.numbers.iter().zip(&b.numbers).map(|(x, y)| x.cmp(y));
    for ordering in numbers {
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.numbers
        .len()
        .cmp(&b.numbers.len())
        .then_with(|| a.letter.cmp(&b.letter))
        .then_with(|| {
            let length = a.suffixes.len().max(b.suffixes.len());
            let none = (APK_NO_SUFFIX, 0);
            (0..length)
                .map(|i| {
                    let x = a.suffixes.get(i).unwrap_or(&none);
                    let y = b.suffixes.get(i).unwrap_or(&none);
                    x.cmp(y)
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| a.revision.cmp(&b.revision))
}

/// Semver's order; versions that are not semver compare by their numeric and textual
/// runs (`1.2.post3` style), which keeps them totally ordered.
pub fn compare_semver(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| semver::Version::parse(v.trim_start_matches('v'));
    match (parse(a), parse(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => compare_runs(a, b),
    }
}

/// PEP 440's order (`1.0rc1 < 1.0 < 1.0.post1`); versions that are not PEP 440 compare
/// by their runs.
pub fn compare_pep440(a: &str, b: &str) -> Ordering {
    use std::str::FromStr;
    match (pep440_rs::Version::from_str(a), pep440_rs::Version::from_str(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => compare_runs(a, b),
    }
}

fn compare_runs(a: &str, b: &str) -> Ordering {
    let runs = |v: &str| -> Vec<Result<u64, String>> {
        let mut out = Vec::new();
        let mut current = String::new();
        let mut digits = false;
        for c in v.chars().chain(std::iter::once('.')) {
            let separator = !c.is_ascii_alphanumeric();
            let run_ends = separator || c.is_ascii_digit() != digits;
            if run_ends && !current.is_empty() {
                out.push(if digits {
                    Ok(current.parse().unwrap_or(u64::MAX))
                } else {
                    Err(std::mem::take(&mut current))
                });
                current.clear();
            }
            if !separator {
                digits = c.is_ascii_digit();
                current.push(c);
            }
        }
        out
    };
    runs(a).cmp(&runs(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_orders_as_deb_version_says() {
        for (a, b, expected) in [
            ("1.0", "1.0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.9", "2.0", Greater),
            ("2.0-1", "2.0-1~deb12u1", Greater),
            ("2.36.1-8+deb12u1", "2.36.1-8", Greater),
            ("1.10", "1.9", Greater),
            ("1.01", "1.1", Equal),
            ("1.0a", "1.0", Greater),
            ("1.0-1", "1.0", Greater),
            ("0:1.2", "1.2", Equal),
            ("3.0.11-1~deb12u2", "3.0.11-1~deb12u10", Less),
        ] {
            assert_eq!(compare_dpkg(a, b), expected, "{a} vs {b}");
            assert_eq!(compare_dpkg(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn apk_orders_as_apk_tools() {
        for (a, b, expected) in [
            ("1.2.3-r0", "1.2.3-r1", Less),
            ("1.2.3", "1.2.3-r0", Equal),
            ("1.2.3_rc1", "1.2.3", Less),
            ("1.2.3_alpha", "1.2.3_beta", Less),
            ("1.2.3_p1", "1.2.3", Greater),
            ("1.2.3a", "1.2.3", Greater),
            ("1.2.3a", "1.2.3b", Less),
            ("1.2", "1.2.1", Less),
            ("1.10", "1.9", Greater),
            ("3.1.4-r5", "3.1.4-r10", Less),
        ] {
            assert_eq!(compare_apk(a, b), expected, "{a} vs {b}");
            assert_eq!(compare_apk(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn semver_and_loose_versions() {
        assert_eq!(compare_semver("1.2.3", "1.10.0"), Less);
        assert_eq!(compare_semver("1.0.0-alpha", "1.0.0"), Less);
        assert_eq!(compare_semver("2.0", "10.0"), Less);
        assert_eq!(compare_semver("1.0.post1", "1.0.post2"), Less);
        assert_eq!(compare_pep440("1.0rc1", "1.0"), Less);
        assert_eq!(compare_pep440("1.0.post1", "1.0"), Greater);
        assert_eq!(compare_pep440("2.0.dev1", "2.0a1"), Less);
        assert_eq!(compare_pep440("1!0.5", "2.0"), Greater, "an epoch");
    }
}
