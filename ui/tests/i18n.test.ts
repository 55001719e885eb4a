// The app in English and Spanish (issue 17): the catalogs agree with each other and with the code,
// every engine and server error code has its Spanish sentence, no screen keeps English words of its
// own in its markup, and every screen renders in both languages with the page's language set,
// nothing left in English when Spanish is chosen, and no axe violations.
import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { Component } from "svelte";
import en from "../src/lib/i18n/en.json";
import es from "../src/lib/i18n/es.json";
import errorsEs from "../src/lib/i18n/errors.es.json";
import { accountLocale, chooseLocale, errorText, failureText, i18n, pluralOf, resetLocale, t, TAG, type Locale } from "../src/lib/i18n/index.svelte";
import { app, boot, signedIn, useLanguage } from "../src/lib/app.svelte";
import { date, dateTime, ago, paidTo } from "../src/lib/format";
import SignIn from "../src/screens/SignIn.svelte";
import Register from "../src/screens/Register.svelte";
import Verify from "../src/screens/Verify.svelte";
import Forgot from "../src/screens/Forgot.svelte";
import Reset from "../src/screens/Reset.svelte";
import OfflineUnlock from "../src/screens/OfflineUnlock.svelte";
import Welcome from "../src/screens/Welcome.svelte";
import GuestLookup from "../src/screens/GuestLookup.svelte";
import GuestPay from "../src/screens/GuestPay.svelte";
import Dashboard from "../src/screens/Dashboard.svelte";
import Bills from "../src/screens/Bills.svelte";
import BillDetail from "../src/screens/BillDetail.svelte";
import Claims from "../src/screens/Claims.svelte";
import ClaimDetail from "../src/screens/ClaimDetail.svelte";
import History from "../src/screens/History.svelte";
import Receipt from "../src/screens/Receipt.svelte";
import Help from "../src/screens/Help.svelte";
import Account from "../src/screens/Account.svelte";
import Notices from "../src/screens/Notices.svelte";
import Methods from "../src/screens/Methods.svelte";
import Autopay from "../src/screens/Autopay.svelte";
import Pay from "../src/screens/Pay.svelte";
import PaymentPlan from "../src/screens/PaymentPlan.svelte";
import Messages from "../src/screens/Messages.svelte";
import ConversationScreen from "../src/screens/Conversation.svelte";
import Ask from "../src/screens/Ask.svelte";
import { BILL, BILL_CLAIMS, BILL_ROW, CLAIM, CLAIM_DETAIL, CONVERSATION, CONVERSATIONS, DASHBOARD, FRESH, MEMBER, noViolations, PAYMENT, PAYMENT_PLAN, PLAN_PREVIEW, SCHEDULED, VISA } from "./fixtures";
import { PLAN } from "./plan";
import { callsTo, respond } from "./tauri";

const EN = en as Record<string, string>;
const ES = es as Record<string, string>;
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

afterEach(() => resetLocale("en"));

describe("The catalogs", () => {
  it("have the same keys in English and Spanish, with the same placeholders and no empty text", () => {
    expect(Object.keys(ES).sort()).toEqual(Object.keys(EN).sort());
    for (const key of Object.keys(EN)) {
      expect(ES[key].trim(), key).not.toBe("");
      expect(placeholders(ES[key]), key).toEqual(placeholders(EN[key]));
    }
    // Plurals come in pairs.
    for (const key of Object.keys(EN).filter((k) => k.endsWith("_one"))) expect(EN[key.replace(/_one$/, "_other")], key).toBeDefined();
  });

  it("name no key the code does not use, and the code names no key they lack", () => {
    const sources = import.meta.glob(["../src/**/*.svelte", "../src/**/*.ts", "!../src/lib/bindings.ts"], { query: "?raw", import: "default", eager: true }) as Record<string, string>;
    const code = Object.values(sources).join("\n");
    const used = new Set([...code.matchAll(/"([a-z_]+\.[a-z0-9_]+)"/g)].map((m) => m[1]));
    const stem = (k: string) => k.replace(/_(one|other)$/, "");
    expect(Object.keys(EN).filter((k) => !used.has(stem(k)))).toEqual([]);
    const namespaces = new Set(Object.keys(EN).map((k) => k.split(".")[0]));
    const missing = [...used].filter((k) => namespaces.has(k.split(".")[0]) && !(k in EN) && !(`${k}_other` in EN));
    expect(missing).toEqual([]);
  });

  it("keep the glossary's Spanish terms (ui/src/lib/i18n/glossary.md)", () => {
    const glossary = Object.values(import.meta.glob("../src/lib/i18n/glossary.md", { query: "?raw", import: "default", eager: true }))[0] as string;
    const rows = [...glossary.matchAll(/^\| ([^|]+?) \| ([^|]+?) \|/gm)].map((m) => [m[1], m[2]]).filter(([e]) => e !== "English (the app's term)" && !e.startsWith("---"));
    const table = Object.fromEntries(rows);
    for (const key of ["amount_billed", "insurance_paid", "discounts", "your_responsibility", "payments_you_made", "other_payments", "processing", "you_owe_now", "total_balance"]) {
      expect(table[EN[`glossary.${key}`]], key).toBe(ES[`glossary.${key}`]);
    }
  });
});

describe("Plurals", () => {
  it("are chosen as Intl.PluralRules chooses them, in both languages, without it", () => {
    const counts = [...Array(2_101).keys(), 1.5, 0.5, 2.25, 1_000_000, 2_000_000, 1_500_000, 10_000_000, 1_000_001];
    for (const locale of ["en", "es"] as const) {
      const intl = new Intl.PluralRules(TAG[locale]);
      for (const n of counts) expect(pluralOf(n, locale), `${locale} ${n}`).toBe(intl.select(n));
    }
  });
});

describe("Errors in Spanish", () => {
  it("have a sentence for every code the server, the engine and the shared rules answer", () => {
    const bindings = Object.values(import.meta.glob("../src/lib/bindings.ts", { query: "?raw", import: "default", eager: true }))[0] as string;
    const union = (name: string) => [...(new RegExp(`export type ${name} = ([^;]+);`).exec(bindings)?.[1] ?? "").matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
    const rules = Object.values(import.meta.glob(["../../crates/billing/src/validate.rs", "../../crates/billing/src/password.rs"], { query: "?raw", import: "default", eager: true })).join("\n") as string;
    const ruleCodes = [...rules.matchAll(/Invalid::new\(\s*"([a-z_]+)"/g)].map((m) => m[1]);
    const reasons = [...rules.matchAll(/WeakReason::\w+ => "([a-z_]+)"/g)].map((m) => `weak_password.${m[1]}`);
    const codes = [...union("ServerCode"), ...union("ClientCode"), ...ruleCodes, ...reasons];
    expect(union("ServerCode").length).toBeGreaterThan(40);
    expect(union("ClientCode").length).toBeGreaterThan(20);
    expect(reasons.length).toBe(7);
    const table = errorsEs as Record<string, string>;
    expect([...new Set(codes)].filter((c) => !table[c])).toEqual([]);
    // A sentence that names values names only the ones its key promises ("code(a,b)").
    for (const [key, text] of Object.entries(table)) {
      const promised = /\(([a-z_,]+)\)$/.exec(key)?.[1].split(",") ?? [];
      expect(placeholders(text).filter((p) => !promised.includes(p)), key).toEqual([]);
    }
  });

  it("are shown by code (refined by field and reason) in Spanish, and as the engine wrote them in English", async () => {
    const err = { kind: "validation", code: "weak_password", message: "Do not include your email address in your password.", field: "/password", reason: "contains_email" };
    expect(errorText(err)).toBe(err.message);
    await chooseLocale("es");
    expect(errorText(err)).toBe("No incluya su correo electrónico en la contraseña.");
    expect(errorText({ code: "validation_failed", message: "Enter your password.", field: "/password" })).toBe("Escriba su contraseña.");
    expect(errorText({ code: "validation_failed", message: "x", field: "/unheard_of" })).toBe((errorsEs as Record<string, string>).validation_failed);
    expect(errorText({ code: "a_code_from_a_newer_server", message: "English" })).toBe((errorsEs as Record<string, string>).internal);
    // A code that happens to name one of every object's own members is still an unknown code.
    expect(errorText({ code: "constructor", message: "English" })).toBe((errorsEs as Record<string, string>).internal);
    expect(errorText({ code: "toString", message: "English", params: { hasOwnProperty: "x" } })).toBe((errorsEs as Record<string, string>).internal);
    // The values the engine names come as params, never as English glued in.
    const over = { code: "amount_exceeds_balance", message: "The most you can pay on this bill now is $251.56.", field: "/amount", params: { max: "$251.56" } };
    expect(errorText(over)).toBe("Lo máximo que puede pagar en esta factura ahora es $251.56.");
    expect(errorText({ ...over, params: null })).toBe((errorsEs as Record<string, string>).amount_exceeds_balance);
    expect(errorText({ code: "invalid_cvc", message: "Enter the 4-digit security code from your card.", params: { digits: "4" } })).toBe("Escriba el código de seguridad de 4 dígitos de su tarjeta.");
    // A bank's return and a processor's decline, by their codes.
    expect(failureText({ code: "R01", message: "Insufficient funds in the bank account." }, "returned")).toBe("No hay fondos suficientes en la cuenta bancaria.");
    expect(failureText({ code: "R99", message: "x" }, "returned")).toBe("El banco devolvió el pago.");
    expect(failureText({ code: "do_not_honor", message: "x" }, "failed")).toBe((errorsEs as Record<string, string>).declined);
  });
});

describe("Choosing the language", () => {
  it("follows this device's choice first, then the account's, and sets <html lang>", async () => {
    respond("set_language", () => null);
    resetLocale("en");
    await accountLocale("es");
    expect(i18n.locale).toBe("es");
    expect(document.documentElement.lang).toBe("es-US");
    await useLanguage("en");
    expect(localStorage.getItem("carebill.language")).toBe("en");
    expect(callsTo("set_language").at(-1)).toEqual({ locale: "en" });
    await accountLocale("es");
    expect(i18n.locale).toBe("en");
    expect(document.documentElement.lang).toBe("en-US");
  });

  it("applies the account's language at sign-in and tells the engine", async () => {
    respond("set_language", () => null);
    resetLocale("en");
    await signedIn({ member: { ...MEMBER, locale: "es" }, offline: false, remembered: false } as never);
    expect(i18n.locale).toBe("es");
    expect(callsTo("set_language").at(-1)).toEqual({ locale: "es" });
  });

  it("writes dates, times and counts the member's way", async () => {
    expect(date("2026-12-05")).toBe("Dec 5, 2026");
    await chooseLocale("es");
    expect(date("2026-12-05")).toBe("5 de diciembre de 2026");
    expect(dateTime("2026-12-05T22:02:00Z")).toMatch(/de diciembre de 2026, \d{1,2}:02\s?[ap]\.\s?m\./);
    expect(ago(new Date(Date.now() - 120_000).toISOString())).toBe("hace 2 minutos");
    expect(t("pay.total_for", { count: 1 })).toBe("por 1 factura");
    expect(t("pay.total_for", { count: 3 })).toBe("por 3 facturas");
    expect(t("pay.total_for", { count: 1_000_000 })).toBe("por 1000000 facturas");
    expect(paidTo([{ bill_id: "a", provider: "A" }, { bill_id: "b", provider: "B" }, { bill_id: "c", provider: "C" }], [{ bill_id: "a" }, { bill_id: "b" }, { bill_id: "c" }])).toBe("A y 2 más");
  });
});

/** Markup with every {expression} (nested braces and all) replaced by a space. */
function withoutExpressions(markup: string): string {
  let out = "";
  let depth = 0;
  for (const ch of markup) {
    if (ch === "{") depth += 1;
    else if (ch === "}" && depth > 0) {
      depth -= 1;
      if (depth === 0) out += " ";
    } else if (depth === 0) out += ch;
  }
  return out;
}

/** Markup text that is not a {expression}: where hard-coded English would hide. */
function literalText(svelte: string): string[] {
  const markup = withoutExpressions(svelte.replace(/<script[\s\S]*?<\/script>/g, "").replace(/<style[\s\S]*?<\/style>/g, "").replace(/<!--[\s\S]*?-->/g, ""));
  const texts = [...markup.matchAll(/>([^<]*)</g)].map((m) => m[1].trim());
  const attrs = [...markup.matchAll(/\s(?:label|hint|legend|lead|aria-label|placeholder|title|alt)="([^"{]*[A-Za-z][^"{]*)"/g)].map((m) => m[1]);
  // Brand names and language names are the same in both languages.
  const same = /^(Carebill|English|Español|[\s·—–•←🌐:(),.0-9%-]*)$/;
  return [...texts, ...attrs].filter((s) => /[A-Za-z]{2,}/.test(s) && !same.test(s));
}

describe("No hard-coded English", () => {
  it("is left in any screen's or component's markup or messages", () => {
    const sources = import.meta.glob(["../src/**/*.svelte"], { query: "?raw", import: "default", eager: true }) as Record<string, string>;
    expect(Object.keys(sources).length).toBeGreaterThan(25);
    const found = Object.entries(sources).flatMap(([path, body]) => literalText(body).map((s) => `${path}: ${s}`));
    expect(found).toEqual([]);
    // Messages set from the scripts go through the catalog too.
    const scripts = import.meta.glob(["../src/**/*.svelte", "../src/lib/*.ts"], { query: "?raw", import: "default", eager: true }) as Record<string, string>;
    const assigned = Object.entries(scripts).flatMap(([path, body]) =>
      [...body.matchAll(/(?:errors\.set\([^,]+,\s*|(?:notice|problem|note|saved|mailNote|printNote|endNote|idleNote|languageNote)\s*=\s*|text:\s*)["`]([^"`]*[A-Za-z]{3}[^"`]*)["`]/g)].map((m) => `${path}: ${m[1]}`),
    );
    expect(assigned).toEqual([]);
  });

  it("is caught by the check (a check that cannot fail proves nothing)", () => {
    expect(literalText('<p>Pay now</p><Field label="Card number" />')).toEqual(["Pay now", "Card number"]);
    expect(literalText('<p>{t("x")}</p><span aria-hidden="true">🌐</span> {other.name}<b>Carebill</b>')).toEqual([]);
  });
});

/** English sentences (no placeholders, two words or more) that differ in Spanish: none may show in Spanish. */
const ENGLISH_ONLY = Object.entries(EN)
  .filter(([k, v]) => !v.includes("{") && /\s/.test(v.trim()) && v !== ES[k])
  .map(([, v]) => v);

function member() {
  app.session = { member: { ...MEMBER }, offline: false, remembered: false } as typeof app.session;
  app.plan = PLAN;
  app.startup = { screen: "sign_in", session: null, demo: true, online: true, keyring: { state: "available" }, version: "0.1.0", api_url: "http://127.0.0.1:8787", idle_minutes: 15, kiosk: null } as unknown as typeof app.startup;
  app.sync = { state: "synced", at: new Date().toISOString() };
}

function kiosk() {
  member();
  app.session = null;
  app.startup = { ...app.startup!, screen: "welcome", kiosk: { clinic_name: "Northside Clinic", support_text: "Questions? Ask at the front desk.", support_text_es: "¿Preguntas? Pregunte en la recepción.", language: null, printer: true, idle_seconds: 120, exit_configured: true } } as typeof app.startup;
}

function answers() {
  respond("dashboard", () => DASHBOARD);
  respond("bills", () => ({ bills: [BILL_ROW], total: 1, offset: 0, providers: [BILL_ROW.provider], total_payable: BILL_ROW.payable, freshness: FRESH }));
  respond("bill", () => ({ bill: BILL, overdue: true, payment_in_flight: false, autopay: null, claims: BILL_CLAIMS, freshness: FRESH }));
  respond("claims", () => ({ claims: [CLAIM], total: 1, offset: 0, years: [2026], providers: [CLAIM.provider], freshness: FRESH }));
  respond("claim", () => ({ claim: CLAIM_DETAIL, bills: [{ bill_id: BILL.id, provider: BILL.provider, statement_number: BILL.statement_number }], freshness: FRESH }));
  respond("payments", () => ({ payments: [PAYMENT], total: 1, offset: 0, years: [2026], bills: [{ bill_id: BILL.id, provider: BILL.provider, statement_number: BILL.statement_number }], freshness: FRESH }));
  respond("payment_methods", () => [VISA]);
  respond("autopay", () => ({ payment_method_id: VISA.id, payment_method: { type: "card", brand: "visa", last4: "4242" }, amount: { type: "statement_balance" }, max_amount: "500.00",
    timing: { type: "days_before_due", days: 3 }, covers_bills_from: "2026-11-01", upcoming: [{ bill_id: BILL.id, charge_date: "2026-12-06", amount: "251.56", status: "scheduled", skip_deadline: "2026-12-04", can_skip: true }], not_covered: [] }));
  respond("ach_authorization", () => ({ text: "I authorize Carebill Demo Health Plan to debit my account.", text_version: "v1" }));
  respond("payment_plans", () => [PAYMENT_PLAN]);
  respond("scheduled_payments", () => [SCHEDULED]);
  respond("preview_payment_plan", () => PLAN_PREVIEW);
  respond("conversations", () => CONVERSATIONS);
  respond("conversation", () => ({ conversation: CONVERSATION, bill_label: "Bayside Regional Medical Center · BRM26000002", queued: [], new_replies: 0, freshness: FRESH }));
  respond("unread_replies", () => 0);
  respond("notices", () => ({ notices: [], unread: 0 }));
}

type Case = { name: string; component: Component; setup: () => void; ready: (l: Locale) => RegExp };
const CASES: Case[] = [
  { name: "sign-in", component: SignIn as Component, setup: () => { member(); app.session = null; }, ready: (l) => (l === "en" ? /Sign in to Carebill/ : /Inicie sesión en Carebill/) },
  { name: "register", component: Register as Component, setup: member, ready: (l) => (l === "en" ? /Create your Carebill account/ : /Cree su cuenta/) },
  { name: "verify", component: Verify as Component, setup: () => { member(); app.route = { screen: "verify", email: "a@example.com" }; }, ready: (l) => (l === "en" ? /Confirm your email/ : /Confirme su correo/) },
  { name: "forgot", component: Forgot as Component, setup: member, ready: (l) => (l === "en" ? /Reset your password/ : /Restablezca/) },
  { name: "reset", component: Reset as Component, setup: () => { member(); app.route = { screen: "reset", email: "a@example.com" }; }, ready: (l) => (l === "en" ? /Set a new password/ : /Cree una contraseña nueva/) },
  { name: "offline unlock", component: OfflineUnlock as Component, setup: member, ready: (l) => (l === "en" ? /You are offline/ : /No tiene conexión/) },
  { name: "kiosk welcome", component: Welcome as Component, setup: kiosk, ready: (l) => (l === "en" ? /Welcome to Northside Clinic/ : /Le damos la bienvenida a Northside Clinic/) },
  { name: "kiosk lookup", component: GuestLookup as Component, setup: kiosk, ready: (l) => (l === "en" ? /Find your bill/ : /Busque su factura/) },
  { name: "kiosk bill", component: GuestPay as Component, setup: () => { kiosk(); app.route = { screen: "guest_pay", bill: { bill: BILL, overdue: true } as never }; }, ready: (l) => (l === "en" ? /Your bill/ : /Su factura/) },
  { name: "dashboard", component: Dashboard as Component, setup: () => { member(); answers(); }, ready: (l) => (l === "en" ? /Total balance/ : /Saldo total/) },
  { name: "bills", component: Bills as Component, setup: () => { member(); answers(); app.route = { screen: "bills" }; }, ready: (l) => (l === "en" ? /Showing 1–1 of 1 bills/ : /Mostrando 1–1 de 1 facturas/) },
  { name: "bill", component: BillDetail as Component, setup: () => { member(); answers(); app.route = { screen: "bill", id: BILL.id }; }, ready: (l) => (l === "en" ? /How this bill adds up/ : /Cómo se calcula esta factura/) },
  { name: "claims", component: Claims as Component, setup: () => { member(); answers(); app.route = { screen: "claims" }; }, ready: (l) => (l === "en" ? /Claims, newest service first \(1–1 of 1\)/ : /Reclamaciones, la atención más reciente primero/) },
  { name: "claim", component: ClaimDetail as Component, setup: () => { member(); answers(); app.route = { screen: "claim", id: CLAIM.id }; }, ready: (l) => (l === "en" ? /This is not a bill/ : /Esto no es una factura/) },
  { name: "history", component: History as Component, setup: () => { member(); answers(); }, ready: (l) => (l === "en" ? /Payments 1–1 of 1/ : /Pagos 1–1 de 1/) },
  { name: "receipt", component: Receipt as Component, setup: () => { member(); answers(); app.route = { screen: "receipt", payment: PAYMENT as never }; }, ready: (l) => (l === "en" ? /Bills paid/ : /Facturas pagadas/) },
  { name: "help", component: Help as Component, setup: member, ready: (l) => (l === "en" ? /Talk to a person/ : /Hable con una persona/) },
  { name: "notifications", component: Notices as Component, setup: () => { member(); answers(); }, ready: (l) => (l === "en" ? /No notifications yet/ : /Todavía no hay notificaciones/) },
  { name: "account", component: Account as Component, setup: member, ready: (l) => (l === "en" ? /Account and settings/ : /Cuenta y configuración/) },
  { name: "methods", component: Methods as Component, setup: () => { member(); answers(); }, ready: (l) => (l === "en" ? /Saved cards and bank accounts/ : /Tarjetas y cuentas bancarias guardadas/) },
  { name: "autopay", component: Autopay as Component, setup: () => { member(); answers(); }, ready: (l) => (l === "en" ? /Upcoming charges/ : /Próximos cobros/) },
  { name: "payment plan", component: PaymentPlan as Component, setup: () => { member(); answers(); app.route = { screen: "plan", id: PAYMENT_PLAN.id }; }, ready: (l) => (l === "en" ? /Behind: pay \$105\.43/ : /Atrasado: pague \$105\.43/) },
  { name: "payment plan set-up", component: PaymentPlan as Component, setup: () => { member(); answers(); app.route = { screen: "plan", billIds: [BILL.id] }; }, ready: (l) => (l === "en" ? /How do you want to pay/ : /Cómo quiere pagar/) },
  { name: "messages", component: Messages as Component, setup: () => { member(); answers(); app.route = { screen: "messages" }; }, ready: (l) => (l === "en" ? /Your questions to the billing office/ : /Sus preguntas a la oficina de facturación/) },
  { name: "conversation", component: ConversationScreen as Component, setup: () => { member(); answers(); app.route = { screen: "conversation", id: CONVERSATION.id }; }, ready: (l) => (l === "en" ? /Reference number/ : /Número de referencia/) },
  { name: "ask", component: Ask as Component, setup: () => { member(); answers(); app.route = { screen: "ask", billId: BILL.id, line: 1 }; }, ready: (l) => (l === "en" ? /Line 1: Emergency department visit/ : /Línea 1: Emergency department visit/) },
  { name: "pay", component: Pay as Component, setup: () => { member(); answers(); app.route = { screen: "pay", billIds: [BILL.id] }; }, ready: (l) => (l === "en" ? /Bills to pay/ : /Facturas que va a pagar/) },
];

describe.each(["en", "es"] as const)("Every screen in %s", (locale) => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    c.setup();
    await chooseLocale(locale);
    const { container } = render(c.component);
    await waitFor(() => expect(container.textContent).toMatch(c.ready(locale)));
    expect(document.documentElement.lang).toBe(locale === "en" ? "en-US" : "es-US");
    if (locale === "es") {
      const text = container.textContent ?? "";
      expect(ENGLISH_ONLY.filter((s) => text.includes(s))).toEqual([]);
    }
    await noViolations(container);
  });
});

describe("A kiosk", () => {
  it("starts each patient in the clinic's language and shows the clinic's words in it", async () => {
    kiosk();
    resetLocale("en");
    app.startup = { ...app.startup!, kiosk: { ...app.startup!.kiosk!, language: "es" } } as typeof app.startup;
    respond("startup", () => app.startup);
    respond("set_language", () => null);
    respond("plan", () => PLAN);
    await boot();
    expect(i18n.locale).toBe("es");
    expect(callsTo("set_language").at(-1)).toEqual({ locale: "es" });
    render(Welcome);
    await screen.findByText("¿Preguntas? Pregunte en la recepción.");
    expect(screen.queryByText("Questions? Ask at the front desk.")).toBeNull();
    // The patient switches to English: the clinic's English words.
    await fireEvent.click(screen.getByRole("button", { name: "View in English" }));
    await screen.findByText("Questions? Ask at the front desk.");
  });
});

describe("The language switch", () => {
  it("turns the sign-in screen into Spanish, names Spanish in Spanish and keeps the choice", async () => {
    member();
    app.session = null;
    respond("set_language", () => null);
    render(SignIn);
    const button = screen.getByRole("button", { name: "Ver en español" });
    expect(button.getAttribute("lang")).toBe("es");
    await fireEvent.click(button);
    await screen.findByRole("heading", { name: "Inicie sesión en Carebill" });
    expect(screen.getByLabelText("Correo electrónico o número de miembro")).toBeTruthy();
    expect(localStorage.getItem("carebill.language")).toBe("es");
    expect(screen.getByRole("button", { name: "View in English" }).getAttribute("lang")).toBe("en");
  });

  it("in Account sets the app's language and the account's mail language together", async () => {
    member();
    respond("set_language", () => null);
    respond("set_account_language", (a) => ({ ...MEMBER, locale: a.locale }));
    render(Account);
    await fireEvent.click(screen.getByLabelText("Español"));
    await screen.findByText("Guardado. Sus correos electrónicos también llegarán en este idioma.");
    expect(callsTo("set_account_language")).toEqual([{ locale: "es" }]);
    expect(app.session?.member.locale).toBe("es");
    expect(screen.getByRole("heading", { name: "Cuenta y configuración" })).toBeTruthy();
  });
});
