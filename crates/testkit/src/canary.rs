//! Secrets canaries: values that must never appear in a file on disk or a log line.

use std::path::{Path, PathBuf};

/// Whether `haystack` holds `needle` byte for byte.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The canaries found in some file under `dir`, as "canary in path".
pub fn found_in_files(dir: &Path, canaries: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for c in canaries {
            if contains(&bytes, c) {
                found.push(format!("{c:?} in {}", file.display()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canary_is_found_wherever_it_is_and_only_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/deep.db"), b"xx 5555555555554444 yy").unwrap();
        std::fs::write(dir.path().join("top.txt"), b"nothing here").unwrap();
        let found = found_in_files(dir.path(), &["5555555555554444", "Jordan"]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("deep.db"));
        assert!(!contains(b"abc", ""), "an empty canary finds nothing");
    }
}
