//! Claims from FHIR: the import (all four CARIN claim types, a reversed line, a cancelled EOB, an
//! adjusted claim, a re-import, dependents, patients not on the roster, one refusal per input
//! class) and the member's API (list, filters, paging, detail, scoping, the change feed).

use std::path::{Path, PathBuf};

use carebill_billing::validate::MemberIdRule;
use carebill_server::db::Db;
use carebill_server::import::{self, ImportError, ImportSummary, Sources};
use serde_json::{Value, json};

use crate::harness::*;
use crate::sync::sync_all;

const SUBSCRIBER: &str = "M200000001";
const DEPENDENT: &str = "M300000009";

fn coding(system: &str, code: &str) -> Value {
    json!({"coding": [{"system": system, "code": code}]})
}

fn patient(id: &str, member: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "meta": {"profile": ["http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient"]},
        "identifier": [{"type": coding("http://terminology.hl7.org/CodeSystem/v2-0203", "MB"), "value": member}],
        "name": [{"family": "Lee", "given": ["Jordan"]}]})
}

fn org(id: &str, name: &str) -> Value {
    json!({"resourceType": "Organization", "id": id, "name": name})
}

fn adj(code: &str, value: f64) -> Value {
    json!({"category": coding("http://terminology.hl7.org/CodeSystem/adjudication", code),
        "amount": {"value": value, "currency": "USD"}})
}

fn total(code: &str, value: f64) -> Value {
    json!({"category": coding("http://terminology.hl7.org/CodeSystem/adjudication", code),
        "amount": {"value": value, "currency": "USD"}})
}

fn line(seq: u32, code: &str, adjudication: Vec<Value>) -> Value {
    json!({"sequence": seq, "servicedDate": "2026-10-01",
        "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code, "display": format!("Service {code}")}]},
        "quantity": {"value": 1}, "adjudication": adjudication})
}

/// An EOB in the CARIN shape: `kind` is the claim type, `sub` the institutional subtype.
fn eob(id: &str, number: &str, kind: &str, sub: Option<&str>, patient: &str, items: Vec<Value>) -> Value {
    let mut e = json!({"resourceType": "ExplanationOfBenefit", "id": id,
        "identifier": [{"type": coding("http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType", "uc"), "value": number}],
        "status": "active",
        "type": coding("http://terminology.hl7.org/CodeSystem/claim-type", kind),
        "use": "claim",
        "patient": {"reference": format!("Patient/{patient}")},
        "billablePeriod": {"start": "2026-10-01", "end": "2026-10-03"},
        "insurer": {"reference": "Organization/payer"},
        "provider": {"reference": "Organization/clinic"},
        "outcome": "complete",
        "item": items});
    if let Some(s) = sub {
        e["subType"] = coding(
            "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBInstitutionalClaimSubType",
            s,
        );
    }
    e
}

fn bundle(resources: Vec<Value>) -> String {
    json!({"resourceType": "Bundle", "type": "collection",
        "entry": resources.into_iter().map(|r| json!({"fullUrl": format!("urn:uuid:{}", r["id"].as_str().unwrap()), "resource": r})).collect::<Vec<_>>()})
    .to_string()
}

/// The four claim types of the IG's examples, for the subscriber and a dependent, plus a patient
/// who is not on the roster.
fn claims_bundle() -> String {
    let mut inpatient = eob("inp", "INP-1", "institutional", Some("inpatient"), "p1", vec![]);
    // As the IG's own inpatient example: header adjudications, a copay, member liability 0.
    inpatient["adjudication"] = json!([adj("submitted", 2650.0), adj("benefit", 2600.0), adj("copay", 50.0)]);
    inpatient["total"] = json!([
        total("submitted", 2650.0),
        total("benefit", 2600.0),
        total("memberliability", 0.0)
    ]);
    inpatient["benefitBalance"] = json!([{"category": coding("http://terminology.hl7.org/CodeSystem/ex-benefitcategory", "1"),
    "financial": [
        {"type": coding("http://terminology.hl7.org/CodeSystem/benefit-type", "deductible"), "allowedMoney": {"value": 1500, "currency": "USD"}, "usedMoney": {"value": 400, "currency": "USD"}}
    ]}]);
    let mut outpatient = eob(
        "out",
        "OUT-1",
        "institutional",
        Some("outpatient"),
        "p1",
        vec![line(
            1,
            "71046",
            vec![
                adj("submitted", 300.0),
                adj("eligible", 240.0),
                adj("benefit", 192.0),
                adj("coinsurance", 48.0),
                adj("memberliability", 48.0),
            ],
        )],
    );
    outpatient["item"][0]["revenue"] = coding("https://www.nubc.org/CodeSystem/RevenueCodes", "0320");
    let mut professional = eob(
        "pro",
        "PRO-1",
        "professional",
        None,
        "p1",
        vec![
            line(
                1,
                "99213",
                vec![
                    adj("submitted", 200.0),
                    adj("eligible", 150.0),
                    adj("deductible", 100.0),
                    adj("benefit", 50.0),
                    adj("memberliability", 100.0),
                ],
            ),
            // A reversal of a line billed twice: it nets out.
            line(2, "99213", vec![adj("submitted", 200.0), adj("memberliability", 30.0)]),
            line(
                3,
                "99213",
                vec![adj("submitted", -200.0), adj("memberliability", -30.0)],
            ),
        ],
    );
    professional["insurance"] = json!([{"focal": true, "coverage": {"reference": "Coverage/cov1"}}]);
    let mut pharmacy = eob(
        "rx",
        "RX-1",
        "pharmacy",
        None,
        DEPENDENT_PATIENT,
        vec![line(
            1,
            "00093-7424-56",
            vec![
                adj("submitted", 40.0),
                adj("benefit", 30.0),
                adj("copay", 10.0),
                adj("memberliability", 10.0),
            ],
        )],
    );
    pharmacy["item"][0]["productOrService"]["coding"][0]["system"] = json!("http://hl7.org/fhir/sid/ndc");
    let stranger = eob(
        "x",
        "X-1",
        "professional",
        None,
        "p9",
        vec![line(1, "99213", vec![adj("memberliability", 5.0)])],
    );
    bundle(vec![
        patient("p1", SUBSCRIBER),
        patient(DEPENDENT_PATIENT, DEPENDENT),
        patient("p9", "M399999999"),
        org("payer", "Carebill Demo Health Plan"),
        org("clinic", "Bay Family Practice, P.C."),
        inpatient,
        outpatient,
        professional,
        pharmacy,
        stranger,
        json!({"resourceType": "Coverage", "id": "cov1", "status": "active", "beneficiary": {"reference": "Patient/p1"}}),
    ])
}

const DEPENDENT_PATIENT: &str = "p2";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(db: &Db, roster: Option<&Path>, fhir: &[PathBuf], strict: bool) -> Result<ImportSummary, ImportError> {
    off_runtime(|| {
        let sources = Sources {
            roster,
            bills: None,
            fhir,
            strict,
        };
        import::import(db, &sources, &MemberIdRule::default(), start_instant())
    })
}

fn roster(dir: &Path) -> PathBuf {
    write(
        dir,
        "roster.csv",
        &format!("member_id,first_name,last_name,date_of_birth\n{DEPENDENT},Sam,Lee,2012-03-04\n"),
    )
}

async fn claim_rows(s: &TestServer) -> (i64, i64) {
    (
        s.count("SELECT COUNT(*) FROM claims").await,
        s.count("SELECT COUNT(*) FROM claims WHERE status = 'active'").await,
    )
}

async fn list(s: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let r = s.get(&format!("/v1/claims?{query}"), token).await;
    r.expect(200);
    r.body["data"].as_array().unwrap().clone()
}

fn numbers(claims: &[Value]) -> Vec<&str> {
    claims.iter().map(|c| c["claim_number"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_import_loads_every_claim_type_for_members_and_dependents_and_a_reimport_updates() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = &s.server.state.db;
    let seeded = claim_rows(&s).await;
    let file = write(dir.path(), "eobs.json", &claims_bundle());
    let roster = roster(dir.path());
    let summary = run(db, Some(&roster), std::slice::from_ref(&file), false).unwrap();
    assert_eq!(
        (
            summary.members,
            summary.claims_added,
            summary.claims_updated,
            summary.claims_hidden,
            summary.claims_skipped
        ),
        (1, 4, 0, 0, 1),
        "four claims, one patient not on the roster skipped and counted"
    );
    // Again: updated by claim number, never duplicated.
    let again = run(db, None, std::slice::from_ref(&file), false).unwrap();
    assert_eq!((again.claims_added, again.claims_updated), (0, 4));
    assert_eq!(claim_rows(&s).await, (seeded.0 + 4, seeded.1 + 4));
    // --strict refuses the patient who is not on the roster, and writes nothing.
    let err = run(db, None, std::slice::from_ref(&file), true).unwrap_err();
    assert!(matches!(err, ImportError::NotOnRoster { count: 1, .. }), "{err}");
    assert!(err.to_string().contains("M399999999"), "{err}");

    let token = s.demo_token().await;
    let mine = list(&s, &token, "year=2026&limit=100").await;
    let imported: Vec<&Value> = mine
        .iter()
        .filter(|c| !c["claim_number"].as_str().unwrap().starts_with("CLM-"))
        .collect();
    let mut got: Vec<&str> = imported.iter().map(|c| c["claim_number"].as_str().unwrap()).collect();
    got.sort();
    assert_eq!(
        got,
        ["INP-1", "OUT-1", "PRO-1"],
        "the dependent's claim is theirs, not the subscriber's"
    );
    let by = |n: &str| {
        imported
            .iter()
            .find(|c| c["claim_number"] == n)
            .unwrap()
            .to_owned()
            .clone()
    };
    let inp = by("INP-1");
    assert_eq!(inp["kind"], "inpatient");
    // Kept as the EOB says: a copay of $50.00 and a member liability of $0.00, both shown.
    assert_eq!(
        (
            inp["member_owes"].as_str(),
            inp["member_costs"][0]["category"].as_str(),
            inp["member_costs"][0]["amount"].as_str()
        ),
        (Some("0.00"), Some("copay"), Some("50.00"))
    );
    assert_eq!(inp["provider"], "Bay Family Practice, P.C.");
    assert_eq!(inp["patient_name"], "Jordan Lee");
    let pro = by("PRO-1");
    assert_eq!(
        (
            pro["billed"].as_str(),
            pro["allowed"].as_str(),
            pro["plan_paid"].as_str(),
            pro["member_owes"].as_str()
        ),
        (Some("200.00"), Some("150.00"), Some("50.00"), Some("100.00")),
        "the reversed line nets out"
    );
    assert_eq!(by("OUT-1")["kind"], "outpatient");

    // The detail: lines with every adjudication, totals, the benefit balance.
    let id = pro["id"].as_str().unwrap();
    let detail = s.get(&format!("/v1/claims/{id}"), &token).await;
    detail.expect(200);
    assert_eq!(detail.body["lines"].as_array().unwrap().len(), 3);
    assert_eq!(detail.body["lines"][0]["amounts"].as_array().unwrap().len(), 5);
    assert_eq!(detail.body["lines"][2]["amounts"][0]["amount"], "-200.00");
    let inp_detail = s
        .get(&format!("/v1/claims/{}", inp["id"].as_str().unwrap()), &token)
        .await;
    assert_eq!(
        inp_detail.body["benefit_balance"][0],
        json!({"kind": "deductible", "limit": "1500.00", "used": "400.00"})
    );
    assert_eq!(inp_detail.body["adjudications"].as_array().unwrap().len(), 3);
    let out_detail = s
        .get(&format!("/v1/claims/{}", by("OUT-1")["id"].as_str().unwrap()), &token)
        .await;
    assert_eq!(out_detail.body["lines"][0]["revenue_code"], "0320");

    // The dependent's claim is not the subscriber's to read.
    let rx_id: String = s
        .server
        .state
        .db
        .read(|c| Ok(c.query_row("SELECT id FROM claims WHERE claim_number = 'RX-1'", [], |r| r.get(0))?))
        .await
        .unwrap();
    s.get(&format!("/v1/claims/{rx_id}"), &token)
        .await
        .expect_error(404, "claim_not_found");
    s.stop().await;
}

#[tokio::test]
async fn cancelled_and_adjusted_claims_leave_the_members_view_and_the_feed_says_so() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = &s.server.state.db;
    let token = s.demo_token().await;
    let first = write(dir.path(), "first.json", &claims_bundle());
    run(db, Some(&roster(dir.path())), &[first], false).unwrap();
    let (_, cursor, _, _) = sync_all(&s, &token, "").await;

    // An adjusted claim replaces PRO-1 (related), and OUT-1 is cancelled. NDJSON this time, one
    // file per resource type, as a Bulk Data export writes them, in a directory.
    let export = dir.path().join("export");
    std::fs::create_dir(&export).unwrap();
    let mut adjusted = eob(
        "pro2",
        "PRO-2",
        "professional",
        None,
        "p1",
        vec![line(
            1,
            "99213",
            vec![adj("submitted", 200.0), adj("memberliability", 80.0)],
        )],
    );
    adjusted["related"] = json!([{"claim": {"identifier": {"value": "PRO-1"}}, "relationship": coding("http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship", "prior")}]);
    let mut cancelled = eob("out", "OUT-1", "institutional", Some("outpatient"), "p1", vec![]);
    cancelled["status"] = json!("cancelled");
    write(
        &export,
        "ExplanationOfBenefit.ndjson",
        &format!("{adjusted}\n{cancelled}\n"),
    );
    write(&export, "Patient.ndjson", &patient("p1", SUBSCRIBER).to_string());
    write(
        &export,
        "Organization.ndjson",
        &format!("{}\n{}\n", org("payer", "Plan"), org("clinic", "Bay Family Practice")),
    );
    write(
        &export,
        "notes.txt",
        "not read: only .json and .ndjson files of a directory are",
    );
    let summary = run(db, None, &[export], false).unwrap();
    assert_eq!((summary.claims_added, summary.claims_hidden), (1, 1));

    let mine = numbers(&list(&s, &token, "provider=bay%20family").await)
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    assert!(
        mine.contains(&"PRO-2".to_string()) && mine.contains(&"INP-1".to_string()),
        "{mine:?}"
    );
    assert!(
        !mine.contains(&"PRO-1".to_string()),
        "never both the original and its adjustment"
    );
    assert!(!mine.contains(&"OUT-1".to_string()), "a cancelled claim is gone");
    let (changes, ..) = sync_all(&s, &token, &cursor).await;
    let ops: Vec<(String, String)> = changes
        .iter()
        .filter(|c| c["entity"] == "claim")
        .map(|c| {
            (
                c["op"].as_str().unwrap().to_string(),
                c.get("data").map_or(String::new(), |d| {
                    d["claim_number"].as_str().unwrap_or_default().to_string()
                }),
            )
        })
        .collect();
    assert_eq!(ops.iter().filter(|(op, _)| op == "delete").count(), 2, "{ops:?}");
    assert!(ops.contains(&("upsert".into(), "PRO-2".into())), "{ops:?}");

    // The original arriving again after its adjustment stays replaced.
    let again = write(dir.path(), "again.json", &claims_bundle());
    run(db, None, &[again], false).unwrap();
    let now = numbers(&list(&s, &token, "year=2026&limit=100").await)
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    assert!(!now.contains(&"PRO-1".to_string()), "{now:?}");
    assert!(
        now.contains(&"OUT-1".to_string()),
        "a later active EOB for the same claim number is shown again"
    );
    s.stop().await;
}

#[tokio::test]
async fn every_kind_of_bad_input_is_named_and_writes_nothing() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = &s.server.state.db;
    let before = claim_rows(&s).await;
    let members = s.count("SELECT COUNT(*) FROM roster").await;
    let good = claims_bundle();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v: Value = serde_json::from_str(&good).unwrap();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed JSON", "{\"resourceType\": \"Bundle\", ".into(), "line 1"),
        (
            "unknown reference",
            with(&|v| v["entry"][5]["resource"]["patient"]["reference"] = json!("Patient/nobody")),
            "patient.reference",
        ),
        (
            "not USD",
            with(&|v| v["entry"][7]["resource"]["item"][0]["adjudication"][0]["amount"]["currency"] = json!("EUR")),
            "item[0].adjudication[0].amount.currency",
        ),
        (
            "unknown coverage",
            with(&|v| v["entry"][7]["resource"]["insurance"][0]["coverage"]["reference"] = json!("Coverage/none")),
            "insurance[0].coverage.reference",
        ),
        (
            "missing status",
            with(&|v| {
                v["entry"][6]["resource"].as_object_mut().unwrap().remove("status");
            }),
            "status",
        ),
        (
            "three decimals",
            with(&|v| v["entry"][7]["resource"]["item"][0]["adjudication"][0]["amount"]["value"] = json!(1.005)),
            "amount.value",
        ),
        (
            "no service date",
            with(&|v| {
                let r = v["entry"][5]["resource"].as_object_mut().unwrap();
                r.remove("billablePeriod");
            }),
            "billablePeriod.start",
        ),
        (
            "claim twice",
            with(&|v| v["entry"][6]["resource"]["identifier"][0]["value"] = json!("INP-1")),
            "appears twice",
        ),
    ];
    for (name, text, says) in cases {
        let file = write(dir.path(), "bad.json", &text);
        let roster = roster(dir.path());
        let err = run(db, Some(&roster), &[file], false).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, ImportError::Fhir(_)), "{name}: {message}");
        assert!(message.contains(says), "{name}: {message}");
        assert!(message.contains("bad.json"), "{name} names the file: {message}");
        if name != "malformed JSON" {
            assert!(
                message.contains("ExplanationOfBenefit/"),
                "{name} names the resource: {message}"
            );
        }
        assert_eq!(claim_rows(&s).await, before, "{name} wrote no claim");
        assert_eq!(
            s.count("SELECT COUNT(*) FROM roster").await,
            members,
            "{name} wrote no roster row"
        );
    }
    // A good file with a bad one: all or nothing across files.
    let good_file = write(dir.path(), "good.json", &good);
    let bad_file = write(dir.path(), "worse.json", "not json at all");
    assert!(run(db, None, &[good_file, bad_file], false).is_err());
    assert_eq!(claim_rows(&s).await, before);
    s.stop().await;
}

#[tokio::test]
async fn the_claims_list_filters_pages_and_refuses_bad_parameters() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    // The demo member's seeded claims: one for each bill.
    let bills = s.all_bills(&token, "all").await;
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = s.get(&format!("/v1/claims?limit=3&cursor={cursor}"), &token).await;
        r.expect(200);
        all.extend(r.body["data"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(all.len(), bills.len());
    let dates: Vec<&str> = all.iter().map(|c| c["service_date_from"].as_str().unwrap()).collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "newest service first: {dates:?}"
    );
    // Every bill but the fourth names its claim; the claim is found by its number.
    let named: Vec<&Value> = bills.iter().filter(|b| b.get("claim_number").is_some()).collect();
    assert_eq!(named.len(), bills.len() - 1);
    let n = named[0]["claim_number"].as_str().unwrap();
    assert_eq!(numbers(&list(&s, &token, &format!("claim_number={n}")).await), [n]);
    // By year and provider.
    let year: i32 = dates[0][..4].parse().unwrap();
    let in_year = list(&s, &token, &format!("year={year}&limit=100")).await;
    assert!(
        in_year
            .iter()
            .all(|c| c["service_date_from"].as_str().unwrap().starts_with(&year.to_string()))
    );
    assert!(list(&s, &token, "year=2001").await.is_empty());
    let provider = all[0]["facility"].as_str().unwrap();
    let word = provider.split(' ').next().unwrap().to_lowercase();
    let by_provider = list(&s, &token, &format!("provider={word}&limit=100")).await;
    assert!(!by_provider.is_empty());
    assert!(
        list(&s, &token, "provider=%25").await.is_empty(),
        "a wildcard is a character, not a pattern"
    );

    for (query, field) in [
        ("year=1999", "/year"),
        ("year=twenty", "/year"),
        ("provider=", "/provider"),
        ("claim_number=a%20b", "/claim_number"),
        ("limit=0", "/limit"),
    ] {
        let r = s.get(&format!("/v1/claims?{query}"), &token).await;
        r.expect_error(422, "validation_failed");
        assert_eq!(r.field(), field, "{query}");
    }
    // A cursor of another filter or member is refused.
    let first = s.get("/v1/claims?limit=1", &token).await;
    let c = first.body["next_cursor"].as_str().unwrap();
    s.get(&format!("/v1/claims?limit=1&year={year}&cursor={c}"), &token)
        .await
        .expect_error(400, "invalid_cursor");
    s.get("/v1/claims/clm_nothing", &token)
        .await
        .expect_error(404, "claim_not_found");
    s.stop().await;
}

#[tokio::test]
async fn a_plan_with_its_own_member_id_format_registers_signs_in_and_imports_with_it() {
    let s = TestServer::start_with(|c| {
        if let Some(plan) = c.plan.as_mut() {
            plan.member_id = carebill_api::types::MemberIdFormat {
                pattern: "[0-9]{11}".into(),
                example: "88800933501".into(),
            };
        }
    })
    .await;
    let plan = s.get("/v1/plan", "").await;
    assert_eq!(
        plan.body["member_id"],
        json!({"pattern": "[0-9]{11}", "example": "88800933501"})
    );
    let dir = tempfile::tempdir().unwrap();
    let db = &s.server.state.db;
    let rule = MemberIdRule::new("[0-9]{11}", "88800933501").unwrap();
    let roster = write(
        dir.path(),
        "roster.csv",
        "member_id,first_name,last_name,date_of_birth\n88800933501,Alex,Rivera,1985-04-12\n",
    );
    let with_rule = |roster: &Path| {
        off_runtime(|| {
            import::import(
                db,
                &Sources {
                    roster: Some(roster),
                    ..Default::default()
                },
                &rule,
                start_instant(),
            )
        })
    };
    with_rule(&roster).unwrap();
    // The default format is refused in this plan's roster.
    let old = write(
        dir.path(),
        "old.csv",
        "member_id,first_name,last_name,date_of_birth\nM200000009,Old,Format,1985-04-12\n",
    );
    let err = with_rule(&old).unwrap_err();
    assert!(err.to_string().contains("like 88800933501"), "{err}");

    let mut body = alex("a long and unusual passphrase");
    body["member_id"] = json!(" 88800933501 ");
    s.post("/v1/accounts", body.clone()).await.expect(201);
    s.confirm_email(body["email"].as_str().unwrap()).await;
    s.sign_in("88800933501", "a long and unusual passphrase").await;
    body["member_id"] = json!("M200000002");
    let refused = s.post("/v1/accounts", body).await;
    refused.expect_error(422, "validation_failed");
    assert_eq!(refused.field(), "/member_id");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("88800933501")
    );
    s.stop().await;
}
