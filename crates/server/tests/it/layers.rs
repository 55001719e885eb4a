//! The server's module layers, checked on the source (in the style of rust-analyzer's tidy test):
//! a lower layer never imports an upper one. From the bottom:
//!
//! 1. leaves: `ids`, `secret`, `clock`, `sql` (the connection both database engines stand behind),
//!    `fhir` and `mail/templates` (every mail's words) import nothing of the crate;
//! 2. storage: `store/`, `db`, `migrations`, `processor/`, `pg_tls` import only leaves, `config`, `error`
//!    and each other (never the HTTP layer, the services, the scheduler or the demo seed);
//! 3. services and the rest;
//! 4. `routes/` (HTTP), imported only by `app`, the composition root.
//!
//! Demo seeding (`seed`) is used only by `app` (demo mode) and the demo endpoints (`routes/ops`).
//! The payment engine's plain parts (`payments/intent`: what a request is; `payments/reservations`:
//! the only writes of `pending_cents`) import only `error` and `sql`, and `state` (which holds the payment
//! queue) names nothing of the payment engine but `payments::intent`.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a file names (`crate::x::…`, `crate::{x, y::…}`), outside comments.
fn imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                out.extend(
                    inner
                        .split(',')
                        .map(|item| item.trim().split("::").next().unwrap_or_default().to_string())
                        .filter(|m| !m.is_empty()),
                );
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                out.push(name);
            }
        }
    }
    out
}

/// `src/routes/ops.rs` -> `routes`, `src/store/bills.rs` -> `store`, `src/ids.rs` -> `ids`.
fn module_of(src: &Path, file: &Path) -> (String, String) {
    let rel = file.strip_prefix(src).unwrap().to_string_lossy().replace('\\', "/");
    let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
    (top, rel)
}

#[test]
fn lower_layers_never_import_upper_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "the server's sources are found");
    let leaves = ["ids", "secret", "clock", "sql", "fhir"];
    let storage = ["store", "db", "migrations", "processor", "pg_tls"];
    let storage_may_use = [
        "sql",
        "pg_tls",
        "ids",
        "secret",
        "clock",
        "config",
        "error",
        "store",
        "db",
        "migrations",
        "processor",
    ];
    let mut wrong = Vec::new();
    for file in &files {
        let (module, rel) = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        for used in imports(&text) {
            if used == module || used == "self" {
                continue;
            }
            let allowed = if leaves.contains(&module.as_str()) || rel == "mail/templates.rs" {
                false
            } else if rel == "payments/intent.rs" || rel == "payments/reservations.rs" {
                used == "error" || used == "sql"
            } else if storage.contains(&module.as_str()) {
                storage_may_use.contains(&used.as_str())
            } else if used == "routes" {
                module == "app"
            } else if used == "seed" {
                module == "app" || rel == "routes/ops.rs"
            } else {
                true
            };
            if !allowed {
                wrong.push(format!("{rel} imports crate::{used}"));
            }
        }
    }
    let state = std::fs::read_to_string(src.join("state.rs")).unwrap();
    for (i, _) in state.match_indices("crate::payments::") {
        if !state[i..].starts_with("crate::payments::intent::") {
            wrong.push("state.rs names the payment engine, not only payments::intent".into());
        }
    }
    assert!(wrong.is_empty(), "layer violations:\n{}", wrong.join("\n"));
}

#[test]
fn the_import_scanner_sees_single_paths_and_groups() {
    let text = "use crate::store::{ms, touch};\nuse crate::{mail, routes::payments, seed};\n// crate::app\nlet x = crate::ids::random_id(r, \"p\");";
    assert_eq!(imports(text), ["store", "mail", "routes", "seed", "ids"]);
}

/// Route handlers extract, validate, call and respond: every SQL statement lives below them
/// (`store/`, or the service that owns the rule).
#[test]
fn route_handlers_hold_no_sql() {
    let routes = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut files = Vec::new();
    sources(&routes, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if [
                "\"SELECT ",
                "\"INSERT ",
                "\"UPDATE ",
                "\"DELETE ",
                ".execute(",
                ".query_row(",
            ]
            .iter()
            .any(|sql| line.contains(sql))
            {
                wrong.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(files.len() >= 10, "the route modules are found");
    assert!(wrong.is_empty(), "SQL in route handlers:\n{}", wrong.join("\n"));
}

/// The business SQL is written once for SQLite and PostgreSQL (the migrations are each engine's
/// own): none of SQLite's own forms that PostgreSQL lacks.
#[test]
fn business_sql_stays_in_the_common_dialect() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let sqlite_only = [
        "INSERT OR ",
        "REPLACE INTO",
        "last_insert_rowid",
        "IS NOT ?",
        "ROLLBACK TO item",
        "RELEASE item",
        "julianday(",
        "strftime(",
        "datetime(",
        "randomblob(",
    ];
    let mut wrong = Vec::new();
    for file in &files {
        let (_, rel) = module_of(&src, file);
        if rel == "migrations.rs" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if let Some(form) = sqlite_only.iter().find(|f| line.contains(*f)) {
                wrong.push(format!("{rel}:{}: {form}", n + 1));
            }
        }
    }
    assert!(wrong.is_empty(), "SQLite-only SQL:\n{}", wrong.join("\n"));
}
