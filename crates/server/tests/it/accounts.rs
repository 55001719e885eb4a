//! Registration and email confirmation.

use chrono::Duration;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn registering_a_roster_member_creates_an_unverified_account_and_mails_a_code() {
    let s = TestServer::start().await;
    let r = s.post("/v1/accounts", alex(GOOD_PASSWORD)).await;
    r.expect(201);
    assert_eq!(r.body["status"], "pending_verification");
    assert_eq!(r.body["member_id"], "M200000002");

    let r = s
        .post(
            "/v1/sessions",
            json!({"login": "alex.rivera@example.com", "password": GOOD_PASSWORD}),
        )
        .await;
    r.expect_error(403, "email_not_verified");

    let mail = s
        .last_mail_to("alex.rivera@example.com")
        .await
        .expect("a confirmation mail");
    let code = six_digit_code(&mail);
    s.post(
        "/v1/accounts/verify",
        json!({"email": "alex.rivera@example.com", "code": code}),
    )
    .await
    .expect(204);

    let tokens = s.sign_in("M200000002", GOOD_PASSWORD).await;
    assert_eq!(tokens["member"]["first_name"], "Alex");
    assert_eq!(tokens["member"]["email_verified"], true);
    s.stop().await;
}

#[tokio::test]
async fn every_identity_mismatch_gets_the_same_answer() {
    let s = TestServer::start().await;
    let mut answers = Vec::new();
    for (field, value) in [
        ("member_id", "M200000009"),
        ("first_name", "Alexa"),
        ("last_name", "Riviera"),
        ("date_of_birth", "1985-04-13"),
    ] {
        let mut body = alex(GOOD_PASSWORD);
        body[field] = json!(value);
        let r = s.post("/v1/accounts", body).await;
        r.expect_error(422, "identity_not_verified");
        answers.push(r.body["error"].clone());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "answers differ: {answers:?}");
    // Names match case-insensitively; the member ID too.
    let mut body = alex(GOOD_PASSWORD);
    body["first_name"] = json!("ALEX");
    body["last_name"] = json!("rivera");
    body["member_id"] = json!("m200000002");
    s.post("/v1/accounts", body).await.expect(201);
    s.stop().await;
}

#[tokio::test]
async fn a_member_or_email_with_an_account_cannot_register_again() {
    let s = TestServer::start().await;
    s.post("/v1/accounts", alex(GOOD_PASSWORD)).await.expect(201);
    // The same member and address again, never confirmed: registered again with a new code.
    s.post("/v1/accounts", alex(GOOD_PASSWORD)).await.expect(201);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM accounts WHERE member_id = 'M200000002'")
            .await,
        1
    );
    let demo = json!({
        "member_id": "M200000001", "first_name": "Jordan", "last_name": "Lee",
        "date_of_birth": "1979-09-23", "email": "someone.else@example.com", "password": GOOD_PASSWORD,
    });
    s.post("/v1/accounts", demo).await.expect_error(409, "account_exists");
    // Another member's address: answered like any registration (no enumeration); nothing is
    // created and the address's owner is told.
    let mut same_email = json!({
        "member_id": "M200000004", "first_name": "Samuel", "last_name": "Okafor",
        "date_of_birth": "1968-07-08", "email": "DEMO@carebill.example", "password": GOOD_PASSWORD,
    });
    let r = s.post("/v1/accounts", same_email.clone()).await;
    r.expect(201);
    assert_eq!(r.body["status"], "pending_verification");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM accounts WHERE member_id = 'M200000004'")
            .await,
        0
    );
    let notice = s.last_mail_to(DEMO_EMAIL).await.unwrap();
    assert!(notice["subject"].as_str().unwrap().contains("tried to register"));
    same_email["email"] = json!("samuel@example.com");
    s.post("/v1/accounts", same_email).await.expect(201);
    s.stop().await;
}

/// Review finding 10: whoever registers a member's ID first (and never confirms the address)
/// does not keep it: a registration with the member's own, confirmed address replaces the
/// never-verified account, and unconfirmed accounts expire after 72 hours.
#[tokio::test]
async fn a_never_verified_registration_is_replaced_by_the_member_and_expires() {
    let s = TestServer::start().await;
    let mut squatter = alex(GOOD_PASSWORD);
    squatter["email"] = json!("x@evil.test");
    s.post("/v1/accounts", squatter.clone()).await.expect(201);
    // The real member registers with their own address and confirms it.
    s.post("/v1/accounts", alex(DEMO_PASSWORD)).await.expect(201);
    s.confirm_email("alex.rivera@example.com").await;
    s.sign_in("alex.rivera@example.com", DEMO_PASSWORD).await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM accounts WHERE member_id = 'M200000002'")
            .await,
        1
    );
    // The squatter's code is worth nothing now.
    let theirs = six_digit_code(&s.last_mail_to("x@evil.test").await.unwrap());
    s.post("/v1/accounts/verify", json!({"email": "x@evil.test", "code": theirs}))
        .await
        .expect_error(422, "invalid_code");
    // A verified account is never replaced.
    s.post("/v1/accounts", squatter)
        .await
        .expect_error(409, "account_exists");

    // Expiry: an account nobody confirms is removed after 72 hours.
    let mut samuel = json!({
        "member_id": "M200000004", "first_name": "Samuel", "last_name": "Okafor",
        "date_of_birth": "1968-07-08", "email": "x2@evil.test", "password": GOOD_PASSWORD,
    });
    s.post("/v1/accounts", samuel.clone()).await.expect(201);
    s.advance(chrono::Duration::hours(73));
    let now = s.clock_now();
    let purged = s
        .server
        .state
        .db
        .transaction(move |tx| carebill_server::accounts::purge_unverified(tx, now))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    samuel["email"] = json!("samuel@example.com");
    s.post("/v1/accounts", samuel).await.expect(201);
    s.confirm_email("samuel@example.com").await;
    s.stop().await;
}

/// Review finding 6: the confirmation endpoint answers the same for a confirmed account, an
/// unconfirmed one and an unknown address: a wrong code, then "expired" after five tries.
#[tokio::test]
async fn confirming_an_address_reveals_nothing_about_accounts() {
    let s = TestServer::start().await;
    s.post("/v1/accounts", alex(GOOD_PASSWORD)).await.expect(201);
    for email in [DEMO_EMAIL, "alex.rivera@example.com", "nobody@example.com"] {
        let mut answers = Vec::new();
        for _ in 0..6 {
            let r = s
                .post("/v1/accounts/verify", json!({"email": email, "code": "000000"}))
                .await;
            answers.push((r.status, r.code().to_string()));
        }
        let expected: Vec<(u16, String)> = std::iter::repeat_n((422, "invalid_code".to_string()), 5)
            .chain([(422, "code_expired".to_string())])
            .collect();
        assert_eq!(answers, expected, "{email}");
    }
    s.stop().await;
}

#[tokio::test]
async fn each_weak_password_is_refused_with_its_reason_and_nothing_is_created() {
    let s = TestServer::start().await;
    for (password, reason) in [
        ("short one", "too_short"),
        ("1qaz2wsx3edc4rfv", "common"),
        ("abcabcabcabcabcabc", "repetitive"),
        ("abcdefghijklmnopq", "sequential"),
        ("i am alex.rivera really", "contains_email"),
        ("card M200000002 is mine", "contains_member_id"),
    ] {
        let r = s.post("/v1/accounts", alex(password)).await;
        r.expect_error(422, "weak_password");
        assert_eq!(
            (r.body["error"]["reason"].as_str(), r.field()),
            (Some(reason), "/password"),
            "{password}"
        );
    }
    let long = "a fairly long phrase! ".repeat(15);
    let r = s.post("/v1/accounts", alex(&long)).await;
    assert_eq!(r.body["error"]["reason"], "too_long");
    // 64 characters is accepted.
    let sixty_four: String = "maple syrup over warm pancakes, then a walk by the river at dusk"
        .chars()
        .take(64)
        .collect();
    assert_eq!(sixty_four.chars().count(), 64);
    assert!(s.mailbox().await.iter().all(|m| m["to"] != "alex.rivera@example.com"));
    s.post("/v1/accounts", alex(&sixty_four)).await.expect(201);
    s.stop().await;
}

#[tokio::test]
async fn unicode_names_register_and_match_case_insensitively() {
    let s = TestServer::start().await;
    let body = json!({
        "member_id": "M200000005", "first_name": "MARÍA JOSÉ", "last_name": "fernández",
        "date_of_birth": "2001-11-19", "email": "mj@example.com", "password": GOOD_PASSWORD,
    });
    s.post("/v1/accounts", body).await.expect(201);
    s.stop().await;
}

#[tokio::test]
async fn verification_codes_allow_five_attempts_and_fifteen_minutes() {
    let s = TestServer::start().await;
    s.post("/v1/accounts", alex(GOOD_PASSWORD)).await.expect(201);
    let code = six_digit_code(&s.last_mail_to("alex.rivera@example.com").await.unwrap());
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let verify = |c: &str| json!({"email": "alex.rivera@example.com", "code": c});
    for _ in 0..5 {
        s.post("/v1/accounts/verify", verify(wrong))
            .await
            .expect_error(422, "invalid_code");
    }
    // The right code no longer works after five wrong ones.
    s.post("/v1/accounts/verify", verify(&code))
        .await
        .expect_error(422, "code_expired");

    // A new code (resends are limited to one a minute) works, but not after 15 minutes.
    s.advance(Duration::seconds(61));
    s.post(
        "/v1/accounts/verify/resend",
        json!({"email": "alex.rivera@example.com"}),
    )
    .await
    .expect(202);
    let fresh = six_digit_code(&s.last_mail_to("alex.rivera@example.com").await.unwrap());
    s.advance(Duration::minutes(15) + Duration::seconds(1));
    s.post("/v1/accounts/verify", verify(&fresh))
        .await
        .expect_error(422, "code_expired");

    s.post(
        "/v1/accounts/verify/resend",
        json!({"email": "alex.rivera@example.com"}),
    )
    .await
    .expect(202);
    let third = six_digit_code(&s.last_mail_to("alex.rivera@example.com").await.unwrap());
    s.advance(Duration::minutes(14));
    s.post("/v1/accounts/verify", verify(&third)).await.expect(204);
    s.sign_in("alex.rivera@example.com", GOOD_PASSWORD).await;
    s.stop().await;
}

#[tokio::test]
async fn resending_reveals_nothing_about_accounts() {
    let s = TestServer::start().await;
    let before = s.mailbox().await.len();
    s.post("/v1/accounts/verify/resend", json!({"email": "nobody@example.com"}))
        .await
        .expect(202);
    s.post("/v1/accounts/verify/resend", json!({"email": DEMO_EMAIL}))
        .await
        .expect(202);
    assert_eq!(
        s.mailbox().await.len(),
        before,
        "no mail for unknown or verified addresses"
    );
    s.stop().await;
}

/// Review finding 6: a reset request for an address without an account does the same work (a
/// committed write) as one with an account, so its timing reveals nothing. The write is seen
/// through SQLite's count of committed changes on the writer, or on PostgreSQL through the
/// transaction id of the newest row version a code request writes.
#[tokio::test]
async fn reset_requests_write_the_same_for_any_address() {
    let s = TestServer::start().await;
    let changes = || {
        s.server.state.db.write(|c| {
            let sql = match c.dialect() {
                carebill_server::sql::Dialect::Sqlite => "SELECT total_changes()",
                // The newest row version of what a code request may write (its transaction id).
                carebill_server::sql::Dialect::Postgres => {
                    "SELECT MAX(xmin::text::BIGINT) FROM (SELECT xmin FROM settings UNION ALL SELECT xmin FROM account_codes
                     UNION ALL SELECT xmin FROM outbox) AS versions"
                }
            };
            let counts = c
                .prepare(sql)?
                .query_map([], |r| r.get::<_, i64>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(counts.iter().sum::<i64>())
        })
    };
    for email in ["nobody@example.com", DEMO_EMAIL] {
        let before = changes().await.unwrap();
        s.post("/v1/password-resets", json!({"email": email})).await.expect(202);
        assert!(changes().await.unwrap() > before, "{email}: nothing was written");
    }
    s.stop().await;
}

/// Issue 17: mail speaks the member's language. A registration's code comes in the language the
/// app asked for, and the account keeps it; the member can change it; before sign-in a reset
/// follows the request's language, else the account's. Every mail ends with the plan's phone.
#[tokio::test]
async fn mail_is_written_in_the_members_language() {
    let s = TestServer::start().await;
    let mut body = alex(GOOD_PASSWORD);
    body["locale"] = json!("es");
    s.post("/v1/accounts", body).await.expect(201);
    let mail = s.last_mail_to("alex.rivera@example.com").await.expect("a code");
    assert_eq!(mail["subject"], "Su código de confirmación de Carebill");
    let text = mail["body"].as_str().unwrap();
    assert!(text.starts_with("Hola, Alex:"), "{text}");
    assert!(text.contains("Llame a Servicios para Miembros de Carebill Demo Health Plan al 1-800-555-0142 (TTY 711), de lunes a viernes"), "{text}");
    s.post(
        "/v1/accounts/verify",
        json!({"email": "alex.rivera@example.com", "code": six_digit_code(&mail)}),
    )
    .await
    .expect(204);
    let signed = s.sign_in("M200000002", GOOD_PASSWORD).await;
    assert_eq!(
        signed["member"]["locale"], "es",
        "the account keeps the registration's language"
    );

    // A reset asked for without a language follows the account's; with one, the request's.
    s.post("/v1/password-resets", json!({"email": "alex.rivera@example.com"}))
        .await
        .expect(202);
    let reset = s.last_mail_to("alex.rivera@example.com").await.unwrap();
    assert_eq!(reset["subject"], "Su código para restablecer la contraseña de Carebill");
    s.advance(Duration::minutes(2));
    s.post(
        "/v1/password-resets",
        json!({"email": "alex.rivera@example.com", "locale": "en"}),
    )
    .await
    .expect(202);
    let reset = s.last_mail_to("alex.rivera@example.com").await.unwrap();
    assert_eq!(reset["subject"], "Your Carebill password reset code");
    assert!(
        reset["body"]
            .as_str()
            .unwrap()
            .contains("Call Carebill Demo Health Plan member services at 1-800-555-0142")
    );

    // The member chooses English; a language that is not offered changes nothing.
    let token = signed["access_token"].as_str().unwrap().to_string();
    s.send(
        s.http
            .put(format!("{}/v1/me/locale", s.base))
            .bearer_auth(&token)
            .json(&json!({"locale": "fr"})),
    )
    .await
    .expect_error(422, "validation_failed");
    assert_eq!(s.get("/v1/me", &token).await.body["locale"], "es");
    let r = s
        .send(
            s.http
                .put(format!("{}/v1/me/locale", s.base))
                .bearer_auth(&token)
                .json(&json!({"locale": "en"})),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["locale"], "en");
    s.send(
        s.http
            .put(format!("{}/v1/me/locale", s.base))
            .json(&json!({"locale": "en"})),
    )
    .await
    .expect_error(401, "unauthenticated");
    s.stop().await;
}
