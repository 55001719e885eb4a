import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import Pay from "../src/screens/Pay.svelte";
import MethodForm from "../src/components/MethodForm.svelte";
import { FormErrors } from "../src/lib/form.svelte";
import { app } from "../src/lib/app.svelte";
import { sumMoney } from "../src/lib/format";
import { callsTo, respond } from "./tauri";
import { noViolations } from "./fixtures";

const BILL = {
  id: "b1", account_number: "A1", statement_number: "S-100", kind: "professional", provider: "Riverside Clinic", facility: "Main",
  service_date_from: "2026-10-01", service_date_to: "2026-10-01", statement_date: "2026-10-05", due_date: "2026-12-05",
  total_charges: "300.00", insurance_paid: "100.00", adjustments: "50.00", amount_due: "150.00", balance: "150.00",
  pending_amount: "0.00", payable: "150.00", status: "open", overdue: false, payment_in_flight: false,
};
const BILL2 = { ...BILL, id: "b2", statement_number: "S-200", provider: "Lakeside Lab", payable: "40.10", balance: "40.10", amount_due: "40.10" };
const VISA = { id: "pm1", type: "card", brand: "visa", funding: "credit", last4: "4242", exp_month: 8, exp_year: 2030, bank_name: null, account_type: null, holder_name: "Jordan Lee", created_at: "2026-01-01T00:00:00Z" };

function signedIn() {
  app.session = { member: { member_id: "M200000001", email: "demo@carebill.example", first_name: "Jordan", last_name: "Lee", date_of_birth: "1980-01-01", email_verified: true }, offline: false, remembered: false } as typeof app.session;
}

function bills(list: unknown[]) {
  respond("bills", () => ({ bills: list, total: list.length, offset: 0, providers: [], freshness: { last_synced: null, offline: false } }));
}

describe("sumMoney", () => {
  it("adds exactly, where floats would not", () => {
    expect(sumMoney(["0.10", "0.20"])).toBe("0.30");
    expect(sumMoney(["150.00", "40.10", "0.01"])).toBe("190.11");
    expect(sumMoney(["90071992547409.91", "0.02"])).toBe("90071992547409.93");
    expect(sumMoney([])).toBe("0.00");
  });
});

describe("Card and bank inputs", () => {
  it("shows the brand as the number is typed and puts each Rust rule's message on its field", async () => {
    respond("validate_card_number", (a) => {
      if (a.complete) throw { kind: "validation", code: "invalid_card_number", message: "This card number is not valid. Check it and try again.", field: "/number" };
      return { brand: "visa", brand_name: "Visa", cvc_length: 3 };
    });
    respond("validate_card_expiry", () => {
      throw { kind: "validation", code: "invalid_expiry", message: "This card has expired.", field: "/exp_month" };
    });
    respond("validate_card_cvc", () => null);
    respond("validate_postal_code", () => null);
    const errors = new FormErrors();
    const view = render(MethodForm, { kind: "card", errors, holder: "Jordan Lee" });
    await fireEvent.input(screen.getByLabelText("Card number"), { target: { value: "4242 4242 4242 4241" } });
    expect(await screen.findByText("Visa")).toBeTruthy();
    await fireEvent.input(screen.getByLabelText("Month"), { target: { value: "01" } });
    await fireEvent.input(screen.getByLabelText("Year"), { target: { value: "2020" } });
    await fireEvent.input(screen.getByLabelText("Security code"), { target: { value: "123" } });
    await fireEvent.input(screen.getByLabelText("Billing ZIP code"), { target: { value: "94110" } });
    const token = await (view.component as unknown as { tokenize: () => Promise<unknown> }).tokenize();
    expect(token).toBeNull();
    expect(errors.fields["card-number"]).toMatch(/not valid/);
    expect(errors.fields["card-exp-month"]).toBe("This card has expired.");
    expect(callsTo("tokenize_card")).toEqual([]);
  });

  it("tokenizes a good card and forgets its number and code at once", async () => {
    respond("validate_card_number", () => ({ brand: "visa", brand_name: "Visa", cvc_length: 3 }));
    respond("validate_card_expiry", () => null);
    respond("validate_card_cvc", () => null);
    respond("validate_postal_code", () => null);
    respond("tokenize_card", () => ({ token: "tok_1", type: "card", brand: "visa", funding: "credit", last4: "4242", exp_month: 8, exp_year: 2030, bank_name: null, expires_at: "2026-11-27T12:15:00Z" }));
    const errors = new FormErrors();
    const view = render(MethodForm, { kind: "card", errors, holder: "Jordan Lee" });
    await fireEvent.input(screen.getByLabelText("Card number"), { target: { value: "4242424242424242" } });
    await fireEvent.input(screen.getByLabelText("Month"), { target: { value: "8" } });
    await fireEvent.input(screen.getByLabelText("Year"), { target: { value: "30" } });
    await fireEvent.input(screen.getByLabelText("Security code"), { target: { value: "123" } });
    await fireEvent.input(screen.getByLabelText("Billing ZIP code"), { target: { value: "94110" } });
    const token = await (view.component as unknown as { tokenize: () => Promise<{ token: string }> }).tokenize();
    expect(token.token).toBe("tok_1");
    expect(callsTo("tokenize_card")[0].card).toEqual({ number: "4242424242424242", exp_month: 8, exp_year: 2030, cvc: "123", postal_code: "94110", holder_name: "Jordan Lee" });
    await waitFor(() => expect((screen.getByLabelText("Card number") as HTMLInputElement).value).toBe(""));
    expect((screen.getByLabelText("Security code") as HTMLInputElement).value).toBe("");
  });

  it("names the bank for a routing number and requires the account number twice", async () => {
    respond("validate_routing_number", () => null);
    respond("bank_name", () => "Carebill Test Bank");
    respond("validate_account_number", (a) => {
      if (a.confirmation !== null && a.confirmation !== a.accountNumber) {
        throw { kind: "validation", code: "validation_failed", message: "The account numbers do not match.", field: "/account_number_confirm" };
      }
      return null;
    });
    const errors = new FormErrors();
    const view = render(MethodForm, { kind: "bank_account", errors, holder: "Jordan Lee" });
    await fireEvent.input(screen.getByLabelText("Routing number"), { target: { value: "110000000" } });
    expect(await screen.findByText("Bank: Carebill Test Bank")).toBeTruthy();
    await fireEvent.input(screen.getByLabelText("Account number"), { target: { value: "000123456789" } });
    await fireEvent.input(screen.getByLabelText("Account number again"), { target: { value: "000123456780" } });
    expect(await (view.component as unknown as { tokenize: () => Promise<unknown> }).tokenize()).toBeNull();
    expect(errors.fields["bank-account-confirm"]).toBe("The account numbers do not match.");
    expect(callsTo("tokenize_bank_account")).toEqual([]);
  });
});

describe("Pay", () => {
  it("checks a partial amount with the Rust rule as it is typed and totals exactly", async () => {
    signedIn();
    app.route = { screen: "pay", billIds: ["b1", "b2"] };
    bills([BILL, BILL2]);
    respond("payment_methods", () => [VISA]);
    respond("validate_amount", (a) => {
      if (a.amount === "200.00") throw { kind: "validation", code: "amount_exceeds_balance", message: "The most you can pay on this bill now is $150.00.", field: "/amount" };
      return a.amount;
    });
    const { container } = render(Pay);
    expect(await screen.findByText(/Total:/)).toBeTruthy();
    expect(screen.getByText("$190.10")).toBeTruthy();
    await fireEvent.click(screen.getAllByLabelText("Another amount")[0]);
    await fireEvent.input(screen.getByLabelText("Amount to pay, in dollars"), { target: { value: "200.00" } });
    expect(await screen.findByText(/The most you can pay on this bill now is \$150.00/, { selector: "#amount-b1-error" })).toBeTruthy();
    expect(screen.queryByRole("alert"), "as-you-type errors stay on the field, out of the summary").toBeNull();
    await fireEvent.input(screen.getByLabelText("Amount to pay, in dollars"), { target: { value: "25.50" } });
    await waitFor(() => expect(screen.queryByText(/The most you can pay/)).toBeNull());
    expect(screen.getByText("$65.60")).toBeTruthy();
    await noViolations(container);
  });

  it("reviews every allocation and the method, and a double click submits once", async () => {
    signedIn();
    app.route = { screen: "pay", billIds: ["b1", "b2"] };
    bills([BILL, BILL2]);
    respond("payment_methods", () => [VISA]);
    respond("prepare_payment", (a) => {
      const draft = a.draft as { allocations: { bill_id: string; amount: string }[] };
      expect(draft.allocations).toEqual([{ bill_id: "b1", amount: "150.00" }, { bill_id: "b2", amount: "40.10" }]);
      return {
        review_id: "r1", total: "190.10", method: { type: "card", brand: "visa", last4: "4242" }, ach_authorization: null,
        lines: [{ bill_id: "b1", provider: "Riverside Clinic", statement_number: "S-100", amount: "150.00" }, { bill_id: "b2", provider: "Lakeside Lab", statement_number: "S-200", amount: "40.10" }],
      };
    });
    let release: () => void = () => {};
    respond("submit_payment", () => new Promise((resolve) => {
      release = () => resolve({ outcome: "paid", payment: { id: "p1", status: "succeeded", amount: "190.10", confirmation_number: "CB-7QX2-9KD4", allocations: [{ bill_id: "b1", amount: "150.00" }, { bill_id: "b2", amount: "40.10" }], payment_method: { type: "card", brand: "visa", last4: "4242" }, created_at: "2026-11-27T10:00:00Z", settled_at: null, failure: null, idempotency_key: null, source: "member" } });
    }));
    const { container } = render(Pay);
    await fireEvent.click(await screen.findByRole("button", { name: "Continue to review" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Review your payment" })).toBeTruthy();
    expect(screen.getByText("Visa •••• 4242")).toBeTruthy();
    expect(screen.getAllByText("$190.10").length).toBeGreaterThan(0);
    await noViolations(container);
    const pay = screen.getByRole("button", { name: "Pay $190.10" });
    await fireEvent.click(pay);
    await fireEvent.click(pay);
    await fireEvent.click(pay);
    release();
    expect(await screen.findByRole("heading", { level: 1, name: "Payment received" })).toBeTruthy();
    expect(screen.getByText("CB-7QX2-9KD4")).toBeTruthy();
    expect(callsTo("submit_payment")).toEqual([{ reviewId: "r1", acceptAch: false }]);
  });

  it("explains a decline in plain words and keeps the member on the form", async () => {
    signedIn();
    app.route = { screen: "pay", billIds: ["b1"] };
    bills([BILL]);
    respond("payment_methods", () => [VISA]);
    respond("prepare_payment", () => ({ review_id: "r1", total: "150.00", method: { type: "card", brand: "visa", last4: "4242" }, ach_authorization: null, lines: [{ bill_id: "b1", provider: "Riverside Clinic", statement_number: "S-100", amount: "150.00" }] }));
    respond("submit_payment", () => ({ outcome: "declined", error: { kind: "declined", code: "insufficient_funds", message: "The card was declined for insufficient funds." } }));
    render(Pay);
    await fireEvent.click(await screen.findByRole("button", { name: "Continue to review" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Pay $150.00" }));
    expect(await screen.findByText(/insufficient funds/)).toBeTruthy();
    expect(screen.getByText(/Nothing was charged/)).toBeTruthy();
    expect(screen.getByRole("heading", { level: 1, name: "Pay bills" })).toBeTruthy();
  });

  it("shows what is left of a payment plan before a payment on its bills, and schedules a payment for a later date", async () => {
    signedIn();
    app.route = { screen: "pay", billIds: ["b1"], amounts: { b1: "100.00" } };
    bills([BILL]);
    respond("payment_methods", () => [VISA]);
    respond("validate_amount", () => "100.00");
    respond("prepare_payment", () => ({ review_id: "r3", total: "100.00", method: { type: "card", brand: "visa", last4: "4242" }, ach_authorization: null, payment_date: "2026-12-01",
      pay_on: "2026-12-08", lines: [{ bill_id: "b1", provider: "Riverside Clinic", statement_number: "S-100", amount: "100.00" }],
      plans_after: [{ number: "PP-7K2M-9QXP", monthly_amount: "50.00", payments_left: 2, last_date: "2027-02-15", last_amount: "20.00" }] }));
    respond("submit_payment", () => ({ outcome: "scheduled", scheduled: { id: "sch1", status: "scheduled", pay_on: "2026-12-08", change_until: "2026-12-07", amount: "100.00",
      allocations: [{ bill_id: "b1", amount: "100.00" }], payment_method_id: VISA.id, payment_method: { type: "card", brand: "visa", last4: "4242" }, payment_id: null, cancel_reason: null, created_at: "2026-12-01T10:00:00Z", version: 1 } }));
    render(Pay);
    // "Pay now" on a plan that is behind arrives with the amount filled in.
    expect(((await screen.findByLabelText("Amount to pay, in dollars")) as HTMLInputElement).value).toBe("100.00");
    await fireEvent.click(screen.getByLabelText("On a later date"));
    await fireEvent.input(screen.getByLabelText("Pay on"), { target: { value: "2026-12-08" } });
    await fireEvent.click(screen.getByRole("button", { name: "Continue to review" }));
    expect(await screen.findByText("After this payment, payment plan PP-7K2M-9QXP has 2 payments left, $50.00 a month, the last on Feb 15, 2027.")).toBeTruthy();
    expect(callsTo("prepare_payment")[0]).toMatchObject({ draft: { pay_on: "2026-12-08", allocations: [{ bill_id: "b1", amount: "100.00" }] } });
    await fireEvent.click(screen.getByRole("button", { name: "Schedule $100.00 for Dec 8, 2026" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Payment scheduled" })).toBeTruthy();
    expect(screen.getByText(/on Dec 8, 2026, and remind you the day before/)).toBeTruthy();
  });

  it("starts on a saved card even when a bank account was saved first", async () => {
    signedIn();
    app.route = { screen: "pay", billIds: ["b1"] };
    bills([BILL]);
    const BANK = { ...VISA, id: "pm2", type: "bank_account", brand: null, funding: null, last4: "6789", exp_month: null, exp_year: null, bank_name: "Carebill Test Bank", account_type: "checking" };
    respond("payment_methods", () => [BANK, VISA]);
    render(Pay);
    const visa = (await screen.findByLabelText(/^Visa •••• 4242/)) as HTMLInputElement;
    expect(visa.checked).toBe(true);
    expect((screen.getByLabelText(/^Carebill Test Bank •••• 6789/) as HTMLInputElement).checked).toBe(false);
  });

  it("requires the bank authorization before a bank payment is sent", async () => {
    signedIn();
    app.route = { screen: "pay", billIds: ["b1"] };
    bills([BILL]);
    respond("payment_methods", () => [{ ...VISA, id: "pm2", type: "bank_account", brand: null, funding: null, last4: "6789", exp_month: null, exp_year: null, bank_name: "Carebill Test Bank", account_type: "checking" }]);
    respond("prepare_payment", () => ({ review_id: "r2", total: "150.00", method: { type: "bank_account", brand: "Carebill Test Bank", last4: "6789" }, ach_authorization: { text: "I authorize Carebill to debit my account once.", text_version: "ach-v1" }, lines: [{ bill_id: "b1", provider: "Riverside Clinic", statement_number: "S-100", amount: "150.00" }] }));
    respond("submit_payment", () => ({ outcome: "pending_confirmation", intent_id: "i1", bill_ids: ["b1"] }));
    respond("unresolved", () => [{ intent_id: "i1", kind: "payment", bill_ids: ["b1"], created_at: "2026-11-27T10:00:00Z" }]);
    render(Pay);
    await fireEvent.click(await screen.findByRole("button", { name: "Continue to review" }));
    expect(await screen.findByText("I authorize Carebill to debit my account once.")).toBeTruthy();
    await fireEvent.click(await screen.findByRole("button", { name: "Pay $150.00" }));
    expect(await screen.findByText(/tick the box to authorize this debit/, { selector: "#ach-accept-error" })).toBeTruthy();
    expect(callsTo("submit_payment")).toEqual([]);
    await fireEvent.click(screen.getByLabelText(/I authorize this one-time debit/));
    await fireEvent.click(screen.getByRole("button", { name: "Pay $150.00" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Confirming your payment" })).toBeTruthy();
    expect(screen.getByText(/do not pay these bills again/)).toBeTruthy();
    expect(callsTo("submit_payment")).toEqual([{ reviewId: "r2", acceptAch: true }]);
  });
});
