//! Signed updates through tauri-plugin-updater.
//!
//! Every update bundle is signed with the release key (minisign, `tauri signer generate`); the
//! public key is built into the app (`plugins.updater.pubkey` in tauri.conf.json). A bundle is
//! downloaded into memory and checked against its signature before anything on disk is touched,
//! and checked again right before it is installed: a tampered bundle or a wrong signature is
//! refused and nothing changes.
//!
//! Policy (see [`crate::config::UpdateConfig`]): a member's app offers an update and installs it
//! when the member says so; a kiosk updates only when clinic IT allows it in the system config,
//! and only while nobody is using it ([`carebill_client::Engine::in_use`]), then restarts.

use std::path::PathBuf;
use std::time::Duration;

use carebill_client::{ClientCode, ClientError};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime, Url};
use tauri_plugin_updater::{Update, UpdaterExt};

use crate::AppState;

/// The plugin, with the configuration from tauri.conf.json (`plugins.updater`).
pub fn plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R, tauri_plugin_updater::Config> {
    tauri_plugin_updater::Builder::new().build()
}

/// Where updates come from. Without `endpoints` the built-in ones are used; `pubkey` and
/// `executable` replace the built-in key and the running executable (tests only).
#[derive(Debug, Clone, Default)]
pub struct UpdateSource {
    pub endpoints: Vec<Url>,
    pub pubkey: Option<String>,
    pub executable: Option<PathBuf>,
}

/// An update on offer, for the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct UpdateInfo {
    pub version: String,
    pub current_version: String,
    pub notes: Option<String>,
}

/// Why an update did not happen; every case leaves the installed app as it was. The messages are
/// for members; the updater's own words (the variants' field) go to the log.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("Updates are turned off on this computer by its administrator.")]
    Disabled,
    #[error("The update server's address is not valid: {0}")]
    BadEndpoint(String),
    #[error("The update server could not be reached or gave no usable answer. Carebill will try again later.")]
    Unavailable(String),
    #[error(
        "The update was refused because its signature does not match Carebill's signing key. Nothing was installed or changed."
    )]
    BadSignature(String),
    #[error("The update could not be installed. The installed version was kept.")]
    InstallFailed(String),
    #[error("There is no update to install. Check for updates first.")]
    NothingToInstall,
}

impl UpdateError {
    /// The code the UI sees (its kind and sentence are in the client's code table).
    pub fn code(&self) -> ClientCode {
        match self {
            UpdateError::Disabled => ClientCode::UpdatesDisabled,
            UpdateError::BadEndpoint(_) => ClientCode::UpdateEndpointInvalid,
            UpdateError::Unavailable(_) => ClientCode::UpdateUnavailable,
            UpdateError::BadSignature(_) => ClientCode::UpdateSignatureInvalid,
            UpdateError::InstallFailed(_) => ClientCode::UpdateInstallFailed,
            UpdateError::NothingToInstall => ClientCode::NoUpdate,
        }
    }
}

impl From<UpdateError> for ClientError {
    fn from(e: UpdateError) -> ClientError {
        ClientError::of(e.code())
    }
}

/// Sorts the plugin's errors into the cases above, and logs the updater's own words.
fn classify(e: tauri_plugin_updater::Error) -> UpdateError {
    use tauri_plugin_updater::Error as E;
    let sorted = match e {
        E::Minisign(_)
        | E::Base64(_)
        | E::SignatureUtf8(_)
        | E::SignedVersionMismatch { .. }
        | E::MissingSignedVersion => UpdateError::BadSignature(e.to_string()),
        E::Reqwest(_)
        | E::Network(_)
        | E::ReleaseNotFound
        | E::Serialization(_)
        | E::Semver(_)
        | E::TargetNotFound(_)
        | E::TargetsNotFound(_) => UpdateError::Unavailable(e.to_string()),
        E::EmptyEndpoints | E::UrlParse(_) | E::InsecureTransportProtocol => UpdateError::BadEndpoint(e.to_string()),
        other => UpdateError::InstallFailed(other.to_string()),
    };
    if let UpdateError::BadEndpoint(detail)
    | UpdateError::Unavailable(detail)
    | UpdateError::BadSignature(detail)
    | UpdateError::InstallFailed(detail) = &sorted
    {
        tracing::warn!(code = sorted.code().as_str(), detail = %detail, "update not applied");
    }
    sorted
}

/// The source this installation uses, or `None` when it does not look for updates: turned off
/// by clinic IT, or a debug build without `CAREBILL_UPDATE_URL` (a development build is not an
/// installed package).
pub fn configured_source(config: &crate::config::UpdateConfig) -> Result<Option<UpdateSource>, UpdateError> {
    if !config.allowed {
        return Err(UpdateError::Disabled);
    }
    let endpoints = match &config.endpoint {
        Some(url) => vec![Url::parse(url).map_err(|e| UpdateError::BadEndpoint(format!("{url}: {e}")))?],
        None if cfg!(debug_assertions) => return Ok(None),
        None => Vec::new(),
    };
    Ok(Some(UpdateSource {
        endpoints,
        ..Default::default()
    }))
}

/// Asks the update server whether there is a newer version.
pub async fn check<R: Runtime>(app: &AppHandle<R>, source: &UpdateSource) -> Result<Option<Update>, UpdateError> {
    let mut builder = app.updater_builder().timeout(Duration::from_secs(60));
    if !source.endpoints.is_empty() {
        builder = builder.endpoints(source.endpoints.clone()).map_err(classify)?;
    }
    if let Some(key) = &source.pubkey {
        builder = builder.pubkey(key.clone());
    }
    if let Some(exe) = &source.executable {
        builder = builder.executable_path(exe);
    }
    builder = builder.configure_client(|client| client.redirect(redirect_policy()));
    builder.build().map_err(classify)?.check().await.map_err(classify)
}

/// Release hosting redirects downloads, so the update client follows redirects, but only to HTTPS
/// (or, for a plain-HTTP test or mirror endpoint, to the same host), and at most five. Bundles
/// are signature-checked whatever the route; this keeps manifests off plain HTTP elsewhere.
fn redirect_policy() -> reqwest_updater::redirect::Policy {
    reqwest_updater::redirect::Policy::custom(|attempt| {
        let same_host = attempt
            .previous()
            .first()
            .is_some_and(|first| first.host_str() == attempt.url().host_str());
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if attempt.url().scheme() == "https" || same_host {
            attempt.follow()
        } else {
            attempt.error("a redirect away from HTTPS is not followed")
        }
    })
}

/// Downloads the update (verified against its signature in memory), then installs it (verified
/// again). On Linux and macOS the new version runs after a restart; on Windows the installer
/// closes the app.
pub async fn download_and_install(update: &Update) -> Result<(), UpdateError> {
    let bytes = update.download(|_, _| {}, || {}).await.map_err(classify)?;
    update.install(bytes).map_err(classify)
}

pub fn info(update: &Update) -> UpdateInfo {
    UpdateInfo {
        version: update.version.clone(),
        current_version: update.current_version.clone(),
        notes: update.body.clone(),
    }
}

/// How long a kiosk must have been untouched before it updates.
const KIOSK_QUIET: Duration = Duration::from_secs(5 * 60);
/// How often a kiosk looks for updates, and how soon it tries again when someone is using it.
const KIOSK_CHECK_EVERY: Duration = Duration::from_secs(6 * 60 * 60);
const KIOSK_RETRY: Duration = Duration::from_secs(5 * 60);

/// Kiosk updates: looks every few hours; installs only while nobody is using the kiosk (no
/// member session, no guest, nothing touched for five minutes), checked again right before the
/// install; then restarts into the new version.
pub fn spawn_kiosk_updates<R: Runtime>(app: AppHandle<R>, source: UpdateSource) {
    tauri::async_runtime::spawn(async move {
        let engine = app.state::<AppState>().engine.clone();
        tokio::time::sleep(KIOSK_RETRY).await;
        loop {
            let wait = match kiosk_update_once(&app, &engine, &source).await {
                Ok(true) => {
                    tracing::info!("kiosk update installed; restarting");
                    app.restart();
                }
                Ok(false) => KIOSK_CHECK_EVERY,
                Err(KioskWait::InUse) => KIOSK_RETRY,
                Err(KioskWait::Failed(e)) => {
                    tracing::warn!(code = e.code().as_str(), error = %e, "kiosk update check failed");
                    KIOSK_CHECK_EVERY
                }
            };
            tokio::time::sleep(wait).await;
        }
    });
}

enum KioskWait {
    InUse,
    Failed(UpdateError),
}

async fn kiosk_update_once<R: Runtime>(
    app: &AppHandle<R>,
    engine: &carebill_client::Engine,
    source: &UpdateSource,
) -> Result<bool, KioskWait> {
    if engine.in_use(KIOSK_QUIET).await {
        return Err(KioskWait::InUse);
    }
    let Some(update) = check(app, source).await.map_err(KioskWait::Failed)? else {
        return Ok(false);
    };
    let bytes = update
        .download(|_, _| {}, || {})
        .await
        .map_err(|e| KioskWait::Failed(classify(e)))?;
    // The download may have taken a while: a patient may have walked up meanwhile.
    if engine.in_use(KIOSK_QUIET).await {
        return Err(KioskWait::InUse);
    }
    update.install(bytes).map_err(|e| KioskWait::Failed(classify(e)))?;
    Ok(true)
}
