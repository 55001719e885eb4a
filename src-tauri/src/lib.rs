//! Carebill's desktop shell: Tauri around the client engine. Commands are one call into
//! `carebill_client::Engine` each (see `commands.rs`); no logic lives here.

#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod config;
#[cfg(target_os = "linux")]
pub mod desktop;
pub mod kiosk;
pub mod state;
pub mod updates;
mod window;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use carebill_client::{Engine, OsKeyring, SecretStore, SystemClock};
use serde::{Deserialize, Serialize};
use tauri::{Manager, Runtime};
use tauri_specta::Event as _;

pub use config::AppConfig;
pub use state::{AppState, Shell};
use window::{install_shell, open_window, reset_kiosk_window};

/// Everything the engine tells the UI (sync status, session expired, idle warning, lock,
/// resolved payments), on one event.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct EngineEvent(pub carebill_client::types::Event);

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the process start (first thing in `main`).
pub fn mark_process_start() {
    STARTED.get_or_init(Instant::now);
}

/// The screen the startup harness times (`CAREBILL_STARTUP_PROBE=bills`), if any.
pub fn startup_probe_screen() -> Option<String> {
    std::env::var("CAREBILL_STARTUP_PROBE").ok()
}

/// With `CAREBILL_STARTUP_PROBE` set, prints when a screen first painted, for the startup harness
/// (and, as `stage <name>`, when start-up passed a stage: the window built, WebKit starting and
/// finishing the page's load, the page asking who is signed in, the service's answer).
pub fn startup_probe(screen: &str) {
    if std::env::var_os("CAREBILL_STARTUP_PROBE").is_some() {
        let ms = STARTED.get().map_or(0, |s| s.elapsed().as_millis());
        println!("carebill-ready {screen} {ms}");
    }
}

/// `commands.list` in code: every command, once, expanded by Tauri's `generate_handler` into the
/// app's invoke handler and by tauri-specta's `collect_commands` into the TypeScript bindings. The
/// app's handler is Tauri's own, so a release build carries no type descriptions (docs/PERFORMANCE.md).
macro_rules! each_command {
    ($($expand:ident)::+) => {
        $($expand)::+![
            commands::startup::startup,
            commands::startup::status,
            commands::startup::record_activity,
            commands::startup::mark_ready,
            commands::kiosk::kiosk_status,
            commands::kiosk::kiosk_end_session,
            commands::kiosk::kiosk_exit,
            commands::kiosk::guest_lookup,
            commands::kiosk::guest_bill,
            commands::kiosk::guest_prepare,
            commands::kiosk::guest_submit,
            commands::kiosk::guest_mail_receipt,
            commands::kiosk::guest_receipt_qr,
            commands::kiosk::guest_print_receipt,
            commands::documents::save_statement,
            commands::documents::save_receipt,
            commands::documents::yearly_summary,
            commands::documents::save_yearly_summary,
            commands::updates::update_check,
            commands::updates::update_install,
            commands::session::sign_in,
            commands::session::unlock_offline,
            commands::session::sign_out,
            commands::session::sign_out_everywhere,
            commands::session::forget_device,
            commands::session::lock,
            commands::session::unlock,
            commands::session::register,
            commands::session::set_language,
            commands::session::set_account_language,
            commands::session::notification_preferences,
            commands::session::set_notification_preferences,
            commands::session::verify_email,
            commands::session::resend_verification,
            commands::session::request_password_reset,
            commands::session::confirm_password_reset,
            commands::session::change_password,
            commands::session::set_idle_minutes,
            commands::read::dashboard,
            commands::read::bills,
            commands::read::bill,
            commands::read::payments,
            commands::read::payment,
            commands::read::claims,
            commands::read::claim,
            commands::messages::conversations,
            commands::messages::conversation,
            commands::messages::unread_replies,
            commands::notices::notices,
            commands::notices::read_notices,
            commands::messages::ask_billing_office,
            commands::messages::reply_to_conversation,
            commands::messages::close_conversation,
            commands::messages::attachment,
            commands::read::payment_methods,
            commands::read::autopay,
            commands::read::sync_now,
            commands::read::plan,
            commands::pay::tokenize_card,
            commands::pay::tokenize_bank_account,
            commands::pay::bank_name,
            commands::pay::prepare_payment,
            commands::pay::submit_payment,
            commands::pay::unresolved,
            commands::pay::add_payment_method,
            commands::pay::remove_payment_method,
            commands::pay::ach_authorization,
            commands::pay::set_autopay,
            commands::pay::turn_off_autopay,
            commands::pay::skip_autopay,
            commands::pay::payment_plans,
            commands::pay::preview_payment_plan,
            commands::pay::create_payment_plan,
            commands::pay::change_payment_plan,
            commands::pay::payment_plan_action,
            commands::pay::scheduled_payments,
            commands::pay::change_scheduled_payment,
            commands::pay::cancel_scheduled_payment,
            commands::validate::validate_password,
            commands::validate::validate_email,
            commands::validate::validate_member_id,
            commands::validate::validate_name,
            commands::validate::validate_date_of_birth,
            commands::validate::validate_amount,
            commands::validate::validate_card_number,
            commands::validate::validate_card_expiry,
            commands::validate::validate_card_cvc,
            commands::validate::validate_postal_code,
            commands::validate::validate_routing_number,
            commands::validate::validate_account_number,
        ]
    };
}

/// The events the UI hears, typed for the bindings and registered on the app.
fn specta_events<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new().events(tauri_specta::collect_events![EngineEvent])
}

/// The commands and events, for the TypeScript bindings (`cargo xtask bindings`).
pub fn specta_builder<R: Runtime>() -> tauri_specta::Builder<R> {
    specta_events().commands(each_command!(tauri_specta::collect_commands))
}

/// Where the committed bindings live.
pub const BINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/lib/bindings.ts");

/// The TypeScript the app's bindings should contain: the commands and types, and the two error
/// code tables as unions (`ServerCode` from `carebill_api::ErrorCode`, `ClientCode` from
/// `carebill_client::ClientCode`), so the UI's comparisons with codes are type-checked.
pub fn typescript() -> specta_typescript::Typescript {
    let union = |codes: Vec<&str>| codes.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(" | ");
    let server = union(carebill_api::ErrorCode::ALL.iter().map(|c| c.as_str()).collect());
    let mut client: Vec<&str> = carebill_client::ClientCode::ALL.iter().map(|c| c.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    client.retain(|c| seen.insert(*c));
    let client = union(client);
    specta_typescript::Typescript::default().header(format!(
        "// Generated from the Rust commands and types by tauri-specta. Do not edit: `cargo xtask bindings`.\n// @ts-nocheck\n\n/** Every error code the billing API answers with (carebill_api::ErrorCode). */\nexport type ServerCode = {server};\n\n/** Every error code the app makes itself (carebill_client::ClientCode). */\nexport type ClientCode = {client};\n"
    ))
}

/// The shell, shared by the app and the command tests.
pub fn app_builder<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    let kiosk = state.config.kiosk.is_some();
    let early = |app: &tauri::AppHandle<R>| commands::startup::begin(&app.state::<AppState>());
    shell(builder.manage(state), kiosk, early, |_| None)
}

/// The shell. Setup runs `early` first (the app: the single-instance check, which may end this
/// start before any window shows), then builds the window, so WebKit's processes start and load
/// the page while the engine is finished: `state` hands it over (the app builds its engine, and
/// asks the service, on another thread while GTK, the plugins and the window start; the command
/// tests manage theirs at once, as the mock runtime may not have run setup when they invoke).
/// No command can run before setup returns: the page's requests are served on this thread.
fn shell<R: Runtime>(
    builder: tauri::Builder<R>,
    kiosk: bool,
    early: impl FnOnce(&tauri::AppHandle<R>) + Send + 'static,
    state: impl FnOnce(&tauri::AppHandle<R>) -> Option<AppState> + Send + 'static,
) -> tauri::Builder<R> {
    let events = specta_events::<R>();
    builder
        .plugin(updates::plugin())
        .invoke_handler(each_command!(tauri::generate_handler))
        .on_page_load(|_, payload| {
            startup_probe(match payload.event() {
                tauri::webview::PageLoadEvent::Started => "stage page-started",
                tauri::webview::PageLoadEvent::Finished => "stage page-loaded",
            })
        })
        .setup(move |app| {
            startup_probe("stage setup");
            early(app.handle());
            events.mount_events(app);
            open_window(app.handle(), kiosk)?;
            startup_probe("stage window");
            if let Some(state) = state(app.handle()) {
                app.manage(state);
            }
            startup_probe("stage engine");
            install_shell(app.handle(), kiosk);
            forward_events(app.handle().clone());
            start_kiosk_updates(app.handle());
            Ok(())
        })
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
        Err(e) => tracing::info!(code = e.code().as_str(), "kiosk updates: {e}"),
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
            if kiosk && event == carebill_client::types::Event::SessionEnded {
                reset_kiosk_window(&handle);
                continue;
            }
            if let carebill_client::types::Event::Notices { fresh, .. } = &event {
                commands::notices::show_on_screen(&handle, fresh);
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

/// Brings the main window to the front (a second start of the app asked for it).
fn show_main_window<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Builds the engine from the configuration, with the OS keyring.
pub fn make_state(config: AppConfig) -> Result<AppState, String> {
    let keyring: Arc<dyn SecretStore> = Arc::new(OsKeyring::open(&config.keyring_service));
    let engine = Engine::new(config.client_config(), keyring, Arc::new(SystemClock)).map_err(|e| e.message.clone())?;
    Ok(AppState::new(engine, config))
}

/// The app.
pub fn run() {
    mark_process_start();
    #[cfg(target_os = "linux")]
    window::no_compositing_from_the_first_frame();
    // One TLS provider for every HTTP client in the process (API, processor, updater), whatever
    // features other crates of a build turn on.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("kiosk") {
        let code = match args.get(1).map(String::as_str) {
            Some("set-passcode") => cli::set_passcode_cli(),
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
    startup_probe("stage config");
    let context = tauri::generate_context!();
    // One Carebill per user session: a later start asks this one to show its window, and exits.
    #[cfg(target_os = "linux")]
    let instance = desktop::SingleInstance::claim(format!("{}.Instance", context.config().identifier));
    // The engine (the keyring, the HTTP client and its trust roots, the outbox's directory) is
    // made on its own thread while Tauri starts GTK, the plugins and the window; once this start
    // is known to be the only one, that thread also asks the service (`commands::startup::begin`),
    // so a second start never uses the remembered session. Setup takes the engine after the window.
    let (only_one, go) = std::sync::mpsc::channel::<()>();
    let engine = std::thread::spawn(move || {
        tauri::async_runtime::block_on(async { make_state(config) }).inspect(|state| {
            if go.recv().is_ok() {
                commands::startup::begin(state);
            }
        })
    });
    let early = move |app: &tauri::AppHandle| {
        #[cfg(target_os = "linux")]
        {
            let shown = app.clone();
            if let desktop::Instance::Second { answered } = instance.wait(move || show_main_window(&shown)) {
                if !answered {
                    eprintln!("Carebill is already running, but did not answer; it was not started twice.");
                }
                std::process::exit(0);
            }
            if !kiosk_mode {
                app.manage(desktop::ScreenNotices::default());
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = app;
        let _ = only_one.send(());
    };
    let state = move |_: &tauri::AppHandle| match engine.join() {
        Ok(Ok(state)) => Some(state),
        Ok(Err(e)) => {
            eprintln!("Carebill cannot start: {e}");
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!("Carebill cannot start: the engine failed while starting");
            std::process::exit(1);
        }
    };
    let builder = tauri::Builder::default();
    #[cfg(not(target_os = "linux"))]
    let builder = builder.plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
        show_main_window(app)
    }));
    let builder = builder.plugin(
        tauri_plugin_log::Builder::new()
            .targets([tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::LogDir {
                file_name: Some("carebill".into()),
            })])
            .rotation_strategy(tauri_plugin_log::RotationStrategy::KeepSome(5))
            .max_file_size(2_000_000)
            .level(log::LevelFilter::Info)
            .build(),
    );
    // Kiosks always open fullscreen (no remembered window state), never save files (no save
    // dialog: `window.rs`) and never show desktop notices (no notifier: see `commands::notices`).
    let builder = if kiosk_mode {
        builder
    } else {
        let builder = builder.plugin(tauri_plugin_window_state::Builder::new().build());
        #[cfg(not(target_os = "linux"))]
        let builder = builder.plugin(tauri_plugin_notification::init());
        builder
    };
    if let Err(e) = shell(builder, kiosk_mode, early, state).run(context) {
        eprintln!("Carebill stopped: {e}");
        std::process::exit(1);
    }
}
