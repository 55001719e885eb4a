//! Every class of bad input gets a stable code and a message, and changes nothing.

use serde_json::json;

use crate::harness::*;

async fn raw_post(s: &TestServer, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
    s.send(
        s.http
            .post(format!("{}{path}", s.base))
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

async fn account_count(s: &TestServer) -> i64 {
    s.server
        .state
        .db
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))?))
        .await
        .unwrap()
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let s = TestServer::start().await;
    for body in [&b"{"[..], b"{\"login\": }", b"not json", b"", b"{\"a\":1}{"] {
        raw_post(&s, "/v1/sessions", "application/json", body.to_vec())
            .await
            .expect_error(400, "invalid_json");
    }
    s.stop().await;
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_point_at_the_field() {
    let s = TestServer::start().await;
    let before = account_count(&s).await;
    let cases = [
        (json!({"login": 12, "password": "x"}), "/login"),
        (json!({"login": "a", "password": ["x"]}), "/password"),
        (
            json!({"login": "a", "password": "x", "remember_device": "yes"}),
            "/remember_device",
        ),
        (json!({"password": "x"}), "/login"),
        (json!({"login": "a", "password": "x", "is_admin": true}), "/is_admin"),
    ];
    for (body, field) in cases {
        let r = s.post("/v1/sessions", body).await;
        r.expect_error(422, "validation_failed");
        assert_eq!(r.field(), field);
    }
    let mut body = alex(GOOD_PASSWORD);
    body["role"] = json!("admin");
    let r = s.post("/v1/accounts", body).await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.field(), "/role");
    s.post("/v1/accounts", json!([1, 2, 3]))
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(account_count(&s).await, before);
    s.stop().await;
}

#[tokio::test]
async fn oversize_bodies_are_413_and_other_media_types_415() {
    let s = TestServer::start().await;
    let huge = json!({"login": "x".repeat(70 * 1024), "password": "y"});
    s.post("/v1/sessions", huge)
        .await
        .expect_error(413, "payload_too_large");
    raw_post(&s, "/v1/sessions", "text/plain", b"{}".to_vec())
        .await
        .expect_error(415, "unsupported_media_type");
    raw_post(
        &s,
        "/v1/sessions",
        "application/x-www-form-urlencoded",
        b"login=a&password=b".to_vec(),
    )
    .await
    .expect_error(415, "unsupported_media_type");
    s.stop().await;
}

#[tokio::test]
async fn bad_dates_names_emails_and_member_ids_are_refused_by_field() {
    let s = TestServer::start().await;
    let before = account_count(&s).await;
    let cases = [
        ("date_of_birth", json!("1985-02-30")),
        ("date_of_birth", json!("12/04/1985")),
        ("date_of_birth", json!("2999-01-01")),
        ("date_of_birth", json!("")),
        ("first_name", json!("")),
        ("first_name", json!("Robert'); DROP TABLE roster;--")),
        ("last_name", json!("<script>alert(1)</script>")),
        ("email", json!("not-an-email")),
        ("member_id", json!("12345")),
        ("member_id", json!("M2000' OR '1'='1")),
    ];
    for (field, value) in cases {
        let mut body = alex(GOOD_PASSWORD);
        body[field] = value.clone();
        let r = s.post("/v1/accounts", body).await;
        r.expect_error(422, "validation_failed");
        assert_eq!(r.field(), format!("/{field}"), "{value}");
    }
    assert_eq!(account_count(&s).await, before);
    s.stop().await;
}

#[tokio::test]
async fn sql_metacharacters_are_just_data() {
    let s = TestServer::start().await;
    for login in [
        "' OR '1'='1",
        "demo@carebill.example' --",
        "\"; DELETE FROM accounts; --",
    ] {
        s.post("/v1/sessions", json!({"login": login, "password": "' OR 1=1 --"}))
            .await
            .expect_error(401, "invalid_credentials");
    }
    s.post(
        "/v1/password-resets",
        json!({"email": "x@y.com'; DROP TABLE accounts;--"}),
    )
    .await;
    let token = s.demo_token().await;
    s.get("/v1/bills/' OR 1=1 --", &token)
        .await
        .expect_error(404, "bill_not_found");
    assert!(account_count(&s).await >= 2);
    s.stop().await;
}

#[tokio::test]
async fn every_response_has_the_business_date_and_errors_are_json() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let unknown = s.get("/v1/nowhere", &token).await;
    unknown.expect_error(404, "not_found");
    let wrong_method = s
        .send(s.http.put(format!("{}/v1/bills", s.base)).bearer_auth(&token))
        .await;
    wrong_method.expect_error(405, "method_not_allowed");
    assert!(wrong_method.headers.contains_key("allow"));
    let ok = s.get("/v1/me", &token).await;
    for r in [&unknown, &wrong_method, &ok] {
        assert_eq!(r.headers["business-date"], "2026-11-27");
    }
    s.send(s.http.get(format!("{}/dev/mailbox", s.base))).await.expect(200);
    s.stop().await;
}

#[tokio::test]
async fn the_mailbox_exists_only_in_demo_mode() {
    let s = TestServer::start_with(|c| c.demo = false).await;
    s.send(s.http.get(format!("{}/dev/mailbox", s.base)))
        .await
        .expect_error(404, "not_found");
    s.stop().await;
}

/// SQLite: the file is encrypted (SQLCipher), so nothing of a member reads in it. PostgreSQL
/// keeps rows readable to whoever holds the cluster's files (encrypted volumes and backups are the
/// operator's, ARCHITECTURE.md), so there the check is that no secret sits in any column: no
/// password, no access or refresh token, no code, only their hashes.
#[tokio::test]
async fn the_database_is_encrypted_at_rest_and_holds_no_secret_in_the_clear() {
    let s = TestServer::start().await;
    let session = s.sign_in(DEMO_EMAIL, DEMO_PASSWORD).await;
    s.post("/v1/password-resets", json!({"email": DEMO_EMAIL}))
        .await
        .expect(202);
    let code = reset_code(&s.last_mail_to(DEMO_EMAIL).await.expect("the reset mail"));
    let secrets = [
        DEMO_PASSWORD.to_string(),
        session["access_token"].as_str().unwrap().to_string(),
        session["refresh_token"].as_str().unwrap().to_string(),
        code.replace('-', ""),
        code,
    ];
    match s.server.state.db.path() {
        Some(path) => {
            let bytes = std::fs::read(path).unwrap();
            assert!(!bytes.starts_with(b"SQLite format 3"), "no SQLite header");
            for canary in ["Jordan", "demo@carebill.example", "Office visit", "Mercy Valley"]
                .into_iter()
                .chain(secrets.iter().map(String::as_str))
            {
                assert!(
                    !carebill_testkit::canary::contains(&bytes, canary),
                    "{canary} in plaintext"
                );
            }
        }
        None => {
            // Every row of every table (the outbox's bodies are erased when delivered, and in
            // demo mode at once).
            let everything = s
                .server
                .state
                .db
                .read(|c| {
                    let tables = c
                        .prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")?
                        .query_map([], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut text = String::new();
                    for table in tables {
                        if table == "outbox" {
                            continue;
                        }
                        for row in c
                            .prepare(&format!("SELECT t::text FROM {table} AS t"))?
                            .query_map([], |r| r.get::<_, String>(0))?
                        {
                            text.push_str(&row?);
                        }
                    }
                    Ok(text)
                })
                .await
                .unwrap();
            assert!(everything.contains("Jordan"), "the rows were read");
            for secret in &secrets {
                assert!(!everything.contains(secret.as_str()), "a secret in the clear: {secret}");
            }
        }
    }
    s.stop().await;
}
