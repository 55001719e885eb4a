//! `cargo xtask notices [--check]`: the third-party license notices the app and its installers
//! carry (`ui/public/third-party-notices.txt`, shown from Help > About and installed beside the
//! app). Rust crates come from `cargo metadata` (every platform the app ships on), their license
//! texts from the crates' own files; npm code is the packages whose code is in the built UI.
//! Identical texts are printed once, with every package they cover. `--check` fails when the
//! committed file is not what the current dependencies produce (`cargo xtask test` runs it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{Result, cargo, root, step};

/// npm packages whose code the UI bundle contains: the Tauri API, and Svelte's runtime with the
/// packages it imports at run time (the compiler and its other packages stay at build time).
const SHIPPED_NPM: &[&str] = &["@tauri-apps/api", "svelte", "clsx", "esm-env"];

pub fn path() -> PathBuf {
    root().join("ui/public/third-party-notices.txt")
}

pub fn run(check: bool) -> Result {
    step(if check {
        "Third-party notices are current (cargo xtask notices --check)"
    } else {
        "Writing ui/public/third-party-notices.txt"
    });
    let text = generate()?;
    if check {
        let committed = std::fs::read_to_string(path()).unwrap_or_default();
        if committed != text {
            return Err(
                "ui/public/third-party-notices.txt is out of date: run `cargo xtask notices` and commit it".into(),
            );
        }
        return Ok(());
    }
    std::fs::write(path(), text).map_err(|e| e.to_string())
}

struct Package {
    name: String,
    version: String,
    license: String,
    dir: PathBuf,
}

fn crates() -> Result<Vec<Package>> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let mut packages: Vec<Package> = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?
        .iter()
        // Our own crates have no source; everything else comes from the registry.
        .filter(|p| !p["source"].is_null())
        .map(|p| Package {
            name: p["name"].as_str().unwrap_or_default().to_string(),
            version: p["version"].as_str().unwrap_or_default().to_string(),
            license: p["license"].as_str().unwrap_or("see its license file").to_string(),
            dir: Path::new(p["manifest_path"].as_str().unwrap_or_default())
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        })
        .collect();
    packages.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(packages)
}

fn npm_packages() -> Result<Vec<Package>> {
    let modules = root().join("ui/node_modules");
    SHIPPED_NPM
        .iter()
        .map(|name| {
            let dir = modules.join(name);
            let text = std::fs::read_to_string(dir.join("package.json"))
                .map_err(|e| format!("{}: {e} (run `cargo xtask test` or npm ci in ui/)", dir.display()))?;
            let manifest: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            Ok(Package {
                name: name.to_string(),
                version: manifest["version"].as_str().unwrap_or_default().to_string(),
                license: manifest["license"]
                    .as_str()
                    .unwrap_or("see its license file")
                    .to_string(),
                dir,
            })
        })
        .collect()
}

/// The license and notice files of a package, in name order.
fn license_texts(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_ascii_uppercase();
            ["LICENSE", "LICENCE", "COPYING", "NOTICE", "UNLICENSE"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.replace("\r\n", "\n").trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn section(out: &mut String, title: &str, packages: &[Package]) {
    // Each distinct text once, with the packages it covers.
    let mut by_text: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut without: Vec<String> = Vec::new();
    for p in packages {
        let label = format!("{} {} ({})", p.name, p.version, p.license);
        let texts = license_texts(&p.dir);
        if texts.is_empty() {
            without.push(label);
            continue;
        }
        for t in texts {
            by_text.entry(t).or_default().push(label.clone());
        }
    }
    out.push_str(&format!(
        "\n\n{title} ({} packages)\n{}\n",
        packages.len(),
        "=".repeat(72)
    ));
    let mut groups: Vec<(Vec<String>, String)> = by_text
        .into_iter()
        .map(|(t, mut ps)| {
            ps.sort();
            ps.dedup();
            (ps, t)
        })
        .collect();
    groups.sort();
    for (covered, text) in groups {
        out.push_str(&format!("\n{}\n{}\n\n{text}\n", covered.join("\n"), "-".repeat(72)));
    }
    if !without.is_empty() {
        out.push_str(&format!(
            "\nPackages without a license file of their own, under the standard text of the license \
             named:\n{}\n",
            without.join("\n")
        ));
    }
}

fn generate() -> Result<String> {
    let crates = crates()?;
    let npm = npm_packages()?;
    let mut out = String::from(
        "Carebill: third-party software notices\n\
         \n\
         Carebill includes the open-source packages listed below. Each is used under its license,\n\
         reproduced here as its authors ship it. Generated by `cargo xtask notices` from the\n\
         locked dependencies; do not edit by hand.",
    );
    section(&mut out, "Rust crates", &crates);
    section(&mut out, "JavaScript packages in the app's interface", &npm);
    // The typeface embedded in the app (and, subset, in every PDF it makes).
    let fonts = [Package {
        name: "Carebill Sans (Regular, Bold), modified from Liberation Sans".into(),
        version: "2.1.5".into(),
        license: "OFL-1.1".into(),
        dir: root().join("crates/documents/fonts"),
    }];
    section(&mut out, "Fonts in the app's documents", &fonts);
    Ok(out)
}
