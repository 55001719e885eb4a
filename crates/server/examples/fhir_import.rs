//! Times `carebill-server import --fhir` of N generated CARIN Blue Button EOBs (5 lines of 8
//! adjudications each, with totals and the benefit balance) for 1,000 roster members, written as
//! a Bulk Data export writes them (one NDJSON file per resource type), into a real encrypted
//! database in a temp dir, or PostgreSQL when `CAREBILL_DATABASE_URL` names an empty database.
//! Then times importing the same files again (every claim updated). Used by
//! `cargo xtask bench payments [--postgres]`.
//!
//! `cargo run --release -p carebill-server --example fhir_import -- [EOBS]`

use std::fmt::Write as _;
use std::time::Instant;

use carebill_server::app;
use carebill_server::config::ServerConfig;
use carebill_server::import::{self, Sources};

const MEMBERS: usize = 1_000;
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

/// A last name of letters only for member `i`: "Baa", "Bab", ...
fn surname(i: usize) -> String {
    let letter = |n: usize| char::from(b'a' + (n % 26) as u8);
    format!("B{}{}{}", letter(i / 676), letter(i / 26), letter(i))
}

fn member(i: usize) -> String {
    format!("M7{:08}", i % MEMBERS)
}

fn eob(i: usize) -> String {
    let mut items = String::new();
    for line in 0..5 {
        if line > 0 {
            items.push(',');
        }
        let mut adjudication = String::new();
        for (k, category) in CATEGORIES.iter().enumerate() {
            if k > 0 {
                adjudication.push(',');
            }
            let cents = (i * 37 + line * 11 + k * 101) % 90_000;
            let _ = write!(
                adjudication,
                r#"{{"category":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/adjudication","code":"{category}"}}]}},"amount":{{"value":{}.{:02},"currency":"USD"}}}}"#,
                cents / 100,
                cents % 100
            );
        }
        let _ = write!(
            items,
            r#"{{"sequence":{},"servicedDate":"2026-{:02}-{:02}","productOrService":{{"coding":[{{"system":"http://www.ama-assn.org/go/cpt","code":"9921{line}","display":"Office or other outpatient visit"}}]}},"quantity":{{"value":1}},"adjudication":[{adjudication}]}}"#,
            line + 1,
            1 + i % 12,
            1 + i % 28
        );
    }
    format!(
        r#"{{"resourceType":"ExplanationOfBenefit","id":"eob{i}","meta":{{"profile":["http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-ExplanationOfBenefit-Professional-NonClinician"]}},"identifier":[{{"type":{{"coding":[{{"system":"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType","code":"uc"}}]}},"value":"BENCH-{i:09}"}}],"status":"active","type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}}]}},"use":"claim","patient":{{"reference":"Patient/p{}"}},"billablePeriod":{{"start":"2026-{:02}-{:02}"}},"insurer":{{"reference":"Organization/payer"}},"provider":{{"reference":"Organization/o{}"}},"outcome":"complete","item":[{items}],"total":[{{"category":{{"coding":[{{"code":"submitted"}}]}},"amount":{{"value":1250.00,"currency":"USD"}}}},{{"category":{{"coding":[{{"code":"memberliability"}}]}},"amount":{{"value":180.00,"currency":"USD"}}}}],"benefitBalance":[{{"category":{{"coding":[{{"code":"1"}}]}},"financial":[{{"type":{{"coding":[{{"code":"deductible"}}]}},"allowedMoney":{{"value":1500,"currency":"USD"}},"usedMoney":{{"value":400,"currency":"USD"}}}}]}}]}}"#,
        i % MEMBERS,
        1 + i % 12,
        1 + i % 28,
        i % 50
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new("127.0.0.1:0".parse()?, dir.path().join("data"));
    config.database_url = std::env::var("CAREBILL_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|u| carebill_server::config::check_database_url(&u))
        .transpose()?;
    let db = app::open_database(&config)?;
    let rule = Default::default();

    // The roster, as the plan loads it first.
    let roster = dir.path().join("roster.csv");
    let mut csv = String::from("member_id,first_name,last_name,date_of_birth\n");
    for i in 0..MEMBERS {
        let _ = writeln!(csv, "{},Member,{},1980-01-01", member(i), surname(i));
    }
    std::fs::write(&roster, csv)?;
    import::import(
        &db,
        &Sources {
            roster: Some(&roster),
            ..Default::default()
        },
        &rule,
        chrono::Utc::now(),
    )?;

    // The export: one file per resource type.
    let export = dir.path().join("export");
    std::fs::create_dir(&export)?;
    let mut patients = String::new();
    for i in 0..MEMBERS {
        let _ = writeln!(
            patients,
            r#"{{"resourceType":"Patient","id":"p{i}","identifier":[{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MB"}}]}},"value":"{}"}}],"name":[{{"family":"{}","given":["Member"]}}]}}"#,
            member(i),
            surname(i)
        );
    }
    std::fs::write(export.join("Patient.ndjson"), patients)?;
    let mut orgs = String::from(r#"{"resourceType":"Organization","id":"payer","name":"Carebill Demo Health Plan"}"#);
    orgs.push('\n');
    for i in 0..50 {
        let _ = writeln!(
            orgs,
            r#"{{"resourceType":"Organization","id":"o{i}","name":"Provider Group {i}"}}"#
        );
    }
    std::fs::write(export.join("Organization.ndjson"), orgs)?;
    let mut eobs = String::with_capacity(count * 4_200);
    for i in 0..count {
        eobs.push_str(&eob(i));
        eobs.push('\n');
    }
    let megabytes = eobs.len() as f64 / 1e6;
    std::fs::write(export.join("ExplanationOfBenefit.ndjson"), eobs)?;

    // Reading and checking alone (what the import does before it writes anything).
    let started = Instant::now();
    let mut reader = carebill_server::fhir::Reader::new();
    for name in ["Patient.ndjson", "Organization.ndjson", "ExplanationOfBenefit.ndjson"] {
        let path = export.join(name);
        reader.add_file(name, &std::fs::read_to_string(&path)?)?;
    }
    let read = reader.read()?.claims.len();
    println!("reading {read} EOBs alone: {:.2} s", started.elapsed().as_secs_f64());

    let files = [export];
    let sources = Sources {
        fhir: &files,
        ..Default::default()
    };
    for (run, what) in [(0, "new"), (1, "re-imported (every claim updated)")] {
        let started = Instant::now();
        let summary = import::import(&db, &sources, &rule, chrono::Utc::now())?;
        let seconds = started.elapsed().as_secs_f64();
        let done = summary.claims_added + summary.claims_updated;
        assert_eq!(done, count, "run {run}: {summary:?}");
        println!(
            "{count} EOBs ({megabytes:.0} MB of NDJSON) {what}: {seconds:.2} s, {:.0} EOBs/s",
            count as f64 / seconds
        );
    }
    Ok(())
}
