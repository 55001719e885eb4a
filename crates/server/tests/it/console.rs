//! The billing office console's API, on its own listener: staff setup, sign-in with a password
//! and TOTP (wrong, replayed, skewed, recovery codes), cookies and CSRF, idle time-out, disable
//! and reset, roles, the inbox (assign, notes, reply, close), member lookup with a reason, the
//! audit entry of each read and write, and the separation of member tokens and staff sessions.

use carebill_server::seed::{DEMO_AGENT_EMAIL, DEMO_STAFF_PASSWORD, DEMO_SUPERVISOR_EMAIL, DEMO_TOTP_KEY};
use carebill_server::staff::{self, Role};
use carebill_server::staff_audit::{self, Verdict};
use chrono::Duration;
use serde_json::{Value, json};

use crate::conversations::ask;
use crate::harness::*;

/// A browser on the console: its cookie and CSRF token.
pub(crate) struct Console {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Console {
    fn new(s: &TestServer) -> Console {
        Console {
            base: format!("http://{}", s.server.console_addr.expect("the console listens")),
            http: reqwest::Client::new(),
            cookie: None,
            csrf: None,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            r = r.header("Cookie", c);
        }
        if method != reqwest::Method::GET
            && let Some(t) = &self.csrf
        {
            r = r.header("X-CSRF-Token", t);
        }
        r
    }

    pub(crate) async fn get(&self, s: &TestServer, path: &str) -> Resp {
        s.send(self.request(reqwest::Method::GET, path)).await
    }

    pub(crate) async fn post(&self, s: &TestServer, path: &str, body: Value) -> Resp {
        s.send(self.request(reqwest::Method::POST, path).json(&body)).await
    }

    /// Signs in; keeps the cookie and CSRF token of a success.
    async fn sign_in(&mut self, s: &TestServer, email: &str, password: &str, code: &str) -> Resp {
        let r = s
            .send(
                self.http
                    .post(format!("{}/api/sign-in", self.base))
                    .json(&json!({"email": email, "password": password, "code": code})),
            )
            .await;
        if r.status == 201 {
            let set = r.headers["set-cookie"].to_str().unwrap().to_string();
            self.cookie = Some(set.split(';').next().unwrap().to_string());
            self.csrf = Some(r.body["csrf_token"].as_str().unwrap().to_string());
        }
        r
    }
}

/// The demo key's code at the server's clock, `steps` steps away.
fn code_at(s: &TestServer, key: &[u8], steps: i64) -> String {
    let at = s.clock_now() + Duration::seconds(30 * steps);
    staff::current_code(&staff::key_base32(key), at).unwrap()
}

pub(crate) async fn agent(s: &TestServer) -> Console {
    let mut c = Console::new(s);
    let code = code_at(s, DEMO_TOTP_KEY, 0);
    c.sign_in(s, DEMO_AGENT_EMAIL, DEMO_STAFF_PASSWORD, &code)
        .await
        .expect(201);
    c
}

async fn supervisor(s: &TestServer) -> Console {
    // The demo staff share a key: a step the agent did not use.
    s.advance(Duration::seconds(30));
    let mut c = Console::new(s);
    let code = code_at(s, DEMO_TOTP_KEY, 0);
    c.sign_in(s, DEMO_SUPERVISOR_EMAIL, DEMO_STAFF_PASSWORD, &code)
        .await
        .expect(201);
    c
}

async fn entries(s: &TestServer) -> Vec<staff_audit::Shown> {
    s.server
        .state
        .db
        .read(|c| staff_audit::recent(c, None, None, None, 1000))
        .await
        .unwrap()
}

async fn intact(s: &TestServer) {
    let secret = s.server.state.secret.clone();
    let v = s
        .server
        .state
        .db
        .read(move |c| staff_audit::verify(c, &secret))
        .await
        .unwrap();
    assert!(matches!(v, Verdict::Intact { .. }), "{v:?}");
}

async fn add_staff(s: &TestServer, email: &str, role: Role) -> String {
    let (secret, now, email) = (s.server.state.secret.clone(), s.clock_now(), email.to_string());
    s.server
        .state
        .db
        .transaction(move |tx| staff::add(tx, &secret, &email, "Riley", role, "test", now))
        .await
        .unwrap()
        .1
}

#[tokio::test]
async fn staff_set_up_with_a_code_then_sign_in_with_password_and_totp() {
    let s = TestServer::start().await;
    let setup = add_staff(&s, "riley@billing.example", Role::Agent).await;
    let c = Console::new(&s);
    // Bad codes change nothing.
    c.post(&s, "/api/setup", json!({"code": "AAAA-BBBB-CCCC-DDDD"}))
        .await
        .expect_error(422, "setup_code_invalid");
    c.post(&s, "/api/setup", json!({"code": "short"}))
        .await
        .expect_error(422, "setup_code_invalid");
    let who = c.post(&s, "/api/setup", json!({"code": setup.to_lowercase()})).await;
    who.expect(200);
    assert_eq!(who.body["email"], "riley@billing.example");
    c.post(&s, "/api/setup/password", json!({"code": setup, "password": "short"}))
        .await
        .expect_error(422, "weak_password");
    // Confirming before a password is chosen is refused.
    c.post(&s, "/api/setup/confirm", json!({"code": setup, "totp": "123456"}))
        .await
        .expect_error(422, "validation_failed");
    let enrolled = c
        .post(
            &s,
            "/api/setup/password",
            json!({"code": setup, "password": GOOD_PASSWORD}),
        )
        .await;
    enrolled.expect(200);
    let key = enrolled.body["secret"].as_str().unwrap().to_string();
    assert!(enrolled.body["uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    let now_code = staff::current_code(&key, s.clock_now()).unwrap();
    let wrong = if now_code == "000000" { "111111" } else { "000000" };
    c.post(&s, "/api/setup/confirm", json!({"code": setup, "totp": wrong}))
        .await
        .expect_error(422, "validation_failed");
    let done = c
        .post(&s, "/api/setup/confirm", json!({"code": setup, "totp": now_code}))
        .await;
    done.expect(200);
    let recovery: Vec<String> = serde_json::from_value(done.body["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    // The setup code is used up.
    c.post(&s, "/api/setup", json!({"code": setup}))
        .await
        .expect_error(422, "setup_code_invalid");

    let mut b = Console::new(&s);
    // The code that confirmed setup cannot sign in (replay); wrong password, wrong code: one answer.
    b.sign_in(&s, "riley@billing.example", GOOD_PASSWORD, &now_code)
        .await
        .expect_error(401, "staff_sign_in_failed");
    b.sign_in(&s, "riley@billing.example", "not the password at all", &now_code)
        .await
        .expect_error(401, "staff_sign_in_failed");
    b.sign_in(&s, "nobody@billing.example", GOOD_PASSWORD, &now_code)
        .await
        .expect_error(401, "staff_sign_in_failed");
    // A code one step ahead (the phone's clock runs fast) works; two steps ahead does not.
    let far = staff::current_code(&key, s.clock_now() + Duration::seconds(60)).unwrap();
    let ahead = staff::current_code(&key, s.clock_now() + Duration::seconds(30)).unwrap();
    if far != ahead {
        b.sign_in(&s, "riley@billing.example", GOOD_PASSWORD, &far)
            .await
            .expect_error(401, "staff_sign_in_failed");
    }
    let signed = b.sign_in(&s, "riley@billing.example", GOOD_PASSWORD, &ahead).await;
    signed.expect(201);
    assert_eq!(signed.body["staff"]["role"], "agent");
    // Cookie: HttpOnly, SameSite=Strict; a demo on loopback is the one place without Secure.
    let cookie = signed.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    // Replayed: the same code again, even with the right password.
    let mut again = Console::new(&s);
    again
        .sign_in(&s, "riley@billing.example", GOOD_PASSWORD, &ahead)
        .await
        .expect_error(401, "staff_sign_in_failed");
    // A recovery code works once.
    again
        .sign_in(&s, "riley@billing.example", GOOD_PASSWORD, &recovery[3].to_uppercase())
        .await
        .expect(201);
    Console::new(&s)
        .sign_in(&s, "riley@billing.example", GOOD_PASSWORD, &recovery[3])
        .await
        .expect_error(401, "staff_sign_in_failed");
    b.get(&s, "/api/session").await.expect(200);
    // Throttled like members: repeated failures are refused before the password is checked.
    let mut throttled = false;
    for _ in 0..12 {
        let r = Console::new(&s)
            .sign_in(&s, "riley@billing.example", "wrong password guess", "123456")
            .await;
        if r.status == 429 {
            assert_eq!(r.code(), "too_many_attempts");
            throttled = true;
            break;
        }
        r.expect_error(401, "staff_sign_in_failed");
    }
    assert!(throttled, "sign-in failures were never throttled");
    let actions: Vec<String> = entries(&s).await.into_iter().map(|e| e.action).collect();
    for want in ["staff_added", "staff_enrolled", "staff_signed_in"] {
        assert!(actions.iter().any(|a| a == want), "{want} not in {actions:?}");
    }
    intact(&s).await;
    s.stop().await;
}

#[tokio::test]
async fn sessions_need_csrf_end_when_idle_and_when_disabled_or_reset() {
    let s = TestServer::start().await;
    let mut c = agent(&s).await;
    // Without the CSRF token, with another one, or from another origin: refused, nothing done.
    let token = c.csrf.take();
    c.post(&s, "/api/sign-out", json!({}))
        .await
        .expect_error(403, "csrf_rejected");
    c.csrf = Some("forged".into());
    c.post(&s, "/api/sign-out", json!({}))
        .await
        .expect_error(403, "csrf_rejected");
    c.csrf = token;
    let cross = s
        .send(
            c.request(reqwest::Method::POST, "/api/sign-out")
                .header("Origin", "https://evil.example")
                .json(&json!({})),
        )
        .await;
    cross.expect_error(403, "csrf_rejected");
    let cross_site = s
        .send(
            c.request(reqwest::Method::POST, "/api/sign-out")
                .header("Sec-Fetch-Site", "cross-site")
                .json(&json!({})),
        )
        .await;
    cross_site.expect_error(403, "csrf_rejected");
    c.get(&s, "/api/session").await.expect(200);
    // 14 minutes idle is fine (and counts as activity); 15 more ends it.
    s.advance(Duration::minutes(14));
    c.get(&s, "/api/session").await.expect(200);
    s.advance(Duration::minutes(15));
    c.get(&s, "/api/session").await.expect_error(401, "session_expired");
    c.get(&s, "/api/session").await.expect_error(401, "session_expired");

    // Disabling ends the sessions at once and refuses sign-in.
    let c = agent(&s).await;
    c.get(&s, "/api/session").await.expect(200);
    let (secret, now) = (s.server.state.secret.clone(), s.clock_now());
    s.server
        .state
        .db
        .transaction(move |tx| staff::disable(tx, &secret, DEMO_AGENT_EMAIL, "test", now))
        .await
        .unwrap();
    c.get(&s, "/api/session").await.expect_error(401, "session_revoked");
    s.advance(Duration::seconds(30));
    let code = code_at(&s, DEMO_TOTP_KEY, 0);
    Console::new(&s)
        .sign_in(&s, DEMO_AGENT_EMAIL, DEMO_STAFF_PASSWORD, &code)
        .await
        .expect_error(401, "staff_sign_in_failed");

    // Resetting the authenticator ends sessions; the old key no longer signs in; setup again.
    let m = supervisor(&s).await;
    let (secret, now) = (s.server.state.secret.clone(), s.clock_now());
    let setup = s
        .server
        .state
        .db
        .transaction(move |tx| staff::reset_totp(tx, &secret, DEMO_SUPERVISOR_EMAIL, "test", now))
        .await
        .unwrap();
    m.get(&s, "/api/session").await.expect_error(401, "session_revoked");
    s.advance(Duration::seconds(30));
    let code = code_at(&s, DEMO_TOTP_KEY, 0);
    Console::new(&s)
        .sign_in(&s, DEMO_SUPERVISOR_EMAIL, DEMO_STAFF_PASSWORD, &code)
        .await
        .expect_error(401, "staff_sign_in_failed");
    Console::new(&s)
        .post(&s, "/api/setup", json!({"code": setup}))
        .await
        .expect(200);
    let actions: Vec<String> = entries(&s).await.into_iter().map(|e| e.action).collect();
    for want in ["staff_disabled", "staff_totp_reset"] {
        assert!(actions.iter().any(|a| a == want), "{want} not in {actions:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn member_tokens_and_staff_sessions_never_cross_and_the_console_has_its_own_listener() {
    let s = TestServer::start().await;
    let c = agent(&s).await;
    let member = s.demo_token().await;
    assert_ne!(Some(s.server.addr), s.server.console_addr);
    // A member's bearer token means nothing on the console.
    let bearer = s
        .send(
            reqwest::Client::new()
                .get(format!("{}/api/session", c.base))
                .bearer_auth(&member),
        )
        .await;
    bearer.expect_error(401, "unauthenticated");
    // A staff cookie means nothing on the member API.
    let cookie = s
        .send(
            s.http
                .get(format!("{}/v1/bills", s.base))
                .header("Cookie", c.cookie.clone().unwrap()),
        )
        .await;
    cookie.expect_error(401, "unauthenticated");
    // The member API does not serve the console's API, nor the console the member API.
    s.send(s.http.get(format!("{}/api/session", s.base)))
        .await
        .expect_error(404, "not_found");
    let v1 = s.send(reqwest::Client::new().get(format!("{}/v1/plan", c.base))).await;
    assert!(
        v1.body.get("name").is_none(),
        "the console answered the member API: {}",
        v1.body
    );
    c.get(&s, "/api/nothing-here").await.expect_error(404, "not_found");
    // Every console answer forbids framing and caching; the page has a strict CSP.
    let page = reqwest::get(format!("{}/", c.base)).await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-store");
    s.stop().await;
}

#[tokio::test]
async fn cookies_are_secure_outside_a_loopback_demo() {
    let s = TestServer::start_with(|c| c.demo = false).await;
    let (secret, now) = (s.server.state.secret.clone(), s.clock_now());
    let hash = staff::hash_password(GOOD_PASSWORD).unwrap();
    s.server
        .state
        .db
        .transaction(move |tx| {
            staff::seed_enrolled(
                tx,
                &secret,
                "ops@billing.example",
                "Ops",
                Role::Agent,
                &hash,
                b"12345678901234567890",
                now,
            )
        })
        .await
        .unwrap();
    let mut c = Console::new(&s);
    let code = code_at(&s, b"12345678901234567890", 0);
    let r = c.sign_in(&s, "ops@billing.example", GOOD_PASSWORD, &code).await;
    r.expect(201);
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-carebill_staff="), "{cookie}");
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    s.stop().await;
}

/// The demo's conversations of the second member, and one the demo member asks now.
async fn question(s: &TestServer) -> (String, Value) {
    let member = s.demo_token().await;
    let asked = ask(
        s,
        &member,
        "console-q",
        json!({"topic": "already_paid", "body": "I paid this at the front desk."}),
    )
    .await;
    asked.expect(201);
    (member, asked.body)
}

#[tokio::test]
async fn agents_work_the_inbox_and_every_read_and_write_is_audited() {
    let s = TestServer::start().await;
    let (member, asked) = question(&s).await;
    let id = asked["id"].as_str().unwrap();
    let dana = agent(&s).await;
    let inbox = dana.get(&s, "/api/inbox").await;
    inbox.expect(200);
    let items = inbox.body.as_array().unwrap();
    assert_eq!(items.len(), 4, "{:#}", inbox.body);
    // Longest waiting first: the demo's 26-hour-old question, the one asked now last.
    let waits: Vec<&str> = items.iter().map(|i| i["waiting_since"].as_str().unwrap()).collect();
    let mut sorted = waits.clone();
    sorted.sort();
    assert_eq!(waits, sorted);
    assert_eq!(items[3]["id"], asked["id"]);
    // Filters.
    let by_topic = dana.get(&s, "/api/inbox?topic=payment_help").await;
    assert_eq!(by_topic.body.as_array().unwrap().len(), 1);
    dana.get(&s, "/api/inbox?topic=nonsense")
        .await
        .expect_error(422, "validation_failed");
    dana.get(&s, "/api/inbox?status=nonsense")
        .await
        .expect_error(422, "validation_failed");
    dana.get(&s, "/api/inbox?queue=elsewhere")
        .await
        .expect_error(422, "validation_failed");
    dana.get(&s, "/api/conversations/cnv_nope")
        .await
        .expect_error(404, "conversation_not_found");

    let me = dana.get(&s, "/api/session").await.body["staff"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let assigned = dana
        .post(&s, &format!("/api/conversations/{id}/assign"), json!({"staff_id": me}))
        .await;
    assigned.expect(200);
    assert_eq!(assigned.body["assigned_name"], "Dana");
    // An agent assigns to themselves only, and cannot see another agent's queue.
    dana.post(
        &s,
        &format!("/api/conversations/{id}/assign"),
        json!({"staff_id": null}),
    )
    .await
    .expect_error(403, "forbidden");
    dana.get(&s, &format!("/api/inbox?queue={me}"))
        .await
        .expect_error(403, "forbidden");

    // An internal note: staff see it, the member never does.
    dana.post(&s, &format!("/api/conversations/{id}/notes"), json!({"body": "  "}))
        .await
        .expect_error(422, "validation_failed");
    let noted = dana
        .post(
            &s,
            &format!("/api/conversations/{id}/notes"),
            json!({"body": "Checked the front desk log."}),
        )
        .await;
    noted.expect(201);
    assert_eq!(noted.body["notes"][0]["body"], "Checked the front desk log.");
    let seen = s.get(&format!("/v1/conversations/{id}"), &member).await;
    assert!(!seen.body.to_string().contains("front desk log"));

    // A reply with a file uploaded first.
    let pdf = carebill_testkit::samples::pdf("Receipt 1234");
    let up = s
        .send(
            dana.request(reqwest::Method::POST, &format!("/api/conversations/{id}/attachments"))
                .query(&[("file_name", "receipt.pdf")])
                .body(pdf.clone()),
        )
        .await;
    up.expect(201);
    let bad = s
        .send(
            dana.request(reqwest::Method::POST, &format!("/api/conversations/{id}/attachments"))
                .query(&[("file_name", "run.pdf")])
                .body(carebill_testkit::samples::program()),
        )
        .await;
    bad.expect_error(415, "attachment_type_not_allowed");
    // A member cannot send the office's upload as their own.
    let stolen = crate::conversations::write(
        &s,
        &member,
        id,
        "steal",
        json!({"body": "mine", "attachment_ids": [up.body["id"]]}),
    )
    .await;
    stolen.expect_error(404, "attachment_not_found");
    dana.post(
        &s,
        &format!("/api/conversations/{id}/replies"),
        json!({"body": "Found it.", "status": "maybe"}),
    )
    .await
    .expect_error(422, "validation_failed");
    let replied = dana
        .post(
            &s,
            &format!("/api/conversations/{id}/replies"),
            json!({"body": "We found your payment; the bill is corrected.", "attachment_ids": [up.body["id"]]}),
        )
        .await;
    replied.expect(201);
    assert_eq!(replied.body["status"], "answered");
    let thread = s.get(&format!("/v1/conversations/{id}"), &member).await;
    let last = thread.body["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["author"], "staff");
    assert_eq!(last["staff_name"], "Dana");
    assert_eq!(last["attachments"][0]["file_name"], "receipt.pdf");
    let att = last["attachments"][0]["id"].as_str().unwrap();
    let file = s
        .send(
            s.http
                .get(format!("{}/v1/attachments/{att}", s.base))
                .bearer_auth(&member),
        )
        .await;
    file.expect(200);
    let download = dana.request(
        reqwest::Method::GET,
        &format!("/api/conversations/{id}/attachments/{att}"),
    );
    let bytes = download.send().await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.to_vec(), pdf);
    // The member is told by mail, once, without the text.
    let mail = s.last_mail_to(DEMO_EMAIL).await.unwrap();
    assert!(mail.to_string().contains(asked["reference"].as_str().unwrap()));
    assert!(!mail.to_string().contains("We found your payment"));

    // Another agent cannot work Dana's conversation.
    let (secret, now) = (s.server.state.secret.clone(), s.clock_now());
    let hash = staff::hash_password(GOOD_PASSWORD).unwrap();
    s.server
        .state
        .db
        .transaction(move |tx| {
            staff::seed_enrolled(
                tx,
                &secret,
                "kim@billing.example",
                "Kim",
                Role::Agent,
                &hash,
                b"kim-key-kim-key-kim!",
                now,
            )
        })
        .await
        .unwrap();
    let mut kim = Console::new(&s);
    let code = code_at(&s, b"kim-key-kim-key-kim!", 0);
    kim.sign_in(&s, "kim@billing.example", GOOD_PASSWORD, &code)
        .await
        .expect(201);
    kim.get(&s, &format!("/api/conversations/{id}"))
        .await
        .expect_error(403, "forbidden");
    kim.post(&s, &format!("/api/conversations/{id}/replies"), json!({"body": "Hi"}))
        .await
        .expect_error(403, "forbidden");
    let upload = s
        .send(
            kim.request(reqwest::Method::POST, &format!("/api/conversations/{id}/attachments"))
                .query(&[("file_name", "x.pdf")])
                .body(pdf.clone()),
        )
        .await;
    upload.expect_error(403, "forbidden");
    let kims = kim.get(&s, "/api/inbox").await;
    assert!(kims.body.as_array().unwrap().iter().all(|i| i["id"] != asked["id"]));

    // Supervisors see every queue and the figures; agents do not.
    let morgan = supervisor(&s).await;
    let danas = morgan.get(&s, &format!("/api/inbox?queue={me}&status=answered")).await;
    danas.expect(200);
    assert_eq!(danas.body.as_array().unwrap().len(), 1);
    dana.get(&s, "/api/figures").await.expect_error(403, "forbidden");
    let figures = morgan.get(&s, "/api/figures?days=30").await;
    figures.expect(200);
    assert_eq!(figures.body["unassigned_waiting"], 3);
    assert_eq!(figures.body["answered"], 1);
    let danas_load = figures.body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Dana")
        .unwrap()
        .clone();
    assert_eq!(danas_load["replies"], 1);
    morgan
        .get(&s, "/api/figures?days=0")
        .await
        .expect_error(422, "validation_failed");

    // Closing ends the conversation for the member too.
    let closed = dana
        .post(&s, &format!("/api/conversations/{id}/close"), json!({}))
        .await;
    closed.expect(200);
    assert_eq!(closed.body["status"], "closed");
    assert_eq!(
        s.get(&format!("/v1/conversations/{id}"), &member).await.body["status"],
        "closed"
    );

    let log = entries(&s).await;
    let about: Vec<&str> = log
        .iter()
        .filter(|e| e.member_id.as_deref() == Some(carebill_server::seed::DEMO_MEMBER_ID))
        .map(|e| e.action.as_str())
        .collect();
    for want in [
        "conversation_assigned",
        "note_added",
        "conversation_replied",
        "attachment_viewed",
        "conversation_closed",
    ] {
        assert!(about.contains(&want), "{want} not in {about:?}");
    }
    let note = log.iter().find(|e| e.action == "note_added").unwrap();
    assert!(note.staff.contains(DEMO_AGENT_EMAIL), "{}", note.staff);
    assert_eq!(note.origin, "127.0.0.1");
    // Supervisors read the log; agents cannot; reading it is logged too.
    dana.get(&s, "/api/audit").await.expect_error(403, "forbidden");
    let shown = morgan
        .get(
            &s,
            &format!("/api/audit?member_id={}", carebill_server::seed::DEMO_MEMBER_ID),
        )
        .await;
    shown.expect(200);
    assert!(shown.body.as_array().unwrap().len() >= 5);
    let csv = morgan
        .request(reqwest::Method::GET, "/api/audit.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("staff-audit.csv")
    );
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("seq,at,staff,member_id,action"));
    assert!(text.contains("audit_exported"));
    dana.get(&s, "/api/audit.csv").await.expect_error(403, "forbidden");
    intact(&s).await;
    s.stop().await;
}

#[tokio::test]
async fn looking_up_a_member_needs_a_reason_unless_one_works_their_conversation() {
    let s = TestServer::start().await;
    let (_, asked) = question(&s).await;
    let dana = agent(&s).await;
    let demo = carebill_server::seed::DEMO_MEMBER_ID;
    // Not working any of their conversations: a reason is asked for.
    dana.get(&s, &format!("/api/members/{demo}"))
        .await
        .expect_error(422, "reason_required");
    dana.get(&s, "/api/members/M9%2F..")
        .await
        .expect_error(404, "not_found");
    dana.post(&s, "/api/members/search", json!({"member_id": demo, "reason": "short"}))
        .await
        .expect_error(422, "reason_required");
    dana.post(
        &s,
        "/api/members/search",
        json!({"reason": "Member called about a bill"}),
    )
    .await
    .expect_error(422, "validation_failed");
    dana.post(&s, "/api/members/search", json!({"member_id": demo}))
        .await
        .expect_error(422, "validation_failed");
    // By name and date of birth; by statement number; by member ID.
    let by_name = dana
        .post(
            &s,
            "/api/members/search",
            json!({"last_name": "nguyen", "date_of_birth": "1992-01-30", "reason": "Member called, asked about autopay"}),
        )
        .await;
    by_name.expect(200);
    assert_eq!(by_name.body[0]["member_id"], "M200000003");
    let statements = s
        .server
        .state
        .db
        .read(carebill_server::seed::guest_statements)
        .await
        .unwrap();
    let by_statement = dana
        .post(
            &s,
            "/api/members/search",
            json!({"statement_number": statements[0], "reason": "Paper statement mailed back with a question"}),
        )
        .await;
    by_statement.expect(200);
    assert_eq!(
        by_statement.body[0]["member_id"],
        carebill_server::seed::UNREGISTERED_MEMBER_ID
    );
    let found = dana
        .post(
            &s,
            "/api/members/search",
            json!({"member_id": demo.to_lowercase(), "reason": "Member on the phone about a refund"}),
        )
        .await;
    found.expect(200);
    let view = dana.get(&s, &format!("/api/members/{demo}")).await;
    view.expect(200);
    assert_eq!(view.body["reason"], "Member on the phone about a refund");
    assert!(!view.body["bills"].as_array().unwrap().is_empty());
    assert!(view.body["bills"][0]["amount_due"].is_string() || view.body["bills"][0]["balance"].is_string());
    assert_eq!(view.body["conversations"][0]["id"], asked["id"]);
    let log = entries(&s).await;
    let viewed = log.iter().find(|e| e.action == "member_viewed").unwrap();
    assert_eq!(viewed.member_id.as_deref(), Some(demo));
    assert_eq!(viewed.reason.as_deref(), Some("Member on the phone about a refund"));
    let searched = log.iter().filter(|e| e.action == "member_searched").count();
    assert_eq!(searched, 3);

    // A new session starts without the reason; working a conversation of theirs is enough.
    s.advance(Duration::seconds(30));
    let mut fresh = Console::new(&s);
    let code = code_at(&s, DEMO_TOTP_KEY, 0);
    fresh
        .sign_in(&s, DEMO_AGENT_EMAIL, DEMO_STAFF_PASSWORD, &code)
        .await
        .expect(201);
    fresh
        .get(&s, "/api/members/M200000003")
        .await
        .expect_error(422, "reason_required");
    fresh
        .post(&s, "/api/members/M200000003/access", json!({"reason": "x"}))
        .await
        .expect_error(422, "reason_required");
    fresh
        .post(
            &s,
            "/api/members/M999999999/access",
            json!({"reason": "Checking a returned letter"}),
        )
        .await
        .expect_error(404, "not_found");
    fresh
        .post(
            &s,
            "/api/members/M200000003/access",
            json!({"reason": "Checking a returned letter"}),
        )
        .await
        .expect(204);
    fresh.get(&s, "/api/members/M200000003").await.expect(200);
    let me = fresh.get(&s, "/api/session").await.body["staff"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    fresh
        .post(
            &s,
            &format!("/api/conversations/{}/assign", asked["id"].as_str().unwrap()),
            json!({"staff_id": me}),
        )
        .await
        .expect(200);
    let works = fresh.get(&s, &format!("/api/members/{demo}")).await;
    works.expect(200);
    assert_eq!(works.body["reason"], Value::Null);
    intact(&s).await;
    s.stop().await;
}

/// `carebill-server staff …` on the server's own database, as an administrator runs it.
fn staff_cli(s: &TestServer, args: &[&str]) -> std::process::Output {
    let config = s.server.state.config.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    off_runtime(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_carebill-server"));
        cmd.arg("--data-dir")
            .arg(&config.data_dir)
            .arg("staff")
            .args(&args)
            .env("CAREBILL_DB_KEY", config.database_key.to_hex())
            .env_remove("CAREBILL_DATABASE_URL");
        if let Some(url) = &config.database_url {
            cmd.env("CAREBILL_DATABASE_URL", &url.0);
        }
        cmd.output().unwrap()
    })
}

#[tokio::test]
async fn staff_accounts_are_added_listed_reset_and_disabled_from_the_command_line() {
    let s = TestServer::start().await;
    let added = staff_cli(
        &s,
        &[
            "add",
            "--email",
            "Avery@Billing.Example",
            "--name",
            "Avery",
            "--role",
            "supervisor",
        ],
    );
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let out = String::from_utf8_lossy(&added.stdout).to_string();
    assert!(
        out.contains("Added Avery <avery@billing.example> (supervisor)."),
        "{out}"
    );
    // The printed code (four groups of four) is the one the console's setup takes.
    let code = out
        .split_whitespace()
        .find(|w| w.len() == 19 && w.matches('-').count() == 3)
        .expect("a setup code")
        .to_string();
    let c = Console::new(&s);
    c.post(&s, "/api/setup", json!({"code": code})).await.expect(200);
    // The same email again, an unknown role, a bad email: refused, nothing added.
    let again = staff_cli(
        &s,
        &[
            "add",
            "--email",
            "avery@billing.example",
            "--name",
            "Avery",
            "--role",
            "agent",
        ],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    assert!(
        !staff_cli(
            &s,
            &["add", "--email", "x@billing.example", "--name", "X", "--role", "admin"]
        )
        .status
        .success()
    );
    let bad = staff_cli(
        &s,
        &["add", "--email", "not-an-email", "--name", "X", "--role", "agent"],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("email address"));
    let list = String::from_utf8_lossy(&staff_cli(&s, &["list"]).stdout).to_string();
    assert!(
        list.contains("avery@billing.example\tAvery\tsupervisor\twaiting for setup"),
        "{list}"
    );
    assert!(
        list.contains(&format!("{DEMO_AGENT_EMAIL}\tDana\tagent\tactive")),
        "{list}"
    );
    assert!(!list.contains("x@billing.example"));
    // reset-totp prints a new code (the old one stops working); disable ends sign-in.
    let reset = staff_cli(&s, &["reset-totp", "--email", "avery@billing.example"]);
    assert!(reset.status.success());
    c.post(&s, "/api/setup", json!({"code": code}))
        .await
        .expect_error(422, "setup_code_invalid");
    let disabled = staff_cli(&s, &["disable", "--email", DEMO_AGENT_EMAIL]);
    assert!(disabled.status.success());
    let list = String::from_utf8_lossy(&staff_cli(&s, &["list"]).stdout).to_string();
    assert!(
        list.contains(&format!("{DEMO_AGENT_EMAIL}\tDana\tagent\tdisabled")),
        "{list}"
    );
    assert!(
        !staff_cli(&s, &["disable", "--email", "nobody@billing.example"])
            .status
            .success()
    );
    let actions: Vec<String> = entries(&s).await.into_iter().map(|e| e.action).collect();
    for want in ["staff_added", "staff_totp_reset", "staff_disabled"] {
        assert!(actions.iter().any(|a| a == want), "{want} not in {actions:?}");
    }
    s.stop().await;
}
