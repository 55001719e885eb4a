//! The floor app (see Cargo.toml): one window, one page with a 50-row list. When the list has
//! painted, the page calls `ready` and the app prints `floor-ready <ms since main()>`, as Carebill
//! prints `carebill-ready bills <ms>`. On the way it prints `floor-stage <name> <ms>` for the
//! stages Carebill also marks (the window built, WebKit starting and finishing the page's load),
//! so the bench can say where Carebill's start differs from the platform's.

#![forbid(unsafe_code)]

use std::time::Instant;

use tauri::Manager;

struct Started(Instant);

fn stage(started: &Started, name: &str) {
    println!("floor-stage {name} {}", started.0.elapsed().as_millis());
}

#[tauri::command]
fn ready(started: tauri::State<'_, Started>) {
    println!("floor-ready {}", started.0.elapsed().as_millis());
}

fn main() {
    let started = Started(Instant::now());
    tauri::Builder::default()
        .manage(started)
        .invoke_handler(tauri::generate_handler![ready])
        .on_page_load(|webview, payload| {
            let name = match payload.event() {
                tauri::webview::PageLoadEvent::Started => "page-started",
                tauri::webview::PageLoadEvent::Finished => "page-loaded",
            };
            stage(&webview.state::<Started>(), name);
        })
        // Tauri builds the config's window before it runs setup.
        .setup(|app| {
            stage(&app.state::<Started>(), "window");
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the floor app runs");
}
