//! Updates in the real app: a newer version on offer is shown to the signed-in member; its bundle,
//! signed with a key other than Carebill's, is downloaded, refused with a clear message, and the
//! app's executable is left byte for byte as it was.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, app_binary};
use carebill_testkit::files::FileServer;

use crate::sign_in;

const BUNDLE: &str = "/Carebill_9.9.9_amd64.AppImage";

/// A well-formed minisign signature of `bytes`, from a freshly made key that is not Carebill's.
fn signed_by_another_key(bytes: &[u8]) -> String {
    let key = minisign::KeyPair::generate_unencrypted_keypair().expect("a key");
    let sig = minisign::sign(
        Some(&key.pk),
        &key.sk,
        bytes,
        Some("timestamp:1795850825\tversion:9.9.9"),
        None,
    )
    .expect("a signature");
    STANDARD.encode(sig.into_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_signed_with_another_key_is_offered_then_refused_and_nothing_changes() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let exe = app_binary();
    let before = std::fs::read(&exe).expect("the app binary");
    let bundle = [b"\x7fELF".as_slice(), b" not Carebill 9.9.9".as_slice()].concat();
    let signature = signed_by_another_key(&bundle);
    let updates = FileServer::serve(|base| {
        let manifest = serde_json::json!({
            "version": "9.9.9",
            "notes": "Faster bills list.",
            "pub_date": "2026-11-28T08:00:00Z",
            "platforms": {
                format!("linux-{}", std::env::consts::ARCH): {"signature": signature, "url": format!("{base}{BUNDLE}")}
            }
        });
        HashMap::from([
            ("/latest.json", manifest.to_string().into_bytes()),
            (BUNDLE, bundle.clone()),
        ])
    });
    let endpoint = updates.url("/latest.json");
    let app = App::launch_with(&backend.url, &home, &[("CAREBILL_UPDATE_URL", &endpoint)]).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.sees("Carebill 9.9.9 is available").await;
    app.sees("Faster bills list.").await;
    app.axe("dashboard with an update on offer").await;

    app.click("Install and restart").await;
    app.sees("Nothing was installed or changed").await;
    assert_eq!(
        updates.hits(BUNDLE),
        1,
        "the bundle was downloaded and refused by its signature"
    );
    assert!(
        std::fs::read(&exe).expect("the app binary") == before,
        "the app's executable is untouched"
    );
    app.axe("the refused update").await;
    app.click("Not now").await;
    app.until("the update banner to go", || async {
        !app.body_text().await.contains("is available")
    })
    .await;
    app.screen("Hello, Jordan").await;
    app.quit().await;
}
