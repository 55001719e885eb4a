//! Signing in, keeping a session in the keyring, locking, signing out, forgetting the device.

use std::sync::Arc;
use std::time::Duration;

use carebill_client::keys;
use carebill_client::types::Event;
use carebill_client::{
    ClientConfig, Engine, ErrorKind, KeyringStatus, ManualClock, MemoryStore, SecretError, SecretStore,
};

use crate::harness::*;

#[tokio::test]
async fn signing_in_opens_an_encrypted_copy_and_syncs_it() {
    let w = World::start().await;
    let e = w.engine();
    let info = e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    assert_eq!(info.member.member_id, "M200000001");
    assert!(!info.offline && !info.remembered);
    e.sync().await.unwrap();
    let dash = e.dashboard().await.unwrap();
    assert!(dash.open_count > 0);
    let dir = w.member_dir();
    assert!(dir.join("cache.db").exists() && dir.join("keys.json").exists());
    // Not remembered: nothing but the cache key wrap in the keyring.
    assert!(w.secrets.get("last-member").unwrap().is_none());
    let wrong = e
        .sign_in(DEMO_EMAIL, "not the right password", false)
        .await
        .unwrap_err();
    assert_eq!(
        (wrong.kind, wrong.code.as_str()),
        (ErrorKind::Unauthenticated, "invalid_credentials")
    );
}

#[tokio::test]
async fn keep_me_signed_in_survives_a_restart_and_sign_out_forgets_it() {
    let w = World::start().await;
    let e = w.engine();
    let info = e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    assert!(info.remembered);
    e.sync().await.unwrap();
    drop(e);
    let again = w.engine();
    let resumed = again.resume().await.unwrap().expect("a remembered session");
    assert_eq!(resumed.member.email, DEMO_EMAIL);
    again.sync().await.unwrap();
    assert!(again.dashboard().await.unwrap().open_count > 0);
    again.sign_out(false).await.unwrap();
    assert!(w.secrets.get("last-member").unwrap().is_none());
    assert_eq!(w.secrets.len(), 0, "sign-out deletes every keyring entry of the member");
    assert!(w.engine().resume().await.unwrap().is_none());
    // The copy stays for offline review; forgetting the device deletes it.
    assert!(w.member_dir().join("cache.db").exists());
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.forget_device(false).await.unwrap();
    assert!(keys::dirs_for_login(w.data.path(), "M200000001").is_empty());
}

#[tokio::test]
async fn without_a_keyring_the_engine_says_so_and_keeps_secrets_in_memory() {
    let w = World::start().await;
    let refusing: Arc<dyn SecretStore> = Arc::new(MemoryStore::refusing(KeyringStatus::Unavailable {
        reason: "no Secret Service".into(),
    }));
    let e = Engine::new(w.config(&w.api_url), refusing, Arc::new(carebill_client::SystemClock)).unwrap();
    assert!(matches!(e.keyring_status(), KeyringStatus::Unavailable { .. }));
    let info = e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    assert!(!info.remembered, "keep me signed in needs a keyring");
    e.sync().await.unwrap();
    let text = std::fs::read_to_string(w.member_dir().join("keys.json")).unwrap();
    assert!(text.contains("\"by_keyring\": null"), "only the password-wrapped copy");
    // Offline unlock still works with the password.
    let other = Engine::new(
        w.config(&w.api_url),
        Arc::new(MemoryStore::new()),
        Arc::new(carebill_client::SystemClock),
    )
    .unwrap();
    other.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn idle_locks_after_the_configured_time_with_a_warning_first() {
    let w = World::start().await;
    let clock = ManualClock::new(chrono::Utc::now());
    let mut config: ClientConfig = w.config(&w.api_url);
    config.idle_lock_after = Duration::from_secs(15 * 60);
    let e = Engine::new(config, w.secrets.clone(), clock.clone()).unwrap();
    let mut events = e.events();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    clock.advance(chrono::Duration::minutes(14) + chrono::Duration::seconds(31));
    e.check_idle().await;
    let mut warned = None;
    while let Ok(ev) = events.try_recv() {
        if let Event::IdleWarning { seconds_left } = ev {
            warned = Some(seconds_left);
        }
    }
    assert!(
        warned.is_some_and(|s| (20..=30).contains(&s)),
        "warning with at least 20 s: {warned:?}"
    );
    clock.advance(chrono::Duration::seconds(30));
    e.check_idle().await;
    assert!(e.status().await.unwrap().locked);
    assert_eq!(e.dashboard().await.unwrap_err().code, "locked");
    assert_eq!(
        e.unlock("wrong wrong wrong wrong").await.unwrap_err().code,
        "invalid_credentials"
    );
    e.unlock(DEMO_PASSWORD).await.unwrap();
    e.dashboard().await.unwrap();
}

#[tokio::test]
async fn a_password_change_rewraps_the_copy_and_a_reset_elsewhere_rebuilds_it() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let new_password = "a different long passphrase";
    e.change_password(DEMO_PASSWORD, new_password).await.unwrap();
    e.sign_out(false).await.unwrap();
    let dir = w.member_dir();
    assert!(keys::open_with_password(&dir, new_password).is_ok());
    assert!(keys::open_with_password(&dir, DEMO_PASSWORD).is_err());
    // The password changes on another device (the keyring copy is gone after sign-out): the next
    // online sign-in cannot open the old copy and starts a fresh one.
    let other = w.engine();
    other.sign_in(DEMO_EMAIL, new_password, false).await.unwrap();
    other.change_password(new_password, DEMO_PASSWORD).await.unwrap();
    other.sign_out(false).await.unwrap();
    keys::rewrap(
        &dir,
        &keys::open_with_password(&dir, DEMO_PASSWORD).unwrap(),
        new_password,
        None,
        &[],
    )
    .unwrap();
    let third = w.engine();
    third.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    third.sync().await.unwrap();
    assert!(third.dashboard().await.unwrap().open_count > 0);
    assert!(keys::open_with_password(&dir, DEMO_PASSWORD).is_ok());
}

/// The tests of the real OS keyring take turns: one of them replaces the keyring daemon.
static OS_KEYRING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The real OS keyring. `cargo xtask test` runs the tests inside a D-Bus session with an unlocked
/// gnome-keyring, where this makes a full round trip; without a session bus the keyring must be
/// reported unavailable with its reason (and the engine falls back to memory).
#[tokio::test]
async fn the_os_keyring_round_trips_or_reports_why_it_cannot() {
    let _turn = OS_KEYRING.lock().await;
    let service = format!("carebill-it-{}-{}", std::process::id(), rand::random::<u32>());
    let ring = carebill_client::OsKeyring::open(&service);
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        assert_eq!(ring.status(), KeyringStatus::Available);
        ring.set("refresh/test", "cbr_secret").unwrap();
        assert_eq!(ring.get("refresh/test").unwrap().as_deref(), Some("cbr_secret"));
        ring.delete("refresh/test").unwrap();
        assert_eq!(ring.get("refresh/test").unwrap(), None);
        // A session remembered through the real keyring survives an engine restart.
        let w = World::start().await;
        let ring: Arc<dyn SecretStore> = Arc::new(carebill_client::OsKeyring::open(&service));
        let e = Engine::new(
            w.config(&w.api_url),
            ring.clone(),
            Arc::new(carebill_client::SystemClock),
        )
        .unwrap();
        assert!(e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap().remembered);
        drop(e);
        let again = Engine::new(
            w.config(&w.api_url),
            ring.clone(),
            Arc::new(carebill_client::SystemClock),
        )
        .unwrap();
        assert!(again.resume().await.unwrap().is_some());
        again.sign_out(false).await.unwrap();
        assert!(ring.get("last-member").unwrap().is_none());
    } else {
        match ring.status() {
            KeyringStatus::Unavailable { reason } => assert!(!reason.is_empty()),
            other => panic!("no session bus, yet the keyring says {other:?}"),
        }
    }
}

/// The OS keyring keeps one Secret Service session (src/secrets/secret_service.rs), yet reads and
/// writes the very items the `keyring` crate's own store does: secrets earlier releases kept are
/// found, overwritten in place and deleted. When the keyring daemon is replaced (only inside
/// `cargo xtask test`'s own D-Bus session, which says so with the test keyring's password), the
/// next call opens a new session on the new daemon.
#[cfg(target_os = "linux")]
#[test]
fn the_os_keyring_shares_the_keyring_crates_items_and_outlives_a_new_daemon() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return; // No keyring: the test above checks that it is reported.
    }
    let _turn = OS_KEYRING.blocking_lock();
    let service = format!("carebill-it-{}-{}", std::process::id(), rand::random::<u32>());
    let crates = |name: &str| keyring::Entry::new(&service, name).unwrap();
    let ring = carebill_client::OsKeyring::open(&service);
    assert_eq!(ring.status(), KeyringStatus::Available);
    crates("refresh/M200000001").set_password("cbr_earlier").unwrap();
    assert_eq!(ring.get("refresh/M200000001").unwrap().as_deref(), Some("cbr_earlier"));
    ring.set("refresh/M200000001", "cbr_rotated").unwrap();
    // One item, not a second beside it: the crate's read would be ambiguous.
    assert_eq!(crates("refresh/M200000001").get_password().unwrap(), "cbr_rotated");
    ring.set("copy-key/M200000001", "wrap").unwrap();
    assert_eq!(crates("copy-key/M200000001").get_password().unwrap(), "wrap");
    ring.delete("refresh/M200000001").unwrap();
    assert!(matches!(
        crates("refresh/M200000001").get_password(),
        Err(keyring::Error::NoEntry)
    ));
    // Deleting an entry that is gone is done, not an error.
    ring.delete("refresh/M200000001").unwrap();

    if let Some(password) = std::env::var_os("CAREBILL_TEST_KEYRING_PASSWORD") {
        use std::io::Write;
        let mut daemon = std::process::Command::new("gnome-keyring-daemon")
            .args(["--replace", "--unlock", "--components=secrets"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        daemon
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_encoded_bytes())
            .unwrap();
        assert!(daemon.wait().unwrap().success());
        assert_eq!(ring.get("copy-key/M200000001").unwrap().as_deref(), Some("wrap"));
        ring.set("copy-key/M200000001", "wrap-2").unwrap();
        assert_eq!(crates("copy-key/M200000001").get_password().unwrap(), "wrap-2");
        assert_eq!(ring.status(), KeyringStatus::Available);
    }
    ring.delete("copy-key/M200000001").unwrap();
    assert_eq!(ring.get("copy-key/M200000001").unwrap(), None);
}

/// A keyring that answers reads from its store but refuses every write, as a locked collection
/// does once its unlock prompt is dismissed (the OS keyring is opened with a read only:
/// docs/PERFORMANCE.md, issue 23).
struct RefusesWrites(Arc<MemoryStore>);

impl SecretStore for RefusesWrites {
    fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        self.0.get(name)
    }
    fn set(&self, _: &str, _: &str) -> Result<(), SecretError> {
        Err(SecretError("the collection is locked".into()))
    }
    fn delete(&self, _: &str) -> Result<(), SecretError> {
        Ok(())
    }
    fn status(&self) -> KeyringStatus {
        KeyringStatus::Available
    }
}

/// "Keep me signed in" is reported kept only when the keyring took the session.
#[tokio::test]
async fn a_keyring_that_refuses_the_session_never_reports_it_remembered() {
    let w = World::start().await;
    let e = Engine::new(
        w.config(&w.api_url),
        Arc::new(RefusesWrites(Arc::new(MemoryStore::new()))),
        Arc::new(carebill_client::SystemClock),
    )
    .unwrap();
    let info = e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    assert!(!info.remembered);
    assert!(!e.status().await.unwrap().session.unwrap().remembered);
}

/// A session not kept ("keep me signed in" off) never reaches the keyring, even after a kept
/// one on this device: its rotated refresh tokens are written nowhere.
#[tokio::test]
async fn a_session_not_kept_never_writes_its_rotated_tokens() {
    let w = World::start().await;
    let entry = format!("refresh/{}", keys::member_hash("M200000001"));
    let e = w.engine();
    assert!(e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap().remembered);
    e.sign_out(false).await.unwrap();
    assert!(w.secrets.get(&entry).unwrap().is_none());
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    // The access token expires: the next request refreshes, and the pair rotates.
    let issued = || w.server_count("SELECT COUNT(*) FROM refresh_tokens".into());
    let before = issued().await;
    w.server()
        .state
        .db
        .write(|c| Ok(c.execute("UPDATE access_tokens SET expires_at = 0", [])?))
        .await
        .unwrap();
    // The server's session cache still holds the token's old expiry.
    w.server().state.sessions.invalidate();
    e.sync().await.unwrap();
    assert!(issued().await > before, "the pair rotated");
    assert!(
        w.secrets.get(&entry).unwrap().is_none(),
        "the rotated token was not kept"
    );
}

/// A resumed session whose rotated refresh token the keyring refused is not reported remembered:
/// the token the keyring holds was rotated out, so the next start cannot resume with it.
#[tokio::test]
async fn a_resume_whose_rotated_token_is_refused_is_not_reported_remembered() {
    let w = World::start().await;
    let e = w.engine();
    assert!(e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap().remembered);
    drop(e);
    let kept = w.engine().resume().await.unwrap().expect("a remembered session");
    assert!(kept.remembered);
    let refused = Engine::new(
        w.config(&w.api_url),
        Arc::new(RefusesWrites(w.secrets.clone())),
        Arc::new(carebill_client::SystemClock),
    )
    .unwrap();
    let info = refused.resume().await.unwrap().expect("the session resumes");
    assert!(!info.remembered);
    assert!(!refused.status().await.unwrap().session.unwrap().remembered);
}

/// Review finding 2: the background sync and the screens' reads are not activity, so the idle
/// lock fires while the app keeps syncing on its own.
#[tokio::test]
async fn background_sync_and_reads_never_hold_off_the_idle_lock() {
    let w = World::start().await;
    let clock = ManualClock::new(chrono::Utc::now());
    let mut config: ClientConfig = w.config(&w.api_url);
    config.idle_lock_after = Duration::from_secs(15 * 60);
    config.sync_every = Duration::from_millis(100);
    let e = Engine::new(config, w.secrets.clone(), clock.clone()).unwrap();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    clock.advance(chrono::Duration::minutes(16));
    // The background task syncs several times meanwhile; the screens reload after each sync.
    tokio::time::sleep(Duration::from_millis(400)).await;
    e.sync().await.unwrap();
    e.dashboard().await.unwrap();
    e.payments(carebill_client::types::PaymentQuery {
        year: None,
        status: None,
        offset: 0,
        limit: 10,
    })
    .await
    .unwrap();
    e.check_idle().await;
    assert!(
        e.status().await.unwrap().locked,
        "locked after 16 minutes without input"
    );
    // Input is activity.
    e.unlock(DEMO_PASSWORD).await.unwrap();
    clock.advance(chrono::Duration::minutes(10));
    e.record_activity();
    clock.advance(chrono::Duration::minutes(10));
    e.check_idle().await;
    assert!(!e.status().await.unwrap().locked);
}

/// Review finding 23: the idle lock's password has an attempt limit: after five wrong tries each
/// waits longer, and the tenth signs the member out.
#[tokio::test]
async fn too_many_wrong_passwords_on_the_lock_screen_sign_the_member_out() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.lock().await;
    for _ in 0..(carebill_client::engine::UNLOCK_ATTEMPTS - 1) {
        assert_eq!(
            e.unlock("wrong wrong wrong wrong").await.unwrap_err().code,
            "invalid_credentials"
        );
    }
    let last = e.unlock("wrong wrong wrong wrong").await.unwrap_err();
    assert_eq!(last.code, "unlock_attempts_exceeded");
    assert_eq!(e.unlock(DEMO_PASSWORD).await.unwrap_err().code, "not_signed_in");
    assert!(e.dashboard().await.is_err());
    // A correct password before the limit resets the count.
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.lock().await;
    for _ in 0..3 {
        let _ = e.unlock("wrong wrong wrong wrong").await;
    }
    e.unlock(DEMO_PASSWORD).await.unwrap();
    e.lock().await;
    for _ in 0..(carebill_client::engine::UNLOCK_ATTEMPTS - 1) {
        assert_eq!(
            e.unlock("wrong wrong wrong wrong").await.unwrap_err().code,
            "invalid_credentials"
        );
    }
}

/// Review finding 17: after a sign-out, "keep me signed in" works again at the next sign-in
/// (sign-out deleted the keyring's key, so the copy gets a fresh one).
#[tokio::test]
async fn keep_me_signed_in_works_again_after_a_sign_out() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    e.sign_out(false).await.unwrap();
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    drop(e);
    let restarted = w.engine();
    let resumed = restarted.resume().await.unwrap();
    assert!(resumed.is_some(), "the remembered session resumes");
    restarted.dashboard().await.unwrap();
}

/// The UI's language goes with the mail asked for before sign-in; Account's choice becomes the
/// account's mail language, kept in the copy on this device and seen offline.
#[tokio::test]
async fn mail_follows_the_apps_language_and_the_account_keeps_its_own() {
    use carebill_api::types::Locale;
    let w = World::start().await;
    let e = w.engine();
    let reset_mails = |subject: &str| {
        format!("SELECT COUNT(*) FROM outbox WHERE to_addr = '{DEMO_EMAIL}' AND subject LIKE '%{subject}%'")
    };
    assert_eq!(e.language(), Locale::En, "English until the UI says otherwise");
    e.set_language(Locale::Es);
    assert_eq!(e.language(), Locale::Es);
    e.request_password_reset(DEMO_EMAIL).await.unwrap();
    assert_eq!(w.server_count(reset_mails("restablecer la contraseña")).await, 1);
    assert_eq!(w.server_count(reset_mails("password")).await, 0);
    // The bank debit authorization the member reads (and accepts) is in the app's language too.
    let auth = e.ach_authorization(true).await.unwrap();
    assert_eq!(auth.text_version, "2026-11-recurring-es");
    assert!(auth.text.starts_with("Autorizo a Carebill"), "{}", auth.text);

    let info = e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    assert_eq!(
        info.member.locale,
        Locale::En,
        "a pre-sign-in request never changes the account"
    );
    let member = e.set_account_language(Locale::Es).await.unwrap();
    assert_eq!(member.locale, Locale::Es);
    assert_eq!(
        w.server_count("SELECT COUNT(*) FROM accounts WHERE member_id = 'M200000001' AND locale = 'es'".into())
            .await,
        1
    );
    assert_eq!(e.status().await.unwrap().session.unwrap().member.locale, Locale::Es);
    e.sign_out(false).await.unwrap();

    // Offline, the copy remembers the language the member chose.
    let mut w = w;
    w.stop_server().await;
    let offline = w.engine();
    let info = offline.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    assert_eq!(info.member.locale, Locale::Es);
    let refused = offline.set_account_language(Locale::En).await.unwrap_err();
    assert_eq!(refused.code, "read_only_offline", "nothing changes offline");
}

#[tokio::test]
async fn notification_preferences_are_saved_whole_and_read_offline_from_the_copy() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    let mut p = e.notification_preferences().await.unwrap();
    assert!(
        p.due_soon.email && p.due_soon.desktop && !p.paperless,
        "every switch on, paper"
    );
    p.due_soon.email = false;
    p.message_reply.desktop = false;
    p.paperless = true;
    let saved = e.set_notification_preferences(p).await.unwrap();
    assert_eq!(saved, p);
    assert_eq!(
        w.server_count(
            "SELECT COUNT(*) FROM notification_preferences WHERE member_id = 'M200000001'
               AND NOT email_due_soon AND NOT desktop_message_reply AND paperless"
                .into()
        )
        .await,
        1
    );
    e.sign_out(false).await.unwrap();

    // Offline: what was saved reads from the copy; nothing can change.
    let mut w = w;
    w.stop_server().await;
    let offline = w.engine();
    offline.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    assert_eq!(offline.notification_preferences().await.unwrap(), p);
    let refused = offline.set_notification_preferences(p).await.unwrap_err();
    assert_eq!(refused.code, "read_only_offline");
}

/// Signs the demo member out everywhere over the API, as another device would.
async fn sign_out_everywhere_elsewhere(w: &World) {
    let token = w.token_elsewhere().await;
    let revoked = reqwest::Client::new()
        .delete(format!("{}/v1/sessions", w.api_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
}

/// Issue 23's rule (ARCHITECTURE.md, "Painting early"): a session the service refuses shows
/// nothing more, at the next start or in the running app.
#[tokio::test]
async fn a_refused_session_closes_the_copy_at_once() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    drop(e);

    // Revoked while the app was closed: the remembered session is refused and forgotten, and the
    // copy is not opened.
    sign_out_everywhere_elsewhere(&w).await;
    let again = w.engine();
    assert!(again.resume().await.unwrap().is_none());
    assert!(w.secrets.get("last-member").unwrap().is_none());
    assert_eq!(again.dashboard().await.unwrap_err().code, "not_signed_in");
    assert!(again.status().await.unwrap().session.is_none());

    // Revoked while the app is open: the next sync is refused, and the session ends at once.
    let e = w.engine();
    let mut events = e.events();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    assert!(e.dashboard().await.unwrap().open_count > 0);
    sign_out_everywhere_elsewhere(&w).await;
    let refused = e.sync().await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::SessionExpired, "{refused:?}");
    tokio::time::timeout(Duration::from_secs(10), async {
        while !matches!(events.recv().await, Ok(Event::SessionExpired)) {}
    })
    .await
    .expect("the UI is told");
    assert_eq!(e.dashboard().await.unwrap_err().code, "not_signed_in");
    assert!(e.status().await.unwrap().session.is_none());
    assert_eq!(
        w.secrets.len(),
        0,
        "the remembered session and the copy's keyring key are gone"
    );
    assert!(
        w.member_dir().join("cache.db").exists(),
        "the copy stays, encrypted, for the password"
    );
    assert!(w.engine().resume().await.unwrap().is_none());
}
