//! Claims in the real app window, by visible labels: a bill says why the member owes it and that
//! it differs from the plan's claim (and by how much, with what to ask), the claim opens from it
//! and says it is not a bill, a bill that agrees says so, and the Claims screen lists them. Every
//! screen is checked with axe.

use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, cents, usd};
use serde_json::Value;

use crate::sign_in;

async fn open_bill(app: &App, statement: &str) {
    app.click("Bills").await;
    app.screen("Bills").await;
    app.click("All").await;
    app.open_bill_by_statement(statement).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bill_explains_what_is_owed_flags_a_difference_with_its_claim_and_opens_the_claim() {
    let backend = Backend::start().await;
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let claims = backend.get(&token, "/v1/claims?limit=100").await;
    let claims = claims["data"].as_array().expect("claims").clone();
    let bills = backend.get(&token, "/v1/bills?status=all&limit=100").await;
    let bills = bills["data"].as_array().expect("bills").clone();
    let claim_of = |b: &Value| {
        claims
            .iter()
            .find(|c| Some(&c["claim_number"]) == b.get("claim_number"))
            .cloned()
    };
    let (differs, differs_claim) = bills
        .iter()
        .find_map(|b| {
            claim_of(b)
                .filter(|c| c["member_owes"] != b["amount_due"])
                .map(|c| (b.clone(), c))
        })
        .expect("a bill that differs from its claim");
    let matching = bills
        .iter()
        .find(|b| claim_of(b).is_some_and(|c| c["member_owes"] == b["amount_due"]))
        .expect("a bill that matches its claim")
        .clone();

    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;

    open_bill(&app, differs["statement_number"].as_str().expect("statement")).await;
    app.sees("Why you owe this").await;
    app.sees("Differs by $20.00").await;
    let first_cost = &differs_claim["member_costs"][0];
    let why = format!(
        "{} {}",
        match first_cost["category"].as_str().expect("category") {
            "deductible" => "Deductible",
            "copay" => "Copay",
            _ => "Coinsurance",
        },
        usd(cents(first_cost["amount"].as_str().expect("amount")))
    );
    app.sees(&why).await;
    let number = differs_claim["claim_number"].as_str().expect("number");
    app.sees("This bill asks for $20.00 more than your claim says").await;
    app.axe("bill with its claim").await;
    app.click(&format!("See claim {number}")).await;
    app.sees("This is not a bill.").await;
    app.sees(number).await;
    app.sees("Services on this claim").await;
    app.axe("claim").await;
    app.click("← Back to the bill").await;
    app.sees("Why you owe this").await;

    open_bill(&app, matching["statement_number"].as_str().expect("statement")).await;
    app.sees("Matches your claim").await;

    app.click("Claims").await;
    app.screen("Claims").await;
    app.sees("Claims, newest service first").await;
    app.axe("claims").await;
    app.quit().await;
}

/// A subscriber's bill for a dependent's care names the patient; the member's own bills name them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependents_bill_names_the_patient() {
    let backend = Backend::start().await;
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let bills = backend.get(&token, "/v1/bills?status=all&limit=100").await;
    let bills = bills["data"].as_array().expect("bills").clone();
    let statement = |dependent: bool| {
        bills
            .iter()
            .find(|b| b.get("patient_name").is_some() == dependent)
            .expect("a bill")["statement_number"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    for (dependent, patient) in [(true, "Riley Lee"), (false, "Jordan Lee")] {
        open_bill(&app, &statement(dependent)).await;
        app.until(&format!("the patient {patient}"), || async {
            match app.wd.find(thirtyfour::By::Id("bill-patient")).await {
                Ok(e) => e.text().await.is_ok_and(|t| t == patient),
                Err(_) => false,
            }
        })
        .await;
    }
    app.axe("a dependent's bill").await;
    app.quit().await;
}
