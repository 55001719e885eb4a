//! Declares every app command (from `commands.list`, the one list of them), so each needs an
//! explicit permission (`allow-<command>`) in a capability before any window may call it.

fn main() {
    println!("cargo:rerun-if-changed=commands.list");
    let list = std::fs::read_to_string("commands.list").expect("src-tauri/commands.list");
    let commands: Vec<&'static str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| &*Box::leak(l.to_string().into_boxed_str()))
        .collect();
    let commands: &'static [&'static str] = Box::leak(commands.into_boxed_slice());
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build script");
}
