//! Signing in, tokens, refresh rotation, throttling, signing out, password changes and resets.

use chrono::Duration;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn members_sign_in_with_email_or_member_id() {
    let s = TestServer::start().await;
    let by_email = s.sign_in("  Demo@Carebill.example ", DEMO_PASSWORD).await;
    assert_eq!(by_email["token_type"], "Bearer");
    assert_eq!(by_email["expires_in"], 900);
    let by_id = s.sign_in("m200000001", DEMO_PASSWORD).await;
    assert_eq!(by_id["member"]["member_id"], "M200000001");
    let me = s.get("/v1/me", by_id["access_token"].as_str().unwrap()).await;
    me.expect(200);
    assert_eq!(me.body["email"], DEMO_EMAIL);
    assert_eq!(me.body["date_of_birth"], "1979-09-23");
    s.stop().await;
}

#[tokio::test]
async fn unknown_logins_and_wrong_passwords_look_the_same() {
    let s = TestServer::start().await;
    let wrong = s
        .post(
            "/v1/sessions",
            json!({"login": DEMO_EMAIL, "password": "not the password at all"}),
        )
        .await;
    let unknown = s
        .post(
            "/v1/sessions",
            json!({"login": "nobody@example.com", "password": "not the password at all"}),
        )
        .await;
    wrong.expect_error(401, "invalid_credentials");
    unknown.expect_error(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    s.stop().await;
}

#[tokio::test]
async fn access_tokens_expire_after_fifteen_minutes_and_refresh_buys_a_new_pair() {
    let s = TestServer::start().await;
    let t = s.sign_in(DEMO_EMAIL, DEMO_PASSWORD).await;
    let access = t["access_token"].as_str().unwrap();
    s.get("/v1/me", access).await.expect(200);
    s.advance(Duration::minutes(15));
    s.get("/v1/me", access).await.expect_error(401, "token_expired");
    let r = s
        .post("/v1/sessions/refresh", json!({"refresh_token": t["refresh_token"]}))
        .await;
    r.expect(200);
    assert_ne!(r.body["refresh_token"], t["refresh_token"]);
    s.get("/v1/me", r.body["access_token"].as_str().unwrap())
        .await
        .expect(200);
    s.get("/v1/me", "cba_not-a-token")
        .await
        .expect_error(401, "unauthenticated");
    s.send(s.http.get(format!("{}/v1/me", s.base)))
        .await
        .expect_error(401, "unauthenticated");
    s.stop().await;
}

#[tokio::test]
async fn a_rotated_refresh_token_replays_the_same_pair_for_30_seconds_then_revokes_the_session() {
    let s = TestServer::start().await;
    let t = s.sign_in(DEMO_EMAIL, DEMO_PASSWORD).await;
    let first = s
        .post("/v1/sessions/refresh", json!({"refresh_token": t["refresh_token"]}))
        .await;
    first.expect(200);
    s.advance(Duration::seconds(29));
    let again = s
        .post("/v1/sessions/refresh", json!({"refresh_token": t["refresh_token"]}))
        .await;
    again.expect(200);
    assert_eq!(again.body["access_token"], first.body["access_token"]);
    assert_eq!(again.body["refresh_token"], first.body["refresh_token"]);
    assert_eq!(again.body["expires_in"], 900 - 29);

    s.advance(Duration::seconds(2));
    s.post("/v1/sessions/refresh", json!({"refresh_token": t["refresh_token"]}))
        .await
        .expect_error(401, "session_revoked");
    // The whole session is gone, including the pair the thief or the member holds.
    s.get("/v1/me", first.body["access_token"].as_str().unwrap())
        .await
        .expect_error(401, "session_revoked");
    s.post(
        "/v1/sessions/refresh",
        json!({"refresh_token": first.body["refresh_token"]}),
    )
    .await
    .expect_error(401, "session_revoked");
    s.stop().await;
}

#[tokio::test]
async fn sessions_last_twelve_hours_or_thirty_days_when_remembered() {
    let s = TestServer::start().await;
    let short = s.sign_in(DEMO_EMAIL, DEMO_PASSWORD).await;
    let long = s
        .post(
            "/v1/sessions",
            json!({"login": DEMO_EMAIL, "password": DEMO_PASSWORD, "remember_device": true}),
        )
        .await
        .body
        .clone();
    let mut short_rt = short["refresh_token"].as_str().unwrap().to_string();
    let mut long_rt = long["refresh_token"].as_str().unwrap().to_string();
    for _ in 0..11 {
        s.advance(Duration::hours(1));
        for rt in [&mut short_rt, &mut long_rt] {
            let r = s.post("/v1/sessions/refresh", json!({"refresh_token": *rt})).await;
            r.expect(200);
            *rt = r.body["refresh_token"].as_str().unwrap().to_string();
        }
    }
    s.advance(Duration::hours(1));
    s.post("/v1/sessions/refresh", json!({"refresh_token": short_rt}))
        .await
        .expect_error(401, "session_expired");
    s.post("/v1/sessions/refresh", json!({"refresh_token": long_rt.clone()}))
        .await
        .expect(200);
    s.stop().await;
}

#[tokio::test]
async fn throttling_slows_guessing_without_revealing_or_locking_accounts() {
    let s = TestServer::start().await;
    for login in [DEMO_EMAIL, "nobody@example.com"] {
        for _ in 0..6 {
            s.post(
                "/v1/sessions",
                json!({"login": login, "password": "wrong wrong wrong wrong"}),
            )
            .await
            .expect_error(401, "invalid_credentials");
        }
        let r = s
            .post(
                "/v1/sessions",
                json!({"login": login, "password": "wrong wrong wrong wrong"}),
            )
            .await;
        r.expect_error(429, "too_many_attempts");
        assert_eq!(r.headers["retry-after"], "1");
    }
    // Even the right password waits out the delay; then it works and clears the count.
    s.post("/v1/sessions", json!({"login": DEMO_EMAIL, "password": DEMO_PASSWORD}))
        .await
        .expect_error(429, "too_many_attempts");
    s.advance(Duration::seconds(1));
    s.sign_in(DEMO_EMAIL, DEMO_PASSWORD).await;
    s.post(
        "/v1/sessions",
        json!({"login": DEMO_EMAIL, "password": "wrong wrong wrong wrong"}),
    )
    .await
    .expect_error(401, "invalid_credentials");
    s.stop().await;
}

#[tokio::test]
async fn signing_out_revokes_this_session_and_signing_out_everywhere_revokes_all() {
    let s = TestServer::start().await;
    let a = s.demo_token().await;
    let b = s.demo_token().await;
    let c = s.demo_token().await;
    s.delete("/v1/sessions/current", &a).await.expect(204);
    s.get("/v1/me", &a).await.expect_error(401, "session_revoked");
    s.get("/v1/me", &b).await.expect(200);
    s.delete("/v1/sessions", &b).await.expect(204);
    s.get("/v1/me", &b).await.expect_error(401, "session_revoked");
    s.get("/v1/me", &c).await.expect_error(401, "session_revoked");
    s.stop().await;
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_signs_out_other_devices() {
    let s = TestServer::start().await;
    let here = s.demo_token().await;
    let elsewhere = s.demo_token().await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    s.post_auth(
        "/v1/me/password",
        &here,
        change("wrong current password", GOOD_PASSWORD),
    )
    .await
    .expect_error(422, "incorrect_password");
    // An empty or over-long current password is a malformed request, not a guess: it is
    // refused before the attempt is counted (the sign-in throttle allows only a few).
    for _ in 0..20 {
        let r = s.post_auth("/v1/me/password", &here, change("", GOOD_PASSWORD)).await;
        r.expect_error(422, "validation_failed");
        assert_eq!(r.field(), "/current_password");
    }
    s.post_auth("/v1/me/password", &here, change(&"x".repeat(257), GOOD_PASSWORD))
        .await
        .expect_error(422, "validation_failed");
    let weak = s
        .post_auth("/v1/me/password", &here, change(DEMO_PASSWORD, "too short"))
        .await;
    weak.expect_error(422, "weak_password");
    assert_eq!(weak.field(), "/new_password");
    s.post_auth("/v1/me/password", &here, change(DEMO_PASSWORD, GOOD_PASSWORD))
        .await
        .expect(204);
    s.get("/v1/me", &here).await.expect(200);
    s.get("/v1/me", &elsewhere).await.expect_error(401, "session_revoked");
    s.post("/v1/sessions", json!({"login": DEMO_EMAIL, "password": DEMO_PASSWORD}))
        .await
        .expect_error(401, "invalid_credentials");
    s.sign_in(DEMO_EMAIL, GOOD_PASSWORD).await;
    let mail = s.last_mail_to(DEMO_EMAIL).await.unwrap();
    assert_eq!(mail["subject"], "Your Carebill password was changed");
    s.stop().await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_with_the_mailed_code() {
    let s = TestServer::start().await;
    let old_session = s.demo_token().await;
    let before = s.mailbox().await.len();
    s.post("/v1/password-resets", json!({"email": "nobody@example.com"}))
        .await
        .expect(202);
    assert_eq!(s.mailbox().await.len(), before, "no mail for an unknown address");
    s.post("/v1/password-resets", json!({"email": DEMO_EMAIL}))
        .await
        .expect(202);
    let mail = s.last_mail_to(DEMO_EMAIL).await.unwrap();
    assert_eq!(mail["subject"], "Your Carebill password reset code");
    let code = reset_code(&mail);

    let confirm = |code: &str, pw: &str| json!({"email": DEMO_EMAIL, "code": code, "new_password": pw});
    s.post("/v1/password-resets/confirm", confirm("2222-2222", GOOD_PASSWORD))
        .await
        .expect_error(422, "invalid_code");
    // A weak password does not use up the code.
    s.post("/v1/password-resets/confirm", confirm(&code, "too short"))
        .await
        .expect_error(422, "weak_password");
    s.post(
        "/v1/password-resets/confirm",
        confirm(&code.to_lowercase().replace('-', " "), GOOD_PASSWORD),
    )
    .await
    .expect(204);
    s.post(
        "/v1/password-resets/confirm",
        confirm(&code, "another fine long passphrase"),
    )
    .await
    .expect_error(422, "invalid_code");

    s.get("/v1/me", &old_session).await.expect_error(401, "session_revoked");
    s.sign_in(DEMO_EMAIL, GOOD_PASSWORD).await;
    s.stop().await;
}

#[tokio::test]
async fn reset_codes_expire_after_thirty_minutes() {
    let s = TestServer::start().await;
    s.post("/v1/password-resets", json!({"email": DEMO_EMAIL}))
        .await
        .expect(202);
    let code = reset_code(&s.last_mail_to(DEMO_EMAIL).await.unwrap());
    s.advance(Duration::minutes(30) + Duration::seconds(1));
    let r = s
        .post(
            "/v1/password-resets/confirm",
            json!({"email": DEMO_EMAIL, "code": code, "new_password": GOOD_PASSWORD}),
        )
        .await;
    r.expect_error(422, "code_expired");
    s.sign_in(DEMO_EMAIL, DEMO_PASSWORD).await;
    s.stop().await;
}

/// Review finding 5: guesses sent all at once are counted as they start, and an account's email
/// and member ID share one count.
#[tokio::test]
async fn concurrent_guesses_and_the_second_login_name_share_one_throttle() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let guesses = (0..40).map(|_| {
        let s = s.clone();
        tokio::spawn(async move {
            s.post(
                "/v1/sessions",
                json!({"login": DEMO_EMAIL, "password": "wrong wrong wrong wrong"}),
            )
            .await
            .status
        })
    });
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 6, "{checked} passwords were checked");
    assert_eq!(checked + statuses.iter().filter(|s| **s == 429).count(), 40);
    // The member ID is the same account: it is held too.
    s.post(
        "/v1/sessions",
        json!({"login": carebill_server::seed::DEMO_MEMBER_ID, "password": "wrong wrong wrong wrong"}),
    )
    .await
    .expect_error(429, "too_many_attempts");
    std::sync::Arc::try_unwrap(s).ok().unwrap().stop().await;
}

/// Review finding 12: behind a trusted TLS-terminating proxy every client is the proxy's
/// address unless `X-Forwarded-For` is read; with `trusted_proxies` it is, so a stranger's bad
/// guesses hold only the stranger for long, and the member waits at most the short cap.
#[tokio::test]
async fn behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for() {
    let s = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let sign_in = |from: &'static str, password: &'static str| {
        s.send(
            s.http
                .post(format!("{}/v1/sessions", s.base))
                .header("X-Forwarded-For", from)
                .json(&json!({"login": DEMO_EMAIL, "password": password})),
        )
    };
    for _ in 0..40 {
        let r = sign_in("203.0.113.66", "wrong wrong wrong wrong").await;
        assert!(r.status == 401 || r.status == 429);
        s.advance(Duration::seconds(30));
    }
    let member = sign_in("198.51.100.7", DEMO_PASSWORD).await;
    if member.status == 429 {
        let wait: i64 = member.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(wait <= 60, "the member waits at most the short cap, not {wait} s");
        s.advance(Duration::seconds(wait));
    }
    sign_in("198.51.100.7", DEMO_PASSWORD).await.expect(201);
    // The stranger's own address stays held for much longer.
    s.advance(Duration::seconds(1));
    let r = sign_in("203.0.113.66", "wrong wrong wrong wrong").await;
    r.expect_error(429, "too_many_attempts");
    let wait: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 60, "{wait}");
    s.stop().await;
}
