//! The main window: opened from its config (locked down on a kiosk), and reset after a kiosk
//! session ends.

use tauri::{Manager, Runtime};

use crate::state::{AppState, Shell};
use crate::{commands, updates};

/// Opens the main window from its config; on a kiosk: fullscreen, undecorated, not resizable or
/// closable, always on top, no devtools, and an in-memory (incognito) web data store. Closing
/// needs the admin passcode (`kiosk_exit`). Built before the engine is managed (`crate::shell`):
/// nothing here may need it until an event comes.
///
/// On Linux the window is built hidden and shown once it is built: GTK maps it after Tauri's
/// setup returns, when WebKit has begun to load the page. Built shown, with WebKit painting
/// without compositing from its first frame (`no_compositing_from_the_first_frame`), some starts
/// waited about 500 ms before the page began to load; shown from the page-load hook, once the
/// page had begun, some waited as long before it finished. Built hidden and shown at once, none
/// did (docs/PERFORMANCE.md, issue 23).
pub(crate) fn open_window<R: Runtime>(app: &tauri::AppHandle<R>, kiosk: bool) -> tauri::Result<()> {
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == "main").cloned() else {
        return Ok(());
    };
    let builder = tauri::WebviewWindowBuilder::from_config(app, &config)?;
    #[cfg(target_os = "linux")]
    let builder = builder.visible(false);
    // WebKit cannot be driven over WebDriver in an ephemeral (incognito) context, so debug builds
    // under WebDriver keep a normal one; storage is still cleared at every session end.
    let builder = if kiosk {
        builder
            .fullscreen(true)
            .decorations(false)
            .resizable(false)
            .closable(false)
            .minimizable(false)
            .maximizable(false)
            .always_on_top(true)
            .incognito(!driven_by_webdriver())
            .devtools(false)
    } else {
        builder
    };
    let window = builder.build()?;
    lean_webkit(&window)?;
    window.show()?;
    if kiosk {
        let handle = app.clone();
        window.on_window_event(move |event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                let state = handle.state::<AppState>();
                if !state.exiting.load(std::sync::atomic::Ordering::SeqCst) {
                    api.prevent_close();
                }
            }
        });
    }
    Ok(())
}

/// What the commands ask of the window and the app (`Shell`), once the engine is managed.
pub(crate) fn install_shell<R: Runtime>(app: &tauri::AppHandle<R>, kiosk: bool) {
    let (facts, exit, restart, updater) = (app.clone(), app.clone(), app.clone(), app.clone());
    let _ = app.state::<AppState>().shell.set(Shell {
        window: Box::new(move || {
            let w = facts.get_webview_window("main").ok_or(tauri::Error::WindowNotFound)?;
            Ok(commands::kiosk::KioskStatus {
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
        ask_where: (!kiosk).then(|| commands::documents::native_save_dialog(app.clone())),
    });
}

/// WebKitGTK set up for a single-page app of forms and tables:
///
/// - The document-viewer cache model keeps no memory cache of resources and no back/forward page
///   cache, which an app whose page never navigates and whose resources are in the binary has no
///   use for (WebKit's default is sized for a web browser).
/// - No accelerated compositing: the web process paints the page on the CPU into one backing
///   store instead of keeping an OpenGL context and a texture for every composited layer (with
///   no GPU, as under Xvfb or in a virtual machine, Mesa's software renderer). That was about
///   110 MB of the web process's idle memory, half of it; the app has no video, WebGL or 3D
///   transforms that compositing would speed up. It also keeps the window from staying blank on
///   the GPU drivers where WebKitGTK's compositing fails.
///
///   The end-to-end tests run this mode too. WebKitGTK takes a WebDriver screenshot after the
///   page's next presentation update, which a page at rest without compositing never has, so
///   their screenshot helper keeps a one-pixel mark changing meanwhile (`tests/src/lib.rs`).
///
/// Idle memory and start: `cargo xtask bench startup`; interactions: `bench ui`;
/// docs/PERFORMANCE.md (issue 23).
fn lean_webkit<R: Runtime>(window: &tauri::WebviewWindow<R>) -> tauri::Result<()> {
    window.with_webview(|webview| {
        #[cfg(target_os = "linux")]
        {
            use webkit2gtk::{CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt};
            let view = webview.inner();
            if let Some(settings) = WebViewExt::settings(&view) {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
            if let Some(context) = view.context() {
                context.set_cache_model(CacheModel::DocumentViewer);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = webview;
    })
}

/// Linux: WebKit paints without accelerated compositing from the page's first frame, as
/// `lean_webkit` asks. The web view's policy can only be set once Tauri has built the web view,
/// when its page has begun to load in compositing mode; WebKit's own switch in the environment
/// is read when the web view is made. With it the start is shorter and the web process idles
/// smaller (docs/PERFORMANCE.md, issue 23). Set whatever the environment said: the policy is
/// never to composite either way, and the window built hidden (`open_window`) was only measured
/// with the switch. It must run before any thread exists (first in `run`): setting the
/// environment beside a thread that reads it is not safe, and glib's `setenv`, unlike std's,
/// does not say so in its signature. The processes WebKit starts inherit it, as they must; the
/// only other program the app starts on Linux is `lp`, for a kiosk's receipts, which does not
/// read it.
#[cfg(target_os = "linux")]
pub(crate) fn no_compositing_from_the_first_frame() {
    let _ = webkit2gtk::glib::setenv("WEBKIT_DISABLE_COMPOSITING_MODE", "1", true);
}

/// A debug build started by tauri-driver (the end-to-end tests); never a release build.
fn driven_by_webdriver() -> bool {
    cfg!(debug_assertions) && std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() == Ok("true")
}

/// Kiosk: after a session ends, the web view's storage is cleared and the UI starts over from
/// the welcome screen (every member and guest object was already dropped by the engine).
pub(crate) fn reset_kiosk_window<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        if let Err(e) = window.clear_all_browsing_data() {
            tracing::warn!(error = %e, "could not clear the kiosk's web data");
        }
        let _ = window.reload();
    }
}
