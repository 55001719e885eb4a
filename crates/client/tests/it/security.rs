//! What is on disk and in the logs: no SQLite header, no plaintext, no secrets.

use carebill_api::types::{CardDetails, TokenRequest};
use carebill_client::{SecretStore, keys};

use crate::harness::*;

fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

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

    let dir = keys::member_dir(w.data.path(), "M200000001");
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
    for entry in walk(w.data.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        for c in &canaries {
            assert!(!contains(&bytes, c), "{c:?} in {}", entry.display());
        }
    }
    let logs = LOGS.lock().unwrap().clone();
    for c in [DEMO_PASSWORD, "5555555555554444", refresh.as_str()] {
        assert!(!contains(&logs, c), "{c:?} in the logs");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}
