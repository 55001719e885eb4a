//! Commands: one call into the engine each, errors as the engine's `ClientError`.

use carebill_api::types::*;
use carebill_billing::Money;
use carebill_billing::validate::{self, CardBrand};
use carebill_client::{
    BillQuery, BillView, BillsPage, ClientError, Dashboard, Engine, EngineStatus, KeyringStatus, PaymentDraft,
    PaymentQuery, PaymentReview, PaymentsPage, SessionInfo, SubmitOutcome, UnresolvedIntent,
};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::AppState;
use crate::updates::{self, UpdateError, UpdateInfo};

type Result<T> = std::result::Result<T, ClientError>;

/// Where the app opens.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum StartScreen {
    Dashboard,
    SignIn,
    /// The service is unreachable and a copy of the member's data is on this device.
    OfflineUnlock,
    /// The bills list (only for the startup harness: `CAREBILL_STARTUP_PROBE=bills`).
    Bills,
    /// A clinic kiosk's welcome screen: pay as a guest, or sign in.
    Welcome,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct Startup {
    pub screen: StartScreen,
    pub session: Option<SessionInfo>,
    /// The service is a demo server (its demo sign-in is shown).
    pub demo: bool,
    pub online: bool,
    pub keyring: KeyringStatus,
    pub version: String,
    pub api_url: String,
    pub idle_minutes: u32,
    /// Kiosk mode: what the welcome screen shows.
    pub kiosk: Option<KioskInfo>,
}

/// A kiosk's face: clinic name, support text, whether receipts can be printed, the idle time-out.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct KioskInfo {
    pub clinic_name: Option<String>,
    pub support_text: Option<String>,
    pub printer: bool,
    pub idle_seconds: u32,
    /// Whether an admin passcode is set (otherwise the app cannot be left from the screen).
    pub exit_configured: bool,
}

fn kiosk_info(state: &AppState) -> Option<KioskInfo> {
    state.config.kiosk.as_ref().map(|k| KioskInfo {
        clinic_name: k.clinic_name.clone(),
        support_text: k.support_text.clone(),
        printer: k.receipt_printer.is_some(),
        idle_seconds: k.idle_secs(),
        exit_configured: k.admin_passcode_hash.is_some(),
    })
}

/// Opens a remembered session when there is one; otherwise says which screen to show.
#[tauri::command]
#[specta::specta]
pub async fn startup(state: State<'_, AppState>) -> Result<Startup> {
    // The health probe and the remembered session's refresh are independent round trips: both at
    // once. (Offline, the refresh fails without forgetting anything.)
    let (health, resumed) = tokio::join!(state.engine.service_health(), state.engine.resume());
    let session = resumed.ok().flatten();
    let online = health.is_ok() || session.is_some();
    let demo = health.map(|h| h.demo).unwrap_or(false);
    let has_copy = state
        .config
        .data_dir
        .join("members")
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    let kiosk = kiosk_info(&state);
    let screen = match (&session, online) {
        _ if kiosk.is_some() => StartScreen::Welcome,
        (Some(_), _) if crate::startup_probe_screen().as_deref() == Some("bills") => StartScreen::Bills,
        (Some(_), _) => StartScreen::Dashboard,
        (None, false) if has_copy => StartScreen::OfflineUnlock,
        _ => StartScreen::SignIn,
    };
    Ok(Startup {
        screen,
        session,
        demo,
        online,
        keyring: state.engine.keyring_status(),
        version: env!("CARGO_PKG_VERSION").into(),
        api_url: state.config.api_url.clone(),
        idle_minutes: *state
            .idle_minutes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        kiosk,
    })
}

#[tauri::command]
#[specta::specta]
pub async fn status(state: State<'_, AppState>) -> Result<EngineStatus> {
    state.engine.status().await
}

/// The UI saw the member do something (typing, clicking): the idle timer starts over.
#[tauri::command]
#[specta::specta]
pub fn record_activity(state: State<'_, AppState>) {
    state.engine.record_activity();
}

/// A screen finished its first paint (timed by the startup harness when asked to).
#[tauri::command]
#[specta::specta]
pub fn mark_ready(screen: String) {
    crate::startup_probe(&screen);
}

// --- Accounts and sessions ----------------------------------------------------------------------

#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    state: State<'_, AppState>,
    login: String,
    password: String,
    remember: bool,
) -> Result<SessionInfo> {
    state.engine.sign_in(&login, &password, remember).await
}

#[tauri::command]
#[specta::specta]
pub async fn unlock_offline(state: State<'_, AppState>, login: String, password: String) -> Result<SessionInfo> {
    state.engine.unlock_offline(&login, &password).await
}

#[tauri::command]
#[specta::specta]
pub async fn sign_out(state: State<'_, AppState>, force: bool) -> Result<()> {
    state.engine.sign_out(force).await
}

#[tauri::command]
#[specta::specta]
pub async fn sign_out_everywhere(state: State<'_, AppState>, force: bool) -> Result<()> {
    state.engine.sign_out_everywhere(force).await
}

#[tauri::command]
#[specta::specta]
pub async fn forget_device(state: State<'_, AppState>, force: bool) -> Result<()> {
    state.engine.forget_device(force).await
}

#[tauri::command]
#[specta::specta]
pub async fn lock(state: State<'_, AppState>) -> Result<()> {
    state.engine.lock().await;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn unlock(state: State<'_, AppState>, password: String) -> Result<()> {
    state.engine.unlock(&password).await
}

#[tauri::command]
#[specta::specta]
pub async fn register(state: State<'_, AppState>, request: CreateAccountRequest) -> Result<AccountCreated> {
    state.engine.register(request).await
}

#[tauri::command]
#[specta::specta]
pub async fn verify_email(state: State<'_, AppState>, email: String, code: String) -> Result<()> {
    state.engine.verify_email(&email, &code).await
}

#[tauri::command]
#[specta::specta]
pub async fn resend_verification(state: State<'_, AppState>, email: String) -> Result<()> {
    state.engine.resend_verification(&email).await
}

#[tauri::command]
#[specta::specta]
pub async fn request_password_reset(state: State<'_, AppState>, email: String) -> Result<()> {
    state.engine.request_password_reset(&email).await
}

#[tauri::command]
#[specta::specta]
pub async fn confirm_password_reset(
    state: State<'_, AppState>,
    email: String,
    code: String,
    new_password: String,
) -> Result<()> {
    state.engine.confirm_password_reset(&email, &code, &new_password).await
}

#[tauri::command]
#[specta::specta]
pub async fn change_password(state: State<'_, AppState>, current_password: String, new_password: String) -> Result<()> {
    state.engine.change_password(&current_password, &new_password).await
}

/// The idle minutes before Carebill locks (a setting, saved to the config file).
#[tauri::command]
#[specta::specta]
pub fn set_idle_minutes(state: State<'_, AppState>, minutes: u32) -> Result<u32> {
    // A kiosk's time-out is clinic IT's (system config), never the screen's.
    if state.config.kiosk.is_some() {
        return Err(ClientError::new(
            carebill_client::ErrorKind::Validation,
            "kiosk_setting",
            "On a clinic kiosk the idle time-out is set by the clinic's IT staff.",
        ));
    }
    if !(1..=120).contains(&minutes) {
        return Err(ClientError::validation(
            "validation_failed",
            "Choose between 1 and 120 minutes.",
            "/idle_minutes",
        ));
    }
    state
        .engine
        .set_idle_lock_after(std::time::Duration::from_secs(u64::from(minutes) * 60));
    *state
        .idle_minutes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = minutes;
    if let Err(e) = state.config.save_idle_minutes(minutes) {
        tracing::warn!(error = %e, "could not save the idle setting");
    }
    Ok(minutes)
}

// --- Reading ------------------------------------------------------------------------------------

#[tauri::command]
#[specta::specta]
pub async fn dashboard(state: State<'_, AppState>) -> Result<Dashboard> {
    state.engine.dashboard().await
}

#[tauri::command]
#[specta::specta]
pub async fn bills(state: State<'_, AppState>, query: BillQuery) -> Result<BillsPage> {
    state.engine.bills(query).await
}

#[tauri::command]
#[specta::specta]
pub async fn bill(state: State<'_, AppState>, id: String) -> Result<BillView> {
    state.engine.bill(&id).await
}

#[tauri::command]
#[specta::specta]
pub async fn payments(state: State<'_, AppState>, query: PaymentQuery) -> Result<PaymentsPage> {
    state.engine.payments(query).await
}

#[tauri::command]
#[specta::specta]
pub async fn payment_methods(state: State<'_, AppState>) -> Result<Vec<PaymentMethod>> {
    state.engine.payment_methods().await
}

#[tauri::command]
#[specta::specta]
pub async fn autopay(state: State<'_, AppState>) -> Result<Option<Autopay>> {
    state.engine.autopay().await
}

#[tauri::command]
#[specta::specta]
pub async fn sync_now(state: State<'_, AppState>) -> Result<()> {
    state.engine.sync().await.map(|_| ())
}

// --- Paying -------------------------------------------------------------------------------------

/// Tokenizes a card at the processor. The number and security code live only for this call.
#[tauri::command]
#[specta::specta]
pub async fn tokenize_card(state: State<'_, AppState>, card: CardDetails) -> Result<ProcessorToken> {
    state.engine.tokenize(TokenRequest::Card(card)).await
}

#[tauri::command]
#[specta::specta]
pub async fn tokenize_bank_account(state: State<'_, AppState>, account: BankAccountDetails) -> Result<ProcessorToken> {
    state.engine.tokenize(TokenRequest::BankAccount(account)).await
}

#[tauri::command]
#[specta::specta]
pub async fn bank_name(state: State<'_, AppState>, routing_number: String) -> Result<Option<String>> {
    state.engine.bank_name(&routing_number).await
}

#[tauri::command]
#[specta::specta]
pub async fn prepare_payment(state: State<'_, AppState>, draft: PaymentDraft) -> Result<PaymentReview> {
    state.engine.prepare_payment(draft).await
}

#[tauri::command]
#[specta::specta]
pub async fn submit_payment(state: State<'_, AppState>, review_id: String, accept_ach: bool) -> Result<SubmitOutcome> {
    state.engine.submit_payment(&review_id, accept_ach).await
}

#[tauri::command]
#[specta::specta]
pub async fn unresolved(state: State<'_, AppState>) -> Result<Vec<UnresolvedIntent>> {
    state.engine.unresolved().await
}

#[tauri::command]
#[specta::specta]
pub async fn add_payment_method(state: State<'_, AppState>, token: String) -> Result<PaymentMethod> {
    state.engine.add_payment_method(&token).await
}

#[tauri::command]
#[specta::specta]
pub async fn remove_payment_method(state: State<'_, AppState>, id: String) -> Result<()> {
    state.engine.remove_payment_method(&id).await
}

#[tauri::command]
#[specta::specta]
pub async fn ach_authorization(state: State<'_, AppState>, recurring: bool) -> Result<AchAuthorization> {
    state.engine.ach_authorization(recurring).await
}

#[tauri::command]
#[specta::specta]
pub async fn set_autopay(state: State<'_, AppState>, request: AutopayRequest) -> Result<Autopay> {
    state.engine.set_autopay(request).await
}

#[tauri::command]
#[specta::specta]
pub async fn turn_off_autopay(state: State<'_, AppState>) -> Result<()> {
    state.engine.turn_off_autopay().await
}

#[tauri::command]
#[specta::specta]
pub async fn skip_autopay(state: State<'_, AppState>, bill_id: String) -> Result<UpcomingCharge> {
    state.engine.skip_autopay(&bill_id).await
}

// --- Validation while typing: the rules live in Rust only ---------------------------------------

fn invalid(field: &str, e: carebill_billing::Invalid) -> ClientError {
    let code = if e.code.starts_with("invalid_")
        && !matches!(
            e.code,
            "invalid_email" | "invalid_name" | "invalid_member_id" | "invalid_date"
        ) {
        e.code
    } else {
        "validation_failed"
    };
    ClientError::validation(code, e.message, field)
}

/// The password rules the server applies (length, common list, repeats, sequences, identifiers).
#[tauri::command]
#[specta::specta]
pub fn validate_password(password: String, email: Option<String>, member_id: Option<String>) -> Result<()> {
    Engine::check_password(&password, email.as_deref(), member_id.as_deref())
}

#[tauri::command]
#[specta::specta]
pub fn validate_email(email: String) -> Result<String> {
    validate::email(&email).map_err(|e| invalid("/email", e))
}

#[tauri::command]
#[specta::specta]
pub fn validate_member_id(member_id: String) -> Result<String> {
    validate::member_id(&member_id).map_err(|e| invalid("/member_id", e))
}

#[tauri::command]
#[specta::specta]
pub fn validate_name(name: String, which: String) -> Result<String> {
    let label = if which == "last" { "last name" } else { "first name" };
    validate::person_name(&name, label).map_err(|e| invalid(&format!("/{which}_name"), e))
}

/// A date of birth from its three fields; answers `YYYY-MM-DD`.
#[tauri::command]
#[specta::specta]
pub fn validate_date_of_birth(day: String, month: String, year: String) -> Result<String> {
    let pad = |s: &str, n: usize| format!("{:0>n$}", s.trim());
    let iso = format!("{}-{}-{}", pad(&year, 4), pad(&month, 2), pad(&day, 2));
    validate::date_of_birth(&iso, chrono::Local::now().date_naive())
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|e| invalid("/date_of_birth", e))
}

/// An amount for one bill: more than 0, at most two decimals, at most what can be paid.
#[tauri::command]
#[specta::specta]
pub fn validate_amount(amount: String, payable: Money) -> Result<Money> {
    let invalid = |e: validate::Invalid| ClientError::validation(e.code, e.message, "/amount");
    let m = validate::payment_amount(&amount).map_err(invalid)?;
    validate::within_payable(m, payable).map_err(invalid)?;
    Ok(m)
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct CardCheck {
    /// `visa`, `mastercard`, `amex`, `discover` or `unknown` (from the first digits).
    pub brand: String,
    pub brand_name: String,
    pub cvc_length: u32,
}

/// Recognises the brand as the number is typed; with `complete`, checks the whole number.
#[tauri::command]
#[specta::specta]
pub fn validate_card_number(number: String, complete: bool) -> Result<CardCheck> {
    let digits = validate::normalize_card_number(&number);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ClientError::validation(
            "invalid_card_number",
            "Card numbers have only digits.",
            "/number",
        ));
    }
    if complete {
        validate::card_number(&digits).map_err(|e| invalid("/number", e))?;
    }
    let brand = CardBrand::from_number(&digits);
    Ok(CardCheck {
        brand: brand.as_str().into(),
        brand_name: brand.display_name().into(),
        cvc_length: brand.cvc_len() as u32,
    })
}

#[tauri::command]
#[specta::specta]
pub fn validate_card_expiry(month: u32, year: i32) -> Result<()> {
    validate::card_expiry(month, year, chrono::Local::now().date_naive()).map_err(|e| invalid("/exp_month", e))
}

#[tauri::command]
#[specta::specta]
pub fn validate_card_cvc(cvc: String, number: String) -> Result<()> {
    validate::card_cvc(&cvc, CardBrand::from_number(&validate::normalize_card_number(&number)))
        .map_err(|e| invalid("/cvc", e))
}

#[tauri::command]
#[specta::specta]
pub fn validate_postal_code(postal_code: String) -> Result<()> {
    validate::postal_code(postal_code.trim()).map_err(|e| invalid("/postal_code", e))
}

#[tauri::command]
#[specta::specta]
pub fn validate_routing_number(routing_number: String) -> Result<()> {
    validate::routing_number(routing_number.trim()).map_err(|e| invalid("/routing_number", e))
}

/// The account number, typed twice.
#[tauri::command]
#[specta::specta]
pub fn validate_account_number(account_number: String, confirmation: Option<String>) -> Result<()> {
    validate::bank_account_number(account_number.trim()).map_err(|e| invalid("/account_number", e))?;
    match confirmation {
        Some(c) if c.trim() != account_number.trim() => Err(ClientError::validation(
            "account_numbers_differ",
            "The account numbers do not match. Type it again.",
            "/account_number_confirm",
        )),
        _ => Ok(()),
    }
}

// --- Kiosk and guest pay ------------------------------------------------------------------------

fn not_a_kiosk() -> ClientError {
    ClientError::new(
        carebill_client::ErrorKind::Validation,
        "not_a_kiosk",
        "This works only on a clinic kiosk.",
    )
}

/// The kiosk window as Tauri's window API reports it (for the kiosk's own checks and its tests).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct KioskStatus {
    pub kiosk: bool,
    pub fullscreen: bool,
    pub decorated: bool,
    pub resizable: bool,
    pub closable: bool,
    pub always_on_top: bool,
}

#[tauri::command]
#[specta::specta]
pub fn kiosk_status(state: State<'_, AppState>) -> Result<KioskStatus> {
    let shell = state
        .shell
        .get()
        .ok_or_else(|| ClientError::internal("the window is not open yet"))?;
    (shell.window)().map_err(ClientError::internal)
}

/// Ends the patient's session (sign-out, a finished guest payment, "Start over"): every object
/// of theirs is dropped, the web view's storage cleared, and the UI reloads to the welcome screen.
#[tauri::command]
#[specta::specta]
pub async fn kiosk_end_session(state: State<'_, AppState>) -> Result<()> {
    if state.config.kiosk.is_none() {
        return Err(not_a_kiosk());
    }
    state.engine.end_kiosk_session().await;
    Ok(())
}

/// Leaves kiosk mode (closes the app) with the admin passcode; attempts are throttled.
#[tauri::command]
#[specta::specta]
pub async fn kiosk_exit(state: State<'_, AppState>, passcode: String) -> Result<()> {
    let Some(k) = &state.config.kiosk else {
        return Err(not_a_kiosk());
    };
    let hash = k.admin_passcode_hash.clone();
    let guard = &state.exit;
    match guard.check(hash.as_deref(), &passcode) {
        crate::kiosk::ExitCheck::Allowed => {
            state.engine.end_kiosk_session().await;
            state.exiting.store(true, std::sync::atomic::Ordering::SeqCst);
            if let Some(shell) = state.shell.get() {
                (shell.exit)();
            }
            Ok(())
        }
        crate::kiosk::ExitCheck::Wrong { wait_secs } | crate::kiosk::ExitCheck::Waiting { wait_secs } => {
            let mut e = ClientError::new(
                carebill_client::ErrorKind::Unauthenticated,
                "wrong_passcode",
                if wait_secs > 0 {
                    format!("That passcode is not right. Try again in {wait_secs} seconds.")
                } else {
                    "That passcode is not right.".to_string()
                },
            )
            .at("/passcode");
            if wait_secs > 0 {
                e.retry_after = Some(wait_secs as u32);
            }
            Err(e)
        }
        crate::kiosk::ExitCheck::NoPasscode => Err(ClientError::new(
            carebill_client::ErrorKind::Validation,
            "no_passcode",
            "No admin passcode is set on this kiosk. Clinic IT sets one with `carebill kiosk set-passcode`.",
        )),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn guest_lookup(
    state: State<'_, AppState>,
    statement_number: String,
    last_name: String,
    date_of_birth: String,
) -> Result<BillDetail> {
    if state.config.kiosk.is_none() {
        return Err(not_a_kiosk());
    }
    state
        .engine
        .guest_lookup(GuestLookupRequest {
            statement_number,
            last_name,
            date_of_birth,
        })
        .await
}

#[tauri::command]
#[specta::specta]
pub async fn guest_bill(state: State<'_, AppState>) -> Result<BillDetail> {
    state.engine.guest_bill().await
}

#[tauri::command]
#[specta::specta]
pub async fn guest_prepare(state: State<'_, AppState>, amount: String, token: ProcessorToken) -> Result<PaymentReview> {
    state.engine.guest_prepare(&amount, token).await
}

#[tauri::command]
#[specta::specta]
pub async fn guest_submit(state: State<'_, AppState>, review_id: String, accept_ach: bool) -> Result<SubmitOutcome> {
    state.engine.guest_submit(&review_id, accept_ach).await
}

#[tauri::command]
#[specta::specta]
pub async fn guest_mail_receipt(state: State<'_, AppState>, confirmation_number: String, email: String) -> Result<()> {
    state.engine.guest_receipt(&confirmation_number, &email).await
}

/// The receipt as a QR code: confirmation number, amount and date, nothing about the care.
#[tauri::command]
#[specta::specta]
pub async fn guest_receipt_qr(state: State<'_, AppState>, confirmation_number: String) -> Result<crate::kiosk::QrCode> {
    if state.config.kiosk.is_none() {
        return Err(not_a_kiosk());
    }
    // Built from the payment the engine recorded for this guest, never from the screen's copy.
    let payment = state.engine.guest_paid(&confirmation_number).await?;
    // Not even the clinic's name: the code may be photographed or scanned by anyone.
    crate::kiosk::qr(&crate::kiosk::receipt_text(&payment, None)).map_err(ClientError::internal)
}

/// Prints the receipt on the kiosk's configured printer, without a dialog.
#[tauri::command]
#[specta::specta]
pub async fn guest_print_receipt(state: State<'_, AppState>, confirmation_number: String) -> Result<()> {
    let k = state.config.kiosk.as_ref().ok_or_else(not_a_kiosk)?;
    let payment = state.engine.guest_paid(&confirmation_number).await?;
    let printer = k.receipt_printer.clone().ok_or_else(|| {
        ClientError::new(
            carebill_client::ErrorKind::Validation,
            "no_printer",
            "No receipt printer is set up on this kiosk.",
        )
    })?;
    let text = crate::kiosk::receipt_text(&payment, k.clinic_name.as_deref());
    tokio::task::spawn_blocking(move || crate::kiosk::print(&printer, &text))
        .await
        .map_err(ClientError::internal)?
        .map_err(|m| ClientError::new(carebill_client::ErrorKind::Server, "print_failed", m))
}

/// Looks for a newer version (members' apps; a kiosk updates itself when clinic IT allows it).
/// `None` when there is none, or when this build does not look for updates.
#[tauri::command]
#[specta::specta]
pub async fn update_check(state: State<'_, AppState>) -> Result<Option<UpdateInfo>> {
    if state.config.kiosk.is_some() {
        return Err(UpdateError::Disabled.into());
    }
    let Some(source) = updates::configured_source(&state.config.updates)? else {
        return Ok(None);
    };
    let shell = state
        .shell
        .get()
        .ok_or_else(|| ClientError::internal("the window is not open"))?;
    let found = (shell.check_update)(source).await?;
    let info = found.as_ref().map(updates::info);
    *state.update.lock().await = found;
    Ok(info)
}

/// Downloads, verifies and installs the update found by `update_check`, then restarts into it.
/// A bundle whose signature does not match is refused and nothing changes.
#[tauri::command]
#[specta::specta]
pub async fn update_install(state: State<'_, AppState>) -> Result<()> {
    // Held until the install ends: a second click waits and then finds the app restarting.
    let found = state.update.lock().await;
    let update = found.as_ref().ok_or(UpdateError::NothingToInstall)?;
    updates::download_and_install(update).await?;
    if let Some(shell) = state.shell.get() {
        (shell.restart)();
    }
    Ok(())
}
