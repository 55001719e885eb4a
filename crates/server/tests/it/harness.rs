//! A real server on 127.0.0.1:0 with a temp data dir and a manual clock.

use std::sync::Arc;

use carebill_server::config::ServerConfig;
use carebill_server::processor::PaymentProcessor;
use carebill_server::{ManualClock, RunningServer};
use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub use carebill_testkit::server::{DEMO_EMAIL, DEMO_PASSWORD};
pub const SECOND_EMAIL: &str = "taylor.nguyen@carebill.example";
pub const GOOD_PASSWORD: &str = "violet kettle marching upstream";

pub fn start_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 20, 0, 0).unwrap()
}

pub struct TestServer {
    pub server: RunningServer,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub base: String,
    pub _dir: tempfile::TempDir,
    pub _database: Option<carebill_testkit::server::TestDatabase>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.body);
        self
    }

    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {:#}",
            self.body
        );
        assert!(
            self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "no message"
        );
        self
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_full(
            adjust,
            |_| None,
            tempfile::tempdir().unwrap(),
            ManualClock::new(start_instant()),
        )
        .await
    }

    /// A server whose processor is built by `processor` from the config (e.g. a faulty wrapper).
    pub async fn start_full(
        adjust: impl FnOnce(&mut ServerConfig),
        processor: impl FnOnce(&ServerConfig) -> Option<Arc<dyn PaymentProcessor>> + Send,
        dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
    ) -> TestServer {
        let started = carebill_testkit::server::TestServer::builder()
            .configure(adjust)
            .processor(processor)
            .clock(clock.clone())
            .dir(dir)
            .start()
            .await;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        TestServer {
            server: started.server,
            clock,
            http,
            base: started.url,
            _dir: started.dir,
            _database: started.database,
        }
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp { status, headers, body }
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(self.http.get(format!("{}{path}", self.base)).bearer_auth(token))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send(self.http.delete(format!("{}{path}", self.base)).bearer_auth(token))
            .await
    }

    pub async fn sign_in(&self, login: &str, password: &str) -> Value {
        let r = self
            .post("/v1/sessions", json!({"login": login, "password": password}))
            .await;
        r.expect(201);
        r.body
    }

    pub async fn token(&self, login: &str, password: &str) -> String {
        self.sign_in(login, password).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn demo_token(&self) -> String {
        self.token(DEMO_EMAIL, DEMO_PASSWORD).await
    }

    pub async fn mailbox(&self) -> Vec<Value> {
        let r = self.send(self.http.get(format!("{}/dev/mailbox", self.base))).await;
        r.expect(200);
        r.body.as_array().unwrap().clone()
    }

    /// The newest mail to `to`.
    pub async fn last_mail_to(&self, to: &str) -> Option<Value> {
        self.mailbox().await.into_iter().rev().find(|m| m["to"] == to)
    }

    /// Confirms `email` with the code last mailed to it.
    pub async fn confirm_email(&self, email: &str) {
        let code = six_digit_code(&self.last_mail_to(email).await.unwrap());
        self.post("/v1/accounts/verify", json!({"email": email, "code": code}))
            .await
            .expect(204);
    }

    /// Every bill of the member behind `token`, following cursors.
    pub async fn all_bills(&self, token: &str, status: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let r = self
                .get(&format!("/v1/bills?status={status}&limit=100&cursor={cursor}"), token)
                .await;
            r.expect(200);
            out.extend(r.body["data"].as_array().unwrap().iter().cloned());
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => return out,
            }
        }
    }
}

/// The 6-digit code in a confirmation mail.
pub fn six_digit_code(mail: &Value) -> String {
    let body = mail["body"].as_str().unwrap();
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_string()
}

/// The `XXXX-XXXX` code in a reset mail.
pub fn reset_code(mail: &Value) -> String {
    let body = mail["body"].as_str().unwrap();
    body.split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 9 && w.as_bytes()[4] == b'-')
        .unwrap()
        .to_string()
}

pub fn alex(password: &str) -> Value {
    json!({
        "member_id": "M200000002",
        "first_name": "Alex",
        "last_name": "Rivera",
        "date_of_birth": "1985-04-12",
        "email": "alex.rivera@example.com",
        "password": password,
    })
}

impl TestServer {
    pub fn clock_now(&self) -> DateTime<Utc> {
        use carebill_server::Clock;
        self.clock.now()
    }
}

impl TestServer {
    /// Tokenizes card or bank details at the processor endpoint.
    pub async fn tokenize(&self, details: Value) -> Resp {
        self.post("/processor/v1/tokens", details).await
    }

    pub async fn card_token(&self, number: &str) -> String {
        let r = self.tokenize(card(number)).await;
        r.expect(201);
        r.body["token"].as_str().unwrap().to_string()
    }

    pub async fn bank_token(&self, account: &str) -> String {
        let r = self.tokenize(bank(account)).await;
        r.expect(201);
        r.body["token"].as_str().unwrap().to_string()
    }

    /// POST /v1/payments with an Idempotency-Key.
    pub async fn pay(&self, token: &str, key: &str, body: Value) -> Resp {
        self.send(
            self.http
                .post(format!("{}/v1/payments", self.base))
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(&body),
        )
        .await
    }

    pub async fn bill(&self, token: &str, id: &str) -> Value {
        let r = self.get(&format!("/v1/bills/{id}"), token).await;
        r.expect(200);
        r.body
    }

    /// The demo member's open bills with something payable, soonest due first.
    pub async fn payable_bills(&self, token: &str) -> Vec<Value> {
        self.all_bills(token, "open")
            .await
            .into_iter()
            .filter(|b| b["payable"].as_str() != Some("0.00"))
            .collect()
    }

    pub async fn advance_business(&self, iso: &str) -> Value {
        let r = self.post("/dev/clock", json!({"advance": iso})).await;
        r.expect(200);
        r.body
    }

    /// Saves a test card (its number decides what the sandbox answers) and answers its id.
    pub async fn save_card(&self, token: &str, number: &str) -> String {
        let saved = self
            .post_auth(
                "/v1/payment-methods",
                token,
                json!({"token": self.card_token(number).await}),
            )
            .await;
        saved.body["id"].as_str().expect("a saved method").to_string()
    }

    /// The id of the member's saved card.
    pub async fn card_method(&self, token: &str) -> String {
        self.method_of(token, "card").await
    }

    pub async fn method_of(&self, token: &str, kind: &str) -> String {
        let r = self.get("/v1/payment-methods", token).await;
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["type"] == kind)
            .expect("a saved method")["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn run_scheduler(&self) -> carebill_server::scheduler::Summary {
        carebill_server::scheduler::run_once(&self.server.state).await.unwrap()
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        self.server
            .state
            .db
            .read(move |c| Ok(c.query_row(sql, [], |r| r.get(0))?))
            .await
            .unwrap()
    }
}

pub fn card(number: &str) -> Value {
    json!({"card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": if number.starts_with("37") { "1234" } else { "123" }, "postal_code": "94110", "holder_name": "Jordan Lee"}})
}

pub fn bank(account: &str) -> Value {
    json!({"bank_account": {"routing_number": "110000000", "account_number": account, "account_type": "checking", "holder_name": "Jordan Lee"}})
}

pub fn one_bill(bill_id: &str, amount: &str) -> Value {
    json!([{"bill_id": bill_id, "amount": amount}])
}

pub const ACH_SINGLE: &str = "2026-11-single";
pub const ACH_RECURRING: &str = "2026-11-recurring";

/// Runs blocking database work (the sandbox processor's, which may be PostgreSQL's synchronous
/// client) on a thread of its own, never on the test's async worker.
pub fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| s.spawn(f).join().expect("the blocking work finished"))
}

/// How many charges the server's sandbox processor recorded.
pub fn processor_charges(config: &ServerConfig) -> i64 {
    off_runtime(|| {
        carebill_server::processor::sandbox::SandboxProcessor::for_config(config)
            .unwrap()
            .charge_count()
    })
}
