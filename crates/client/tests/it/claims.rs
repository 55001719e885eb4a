//! Claims through the engine: synced into the encrypted copy, listed and filtered there, linked to
//! bills ("Matches your claim", "Differs by", "Probably this claim"), the plan year's deductible,
//! gone when the plan cancels a claim, and readable offline.

use carebill_billing::Money;
use carebill_client::types::{BillQuery, BillStatusFilter, ClaimLink, ClaimQuery};
use carebill_server::import::{self, Sources};
use serde_json::json;

use crate::harness::*;

/// A cancelled EOB for one of the demo member's claims, as a plan's FHIR export writes it.
fn cancellation(claim_number: &str) -> String {
    json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1",
            "identifier": [{"type": {"coding": [{"code": "MB"}]}, "value": "M200000001"}]}},
        {"resource": {"resourceType": "ExplanationOfBenefit", "id": "e1",
            "identifier": [{"type": {"coding": [{"code": "uc"}]}, "value": claim_number}],
            "status": "cancelled",
            "type": {"coding": [{"code": "professional"}]},
            "patient": {"reference": "Patient/p1"},
            "billablePeriod": {"start": "2026-10-01"},
            "item": []}}
    ]})
    .to_string()
}

#[tokio::test]
async fn claims_sync_into_the_copy_explain_bills_and_stay_readable_offline() {
    let mut w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    let bills = e
        .bills(BillQuery {
            status: BillStatusFilter::All,
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let all = e
        .claims(ClaimQuery {
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total as usize, bills.bills.len(), "one claim behind each demo bill");
    let dates: Vec<_> = all.claims.iter().map(|c| c.service_date_from).collect();
    assert!(dates.windows(2).all(|p| p[0] >= p[1]), "newest service first");
    assert_eq!(all.years.first().copied(), dates[0].map(|d| chrono::Datelike::year(&d)));
    // Filters: a year, and a provider in any case.
    let year = all.years[0];
    let in_year = e
        .claims(ClaimQuery {
            year: Some(year),
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        in_year.total as usize,
        all.claims
            .iter()
            .filter(|c| c.service_date_from.is_some_and(|d| chrono::Datelike::year(&d) == year))
            .count()
    );
    let provider = all.claims[0].provider.clone().unwrap();
    let by_provider = e
        .claims(ClaimQuery {
            provider: Some(provider.to_lowercase()),
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(by_provider.total >= 1);
    assert!(
        by_provider
            .claims
            .iter()
            .all(|c| c.provider.as_deref() == Some(provider.as_str()))
    );

    // Each bill against its claim: the seeded data names the claim on every bill but one, and
    // the second bill's claim says $20.00 less.
    let mut matched = 0;
    let (mut differs, mut probable) = (None, None);
    for row in &bills.bills {
        let view = e.bill(&row.bill.id).await.unwrap();
        for c in &view.claims {
            match (c.link, c.matches) {
                (ClaimLink::Named, true) => {
                    matched += 1;
                    assert_eq!(c.member_owes, Some(view.bill.bill.amount_due));
                    assert!(c.difference.is_zero());
                }
                (ClaimLink::Named, false) => differs = Some((view.bill.bill.id.clone(), c.clone())),
                (ClaimLink::Probable, _) => probable = Some((view.bill.bill.id.clone(), c.clone())),
            }
        }
    }
    assert_eq!(matched, bills.bills.len() - 2);
    let (differs_bill, differs) = differs.expect("the bill whose claim says less");
    assert_eq!(
        (differs.difference, differs.bill_is_higher),
        (Money::from_cents(2_000), true)
    );
    assert!(!differs.member_costs.is_empty(), "why the member owes it");
    let (probable_bill, probable) = probable.expect("the bill without a claim number");
    assert!(!probable.matches, "only the claim number makes a match");
    // The claim knows its bill back.
    let claim = e.claim(&probable.claim_id).await.unwrap();
    assert!(claim.bills.iter().any(|b| b.bill_id == probable_bill));
    assert!(!claim.claim.lines.is_empty());
    // The plan year's deductible, from the latest claim that says.
    let dashboard = e.dashboard().await.unwrap();
    let today = dashboard.freshness.business_date;
    if in_year.claims.iter().any(|c| {
        c.service_date_from
            .is_some_and(|d| chrono::Datelike::year(&d) == chrono::Datelike::year(&today))
    }) {
        let deductible = dashboard
            .benefits
            .iter()
            .find(|b| b.kind == "deductible")
            .expect("deductible progress");
        assert_eq!(deductible.limit, Money::from_cents(150_000));
        assert_eq!(
            deductible.remaining.cents(),
            deductible.limit.cents() - deductible.used.cents()
        );
    }

    // The plan cancels the differing bill's claim: the next sync takes it out of the copy.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cancel.json");
    std::fs::write(&file, cancellation(&differs.claim_number)).unwrap();
    let db = w.server().state.db.clone();
    std::thread::spawn(move || {
        import::import(
            &db,
            &Sources {
                fhir: &[file],
                ..Default::default()
            },
            &Default::default(),
            chrono::Utc::now(),
        )
        .unwrap()
    })
    .join()
    .unwrap();
    e.sync().await.unwrap();
    assert!(e.bill(&differs_bill).await.unwrap().claims.is_empty());
    assert_eq!(e.claim(&differs.claim_id).await.unwrap_err().code, "claim_not_found");
    let after = e.claims(ClaimQuery::default()).await.unwrap();
    assert_eq!(after.total, all.total - 1);

    // Offline: the copy still has them.
    e.sign_out(false).await.unwrap();
    w.stop_server().await;
    let e = w.engine();
    e.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let offline = e.claims(ClaimQuery::default()).await.unwrap();
    assert!(offline.freshness.offline);
    assert_eq!(offline.total, after.total);
    assert!(!e.claim(&probable.claim_id).await.unwrap().claim.lines.is_empty());
}
