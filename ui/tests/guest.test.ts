import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import GuestPay from "../src/screens/GuestPay.svelte";
import GuestLookup from "../src/screens/GuestLookup.svelte";
import Welcome from "../src/screens/Welcome.svelte";
import { app } from "../src/lib/app.svelte";
import type { GuestBillView } from "../src/lib/bindings";
import { PLAN } from "./plan";
import { callsTo, respond } from "./tauri";
import { noViolations } from "./fixtures";

const BILL = {
  id: "b9", account_number: "A9", statement_number: "LSC26000011", kind: "hospital", provider: "Lakeside Surgery Center", facility: "Lakeside Surgery Center",
  service_date_from: "2026-09-20", service_date_to: "2026-09-20", statement_date: "2026-10-01", due_date: "2026-12-09",
  total_charges: "2140.00", insurance_paid: "1018.38", adjustments: "870.60", amount_due: "251.02", balance: "251.02",
  pending_amount: "0.00", payable: "251.02", status: "open", payments_made: "0.00", other_payments: "0.00", billing_phone: "1-800-555-0113", payments: [],
  line_items: [{ service_date: "2026-09-20", description: "MRI of knee without contrast", code: "73721", quantity: 1, charge: "1800.00", insurance_paid: "831.06", adjustment: "774.00", patient_responsibility: "194.94" }],
};
const PAID = { id: "p9", status: "succeeded", amount: "251.02", confirmation_number: "CB-TM7R-RTV8", allocations: [{ bill_id: "b9", amount: "251.02" }], payment_method: { type: "card", brand: "visa", last4: "4242" }, created_at: "2026-11-28T10:00:00Z", settled_at: null, failure: null, idempotency_key: null, source: "guest" };

function kiosk() {
  app.startup = { screen: "welcome", session: null, demo: false, online: true, keyring: { state: "disabled" }, version: "0.1.0", api_url: "http://127.0.0.1:8787", idle_minutes: 15,
    kiosk: { clinic_name: "Northside Clinic", support_text: "Ask at the front desk.", printer: false, idle_seconds: 120, exit_configured: true } } as typeof app.startup;
}

describe("Kiosk", () => {
  it("welcomes with the clinic's name, two large choices and a passcode-guarded exit", async () => {
    kiosk();
    respond("kiosk_exit", () => {
      throw { kind: "unauthenticated", code: "wrong_passcode", message: "That passcode is not right.", field: "/passcode" };
    });
    const { container } = render(Welcome);
    expect(screen.getByRole("heading", { level: 1, name: "Welcome to Northside Clinic" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Pay a bill as a guest" })).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Staff: leave kiosk mode" }));
    await fireEvent.input(screen.getByLabelText("Admin passcode"), { target: { value: "nope-nope" } });
    await fireEvent.click(screen.getByRole("button", { name: "Close Carebill" }));
    expect(await screen.findByText("That passcode is not right.")).toBeTruthy();
    expect(callsTo("kiosk_exit")).toEqual([{ passcode: "nope-nope" }]);
    await noViolations(container);
  });

  it("looks a bill up only with the Rust checks passing, and says what is missing", async () => {
    kiosk();
    respond("validate_name", (a) => (a.name ? a.name : (() => { throw { kind: "validation", code: "invalid_name", message: "Enter your last name using letters.", field: null }; })()));
    respond("validate_date_of_birth", () => {
      throw { kind: "validation", code: "invalid_date", message: "Enter a real date of birth.", field: null };
    });
    const { container } = render(GuestLookup);
    await fireEvent.click(screen.getByRole("button", { name: "Find my bill" }));
    expect(await screen.findAllByText(/Enter the statement number from your bill/)).toBeTruthy();
    expect((await screen.findAllByText(/Enter a real date of birth/)).length).toBeGreaterThan(0);
    expect(callsTo("guest_lookup")).toEqual([]);
    await noViolations(container);
  });

  it("pays the guest's bill once however often Pay is pressed, and offers no way to save the card", async () => {
    kiosk();
    app.plan = PLAN;
    app.route = { screen: "guest_pay", bill: { bill: BILL, overdue: true } as unknown as GuestBillView };
    respond("guest_bill", () => ({ bill: BILL, overdue: true }));
    respond("validate_card_number", () => ({ brand: "visa", brand_name: "Visa", cvc_length: 3 }));
    respond("validate_card_expiry", () => null);
    respond("validate_card_cvc", () => null);
    respond("validate_postal_code", () => null);
    respond("tokenize_card", () => ({ token: "tok_1", type: "card", brand: "visa", funding: "credit", last4: "4242", exp_month: 12, exp_year: 2031, bank_name: null, expires_at: "2026-11-28T11:00:00Z" }));
    respond("guest_prepare", (a) => {
      expect(a.amount).toBe("251.02");
      return { review_id: "rv1", total: "251.02", method: { type: "card", brand: "visa", last4: "4242" }, ach_authorization: null,
        lines: [{ bill_id: "b9", provider: "Lakeside Surgery Center", statement_number: "LSC26000011", amount: "251.02" }] };
    });
    let release: () => void = () => {};
    respond("guest_submit", () => new Promise((resolve) => { release = () => resolve({ outcome: "paid", payment: PAID }); }));
    respond("guest_receipt_qr", () => ({ size: 21, path: "M0 0h1v1h-1z" }));
    const { container } = render(GuestPay);
    expect(screen.getByText("MRI of knee without contrast")).toBeTruthy();
    // The bill adds up on screen: a "You owe" column, a total, and the Overdue badge.
    expect(screen.getByRole("columnheader", { name: "You owe" })).toBeTruthy();
    expect(screen.getByRole("rowheader", { name: "Totals" })).toBeTruthy();
    expect(screen.getByText("Overdue")).toBeTruthy();
    expect(screen.queryByText("Where")).toBeNull();
    expect(screen.getAllByText("1-800-555-0142").length).toBeGreaterThan(0);
    expect(screen.getByText("1-800-555-0113")).toBeTruthy();
    expect(screen.queryByLabelText(/Save this/)).toBeNull();
    await fireEvent.input(screen.getByLabelText("Card number"), { target: { value: "4242424242424242" } });
    await fireEvent.input(screen.getByLabelText("Month"), { target: { value: "12" } });
    await fireEvent.input(screen.getByLabelText("Year"), { target: { value: "2031" } });
    await fireEvent.input(screen.getByLabelText("Security code"), { target: { value: "123" } });
    await fireEvent.input(screen.getByLabelText("Billing ZIP code"), { target: { value: "94110" } });
    await fireEvent.input(screen.getByLabelText("Name on the card"), { target: { value: "Alex Rivera" } });
    await noViolations(container);
    await fireEvent.click(screen.getByRole("button", { name: "Continue to review" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Review your payment" })).toBeTruthy();
    const pay = screen.getByRole("button", { name: "Pay $251.02" });
    await fireEvent.click(pay);
    await fireEvent.click(pay);
    release();
    expect(await screen.findByRole("heading", { level: 1, name: "Payment received" })).toBeTruthy();
    await waitFor(() => expect(screen.getByRole("img", { name: /QR code of this receipt/ })).toBeTruthy());
    expect(callsTo("guest_submit")).toEqual([{ reviewId: "rv1", acceptAch: false }]);
    await noViolations(container);
  });
});
