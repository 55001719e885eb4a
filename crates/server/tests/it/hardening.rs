//! The security review's smaller findings (24): reservations visible at once, demo endpoints
//! only for loopback names, unencrypted SMTP only to loopback, tokens attached once by one member,
//! mail bodies that do not linger.

use chrono::Duration;
use serde_json::json;

use crate::harness::*;
use crate::payments::start_with_dying;

#[tokio::test]
async fn a_payment_being_charged_shows_in_the_bill_lists_at_once() {
    let (s, _processor) = start_with_dying(1).await;
    let token = s.demo_token().await;
    let bill = s.payable_bills(&token).await[0].clone();
    let id = bill["id"].as_str().unwrap().to_string();
    // The list is read (and cached) before the payment.
    let before = s.all_bills(&token, "open").await;
    assert!(before.iter().any(|b| b["id"] == id.as_str()));
    let card_id = s.card_method(&token).await;
    s.pay(
        &token,
        "stuck",
        json!({"payment_method_id": card_id, "allocations": one_bill(&id, "4.00")}),
    )
    .await
    .expect_error(503, "processor_unavailable");
    let after = s.all_bills(&token, "open").await;
    let listed = after.iter().find(|b| b["id"] == id.as_str()).unwrap();
    assert_ne!(listed["payable"], bill["payable"], "the reserved amount is not payable");
    s.stop().await;
}

#[tokio::test]
async fn demo_endpoints_answer_only_loopback_host_names() {
    let s = TestServer::start().await;
    for host in ["127.0.0.1", "localhost:8787", "[::1]:1"] {
        let r = s
            .send(s.http.get(format!("{}/dev/mailbox", s.base)).header("Host", host))
            .await;
        assert_eq!(r.status, 200, "{host}");
    }
    for host in ["rebound.example", "rebound.example:8787", "10.1.2.3"] {
        let r = s
            .send(s.http.get(format!("{}/dev/mailbox", s.base)).header("Host", host))
            .await;
        r.expect_error(404, "not_found");
    }
    s.stop().await;
}

#[test]
fn unencrypted_smtp_is_refused_off_loopback() {
    use carebill_server::config::{ConfigError, FileConfig, ServerConfig};
    let dir = tempfile::tempdir().unwrap();
    let resolve = |toml: &str| {
        let file: FileConfig = toml::from_str(toml).unwrap();
        ServerConfig::resolve(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().to_path_buf(),
            true,
            None,
            file,
            Some("11".repeat(32)),
        )
    };
    assert!(matches!(
        resolve("[smtp]\nhost = \"smtp.plan.example\"\nsecurity = \"none\""),
        Err(ConfigError::PlainSmtpOffLoopback(_))
    ));
    assert!(matches!(
        resolve("[smtp]\nhost = \"smtp.plan.example\"\nsecurity = \"ssl\""),
        Err(ConfigError::SmtpSecurity(_))
    ));
    for host in ["127.0.0.1", "localhost", "::1"] {
        assert!(
            resolve(&format!("[smtp]\nhost = \"{host}\"\nsecurity = \"none\"")).is_ok(),
            "{host}"
        );
    }
    assert!(resolve("[smtp]\nhost = \"smtp.plan.example\"").is_ok());
}

#[tokio::test]
async fn a_token_is_attached_once_by_one_member_within_its_lifetime() {
    let s = TestServer::start().await;
    let demo = s.demo_token().await;
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let card = s.card_token("5555555555554444").await;
    let first = s.post_auth("/v1/payment-methods", &demo, json!({"token": card})).await;
    first.expect(201);
    // The same member retrying gets the same method.
    let again = s.post_auth("/v1/payment-methods", &demo, json!({"token": card})).await;
    assert!(again.status == 200 || again.status == 201, "{:?}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    // Another member with the leaked token gets nothing.
    s.post_auth("/v1/payment-methods", &other, json!({"token": card}))
        .await
        .expect_error(422, "invalid_payment_token");
    // Nor does anyone after the token's lifetime.
    s.advance(Duration::minutes(16));
    let demo = s.demo_token().await;
    s.post_auth("/v1/payment-methods", &demo, json!({"token": card}))
        .await
        .expect_error(422, "invalid_payment_token");
    s.stop().await;
}

#[tokio::test]
async fn mail_bodies_are_erased_after_a_week_even_when_never_delivered() {
    let s = TestServer::start().await;
    s.post("/v1/password-resets", json!({"email": DEMO_EMAIL}))
        .await
        .expect(202);
    assert!(
        s.count("SELECT COUNT(*) FROM outbox WHERE body LIKE '%reset code%'")
            .await
            > 0
    );
    s.advance(Duration::days(8));
    let now = s.clock_now();
    s.server
        .state
        .db
        .transaction(move |tx| carebill_server::mail::erase_old_bodies(tx, now))
        .await
        .unwrap();
    assert_eq!(s.count("SELECT COUNT(*) FROM outbox WHERE body != ''").await, 0);
    s.stop().await;
}
