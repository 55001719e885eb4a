//! The shell on Tauri's mock runtime, shared by the test files that `mod support;` it.

#![allow(dead_code)]

use std::sync::Arc;

use carebill_app::{AppConfig, AppState, app_builder};
use carebill_client::{Engine, MemoryStore, SystemClock};
use tauri::test::{MockRuntime, mock_builder};
use tauri::{Manager, WebviewWindowBuilder};

/// The app's state against a service nobody listens on (port 9), data in `data`.
pub fn state(data: &std::path::Path) -> AppState {
    state_as(data, false)
}

/// The same state as a clinic kiosk (system config with `kiosk = true`).
pub fn kiosk_state(data: &std::path::Path) -> AppState {
    state_as(data, true)
}

fn state_as(data: &std::path::Path, kiosk: bool) -> AppState {
    let mut config = AppConfig::resolve(Default::default(), None, |k| {
        (k == "CAREBILL_API_URL").then(|| "http://127.0.0.1:9".into())
    });
    config.data_dir = data.to_path_buf();
    if kiosk {
        config.apply_kiosk(
            carebill_app::kiosk::SystemConfig {
                kiosk: true,
                api_url: Some("http://127.0.0.1:9".into()),
                ..Default::default()
            },
            |_| None,
        );
    }
    let engine = Engine::new(
        config.client_config(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    AppState::new(engine, config)
}

pub fn app(data: &std::path::Path) -> (tauri::App<MockRuntime>, tauri::WebviewWindow<MockRuntime>) {
    app_with(state(data))
}

pub fn app_with(state: AppState) -> (tauri::App<MockRuntime>, tauri::WebviewWindow<MockRuntime>) {
    let app = app_builder(mock_builder(), state)
        .build(tauri::generate_context!())
        .unwrap();
    // The shell opens the main window from its config while it sets up (the mock runtime may not
    // have run that yet).
    let window = match app.get_webview_window("main") {
        Some(w) => w,
        None => WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap(),
    };
    (app, window)
}
