//! The app in Spanish (issue 17): chosen on the sign-in screen, then a whole payment in Spanish
//! (sign in, a bill, pay, the receipt) with the page's language set and axe clean on each screen,
//! and the account's mail language set from Account.

use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD};

use crate::the_bills_list_fits_its_cells;

async fn page_language(app: &App) -> String {
    let lang = app
        .wd
        .execute("return document.documentElement.lang;", vec![])
        .await
        .expect("script");
    lang.json().as_str().unwrap_or_default().to_string()
}

/// English the member would see if a screen were left untranslated.
const ENGLISH: [&str; 8] = [
    "You owe now",
    "Amount billed",
    "Insurance paid",
    "Payment history",
    "Pay this bill",
    "Confirmation number",
    "Questions about",
    "Sign out",
];

async fn all_spanish(app: &App, screen: &str) {
    assert_eq!(page_language(app).await, "es-US", "{screen}: <html lang>");
    let text = app.body_text().await;
    let left: Vec<&str> = ENGLISH.iter().copied().filter(|e| text.contains(e)).collect();
    assert!(left.is_empty(), "{screen} still says {left:?}");
    app.axe(&format!("{screen} in Spanish")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_pays_a_bill_in_spanish_from_sign_in_to_receipt() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    let _ = app.wd.set_window_rect(0, 0, 1200, 820).await;

    app.screen("Sign in").await;
    assert_eq!(page_language(&app).await, "en-US");
    app.click_xpath("//button[@lang='es']").await;
    app.screen("Inicie sesión en Carebill").await;
    all_spanish(&app, "sign-in").await;
    app.fill("login", DEMO_EMAIL).await;
    app.fill("password", DEMO_PASSWORD).await;
    app.click("Iniciar sesión").await;

    app.screen("Hola, Jordan").await;
    app.sees("Sincronizado").await;
    app.sees("Saldo total").await;
    all_spanish(&app, "dashboard").await;

    app.click("Ver facturas").await;
    app.screen("Facturas").await;
    app.sees("Usted debe ahora").await;
    all_spanish(&app, "bills").await;
    the_bills_list_fits_its_cells(&app).await;
    app.open_first_bill().await;
    app.sees("Cómo se calcula esta factura").await;
    app.sees("Cantidad facturada").await;
    // Dates with the month spelled out in Spanish ("15 de enero de 2025").
    app.sees("Fecha de vencimiento").await;
    let body = app.body_text().await;
    assert!(
        carebill_api::types::MESES
            .iter()
            .any(|m| body.contains(&format!(" de {m} de 20"))),
        "a Spanish date on the bill: {body}"
    );
    all_spanish(&app, "bill").await;

    app.click("Pagar esta factura").await;
    app.screen("Pagar facturas").await;
    app.sees("Visa •••• 4242").await;
    app.click_xpath("//label[starts-with(normalize-space(), 'Visa •••• 4242')]")
        .await;
    all_spanish(&app, "pay").await;
    app.click("Continuar para revisar").await;
    app.screen("Revise su pago").await;
    all_spanish(&app, "review").await;
    app.click_xpath("//button[starts-with(normalize-space(), 'Pagar $')]")
        .await;
    app.screen("Pago recibido").await;
    app.sees("Gracias. Recibimos su pago de $").await;
    all_spanish(&app, "confirmation").await;
    app.click("Ver recibo").await;
    app.screen("Recibo").await;
    app.sees("Facturas pagadas").await;
    all_spanish(&app, "receipt").await;

    // Account: English and back to Spanish sets the account's mail language too.
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    app.click("Cuenta").await;
    app.screen("Cuenta y configuración").await;
    app.check("language-en").await;
    app.screen("Account and settings").await;
    app.sees("Saved. Your emails will come in this language too.").await;
    assert_eq!(backend.get(&token, "/v1/me").await["locale"], "en");
    app.check("language-es").await;
    app.screen("Cuenta y configuración").await;
    app.sees("Guardado.").await;
    assert_eq!(backend.get(&token, "/v1/me").await["locale"], "es");
    all_spanish(&app, "account").await;
    app.quit().await;
}
