//! Carebill's desktop shell: Tauri around the client engine. Commands are one call into
//! `carebill_client::Engine` each (see `commands.rs`); no logic lives here.

#![forbid(unsafe_code)]

pub mod commands;
pub mod config;
pub mod kiosk;
pub mod updates;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use carebill_client::{Engine, OsKeyring, SecretStore, SystemClock};
use serde::{Deserialize, Serialize};
use tauri::{Manager, Runtime};
use tauri_specta::Event as _;

pub use config::AppConfig;

/// What every command shares.
pub struct AppState {
    pub engine: Engine,
    pub config: AppConfig,
    pub idle_minutes: Mutex<u32>,
    /// Kiosk mode: the exit guard, and whether the admin passcode allowed leaving.
    pub exit: kiosk::ExitGuard,
    pub exiting: std::sync::atomic::AtomicBool,
    /// What commands need of the running shell, without its runtime type.
    pub shell: OnceLock<Shell>,
    /// The update found by the last check, until it is installed.
    pub update: tokio::sync::Mutex<Option<tauri_plugin_updater::Update>>,
}

impl AppState {
    pub fn new(engine: Engine, config: AppConfig) -> AppState {
        AppState {
            idle_minutes: Mutex::new(config.idle_minutes),
            engine,
            config,
            exit: kiosk::ExitGuard::default(),
            exiting: std::sync::atomic::AtomicBool::new(false),
            shell: OnceLock::new(),
            update: tokio::sync::Mutex::new(None),
        }
    }
}

type UpdateCheck =
    std::pin::Pin<Box<dyn Future<Output = Result<Option<tauri_plugin_updater::Update>, updates::UpdateError>> + Send>>;

/// The window's facts, the app's exit and restart, and the update check, set up when the window
/// opens.
pub struct Shell {
    pub window: Box<dyn Fn() -> tauri::Result<commands::KioskStatus> + Send + Sync>,
    pub exit: Box<dyn Fn() + Send + Sync>,
    pub restart: Box<dyn Fn() + Send + Sync>,
    pub check_update: Box<dyn Fn(updates::UpdateSource) -> UpdateCheck + Send + Sync>,
}

/// Everything the engine tells the UI (sync status, session expired, idle warning, lock,
/// resolved payments), on one event.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct EngineEvent(pub carebill_client::Event);

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the process start (first thing in `main`).
pub fn mark_process_start() {
    STARTED.get_or_init(Instant::now);
}

/// The screen the startup harness times (`CAREBILL_STARTUP_PROBE=bills`), if any.
pub fn startup_probe_screen() -> Option<String> {
    std::env::var("CAREBILL_STARTUP_PROBE").ok()
}

/// With `CAREBILL_STARTUP_PROBE` set, prints when a screen first painted, for the startup harness.
pub fn startup_probe(screen: &str) {
    if std::env::var_os("CAREBILL_STARTUP_PROBE").is_some() {
        let ms = STARTED.get().map_or(0, |s| s.elapsed().as_millis());
        println!("carebill-ready {screen} {ms}");
    }
}

/// The commands and events, for the invoke handler and the TypeScript bindings.
pub fn specta_builder<R: Runtime>() -> tauri_specta::Builder<R> {
    use commands::*;
    tauri_specta::Builder::<R>::new()
        .commands(tauri_specta::collect_commands![
            startup,
            status,
            record_activity,
            mark_ready,
            kiosk_status,
            kiosk_end_session,
            kiosk_exit,
            guest_lookup,
            guest_bill,
            guest_prepare,
            guest_submit,
            guest_mail_receipt,
            guest_receipt_qr,
            guest_print_receipt,
            update_check,
            update_install,
            sign_in,
            unlock_offline,
            sign_out,
            sign_out_everywhere,
            forget_device,
            lock,
            unlock,
            register,
            verify_email,
            resend_verification,
            request_password_reset,
            confirm_password_reset,
            change_password,
            set_idle_minutes,
            dashboard,
            bills,
            bill,
            payments,
            payment_methods,
            autopay,
            sync_now,
            tokenize_card,
            tokenize_bank_account,
            bank_name,
            prepare_payment,
            submit_payment,
            unresolved,
            add_payment_method,
            remove_payment_method,
            ach_authorization,
            set_autopay,
            turn_off_autopay,
            skip_autopay,
            validate_password,
            validate_email,
            validate_member_id,
            validate_name,
            validate_date_of_birth,
            validate_amount,
            validate_card_number,
            validate_card_expiry,
            validate_card_cvc,
            validate_postal_code,
            validate_routing_number,
            validate_account_number,
        ])
        .events(tauri_specta::collect_events![EngineEvent])
}

/// Where the committed bindings live.
pub const BINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/lib/bindings.ts");

/// The TypeScript the app's bindings should contain.
pub fn typescript() -> specta_typescript::Typescript {
    specta_typescript::Typescript::default().header("// Generated from the Rust commands and types by tauri-specta. Do not edit: `cargo xtask bindings`.\n// @ts-nocheck\n")
}

/// The shell, shared by the app and the command tests.
pub fn app_builder<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    let specta = specta_builder::<R>();
    builder
        .plugin(updates::plugin())
        .manage(state)
        .invoke_handler(specta.invoke_handler())
        .setup(move |app| {
            specta.mount_events(app);
            open_window(app.handle())?;
            forward_events(app.handle().clone());
            start_kiosk_updates(app.handle());
            Ok(())
        })
}

/// Opens the main window from its config; on a kiosk: fullscreen, undecorated, not resizable or
/// closable, always on top, no devtools, and an in-memory (incognito) web data store. Closing
/// needs the admin passcode (`kiosk_exit`).
fn open_window<R: Runtime>(app: &tauri::AppHandle<R>) -> tauri::Result<()> {
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == "main").cloned() else {
        return Ok(());
    };
    let builder = tauri::WebviewWindowBuilder::from_config(app, &config)?;
    let kiosk = app.state::<AppState>().config.kiosk.is_some();
    let (facts, exit, restart, updater) = (app.clone(), app.clone(), app.clone(), app.clone());
    let _ = app.state::<AppState>().shell.set(Shell {
        window: Box::new(move || {
            let w = facts.get_webview_window("main").ok_or(tauri::Error::WindowNotFound)?;
            Ok(commands::KioskStatus {
                kiosk,
                fullscreen: w.is_fullscreen()?,
                decorated: w.is_decorated()?,
                resizable: w.is_resizable()?,
                closable: w.is_closable()?,
                always_on_top: w.is_always_on_top()?,
            })
        }),
        exit: Box::new(move || exit.exit(0)),
        restart: Box::new(move || restart.restart()),
        check_update: Box::new(move |source| {
            let app = updater.clone();
            Box::pin(async move { updates::check(&app, &source).await })
        }),
    });
    if !kiosk {
        builder.build()?;
        return Ok(());
    }
    // WebKit cannot be driven over WebDriver in an ephemeral (incognito) context, so debug builds
    // under WebDriver keep a normal one; storage is still cleared at every session end.
    let driven = cfg!(debug_assertions) && std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() == Ok("true");
    let window = builder
        .fullscreen(true)
        .decorations(false)
        .resizable(false)
        .closable(false)
        .minimizable(false)
        .maximizable(false)
        .always_on_top(true)
        .incognito(!driven)
        .devtools(false)
        .build()?;
    let handle = app.clone();
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::CloseRequested { api, .. } = event {
            let state = handle.state::<AppState>();
            if !state.exiting.load(std::sync::atomic::Ordering::SeqCst) {
                api.prevent_close();
            }
        }
    });
    Ok(())
}

/// Kiosk: looks for updates in the background when clinic IT allows them.
fn start_kiosk_updates<R: Runtime>(app: &tauri::AppHandle<R>) {
    let state = app.state::<AppState>();
    if state.config.kiosk.is_none() {
        return;
    }
    match updates::configured_source(&state.config.updates) {
        Ok(Some(source)) => updates::spawn_kiosk_updates(app.clone(), source),
        Ok(None) => {}
        Err(e) => tracing::info!(code = e.code(), "kiosk updates: {e}"),
    }
}

/// Kiosk: after a session ends, the web view's storage is cleared and the UI starts over from
/// the welcome screen (every member and guest object was already dropped by the engine).
fn reset_kiosk_window<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        if let Err(e) = window.clear_all_browsing_data() {
            tracing::warn!(error = %e, "could not clear the kiosk's web data");
        }
        let _ = window.reload();
    }
}

/// Forwards engine events to the UI and runs the idle check.
fn forward_events<R: Runtime>(app: tauri::AppHandle<R>) {
    let engine = app.state::<AppState>().engine.clone();
    let mut events = engine.events();
    let handle = app.clone();
    let kiosk = app.state::<AppState>().config.kiosk.is_some();
    tauri::async_runtime::spawn(async move {
        while let Ok(event) = events.recv().await {
            if kiosk && event == carebill_client::Event::SessionEnded {
                reset_kiosk_window(&handle);
                continue;
            }
            let _ = EngineEvent(event).emit(&handle);
        }
    });
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            engine.check_idle().await;
        }
    });
}

/// Builds the engine from the configuration, with the OS keyring.
pub fn make_state(config: AppConfig) -> Result<AppState, String> {
    let keyring: Arc<dyn SecretStore> = Arc::new(OsKeyring::open(&config.keyring_service));
    let engine = Engine::new(config.client_config(), keyring, Arc::new(SystemClock)).map_err(|e| e.message.clone())?;
    Ok(AppState::new(engine, config))
}

/// `carebill kiosk set-passcode`: asks for the admin passcode twice on the terminal and writes its
/// hash into the system-wide config (run it as an administrator).
pub fn set_passcode_cli() -> i32 {
    let path = kiosk::system_config_path();
    let ask = |prompt: &str| -> String {
        eprint!("{prompt}");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    let first = ask(&format!(
        "New admin passcode for {} (at least 8 characters): ",
        path.display()
    ));
    if ask("Type it again: ") != first {
        eprintln!("The two passcodes differ. Nothing was changed.");
        return 1;
    }
    match kiosk::set_passcode(&path, &first) {
        Ok(()) => {
            eprintln!("Saved the admin passcode hash in {}.", path.display());
            0
        }
        Err(e) => {
            eprintln!("Nothing was changed: {e}");
            1
        }
    }
}

/// The app.
pub fn run() {
    mark_process_start();
    // One TLS provider for every HTTP client in the process (API, processor, updater), whatever
    // features other crates of a build turn on.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("kiosk") {
        let code = match args.get(1).map(String::as_str) {
            Some("set-passcode") => set_passcode_cli(),
            _ => {
                eprintln!("usage: carebill kiosk set-passcode");
                2
            }
        };
        std::process::exit(code);
    }
    let config = match AppConfig::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Carebill cannot start: the kiosk config is not valid: {e}");
            std::process::exit(1);
        }
    };
    let kiosk_mode = config.kiosk.is_some();
    let state = match tauri::async_runtime::block_on(async { make_state(config) }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Carebill cannot start: {e}");
            std::process::exit(1);
        }
    };
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(
            tauri_plugin_log::Builder::new()
                .targets([tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::LogDir {
                    file_name: Some("carebill".into()),
                })])
                .rotation_strategy(tauri_plugin_log::RotationStrategy::KeepSome(5))
                .max_file_size(2_000_000)
                .level(log::LevelFilter::Info)
                .build(),
        );
    // Kiosks always open fullscreen: no remembered window state.
    let builder = if kiosk_mode {
        builder
    } else {
        builder.plugin(tauri_plugin_window_state::Builder::new().build())
    };
    if let Err(e) = app_builder(builder, state).run(tauri::generate_context!()) {
        eprintln!("Carebill stopped: {e}");
        std::process::exit(1);
    }
}
