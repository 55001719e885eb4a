//! The floor app (see Cargo.toml): one window, one page with a 50-row list. When the list has
//! painted, the page calls `ready` and the app prints `floor-ready <ms since main()>`, as Carebill
//! prints `carebill-ready bills <ms>`.

#![forbid(unsafe_code)]

use std::time::Instant;

struct Started(Instant);

#[tauri::command]
fn ready(started: tauri::State<'_, Started>) {
    println!("floor-ready {}", started.0.elapsed().as_millis());
}

fn main() {
    let started = Started(Instant::now());
    tauri::Builder::default()
        .manage(started)
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!())
        .expect("the floor app runs");
}
