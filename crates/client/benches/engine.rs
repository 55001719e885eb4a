//! Client engine benchmarks (docs/PERFORMANCE.md): initial sync of 10,000 bills into an empty
//! encrypted cache, a no-change sync, a 50-row filtered and sorted bills page, a bill's detail
//! (with 10,000 claims in the copy to match it against), a 50-row claims page for one year, and
//! the same pages on an unencrypted cache for the cost of SQLCipher.
//!
//! `cargo bench -p carebill-client --bench engine` (or `cargo xtask bench client`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use carebill_api::types::CreateSessionRequest;
use carebill_billing::BillKind;
use carebill_client::ClientConfig;
use carebill_client::api::ApiClient;
use carebill_client::cache::{self, Cache};
use carebill_client::keys::DataKey;
use carebill_client::sync::sync_once;
use carebill_client::types::{BillQuery, BillSort, BillStatusFilter, ClaimQuery, Freshness};
use carebill_testkit::server::{DEMO_EMAIL, DEMO_PASSWORD, TestServer};
use criterion::{BatchSize, Criterion};

const BILLS: usize = 10_000;
const CLAIMS: usize = 10_000;

/// 10,000 claims over three years from 20 providers, each of 5 lines with 8 adjudications, as
/// sync stores them.
fn fill_claims(cache: &Cache) {
    use carebill_api::types::{BenefitBalance, Claim, ClaimAmount, ClaimDetail, ClaimKind, ClaimLine};
    use carebill_billing::Money;
    const CATEGORIES: [&str; 8] = [
        "submitted",
        "eligible",
        "deductible",
        "copay",
        "coinsurance",
        "noncovered",
        "benefit",
        "memberliability",
    ];
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    cache
        .run_blocking(|c| {
            let tx = c.transaction()?;
            for i in 0..CLAIMS {
                let day = start + chrono::Days::new((i * 1096 / CLAIMS) as u64);
                let amount = |k: usize| ClaimAmount {
                    category: CATEGORIES[k].into(),
                    amount: Money::from_cents(((i * 37 + k * 101) % 50_000) as i64),
                };
                let lines = (0..5)
                    .map(|n| ClaimLine {
                        sequence: n + 1,
                        service_date: Some(day),
                        code: Some(format!("9921{n}")),
                        code_system: Some("http://www.ama-assn.org/go/cpt".into()),
                        display: Some("Office or other outpatient visit".into()),
                        revenue_code: None,
                        quantity: Some("1".into()),
                        amounts: (0..8).map(amount).collect(),
                    })
                    .collect();
                let detail = ClaimDetail {
                    claim: Claim {
                        id: format!("clm_{i:08}"),
                        claim_number: format!("BENCH-{i:08}"),
                        kind: ClaimKind::Professional,
                        patient_name: "Jordan Lee".into(),
                        service_date_from: Some(day),
                        service_date_to: Some(day),
                        provider: Some(format!("Provider {}", i % 20)),
                        facility: None,
                        outcome: Some("complete".into()),
                        billed: Some(Money::from_cents(25_000)),
                        allowed: Some(Money::from_cents(18_000)),
                        plan_paid: Some(Money::from_cents(14_000)),
                        member_owes: Some(Money::from_cents(4_000)),
                        member_costs: vec![amount(2), amount(4)],
                    },
                    lines,
                    adjudications: Vec::new(),
                    totals: (0..8).map(amount).collect(),
                    benefit_balance: vec![BenefitBalance {
                        kind: "deductible".into(),
                        limit: Some(Money::from_cents(150_000)),
                        used: Some(Money::from_cents(40_000)),
                    }],
                };
                cache::upsert_claim(&tx, &detail)?;
            }
            tx.commit()?;
            Ok(())
        })
        .unwrap();
}

fn claims_query() -> ClaimQuery {
    ClaimQuery {
        year: Some(2025),
        limit: 50,
        offset: 50,
        ..Default::default()
    }
}

struct Setup {
    rt: tokio::runtime::Runtime,
    api: Arc<ApiClient>,
    encrypted: Cache,
    plain: Cache,
    sample_bill: String,
    _dirs: Vec<tempfile::TempDir>,
    _server: TestServer,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(async {
        let server = TestServer::builder()
            .generous_payment_limits()
            .without_log_capture()
            .start()
            .await;
        server.add_demo_bills(BILLS, 10_000).await;
        server
    });
    let client_dir = tempfile::tempdir().unwrap();
    let config = ClientConfig::new(&server.url, client_dir.path().to_path_buf());
    let api = Arc::new(ApiClient::new(&config).unwrap());
    rt.block_on(api.sign_in(&CreateSessionRequest {
        login: DEMO_EMAIL.into(),
        password: DEMO_PASSWORD.into(),
        remember_device: false,
    }))
    .unwrap();
    let encrypted = Cache::open(&client_dir.path().join("enc"), &DataKey::random()).unwrap();
    std::fs::create_dir_all(client_dir.path().join("plain")).unwrap();
    let plain = Cache::open_unencrypted_for_benchmarks(&client_dir.path().join("plain/cache.db")).unwrap();
    for c in [&encrypted, &plain] {
        rt.block_on(sync_once(&api, c, chrono::Utc::now())).unwrap();
    }
    let sample_bill = encrypted
        .run_blocking(|c| {
            Ok(cache::bills_page(
                c,
                &BillQuery {
                    status: BillStatusFilter::All,
                    limit: 1,
                    offset: 5_000,
                    ..Default::default()
                },
                today(),
                fresh(),
            )?
            .bills[0]
                .bill
                .id
                .clone())
        })
        .unwrap();
    Setup {
        rt,
        api,
        encrypted,
        plain,
        sample_bill,
        _dirs: vec![client_dir],
        _server: server,
    }
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

fn fresh() -> Freshness {
    Freshness {
        offline: false,
        synced_at: None,
        business_date: today(),
    }
}

fn page_query() -> BillQuery {
    BillQuery {
        status: BillStatusFilter::Open,
        kind: Some(BillKind::Hospital),
        sort: BillSort::AmountDesc,
        limit: 50,
        ..Default::default()
    }
}

fn search_query() -> BillQuery {
    BillQuery {
        status: BillStatusFilter::All,
        search: Some("mri knee".into()),
        sort: BillSort::DueDateDesc,
        limit: 50,
        ..Default::default()
    }
}

fn percentiles(label: &str, runs: usize, mut f: impl FnMut()) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: p50 {:.3} ms, p99 {:.3} ms over {runs} runs",
        ms(times[runs / 2]),
        ms(times[runs * 99 / 100])
    );
}

fn main() {
    let s = setup();
    let bills = s
        .encrypted
        .run_blocking(|c| {
            Ok(cache::bills_page(
                c,
                &BillQuery {
                    status: BillStatusFilter::All,
                    limit: 1,
                    ..Default::default()
                },
                today(),
                fresh(),
            )?
            .total)
        })
        .unwrap();
    println!("cache holds {bills} bills");
    for cache in [&s.encrypted, &s.plain] {
        fill_claims(cache);
    }
    println!("and {CLAIMS} claims");

    // Percentiles for the latency targets.
    for (name, cache) in [("encrypted", &s.encrypted), ("plain", &s.plain)] {
        percentiles(
            &format!("bills page, 50 rows, open hospital bills by amount ({name})"),
            2000,
            || {
                cache
                    .run_blocking(|c| cache::bills_page(c, &page_query(), today(), fresh()))
                    .unwrap();
            },
        );
        percentiles(&format!("bills page, 50 rows, text search ({name})"), 500, || {
            cache
                .run_blocking(|c| cache::bills_page(c, &search_query(), today(), fresh()))
                .unwrap();
        });
        percentiles(
            &format!("bill detail, matched against {CLAIMS} claims ({name})"),
            2000,
            || {
                cache
                    .run_blocking(|c| cache::bill(c, &s.sample_bill, today(), fresh()))
                    .unwrap();
            },
        );
        percentiles(
            &format!("claims page, 50 rows, one year by service date ({name})"),
            2000,
            || {
                let page = cache
                    .run_blocking(|c| cache::claims_page(c, &claims_query(), fresh()))
                    .unwrap();
                assert_eq!(page.claims.len(), 50);
            },
        );
    }
    if std::env::var_os("CAREBILL_BENCH_QUICK").is_some() {
        return;
    }
    percentiles("no-change sync (one request, 304)", 200, || {
        let r =
            s.rt.block_on(sync_once(&s.api, &s.encrypted, chrono::Utc::now()))
                .unwrap();
        assert_eq!((r.requests, r.changes), (1, 0));
    });
    for (name, encrypt) in [("encrypted", true), ("plain", false)] {
        let mut total = Vec::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let cache = if encrypt {
                Cache::open(dir.path(), &DataKey::random()).unwrap()
            } else {
                Cache::open_unencrypted_for_benchmarks(&dir.path().join("c.db")).unwrap()
            };
            let t = Instant::now();
            let report = s.rt.block_on(sync_once(&s.api, &cache, chrono::Utc::now())).unwrap();
            total.push(t.elapsed());
            assert!(report.changes as usize >= BILLS);
        }
        total.sort();
        println!(
            "initial sync of {BILLS}+ bills into an empty {name} cache: median {:.0} ms (of 3)",
            total[1].as_secs_f64() * 1000.0
        );
    }

    let mut c = Criterion::default().configure_from_args().sample_size(20);
    c.bench_function("bills_page_50_filtered_sorted", |b| {
        b.iter(|| {
            s.encrypted
                .run_blocking(|c| cache::bills_page(c, &page_query(), today(), fresh()))
                .unwrap()
        })
    });
    c.bench_function("bills_page_50_filtered_sorted_plain", |b| {
        b.iter(|| {
            s.plain
                .run_blocking(|c| cache::bills_page(c, &page_query(), today(), fresh()))
                .unwrap()
        })
    });
    c.bench_function("bill_detail", |b| {
        b.iter(|| {
            s.encrypted
                .run_blocking(|c| cache::bill(c, &s.sample_bill, today(), fresh()))
                .unwrap()
        })
    });
    c.bench_function("no_change_sync", |b| {
        b.iter(|| {
            s.rt.block_on(sync_once(&s.api, &s.encrypted, chrono::Utc::now()))
                .unwrap()
        })
    });
    let mut group = c.benchmark_group("initial_sync");
    group.sample_size(10);
    group.bench_function("10k_bills_encrypted", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let cache = Cache::open(dir.path(), &DataKey::random()).unwrap();
                (dir, cache)
            },
            |(_dir, cache)| s.rt.block_on(sync_once(&s.api, &cache, chrono::Utc::now())).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    c.final_summary();
}
