//! What is on disk and in the logs: no SQLite header, no plaintext, no secrets.

use carebill_api::types::{CardDetails, TokenRequest};
use carebill_client::{SecretStore, keys};

use carebill_testkit::canary::{self, contains};

use crate::harness::*;

#[tokio::test]
async fn the_copy_on_disk_is_encrypted_and_holds_no_secret() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    let token = e
        .tokenize(TokenRequest::Card(CardDetails {
            number: "5555555555554444".into(),
            exp_month: 11,
            exp_year: 2031,
            cvc: "321".into(),
            postal_code: "94110".into(),
            holder_name: "Jordan Lee".into(),
        }))
        .await
        .unwrap();
    e.add_payment_method(&token.token).await.unwrap();
    let bill = e.bills(Default::default()).await.unwrap().bills[0].bill.id.clone();
    let description = e.bill(&bill).await.unwrap().bill.line_items[0].description.clone();
    let refresh = w
        .secrets
        .get(&format!("refresh/{}", keys::member_hash("M200000001")))
        .unwrap()
        .unwrap();

    let dir = w.member_dir();
    let cache = std::fs::read(dir.join("cache.db")).unwrap();
    assert!(!cache.starts_with(b"SQLite format 3"), "no SQLite header");
    let mut canaries = vec![
        description.as_str(),
        "Jordan",
        DEMO_EMAIL,
        DEMO_PASSWORD,
        "5555555555554444",
        "321",
        refresh.as_str(),
    ];
    canaries.retain(|c| c.len() >= 4);
    let found = canary::found_in_files(w.data.path(), &canaries);
    assert!(found.is_empty(), "secrets or health data on disk: {found:?}");
    let logs = carebill_testkit::logs::captured();
    for c in [DEMO_PASSWORD, "5555555555554444", refresh.as_str()] {
        assert!(!contains(&logs, c), "{c:?} in the logs");
    }
}

/// Review finding 20: a redirect from the service is never followed, so a 307/308 cannot carry a
/// password or a card number to another host or to plain HTTP.
#[tokio::test]
async fn redirects_are_never_followed_with_a_password_or_a_card_number() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let w = World::start().await;
    // Where the redirect points: counts every connection it gets.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_addr = elsewhere.local_addr().unwrap();
    let reached = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    tokio::spawn(async move {
        while let Ok((_conn, _)) = elsewhere.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    // A service that answers everything with 307 to that address.
    let redirecting = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", redirecting.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = redirecting.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = conn.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{elsewhere_addr}/v1/sessions\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            });
        }
    });
    let mut config = w.config(&url);
    config.processor_url = format!("{url}/processor");
    let e = w.engine_with(config);
    assert!(e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.is_err());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(reached.load(Ordering::SeqCst), 0, "the redirect was followed");
}

/// Review finding 18: the member's copy, its key file and their directories are readable by
/// this OS user only, also when an earlier release left them readable by others.
#[cfg(unix)]
#[tokio::test]
async fn the_copy_and_its_key_file_are_private_to_this_os_user() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    let dir = w.member_dir();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path) & 0o077, 0, "{} is {:o}", path.display(), mode(&path));
    }
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(dir.parent().unwrap()), 0o700);
    // A copy from before: widened, then narrowed again at the next sign-in.
    e.sign_out(true).await.unwrap();
    std::fs::set_permissions(dir.join("cache.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    assert_eq!(mode(&dir.join("cache.db")), 0o600);
    assert_eq!(mode(&dir), 0o700);
}

/// Review finding 18: the copy's directory name says nothing about whose it is, the login hashes
/// in its key file are salted per file, and a copy from an earlier release (named by the member
/// ID's hash, unsalted logins) is found, renamed and still opens.
#[tokio::test]
async fn the_copy_is_named_and_found_without_revealing_the_member() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    let dir = w.member_dir();
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    assert_ne!(name, keys::member_hash("M200000001"));
    let text = std::fs::read_to_string(dir.join("keys.json")).unwrap();
    assert!(!text.contains(&keys::login_hash(DEMO_EMAIL)), "no unsalted login hash");
    assert!(!text.contains(&keys::login_hash("M200000001")));
    e.sign_out(true).await.unwrap();

    // A copy left by an earlier release: the old name and unsalted hashes.
    let legacy = keys::legacy_member_dir(w.data.path(), "M200000001");
    std::fs::rename(&dir, &legacy).unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    file["logins"] = serde_json::json!([keys::login_hash(DEMO_EMAIL), keys::login_hash("M200000001")]);
    file.as_object_mut().unwrap().remove("salted_logins");
    file.as_object_mut().unwrap().remove("login_salt");
    std::fs::write(legacy.join("keys.json"), file.to_string()).unwrap();
    assert_eq!(keys::dirs_for_login(w.data.path(), DEMO_EMAIL), vec![legacy.clone()]);
    // Offline, it opens by the old hashes; online, the sign-in moves it and salts the hashes.
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    assert!(!legacy.exists(), "renamed at sign-in");
    let moved = w.member_dir();
    assert!(moved.join("cache.db").exists(), "the same copy, moved");
    let text = std::fs::read_to_string(moved.join("keys.json")).unwrap();
    assert!(
        !text.contains(&keys::login_hash(DEMO_EMAIL)),
        "hashes salted at sign-in"
    );
    assert!(
        !e.bills(Default::default()).await.unwrap().bills.is_empty(),
        "what was synced is there"
    );
}

/// The billing API over HTTPS with a certificate from a CA only the clinic's bundle holds (TLS
/// inspection, a private CA): refused without the bundle, trusted with it (`extra_ca_pem`, merged
/// with the computer's own trust store), and never over a name the certificate does not carry.
#[tokio::test]
async fn https_is_checked_against_the_system_store_and_the_clinics_extra_bundle() {
    let certs = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let tls = (cert_path.clone(), key_path);
    let w = World::start_with(move |c| c.tls = Some(tls)).await;
    let port = w.server().addr.port();

    let plain = w.engine_with(w.config(&format!("https://localhost:{port}")));
    let refused = plain.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap_err();
    assert_eq!(refused.code, "offline", "an unknown CA is not trusted: {refused:?}");

    let mut with_bundle = w.config(&format!("https://localhost:{port}"));
    with_bundle.extra_ca_pem = Some(cert_path.clone());
    let trusted = w.engine_with(with_bundle);
    trusted.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    trusted.sync().await.unwrap();
    assert!(!open_bills(&trusted).await.bills.is_empty());
    trusted.sign_out(false).await.unwrap();

    // The certificate names "localhost", not the address.
    let mut wrong_name = w.config(&format!("https://127.0.0.1:{port}"));
    wrong_name.extra_ca_pem = Some(cert_path);
    let refused = w
        .engine_with(wrong_name)
        .sign_in(DEMO_EMAIL, DEMO_PASSWORD, false)
        .await
        .unwrap_err();
    assert_eq!(refused.code, "offline", "{refused:?}");
}
