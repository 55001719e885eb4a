//! Running the server: config rules, TLS, importing a plan's data.

use std::io::Write;

use carebill_server::config::{ConfigError, FileConfig, ServerConfig};
use carebill_server::{app, import};
use serde_json::json;

use crate::harness::*;

#[test]
fn plain_http_and_demo_mode_stay_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let resolve = |listen: &str, demo: bool, tls: bool| {
        ServerConfig::resolve(
            listen.parse().unwrap(),
            dir.path().to_path_buf(),
            demo,
            tls.then(|| ("cert.pem".into(), "key.pem".into())),
            FileConfig::default(),
            Some("11".repeat(32)),
        )
    };
    assert!(matches!(
        resolve("0.0.0.0:8080", false, false),
        Err(ConfigError::PlainHttpOffLoopback(_))
    ));
    assert!(matches!(
        resolve("0.0.0.0:8080", true, true),
        Err(ConfigError::DemoOffLoopback(_))
    ));
    assert!(resolve("0.0.0.0:8443", false, true).is_ok());
    assert!(resolve("127.0.0.1:8080", false, false).is_ok());
    assert!(resolve("[::1]:8080", true, false).is_ok());
    // Outside demo mode a key must be configured.
    let no_key = ServerConfig::resolve(
        "127.0.0.1:1".parse().unwrap(),
        dir.path().to_path_buf(),
        false,
        None,
        FileConfig::default(),
        None,
    );
    assert!(matches!(no_key, Err(ConfigError::NoKey)));
    let bad_key = ServerConfig::resolve(
        "127.0.0.1:1".parse().unwrap(),
        dir.path().to_path_buf(),
        false,
        None,
        FileConfig::default(),
        Some("abc".into()),
    );
    assert!(matches!(bad_key, Err(ConfigError::BadKey)));
    // The server secret from a file: 64 hex characters, or the start is refused.
    let secret_file = dir.path().join("server.secret");
    let with_secret = |text: &str| {
        std::fs::write(&secret_file, text).unwrap();
        let file: FileConfig =
            toml::from_str(&format!("server_secret_file = {:?}", secret_file.display().to_string())).unwrap();
        ServerConfig::resolve(
            "127.0.0.1:1".parse().unwrap(),
            dir.path().to_path_buf(),
            false,
            None,
            file,
            Some("11".repeat(32)),
        )
    };
    let good = with_secret(&format!("{}\n", "ab".repeat(32))).unwrap();
    assert_eq!(good.server_secret.as_ref().unwrap().to_hex(), "ab".repeat(32));
    assert!(matches!(with_secret("not hex"), Err(ConfigError::BadKey)));
    assert!(
        format!("{good:?}").contains("server_secret: Some(DatabaseKey(..))"),
        "never printed"
    );
    // PostgreSQL instead of SQLite: no SQLite key needed; a Unix socket or loopback, or a remote
    // host over verified TLS; the URL (it may hold a password) is never printed.
    let with_url = |url: &str| {
        let file = FileConfig {
            database_url: Some(url.to_string()),
            ..FileConfig::default()
        };
        ServerConfig::resolve(
            "127.0.0.1:1".parse().unwrap(),
            dir.path().to_path_buf(),
            false,
            None,
            file,
            None,
        )
    };
    let socket = with_url("postgresql://carebill:s3cret-pw@/carebill?host=/run/postgresql").unwrap();
    assert!(socket.database_url.is_some());
    assert!(
        !format!("{socket:?}").contains("s3cret-pw"),
        "the password is never printed"
    );
    assert!(with_url("postgresql://carebill:pw@127.0.0.1:5432/carebill").is_ok());
    assert!(with_url("postgres://carebill@localhost/carebill").is_ok());
    assert!(matches!(
        with_url("postgresql://carebill:pw@db.plan.example/carebill"),
        Err(ConfigError::RemoteDatabase)
    ));
    assert!(matches!(
        with_url("mysql://x@localhost/db"),
        Err(ConfigError::BadDatabaseUrl(_))
    ));
    let refused = with_url("postgresql://carebill:s3cret-pw@db.plan.example/carebill").unwrap_err();
    assert!(!refused.to_string().contains("s3cret-pw"));
    assert!(
        refused.to_string().contains("sslmode=verify-full"),
        "says what to do: {refused}"
    );
    // A remote host over TLS that verifies the server's name against the plan's CA file.
    let ca = dir.path().join("db-ca.pem");
    std::fs::write(
        &ca,
        rcgen::generate_simple_self_signed(vec!["db.plan.example".into()])
            .unwrap()
            .cert
            .pem(),
    )
    .unwrap();
    let remote = format!(
        "postgresql://carebill:s3cret-pw@db.plan.example/carebill?sslmode=verify-full&sslrootcert={}",
        ca.display()
    );
    assert!(with_url(&remote).is_ok());
    for (url, says) in [
        (
            remote.replace("verify-full", "require"),
            "sslmode=require does not check",
        ),
        (
            remote.replace(&ca.display().to_string(), "/nonexistent/ca.pem"),
            "/nonexistent/ca.pem",
        ),
        (
            "postgresql://carebill:s3cret-pw@db.plan.example/carebill?sslmode=verify-full".to_string(),
            "needs sslrootcert",
        ),
    ] {
        let err = with_url(&url).unwrap_err().to_string();
        assert!(err.contains(says) && !err.contains("s3cret-pw"), "{err}");
    }
}

#[tokio::test]
async fn the_database_does_not_open_with_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    drop(app::open_database(&config).unwrap());
    config.database_key = carebill_server::config::DatabaseKey::random();
    let err = app::open_database(&config)
        .err()
        .expect("a wrong key must not open the database");
    assert!(err.to_string().contains("does not open"), "{err}");
}

#[tokio::test]
async fn serves_https_when_given_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let s = TestServer::start_with(|c| c.tls = Some((cert_path, key_path))).await;
    let port = s.server.addr.port();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", s.server.addr)
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("business-date"));
    s.stop().await;
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn bill(statement: &str, member: &str, patient: &str) -> serde_json::Value {
    json!({
        "member_id": member, "account_number": "ACME-1", "statement_number": statement, "kind": "professional",
        "provider": "Acme Clinic", "facility": "Acme Clinic, Room 4",
        "service_date_from": "2026-09-01", "service_date_to": "2026-09-01",
        "statement_date": "2026-09-20", "due_date": "2026-10-20",
        "total_charges": "200.00", "insurance_paid": "120.00", "adjustments": "30.00",
        "line_items": [
            {"service_date": "2026-09-01", "description": "Office visit", "code": "99213", "quantity": 1,
             "charge": "150.00", "insurance_paid": "90.00", "adjustment": "20.00", "patient_responsibility": "40.00"},
            {"service_date": "2026-09-01", "description": "Rapid strep test", "code": "87880", "quantity": 1,
             "charge": "50.00", "insurance_paid": "30.00", "adjustment": "10.00", "patient_responsibility": patient}
        ]
    })
}

/// A roster and bills import with the default member ID format.
fn import_files(
    db: &carebill_server::db::Db,
    roster: Option<&std::path::Path>,
    bills: Option<&std::path::Path>,
) -> Result<import::ImportSummary, import::ImportError> {
    let sources = import::Sources {
        roster,
        bills,
        ..Default::default()
    };
    import::import(db, &sources, &Default::default(), start_instant())
}

#[tokio::test]
async fn import_loads_a_roster_and_bills_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("data"));
    let db = app::open_database(&config).unwrap();
    let roster = write(
        dir.path(),
        "roster.csv",
        "member_id,first_name,last_name,date_of_birth\nM300000001,Ana,Lima,1990-05-06\nM300000002,Bo,Chen,1970-01-02\n",
    );
    let good = write(
        dir.path(),
        "bills.json",
        &serde_json::to_string(&json!([bill("ACME-001", "M300000001", "10.00")])).unwrap(),
    );
    let summary = import_files(&db, Some(&roster), Some(&good)).unwrap();
    assert_eq!(
        summary,
        import::ImportSummary {
            members: 2,
            bills: 1,
            ..Default::default()
        }
    );
    let detail = |db: &carebill_server::db::Db, statement: &str| {
        db.with_writer(|c| {
            let id: String = c
                .query_row("SELECT id FROM bills WHERE statement_number = ?1", [statement], |r| {
                    r.get(0)
                })
                .unwrap();
            carebill_server::store::bill_detail(c, "M300000001", &id)
                .unwrap()
                .unwrap()
        })
    };
    let plain = detail(&db, "ACME-001");
    assert_eq!(
        (plain.bill.other_payments.to_string(), plain.bill.billing_phone),
        ("0.00".into(), None)
    );

    let count = |db: &carebill_server::db::Db| {
        db.with_writer(|c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM roster), (SELECT COUNT(*) FROM bills)",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .unwrap()
        })
    };
    assert_eq!(count(&db), (2, 1));

    // A copay paid at the provider's office and the provider's billing phone: the bill adds up to
    // what the member owes now.
    let mut paid_at_office = bill("ACME-010", "M300000001", "10.00");
    paid_at_office["other_payments"] = json!("15.00");
    paid_at_office["billing_phone"] = json!(" (415) 555-0100 ");
    let path = write(
        dir.path(),
        "office.json",
        &serde_json::to_string(&json!([paid_at_office])).unwrap(),
    );
    import_files(&db, None, Some(&path)).unwrap();
    let b = detail(&db, "ACME-010").bill;
    assert_eq!(
        [
            b.amount_due,
            b.payments_made,
            b.other_payments,
            b.balance,
            b.pending_amount,
            b.payable
        ]
        .map(|m| m.to_string()),
        ["50.00", "0.00", "15.00", "35.00", "0.00", "35.00"]
    );
    assert_eq!(b.billing_phone.as_deref(), Some("(415) 555-0100"));
    assert_eq!(b.claim_number, None);
    // A bill may name the plan's claim it is for.
    let mut with_claim = bill("ACME-011", "M300000001", "10.00");
    with_claim["claim_number"] = json!("CLM-2026-000123");
    let path = write(
        dir.path(),
        "claim.json",
        &serde_json::to_string(&json!([with_claim])).unwrap(),
    );
    import_files(&db, None, Some(&path)).unwrap();
    assert_eq!(
        detail(&db, "ACME-011").bill.claim_number.as_deref(),
        Some("CLM-2026-000123")
    );
    assert_eq!(b.status, carebill_billing::BillStatus::PartiallyPaid);
    assert_eq!(b.patient_name, None, "no patient named: the member");
    // A dependent's care, paid by the subscriber: the patient is named, trimmed.
    let mut dependent = bill("ACME-012", "M300000001", "10.00");
    dependent["patient_name"] = json!("  Riley Lee ");
    let path = write(
        dir.path(),
        "dependent.json",
        &serde_json::to_string(&json!([dependent])).unwrap(),
    );
    import_files(&db, None, Some(&path)).unwrap();
    assert_eq!(detail(&db, "ACME-012").bill.patient_name.as_deref(), Some("Riley Lee"));
    assert_eq!(count(&db), (2, 4));

    // Line items that do not add up, a member not on the roster, a repeated statement, a float,
    // more paid elsewhere than the member owes, a negative amount paid elsewhere, a phone that is
    // not one: each refuses the whole file.
    let bad_sum = json!([
        bill("ACME-002", "M300000002", "10.00"),
        bill("ACME-003", "M300000002", "9.99")
    ]);
    let not_on_roster = json!([bill("ACME-004", "M399999999", "10.00")]);
    let repeated = json!([bill("ACME-001", "M300000002", "10.00")]);
    let mut float = bill("ACME-005", "M300000002", "10.00");
    float["total_charges"] = json!(200.0);
    let with = |field: &str, value: &str| {
        let mut b = bill("ACME-006", "M300000002", "10.00");
        b[field] = json!(value);
        json!([bill("ACME-007", "M300000002", "10.00"), b])
    };
    for (name, bills) in [
        ("sum", bad_sum),
        ("roster", not_on_roster),
        ("repeat", repeated),
        ("float", json!([float])),
        ("overpaid", with("other_payments", "50.01")),
        ("negative", with("other_payments", "-1.00")),
        ("phone", with("billing_phone", "call the office")),
        ("claim number", with("claim_number", "claim #1")),
        ("blank patient", with("patient_name", "   ")),
        ("long patient", with("patient_name", &"R".repeat(201))),
        ("control in patient", with("patient_name", "Riley\u{7}Lee")),
    ] {
        let path = write(
            dir.path(),
            &format!("{name}.json"),
            &serde_json::to_string(&bills).unwrap(),
        );
        let err = import_files(&db, None, Some(&path)).unwrap_err();
        assert!(matches!(err, import::ImportError::Invalid { .. }), "{name}: {err}");
        assert_eq!(count(&db), (2, 4), "{name} changed nothing");
    }
    let bad_roster = write(
        dir.path(),
        "bad.csv",
        "member_id,first_name,last_name,date_of_birth\nM300000003,Cy,Ng,1990-02-30\n",
    );
    assert!(import_files(&db, Some(&bad_roster), None).is_err());
    assert_eq!(count(&db), (2, 4));
}

/// Review finding 4: outside demo mode the server refuses to serve until a processor is chosen
/// explicitly; the sandbox (staging) says so in its log and in /healthz.
#[tokio::test]
async fn production_refuses_to_start_without_an_explicit_processor() {
    let dir = tempfile::tempdir().unwrap();
    let resolve = |file: FileConfig| {
        ServerConfig::resolve(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().to_path_buf(),
            false,
            None,
            file,
            Some("11".repeat(32)),
        )
    };
    let unconfigured = resolve(FileConfig::default()).unwrap();
    let refused = carebill_server::start(unconfigured, std::sync::Arc::new(carebill_server::SystemClock))
        .await
        .err()
        .expect("no processor, no server");
    assert!(
        refused.to_string().contains("no payment processor configured"),
        "{refused}"
    );
    assert!(
        !dir.path().join(app::DATABASE_FILE).exists(),
        "nothing is created before the refusal"
    );
    let unknown: FileConfig = toml::from_str("[processor]\nkind = \"acme\"").unwrap();
    assert!(matches!(resolve(unknown), Err(ConfigError::UnknownProcessor(_))));

    // Members must be told who to call: no plan, no server; a plan with a broken phone number is
    // refused when the file is read.
    let no_plan: FileConfig = toml::from_str("[processor]\nkind = \"sandbox\"").unwrap();
    let refused = carebill_server::start(
        resolve(no_plan).unwrap(),
        std::sync::Arc::new(carebill_server::SystemClock),
    )
    .await
    .err()
    .expect("no plan, no server");
    assert!(refused.to_string().contains("no [plan]"), "{refused}");
    let plan = "[plan]\nname = \"Example Health Plan\"\nmember_services_phone = \"1-800-555-0100\"\n\
                member_services_hours = { en = \"Weekdays, 8 a.m. to 8 p.m.\" }\n\
                [[plan.language_assistance]]\nlang = \"es\"\ntext = \"ATENCIÓN: Llame al 1-800-555-0100.\"\n";
    for (broken, why) in [
        (
            plan.replace("1-800-555-0100\"\n", "call us\"\n"),
            "member_services_phone",
        ),
        (plan.replace("lang = \"es\"", "lang = \"es es\""), "language tag"),
        (
            plan.replace("{ en = \"Weekdays, 8 a.m. to 8 p.m.\" }", "{ en = \"\" }"),
            "member_services_hours.en",
        ),
        // The member ID format: a regular expression with an example it accepts, both or neither.
        (
            plan.replace("[plan]\n", "[plan]\nmember_id_pattern = \"[0-9]{11}\"\n"),
            "go together",
        ),
        (
            plan.replace(
                "[plan]\n",
                "[plan]\nmember_id_pattern = \"[0-9]{11\"\nmember_id_example = \"12345678901\"\n",
            ),
            "not a regular expression",
        ),
        (
            plan.replace(
                "[plan]\n",
                "[plan]\nmember_id_pattern = \"[0-9]{11}\"\nmember_id_example = \"M200000002\"\n",
            ),
            "does not match",
        ),
        (
            plan.replace(
                "[plan]\n",
                "[plan]\nmember_id_pattern = \"[0-9]*\"\nmember_id_example = \"1\"\n",
            ),
            "empty member ID",
        ),
    ] {
        let file: FileConfig = toml::from_str(&format!("[processor]\nkind = \"sandbox\"\n{broken}")).unwrap();
        match resolve(file) {
            Err(ConfigError::BadPlan(m)) => assert!(m.contains(why), "{m}"),
            other => panic!("{why}: {other:?}"),
        }
    }

    // The payment-plan policy: checked when the file is read, served with the plan's facts.
    for (broken, why) in [
        ("[payment_plans]\nmax_months = 0", "max_months"),
        (
            "[payment_plans]\nmin_balance = \"10.00\"\nmin_monthly = \"25.00\"",
            "min_balance",
        ),
        ("[payment_plans]\nnotice_days = 30", "notice_days"),
        ("[payment_plans]\nmax_pause_days = 365", "max_pause_days"),
    ] {
        let file: FileConfig = toml::from_str(&format!("[processor]\nkind = \"sandbox\"\n{plan}{broken}")).unwrap();
        match resolve(file) {
            Err(ConfigError::BadPaymentPlans(m)) => assert!(m.contains(why), "{m}"),
            other => panic!("{why}: {other:?}"),
        }
    }
    let staging: FileConfig = toml::from_str(&format!(
        "[processor]\nkind = \"sandbox\"\n{plan}[payment_plans]\nmin_balance = \"250.00\"\nmax_months = 12\n"
    ))
    .unwrap();
    let config = resolve(staging).unwrap();
    let server = carebill_server::start(config, std::sync::Arc::new(carebill_server::SystemClock))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let served: carebill_api::types::PlanInfo = http
        .get(format!("http://{}/v1/plan", server.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            served.name.as_str(),
            served.member_services.phone.as_str(),
            served.member_services.tty.as_str()
        ),
        ("Example Health Plan", "1-800-555-0100", "711"),
        "the plan's own facts, the TTY defaulting to the relay"
    );
    assert_eq!(served.language_assistance[0].lang, "es");
    assert_eq!(
        (
            served.payment_plans.min_balance.to_string(),
            served.payment_plans.max_months,
            served.payment_plans.min_monthly.to_string()
        ),
        ("250.00".to_string(), 12, "25.00".to_string()),
        "the policy as configured, the rest its defaults"
    );
    let health: serde_json::Value = http
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["processor"], "sandbox");
    assert_eq!(health["demo"], false);
    let logs = carebill_testkit::logs::captured_text();
    assert!(logs.contains("SANDBOX PROCESSOR"), "the staging banner is logged");
    server.stop().await;
}

/// Review finding 11: silent or dribbling clients (slowloris) hold a connection only until the
/// header time limit, and connections beyond the cap are closed at once, so the server keeps
/// answering.
#[tokio::test]
async fn slow_clients_are_cut_off_and_the_connection_cap_holds() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with(|c| {
        c.limits.max_connections = 4;
        c.limits.header_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let addr = s.server.addr;
    // Four connections that start a request and never finish its headers, one byte at a time.
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nX:").await.unwrap();
        slow.push(c);
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // At the cap: a fifth connection is closed without an answer.
    let mut fifth = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = fifth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(2), fifth.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "no answer beyond the cap");
    // Dribbling a byte every 100 ms does not keep a connection: the header limit is total.
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        for c in &mut slow {
            let _ = c.write_all(b"x").await;
        }
    }
    for c in &mut slow {
        let n = tokio::time::timeout(std::time::Duration::from_secs(2), c.read(&mut buf))
            .await
            .expect("the server closed the slow connection");
        assert!(n.map_or(true, |n| n == 0 || buf.starts_with(b"HTTP/1.1 408")));
    }
    drop(slow);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // The slots are free again.
    let r = s.send(s.http.get(format!("{}/healthz", s.base))).await;
    r.expect(200);
    s.stop().await;
}

/// Review finding 11: a request that takes longer than the request time limit is answered 503
/// `request_timeout`; a payment whose request timed out still completes, and the retry with the
/// same key replays it, charged once.
#[tokio::test]
async fn a_payment_whose_request_timed_out_still_completes_and_replays() {
    let (s, processor) = crate::payments::start_with_faults(
        |c| c.limits.request_timeout = std::time::Duration::from_millis(300),
        usize::MAX,
    )
    .await;
    processor.delay_ms.store(900, std::sync::atomic::Ordering::SeqCst);
    let token = s.demo_token().await;
    let bill = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let card = s.card_method(&token).await;
    let body = json!({"payment_method_id": card, "allocations": one_bill(&bill, "3.00")});
    s.pay(&token, "slow-1", body.clone())
        .await
        .expect_error(503, "request_timeout");
    // A client that gives up on its own: the payment goes on too.
    let gave_up = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        s.pay(&token, "slow-2", body.clone()),
    )
    .await;
    assert!(gave_up.is_err());
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for key in ["slow-1", "slow-2"] {
        let again = s.pay(&token, key, body.clone()).await;
        again.expect(201);
        assert_eq!(again.headers["idempotent-replayed"], "true", "{key}");
    }
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments WHERE idempotency_key IN ('slow-1', 'slow-2') AND status = 'succeeded'")
            .await,
        2
    );
    s.stop().await;
}

/// Found by the conformance run: bill ids were drawn from a seed of (bill count XOR the time in
/// milliseconds), which repeats for bills issued a millisecond apart, and the second one failed
/// with a server error.
#[tokio::test]
async fn demo_bills_issued_a_millisecond_apart_each_get_their_own_id() {
    let s = TestServer::start().await;
    let mut ids = std::collections::HashSet::new();
    for _ in 0..8 {
        let r = s.post("/dev/bills", json!({})).await;
        r.expect(201);
        assert!(ids.insert(r.body["id"].as_str().unwrap().to_string()));
        s.clock.advance(chrono::Duration::milliseconds(1));
    }
}

/// A plan's integrators read the contract from the server itself: the committed document.
#[tokio::test]
async fn the_server_serves_its_own_contract_byte_for_byte() {
    let s = TestServer::start().await;
    let res = s.http.get(format!("{}/openapi.json", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let served = res.bytes().await.unwrap();
    let committed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../api/openapi.json")).unwrap();
    assert!(
        served == committed,
        "/openapi.json is the committed crates/api/openapi.json"
    );
    let doc: serde_json::Value = serde_json::from_slice(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    s.stop().await;
}

/// The server secret can come from `server_secret_file` (several servers on one database share
/// it), and a database never changes secret silently: what was signed before keeps working, and
/// a start with another secret, or none after a file's, is refused.
#[tokio::test]
async fn a_server_secret_from_a_file_keeps_working_and_another_one_is_refused() {
    use carebill_server::config::DatabaseKey;
    let dir = tempfile::tempdir().unwrap();
    let key = DatabaseKey::random();
    let config = |secret: Option<DatabaseKey>| {
        let mut c = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        c.demo = true;
        c.scheduler_every = None;
        c.hash_concurrency = 2;
        c.database_key = key.clone();
        c.server_secret = secret;
        c
    };
    let clock = || std::sync::Arc::new(carebill_server::SystemClock);
    let secret = DatabaseKey::random();
    let http = reqwest::Client::new();
    let server = carebill_server::start(config(Some(secret.clone())), clock())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let signed_in: serde_json::Value = http
        .post(format!("{base}/v1/sessions"))
        .json(&json!({"login": DEMO_EMAIL, "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_in["access_token"].as_str().unwrap().to_string();
    let page: serde_json::Value = http
        .get(format!("{base}/v1/bills?limit=1&status=all"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().expect("a second page").to_string();
    server.stop().await;

    // The same secret again: the cursor signed before the restart still reads the next page.
    let server = carebill_server::start(config(Some(secret.clone())), clock())
        .await
        .unwrap();
    let next = http
        .get(format!(
            "http://{}/v1/bills?limit=1&status=all&cursor={cursor}",
            server.addr
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
    server.stop().await;

    // Another secret, or none (a new one would be made): refused, nothing started.
    for other in [Some(DatabaseKey::random()), None] {
        let err = carebill_server::start(config(other), clock())
            .await
            .err()
            .expect("another secret is refused");
        assert!(err.to_string().contains("server secret"), "{err}");
    }

    // A database that keeps its own secret accepts a file holding that very secret, no other.
    let own = tempfile::tempdir().unwrap();
    let own_config = |secret: Option<DatabaseKey>| {
        let mut c = ServerConfig::new("127.0.0.1:0".parse().unwrap(), own.path().to_path_buf());
        c.database_key = key.clone();
        c.server_secret = secret;
        c
    };
    carebill_server::start(own_config(None), clock())
        .await
        .unwrap()
        .stop()
        .await;
    let db = app::open_database(&own_config(None)).unwrap();
    let stored = db
        .with_writer(|c| {
            c.query_row("SELECT value FROM settings WHERE key = 'server_secret'", [], |r| {
                r.get::<_, String>(0)
            })
        })
        .unwrap();
    drop(db);
    let same = DatabaseKey::from_hex(&stored).unwrap();
    carebill_server::start(own_config(Some(same)), clock())
        .await
        .unwrap()
        .stop()
        .await;
    assert!(
        carebill_server::start(own_config(Some(DatabaseKey::random())), clock())
            .await
            .is_err()
    );
}
