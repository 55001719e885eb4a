//! Notification preferences: every switch on and paperless off until the member changes them;
//! saved whole, read back, another member's untouched; every bad body refused with its code and
//! nothing changed; `carebill-server export --preferences` writes what the print-and-mail vendor
//! needs.

use serde_json::{Value, json};

use crate::harness::*;

fn all(email: bool, desktop: bool, paperless: bool) -> Value {
    let ch = json!({"email": email, "desktop": desktop});
    json!({
        "new_bill": ch, "due_soon": ch, "overdue": ch, "method_attention": ch,
        "payment_failed": ch, "message_reply": ch, "paperless": paperless,
    })
}

pub(crate) async fn put(s: &TestServer, token: &str, body: Value) -> Resp {
    s.send(
        s.http
            .put(format!("{}/v1/me/notifications", s.base))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

#[tokio::test]
async fn preferences_default_on_are_saved_whole_and_bad_bodies_change_nothing() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let first = s.get("/v1/me/notifications", &token).await;
    first.expect(200);
    assert_eq!(first.body, all(true, true, false));
    // Email for overdue bills off, desktop for new bills off, paperless on.
    let mut mine = all(true, true, true);
    mine["overdue"]["email"] = json!(false);
    mine["new_bill"]["desktop"] = json!(false);
    let saved = put(&s, &token, mine.clone()).await;
    saved.expect(200);
    assert_eq!(saved.body, mine);
    assert_eq!(s.get("/v1/me/notifications", &token).await.body, mine);
    assert_eq!(s.get("/v1/me/notifications", &other).await.body, all(true, true, false));
    // Bad bodies: a switch missing, an unknown one, a wrong type, not JSON, no token.
    let mut missing = mine.clone();
    missing.as_object_mut().unwrap().remove("due_soon");
    put(&s, &token, missing).await.expect_error(422, "validation_failed");
    let mut unknown = mine.clone();
    unknown["sms"] = json!(true);
    put(&s, &token, unknown).await.expect_error(422, "validation_failed");
    let mut wrong = mine.clone();
    wrong["overdue"]["email"] = json!("no");
    let r = put(&s, &token, wrong).await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.field(), "/overdue/email");
    let mut extra = mine.clone();
    extra["overdue"]["sms"] = json!(true);
    put(&s, &token, extra).await.expect_error(422, "validation_failed");
    let raw = s
        .send(
            s.http
                .put(format!("{}/v1/me/notifications", s.base))
                .bearer_auth(&token)
                .header("Content-Type", "application/json")
                .body("{not json"),
        )
        .await;
    raw.expect_error(400, "invalid_json");
    let anonymous = s
        .send(s.http.put(format!("{}/v1/me/notifications", s.base)).json(&mine))
        .await;
    anonymous.expect_error(401, "unauthenticated");
    assert_eq!(
        s.get("/v1/me/notifications", &token).await.body,
        mine,
        "nothing changed"
    );
    s.stop().await;
}

#[tokio::test]
async fn export_preferences_writes_every_roster_member_for_the_print_vendor() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    put(&s, &token, all(true, true, true)).await.expect(200);
    let config = s.server.state.config.clone();
    let out = off_runtime(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_carebill-server"));
        cmd.arg("--data-dir")
            .arg(&config.data_dir)
            .args(["export", "--preferences"])
            .env("CAREBILL_DB_KEY", config.database_key.to_hex())
            .env_remove("CAREBILL_DATABASE_URL");
        if let Some(url) = &config.database_url {
            cmd.env("CAREBILL_DATABASE_URL", &url.0);
        }
        cmd.output().unwrap()
    });
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "member_id,first_name,last_name,paperless,language");
    assert!(lines.contains(&"M200000001,Jordan,Lee,yes,en"), "{csv}");
    // No account, never chose: paper.
    assert!(lines.contains(&"M200000002,Alex,Rivera,no,en"), "{csv}");
    assert!(lines.contains(&"M200000003,Taylor,Nguyen,no,en"), "{csv}");
    let roster = s.count("SELECT COUNT(*) FROM roster").await;
    assert_eq!(lines.len() as i64, roster + 1);
    s.stop().await;
}

#[tokio::test]
async fn a_notice_turned_off_is_not_mailed_and_the_others_still_are() {
    use carebill_server::conversations::{StaffReply, StaffStatus, staff_reply};
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let mut prefs = all(true, true, false);
    prefs["message_reply"]["email"] = json!(false);
    put(&s, &token, prefs).await.expect(200);
    let asked = crate::conversations::ask(&s, &token, "q-off", json!({"topic": "other", "body": "A question"})).await;
    asked.expect(201);
    let reply = |body: &'static str| {
        let (head, secret, now) = (
            s.server.state.letterhead(),
            s.server.state.secret.clone(),
            s.clock_now(),
        );
        let reference = asked.body["reference"].as_str().unwrap().to_string();
        let db = s.server.state.db.clone();
        async move {
            db.transaction(move |tx| {
                let r = StaffReply {
                    reference: &reference,
                    staff_name: "Dana",
                    body,
                    status: StaffStatus::WaitingOnMember,
                    files: &[],
                    origin: "test",
                };
                staff_reply(tx, &head, &secret, &r, 1 << 20, now)
            })
            .await
            .unwrap()
        }
    };
    let replies = |mails: &[Value]| {
        mails
            .iter()
            .filter(|m| m["to"] == DEMO_EMAIL && m["subject"].as_str().is_some_and(|t| t.contains("reply")))
            .count()
    };
    reply("First answer").await;
    assert_eq!(replies(&s.mailbox().await), 0, "turned off: no mail");
    // The reply itself is there for the member.
    let thread = s
        .get(
            &format!("/v1/conversations/{}", asked.body["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(thread.body["messages"].as_array().unwrap().len(), 2);
    // Back on: the next reply is mailed, once.
    put(&s, &token, all(true, true, false)).await.expect(200);
    reply("Second answer").await;
    assert_eq!(replies(&s.mailbox().await), 1);

    // A returned bank payment: no mail with payment_failed off.
    let mut prefs = all(true, true, false);
    prefs["payment_failed"]["email"] = json!(false);
    put(&s, &token, prefs).await.expect(200);
    let bill = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let bank = s.bank_token("000111111113").await;
    let ach = s.get("/v1/ach-authorization", &token).await.body["text_version"].clone();
    s.pay(
        &token,
        "ach-returned",
        json!({"token": bank, "allocations": one_bill(&bill, "5.00"), "ach_authorization": {"text_version": ach}}),
    )
    .await
    .expect(201);
    s.advance_business("P4D").await;
    let p = s.get("/v1/payments?limit=1", &token).await;
    assert_eq!(p.body["data"][0]["status"], "returned");
    let returned = s
        .mailbox()
        .await
        .iter()
        .filter(|m| m["subject"] == "Your Carebill bank payment was returned")
        .count();
    assert_eq!(returned, 0);
    s.stop().await;
}
