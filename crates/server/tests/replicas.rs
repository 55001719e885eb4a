//! Three server replicas (this build's binary) on one PostgreSQL database, behind the fault proxy
//! balancing round robin, while one replica after another is killed with SIGKILL and started
//! again, and the proxy drops answers after the server committed, delays, cuts and resets.
//! Members make over a thousand payments by card and bank account, retrying each with its key
//! until it has a definitive answer; autopay charges due bills and bank payments settle when the
//! business clock moves; one member's app syncs incrementally through whichever replica answers.
//!
//! Afterwards, with the replicas quiet: every payment was charged once at the processor and
//! recorded once, no key is left in flight, every acknowledged payment is there, no bill's books
//! are unbalanced, no autopay bill was charged twice, each receipt was enqueued once (and
//! delivered, with duplicates counted: only a replica killed between sending a mail and recording
//! it may send it twice), no request got a 500, and the app's incremental copy equals a full
//! sync. Runs on the suite's PostgreSQL cluster (`CAREBILL_TEST_POSTGRES`), else on its own.

use chrono::Datelike;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use carebill_server::config::{DatabaseUrl, ServerConfig};
use carebill_server::processor::sandbox::SandboxProcessor;
use carebill_server::seed::{DEMO_PASSWORD, generated_email};
use carebill_testkit::proxy::{FaultProxy, Mode};
use carebill_testkit::smtp::SmtpSink;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const REPLICAS: usize = 3;
/// Members paying by hand, and members on autopay (who pay nothing by hand, so autopay's
/// statement-balance charges and the hand payments never compete for one bill).
const MEMBERS: usize = 24;
const PAYMENTS_EACH: usize = 44;
const AUTOPAY_MEMBERS: usize = 6;
const DB_KEY: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
const SERVER_SECRET: &str = "a11ce5a11ce5a11ce5a11ce5a11ce5a11ce5a11ce5a11ce5a11ce5a11ce5a11c";
const ACH_SINGLE: &str = "2026-11-single";
const ACH_RECURRING: &str = "2026-11-recurring";
/// Longest a request keeps being retried before the test calls its answer lost.
const ANSWER_DEADLINE: Duration = Duration::from_secs(90);

struct Replica {
    addr: SocketAddr,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Replica {
    fn spawn(&mut self, config: &Path, url: &str) {
        let log = File::options().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_carebill-server"))
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(self.addr.to_string())
            // Each replica's console on a port of its own (the default, 8788, is one per machine).
            .args(["--console-listen", "127.0.0.1:0"])
            .env("CAREBILL_DATABASE_URL", url)
            .env("CAREBILL_DB_KEY", DB_KEY)
            .env("CAREBILL_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("a replica starts");
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL: no shutdown, no flush, whatever it was doing.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// What went over the wire, for the checks at the end.
#[derive(Default)]
struct Tally {
    server_errors: std::sync::Mutex<Vec<String>>,
    retries: AtomicU64,
}

/// Sends a request again (same body, same key) until it has an answer that is not "try again":
/// a lost answer, a cut one, a replica gone, 409 `idempotency_key_in_use` or 503.
async fn until_answered(tally: &Tally, what: &str, send: impl Fn() -> reqwest::RequestBuilder) -> (u16, Value) {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < ANSWER_DEADLINE,
            "{what}: no answer in {ANSWER_DEADLINE:?}"
        );
        if let Ok(r) = send().send().await {
            let status = r.status().as_u16();
            if let Ok(text) = r.text().await {
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match status {
                    409 | 503 => {}
                    500..=599 => tally
                        .server_errors
                        .lock()
                        .unwrap()
                        .push(format!("{what}: {status} {text}")),
                    _ if body.is_null() && status != 204 => {} // cut mid-answer
                    _ => return (status, body),
                }
            }
        }
        tally.retries.fetch_add(1, Ordering::Relaxed);
        let pause = rand::thread_rng().gen_range(50..250);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

struct Member {
    id: String,
    token: String,
    card: String,
    bank: String,
    bills: Vec<String>,
}

async fn sign_in(http: &reqwest::Client, base: &str, tally: &Tally, email: &str) -> String {
    let (status, body) = until_answered(tally, "sign-in", || {
        http.post(format!("{base}/v1/sessions"))
            .json(&json!({"login": email, "password": DEMO_PASSWORD}))
    })
    .await;
    assert_eq!(status, 201, "sign-in: {body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn get(http: &reqwest::Client, base: &str, tally: &Tally, token: &str, path: &str) -> Value {
    let (status, body) = until_answered(tally, path, || http.get(format!("{base}{path}")).bearer_auth(token)).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// One member's payments, one after the other, each retried with its key until answered.
async fn pay_all(http: reqwest::Client, base: String, tally: Arc<Tally>, m: Arc<Member>) -> Vec<(String, u16, Value)> {
    let mut answers = Vec::with_capacity(PAYMENTS_EACH);
    for i in 0..PAYMENTS_EACH {
        let key = format!("{}-{i}", m.id);
        let bill = &m.bills[i % m.bills.len()];
        let body = if i % 4 == 3 {
            json!({"payment_method_id": m.bank, "allocations": [{"bill_id": bill, "amount": "1.00"}],
                   "ach_authorization": {"text_version": ACH_SINGLE}})
        } else {
            json!({"payment_method_id": m.card, "allocations": [{"bill_id": bill, "amount": "1.00"}]})
        };
        let (status, answer) = until_answered(&tally, &key, || {
            http.post(format!("{base}/v1/payments"))
                .bearer_auth(&m.token)
                .header("Idempotency-Key", &key)
                .json(&body)
        })
        .await;
        assert!(
            matches!(status, 201 | 202 | 402),
            "{key}: a definitive answer, not {status} {answer}"
        );
        answers.push((key, status, answer));
    }
    answers
}

/// The member's copy, kept as an app keeps it: each entity's latest state, by the feed.
#[derive(Default)]
struct Copy {
    cursor: String,
    entities: BTreeMap<(String, String), Value>,
    pages: u64,
}

async fn sync_to_end(http: &reqwest::Client, base: &str, tally: &Tally, token: &str, copy: &mut Copy) {
    loop {
        let path = format!("/v1/sync?cursor={}", copy.cursor);
        let page = get(http, base, tally, token, &path).await;
        copy.pages += 1;
        for c in page["changes"].as_array().unwrap() {
            let key = (
                c["entity"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
            );
            if c["op"] == "delete" {
                copy.entities.remove(&key);
            } else {
                copy.entities.insert(key, c["data"].clone());
            }
        }
        copy.cursor = page["next_cursor"].as_str().unwrap().to_string();
        if !page["has_more"].as_bool().unwrap() {
            return;
        }
    }
}

fn sql_rows(conn: &carebill_server::sql::Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn sql_count(conn: &carebill_server::sql::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Runs `f` with the test's own database connection, off the async workers.
fn on_db<R: Send>(
    db: &std::sync::Mutex<carebill_server::sql::Connection>,
    f: impl FnOnce(&carebill_server::sql::Connection) -> R + Send,
) -> R {
    off_runtime(|| f(&db.lock().unwrap()))
}

fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| s.spawn(f).join().expect("the blocking work finished"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_killed_under_load_charge_every_payment_once_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _cluster) = off_runtime(|| carebill_testkit::postgres::empty_database("replicas"));

    // The members: generated, each with an account, a card, a bank account and bills.
    let now = chrono::Utc::now();
    let mut config = ServerConfig::new(free_port(), dir.path().join("seed"));
    config.database_url = Some(DatabaseUrl(url.clone()));
    config.database_key = carebill_server::config::DatabaseKey::from_hex(DB_KEY).unwrap();
    let today = config.calendar.date_at(now);
    let member_ids = off_runtime(|| {
        let db = carebill_server::db::Db::open_postgres(&url, 1).unwrap();
        let processor = SandboxProcessor::for_config(&config).unwrap();
        carebill_server::seed::add_members(&db, &processor, MEMBERS + AUTOPAY_MEMBERS, 20, today, now).unwrap()
    });

    let smtp = SmtpSink::start().await;
    let secret = dir.path().join("server-secret");
    std::fs::write(&secret, SERVER_SECRET).unwrap();
    let config_file = dir.path().join("replica.toml");
    std::fs::write(
        &config_file,
        format!(
            r#"server_secret_file = "{}"
address_limits = false
mail_from = "Carebill <no-reply@replicas.carebill.example>"
[processor]
kind = "sandbox"
[plan]
name = "Replica Test Health Plan"
member_services_phone = "1-800-555-0100"
member_services_hours = {{ en = "Weekdays, 8 a.m. to 6 p.m." }}
[payment_limits]
member_payments_per_day = 100000
member_declines_per_day = 100000
card_declines_per_day = 100000
statement_declines_per_day = 100000
[payment_plans]
min_balance = "1.00"
min_monthly = "1.00"
[recovery]
lease_secs = 2
sweep_grace_secs = 2
scheduler_every_secs = 1
mail_claim_secs = 8
[smtp]
host = "127.0.0.1"
port = {}
security = "none"
"#,
            secret.display(),
            smtp.addr.port()
        ),
    )
    .unwrap();
    let mut replicas: Vec<Replica> = (0..REPLICAS)
        .map(|i| Replica {
            addr: free_port(),
            data_dir: dir.path().join(format!("replica-{i}")),
            log: dir.path().join(format!("replica-{i}.log")),
            child: None,
            starts: 0,
        })
        .collect();
    for r in &mut replicas {
        r.spawn(&config_file, &url);
    }
    // reqwest's `rustls-no-provider`: the process sets the provider (ring, as the app).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0) // a new connection, so a new fault roll and replica, per request
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    for r in &replicas {
        let health = format!("http://{}/healthz", r.addr);
        let started = Instant::now();
        while !http.get(&health).send().await.is_ok_and(|r| r.status() == 200) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "replica {} started",
                r.addr
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let proxy = FaultProxy::start_many(replicas.iter().map(|r| r.addr).collect(), 0x5ca1e).await;
    let base = proxy.url();
    let tally = Arc::new(Tally::default());

    // Everyone signs in and looks at their bills, through the balancer, faults off.
    let mut members = Vec::new();
    for (n, id) in member_ids.iter().enumerate() {
        let email = generated_email(n + 1);
        assert!(
            id.ends_with(&format!("{:08}", n + 1)),
            "{id} is the {}th generated member",
            n + 1
        );
        let token = sign_in(&http, &base, &tally, &email).await;
        let methods = get(&http, &base, &tally, &token, "/v1/payment-methods").await;
        let method = |kind: &str| {
            methods["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["type"] == kind)
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let bills = get(&http, &base, &tally, &token, "/v1/bills?status=open&limit=100").await;
        let bills: Vec<String> = bills["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| {
                b["payable"]
                    .as_str()
                    .is_some_and(|p| p.parse::<f64>().unwrap_or(0.0) >= 20.0)
            })
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect();
        assert!(bills.len() >= 3, "{id} has bills to pay: {}", bills.len());
        members.push(Arc::new(Member {
            id: id.clone(),
            token,
            card: method("card"),
            bank: method("bank_account"),
            bills,
        }));
    }
    let db = std::sync::Mutex::new(off_runtime(|| carebill_server::pg_tls::connect(&url).unwrap()));
    let autopay_members = members.split_off(MEMBERS);
    // Autopay for the others, by card or bank account, on the due date.
    for (i, m) in autopay_members.iter().enumerate() {
        let mut rule = json!({"payment_method_id": if i % 2 == 0 { &m.card } else { &m.bank },
                              "amount": {"type": "statement_balance"}, "max_amount": "100000.00",
                              "timing": {"type": "due_date"}});
        if i % 2 == 1 {
            rule["ach_authorization"] = json!({"text_version": ACH_RECURRING});
        }
        let (status, body) = until_answered(&tally, "autopay", || {
            http.put(format!("{base}/v1/autopay")).bearer_auth(&m.token).json(&rule)
        })
        .await;
        assert_eq!(status, 200, "autopay for {}: {body}", m.id);
        // Autopay pays bills issued after it was turned on: three new ones each.
        let id = m.id.clone();
        on_db(&db, |db| {
            db.transaction(|tx| {
                for _ in 0..3 {
                    let now = chrono::Utc::now();
                    carebill_server::seed::issue_bill(tx, &id, today, now.timestamp_millis(), now)?;
                }
                Ok::<_, carebill_server::error::ApiError>(())
            })
            .unwrap()
        });
    }

    // The autopay members' older bills (which autopay does not cover) go on a two-month payment
    // plan each, by card, its first instalment a few days from now: the clock moves below charge
    // instalments while replicas are killed.
    let plan_day = (today + chrono::Days::new(3)).day().min(28);
    for m in &autopay_members {
        let body = json!({"bill_ids": m.bills, "months": 2, "day_of_month": plan_day, "payment_method_id": m.card,
                          "authorization": {"text_version": "2026-12-card-instalments"}});
        let key = format!("plan-{}", m.id);
        let (status, answer) = until_answered(&tally, "payment plan", || {
            http.post(format!("{base}/v1/payment-plans"))
                .bearer_auth(&m.token)
                .header("Idempotency-Key", &key)
                .json(&body)
        })
        .await;
        assert!(status == 201 || status == 200, "plan for {}: {answer}", m.id);
    }

    // The run: faults on, payments, one app syncing, replicas killed and started again.
    proxy.set_mode(Mode::Random);
    let stop = Arc::new(AtomicBool::new(false));
    let syncing = {
        let (http, base, tally, stop, m) = (
            http.clone(),
            base.clone(),
            tally.clone(),
            stop.clone(),
            members[0].clone(),
        );
        tokio::spawn(async move {
            let mut copy = Copy::default();
            while !stop.load(Ordering::SeqCst) {
                sync_to_end(&http, &base, &tally, &m.token, &mut copy).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            copy
        })
    };
    let paying: Vec<_> = members
        .iter()
        .map(|m| tokio::spawn(pay_all(http.clone(), base.clone(), tally.clone(), m.clone())))
        .collect();
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xdead);
    let mut kills = 0;
    let mut clock_moved = false;
    while !paying.iter().all(|p| p.is_finished()) || !clock_moved {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(700..1800))).await;
        let victim = rng.gen_range(0..REPLICAS);
        replicas[victim].kill();
        kills += 1;
        tokio::time::sleep(Duration::from_millis(600)).await;
        replicas[victim].spawn(&config_file, &url);
        if !clock_moved && started.elapsed() > Duration::from_secs(12) {
            // Five weeks on: every bill is due (autopay charges) and bank payments settle.
            let offset = chrono::Duration::days(35).num_milliseconds().to_string();
            on_db(&db, |db| {
                carebill_server::store::set_setting(db, carebill_server::store::BUSINESS_OFFSET_KEY, &offset).unwrap()
            });
            clock_moved = true;
        }
    }
    let mut answers = Vec::new();
    for p in paying {
        answers.extend(p.await.unwrap());
    }
    let load_secs = started.elapsed().as_secs();
    // Two weeks more: the bank payments made after the first move come due for settlement too.
    let offset = chrono::Duration::days(49).num_milliseconds().to_string();
    on_db(&db, |db| {
        carebill_server::store::set_setting(db, carebill_server::store::BUSINESS_OFFSET_KEY, &offset).unwrap()
    });

    // Quiet: every replica up, no faults; the schedulers finish what the kills interrupted.
    proxy.set_mode(Mode::Pass);
    for r in &mut replicas {
        if r.child.as_mut().is_none_or(|c| c.try_wait().unwrap().is_some()) {
            r.spawn(&config_file, &url);
        }
    }
    let quiet = Instant::now();
    let mut days = 49;
    loop {
        let (in_flight, unsettled, unsent) = on_db(&db, |db| {
            (
                sql_count(db, "SELECT COUNT(*) FROM idempotency_keys WHERE state = 'processing'"),
                sql_count(
                    db,
                    "SELECT COUNT(*) FROM payments WHERE status = 'pending' AND settle_on IS NOT NULL",
                ),
                sql_count(db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"),
            )
        });
        if in_flight == 0 && unsettled == 0 && unsent == 0 {
            break;
        }
        assert!(
            quiet.elapsed() < Duration::from_secs(60),
            "after a minute of quiet: {in_flight} keys in flight, {unsettled} bank payments unsettled, {unsent} mails unsent"
        );
        if unsettled > 0 {
            // Bank payments autopay made late in the run settle days later: let the days pass.
            days += 1;
            let offset = chrono::Duration::days(days).num_milliseconds().to_string();
            on_db(&db, |db| {
                carebill_server::store::set_setting(db, carebill_server::store::BUSINESS_OFFSET_KEY, &offset).unwrap()
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Autopay has charged every due bill of its members (a pass or two after the clock moved).
    stop.store(true, Ordering::SeqCst);
    let mut copy = syncing.await.unwrap();
    sync_to_end(&http, &base, &tally, &members[0].token, &mut copy).await;

    // Exactly once, and nothing lost.
    let charged_twice = on_db(&db, |db| {
        sql_rows(
            db,
            "SELECT processor_key FROM payments WHERE processor_key IS NOT NULL GROUP BY processor_key HAVING COUNT(*) > 1
             UNION ALL SELECT member_id || ':' || idempotency_key FROM payments WHERE idempotency_key IS NOT NULL
             GROUP BY member_id, idempotency_key HAVING COUNT(*) > 1",
        )
    });
    assert_eq!(charged_twice, Vec::<String>::new(), "payments recorded twice");
    let (uncharged, unrecorded) = on_db(&db, |db| {
        (
            sql_rows(
                db,
                "SELECT processor_key FROM payments WHERE status <> 'processing' AND processor_key IS NOT NULL
                 EXCEPT SELECT key FROM charges",
            ),
            sql_rows(db, "SELECT key FROM charges EXCEPT SELECT processor_key FROM payments"),
        )
    });
    assert_eq!(uncharged, Vec::<String>::new(), "payments without their one charge");
    assert_eq!(unrecorded, Vec::<String>::new(), "charges without a payment");
    assert_eq!(answers.len(), MEMBERS * PAYMENTS_EACH);
    let acknowledged: HashMap<String, String> = answers
        .iter()
        .filter(|(_, status, _)| *status == 201 || *status == 202)
        .map(|(key, _, body)| (key.clone(), body["id"].as_str().unwrap().to_string()))
        .collect();
    let recorded: HashMap<String, String> = on_db(&db, |db| {
        let mut stmt = db
            .prepare("SELECT idempotency_key, id FROM payments WHERE source = 'member' AND idempotency_key IS NOT NULL")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .collect::<Result<HashMap<_, _>, _>>()
            .unwrap()
    });
    for (key, id) in &acknowledged {
        assert_eq!(
            recorded.get(key),
            Some(id),
            "acknowledged payment {key} is recorded as answered"
        );
    }
    let unbalanced = on_db(&db, |db| {
        sql_rows(
            db,
            "SELECT b.id FROM bills b
             WHERE b.settled_cents <> COALESCE((SELECT SUM(a.amount_cents) FROM payment_allocations a
                     JOIN payments p ON p.id = a.payment_id WHERE a.bill_id = b.id AND p.status = 'succeeded'), 0)
                OR b.pending_cents <> COALESCE((SELECT SUM(a.amount_cents) FROM payment_allocations a
                     JOIN payments p ON p.id = a.payment_id WHERE a.bill_id = b.id
                     AND p.status IN ('processing', 'pending', 'needs_review')), 0)",
        )
    });
    assert_eq!(unbalanced, Vec::<String>::new(), "bills whose books do not add up");
    let (autopay_twice, autopay_charged) = on_db(&db, |db| {
        (
            sql_rows(
                db,
                "SELECT a.bill_id FROM payment_allocations a JOIN payments p ON p.id = a.payment_id
                 WHERE p.source = 'autopay' GROUP BY a.bill_id HAVING COUNT(*) > 1",
            ),
            sql_count(db, "SELECT COUNT(*) FROM payments WHERE source = 'autopay'"),
        )
    });
    assert_eq!(autopay_twice, Vec::<String>::new(), "autopay bills charged twice");
    assert!(autopay_charged > 0, "autopay charged due bills");
    // Every instalment that came due was charged, once: none twice, none missed.
    let (plans, instalments_twice, instalments, plan_payments, not_paid, overdue_plans) = on_db(&db, |db| {
        (
            sql_count(db, "SELECT COUNT(*) FROM payment_plans"),
            sql_rows(
                db,
                "SELECT idempotency_key FROM payments WHERE source = 'payment_plan' GROUP BY idempotency_key HAVING COUNT(*) > 1",
            ),
            sql_count(db, "SELECT COUNT(*) FROM plan_instalments"),
            sql_count(db, "SELECT COUNT(*) FROM payments WHERE source = 'payment_plan'"),
            sql_rows(db, "SELECT plan_id FROM plan_instalments WHERE status <> 'paid'"),
            sql_rows(
                db,
                "SELECT id || ' ' || next_date FROM payment_plans WHERE status = 'active'",
            ),
        )
    });
    assert_eq!(
        plans,
        autopay_members.len() as i64,
        "one plan per member, though the answers were dropped"
    );
    assert_eq!(instalments_twice, Vec::<String>::new(), "instalments charged twice");
    assert_eq!(not_paid, Vec::<String>::new(), "instalments not paid");
    assert_eq!(instalments, plan_payments, "one payment per instalment");
    assert!(instalments >= plans, "every plan's first instalment was charged");
    let last_day = today + chrono::Days::new(days as u64);
    let calendar = carebill_billing::BusinessCalendar::default();
    for row in &overdue_plans {
        let next = chrono::NaiveDate::parse_from_str(row.split(' ').nth(1).unwrap(), "%Y-%m-%d").unwrap();
        assert!(
            calendar.on_or_after(next) > last_day,
            "an instalment came due and was not charged: {row}"
        );
    }
    let (receipts_twice, receipts_missing, settled) = on_db(&db, |db| {
        (
            sql_rows(db, "SELECT subject FROM outbox GROUP BY to_addr, subject HAVING COUNT(*) > 1 AND subject LIKE 'Carebill receipt %'"),
            sql_rows(
                db,
                "SELECT p.id FROM payments p WHERE p.status IN ('succeeded', 'pending', 'returned')
                 AND p.processor_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.subject = 'Carebill receipt ' || p.confirmation_number)",
            ),
            sql_count(
                db,
                "SELECT COUNT(*) FROM payments WHERE settle_on IS NOT NULL AND status IN ('succeeded', 'returned')",
            ),
        )
    });
    assert_eq!(receipts_twice, Vec::<String>::new(), "receipts enqueued twice");
    assert_eq!(receipts_missing, Vec::<String>::new(), "payments without a receipt");
    let outbox = on_db(&db, |db| sql_count(db, "SELECT COUNT(*) FROM outbox"));
    let delivered = smtp.messages();
    let mut ids: HashMap<String, u32> = HashMap::new();
    for m in &delivered {
        let id = m
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .map(|l| l["message-id:".len()..].trim().to_string())
            .expect("every mail has a Message-ID");
        *ids.entry(id).or_default() += 1;
    }
    let duplicates: u32 = ids.values().map(|n| n - 1).sum();
    assert_eq!(ids.len() as i64, outbox, "every mail enqueued was delivered");
    assert!(
        duplicates <= kills,
        "{duplicates} duplicate deliveries from {kills} kills: only a kill between sending and recording may resend"
    );
    let server_errors = tally.server_errors.lock().unwrap().clone();
    assert_eq!(server_errors, Vec::<String>::new(), "500s");

    // The app's incremental copy is the server's state: a full sync brings the same entities.
    let mut full = Copy::default();
    sync_to_end(&http, &base, &tally, &members[0].token, &mut full).await;
    let differ: Vec<&(String, String)> = full
        .entities
        .keys()
        .chain(copy.entities.keys())
        .filter(|k| full.entities.get(*k) != copy.entities.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "the incremental copy differs from a full sync at {differ:?}"
    );
    let members0_payments = {
        let id = members[0].id.clone();
        on_db(&db, |db| {
            db.query_row("SELECT COUNT(*) FROM payments WHERE member_id = ?1", [&id], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
        })
    };
    assert_eq!(
        copy.entities.keys().filter(|(e, _)| e == "payment").count() as i64,
        members0_payments,
        "the copy holds every payment of the member"
    );

    let c = &proxy.counts;
    eprintln!(
        "replicas: {} payments answered in {load_secs} s ({} retries); {kills} kills ({} starts); \
         proxy: {} connections, {} answers dropped after the request, {} cut, {} reset, {} delayed; \
         {autopay_charged} autopay charges, {instalments} instalments of {plans} payment plans, \
         {settled} bank payments settled or returned; \
         {} mails, {duplicates} delivered twice; app synced {} pages",
        answers.len(),
        tally.retries.load(Ordering::Relaxed),
        replicas.iter().map(|r| r.starts).sum::<u32>(),
        c.connections.load(Ordering::Relaxed),
        c.dropped_after_request.load(Ordering::Relaxed),
        c.cut.load(Ordering::Relaxed),
        c.reset.load(Ordering::Relaxed),
        c.delayed.load(Ordering::Relaxed),
        outbox,
        copy.pages,
    );
    for r in &mut replicas {
        r.kill();
    }
}
