// Shared answers of the engine for the screens' tests, and the axe check they all run.
import { expect } from "vitest";
import axe from "axe-core";

/** axe-core on a rendered screen: no violations. Colour contrast needs layout, which jsdom has
 * not; the real window's axe run (e2e) covers it. */
export async function noViolations(container: HTMLElement) {
  const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
  expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(", ")}`)).toEqual([]);
}

export const FRESH = { last_synced: "2026-12-01T10:00:00Z", offline: false, business_date: "2026-12-01" };

export const MEMBER = { member_id: "M200000001", email: "demo@carebill.example", first_name: "Jordan", last_name: "Lee", date_of_birth: "1980-01-01", email_verified: true, locale: "en" };

export const DASHBOARD = {
  total_payable: "1298.40", total_balance: "1348.40", pending: "50.00", overdue_amount: "1220.74", overdue_count: 3, open_count: 5,
  next_due: { bill_id: "b4", due_date: "2026-12-05", amount: "3.36", provider: "Bayside Medical Group" },
  autopay: null,
  recent_payments: [{ id: "p1", status: "succeeded", amount: "2.00", confirmation_number: "CB-AAAA-BBBB", allocations: [{ bill_id: "b4", amount: "2.00" }],
    payment_method: { type: "card", brand: "visa", last4: "4242" }, created_at: "2026-11-24T17:05:00Z", settled_at: null, failure: null, idempotency_key: null, source: "member" }],
  recent_bills: [{ bill_id: "b4", provider: "Bayside Medical Group", statement_number: "BMG26000004" }],
  payment_plans: [{ id: "ppl1", number: "PP-7K2M-9QXP", status: "behind", next: { nominal_date: "2027-01-15", charge_date: "2027-01-15", amount: "105.43" },
    paid_count: 1, total_count: 6, behind_amount: "105.43", needs_authorization: false, paused_until: null, pay_now: [{ bill_id: "b1", amount: "105.43" }] }],
  plan_offer: { bill_ids: ["b4"], balance: "1200.00" },
  scheduled: [] as unknown[],
  benefits: [
    { kind: "deductible", year: 2026, limit: "1500.00", used: "400.00", remaining: "1100.00" },
    { kind: "out_of_pocket", year: 2026, limit: "4000.00", used: "1032.56", remaining: "2967.44" },
  ],
  freshness: FRESH,
};

export const SCHEDULED = { id: "sch1", status: "scheduled", pay_on: "2026-12-08", change_until: "2026-12-07", amount: "50.00", allocations: [{ bill_id: "b1", amount: "50.00" }],
  payment_method_id: "pm1", payment_method: { type: "card", brand: "visa", last4: "4242" }, payment_id: null, cancel_reason: null, created_at: "2026-12-01T10:00:00Z", version: 1 };

/** A plan one instalment in, the second declined: behind. */
export const PAYMENT_PLAN = {
  id: "ppl1", number: "PP-7K2M-9QXP", status: "behind", monthly_amount: "105.43", day_of_month: 15, payment_method_id: "pm1",
  payment_method: { type: "card", brand: "visa", last4: "4242" },
  bills: [{ bill_id: "b1", provider: "Bayside Regional Medical Center", statement_number: "BRM26000002", due_date: "2026-12-09", payable: "527.13", on_plan: true }],
  balance: "527.13", first_date: "2026-11-15",
  instalments: [
    { nominal_date: "2026-11-15", charge_date: "2026-11-16", amount: "105.43", status: "paid", payment_id: "p1", allocations: [{ bill_id: "b1", amount: "105.43" }] },
    { nominal_date: "2026-12-15", charge_date: "2026-12-15", amount: "105.43", status: "missed", payment_id: "p3", allocations: [] },
  ],
  schedule: [
    { nominal_date: "2027-01-15", charge_date: "2027-01-15", amount: "105.43" },
    { nominal_date: "2027-02-15", charge_date: "2027-02-16", amount: "105.43" },
    { nominal_date: "2027-03-15", charge_date: "2027-03-15", amount: "105.43" },
    { nominal_date: "2027-04-15", charge_date: "2027-04-15", amount: "105.43" },
    { nominal_date: "2027-05-15", charge_date: "2027-05-17", amount: "105.41" },
  ],
  paid_count: 1, total_count: 6, behind_amount: "105.43", pay_now: [{ bill_id: "b1", amount: "105.43" }], misses: 1, paused_until: null, needs_authorization: false,
  authorization_version: "2026-12-card-instalments", created_at: "2026-11-01T10:00:00Z", updated_at: "2026-12-15T10:00:00Z", version: 4,
};

export const PLAN_PREVIEW = {
  balance: "632.56", monthly_amount: "105.43",
  schedule: [1, 2, 3, 4, 5, 6].map((n) => ({ nominal_date: `2027-0${n}-15`, charge_date: `2027-0${n}-15`, amount: n < 6 ? "105.43" : "105.41" })),
  method: { type: "card", brand: "visa", last4: "4242" },
  authorization: { text: "I authorize Carebill to charge the card I selected for each payment of my payment plan.", text_version: "2026-12-card-instalments" },
  policy: { min_balance: "100.00", min_monthly: "25.00", max_months: 24, notice_days: 3, misses_allowed: 2, max_pause_days: 60 },
};

export const BILL = {
  id: "b1", account_number: "BRM-1234567", statement_number: "BRM26000002", kind: "hospital", provider: "Bayside Regional Medical Center",
  facility: "Bayside Regional Medical Center", service_date_from: "2026-10-20", service_date_to: "2026-10-22", statement_date: "2026-11-09",
  due_date: "2026-12-09", total_charges: "2140.00", insurance_paid: "1018.38", adjustments: "489.06", amount_due: "632.56",
  payments_made: "316.00", other_payments: "25.00", balance: "291.56", pending_amount: "40.00", payable: "251.56", status: "partially_paid",
  billing_phone: "1-800-555-0111",
  line_items: [{ service_date: "2026-10-20", description: "Emergency department visit", code: "99284", quantity: 1, charge: "2140.00", insurance_paid: "1018.38", adjustment: "489.06", patient_responsibility: "632.56" }],
  payments: [
    { payment_id: "p2", confirmation_number: "CB-2222-2222", status: "pending", amount: "40.00", payment_method: { type: "bank_account", brand: "Carebill Test Bank", last4: "6789" }, created_at: "2026-11-30T18:00:00Z", settled_at: null, source: "member" },
    { payment_id: "p1", confirmation_number: "CB-1111-1111", status: "succeeded", amount: "316.00", payment_method: { type: "card", brand: "visa", last4: "4242" }, created_at: "2026-11-12T18:00:00Z", settled_at: "2026-11-12T18:00:00Z", source: "member" },
  ],
};

/** The bill as a row of the bills list. */
export const BILL_ROW = { ...BILL, overdue: true, payment_in_flight: false, autopay: null };

export const PAYMENT = { id: "p1", status: "succeeded", amount: "316.00", confirmation_number: "CB-1111-1111", allocations: [{ bill_id: "b1", amount: "316.00" }],
  payment_method: { type: "card", brand: "visa", last4: "4242" }, created_at: "2026-11-12T18:00:00Z", settled_at: "2026-11-12T18:00:00Z", failure: null, idempotency_key: null, source: "member" };

export const VISA = { id: "pm1", type: "card", brand: "visa", funding: "credit", last4: "4242", exp_month: 8, exp_year: 2030, bank_name: null, account_type: null, holder_name: "Jordan Lee", created_at: "2026-01-01T00:00:00Z" };

/** The claim behind BILL, as the plan processed it: the bill asks $20.00 more. */
export const CLAIM = {
  id: "clm1", claim_number: "CLM-BRM26000002", kind: "outpatient", patient_name: "Jordan Lee",
  service_date_from: "2026-10-20", service_date_to: "2026-10-22", provider: "BAYSIDE REGIONAL MEDICAL CENTER", facility: "Bayside Regional Medical Center",
  outcome: "complete", billed: "2140.00", allowed: "1650.94", plan_paid: "1018.38", member_owes: "612.56",
  member_costs: [{ category: "deductible", amount: "400.00" }, { category: "coinsurance", amount: "212.56" }],
};

export const CLAIM_DETAIL = {
  ...CLAIM,
  lines: [
    { sequence: 1, service_date: "2026-10-20", code: "99284", code_system: "http://www.ama-assn.org/go/cpt", display: "Emergency department visit", revenue_code: "0450", quantity: "1",
      amounts: [{ category: "submitted", amount: "2140.00" }, { category: "eligible", amount: "1650.94" }, { category: "benefit", amount: "1018.38" },
        { category: "deductible", amount: "400.00" }, { category: "coinsurance", amount: "212.56" }, { category: "memberliability", amount: "612.56" }] },
    { sequence: 2, service_date: "2026-10-20", code: "99284", code_system: "http://www.ama-assn.org/go/cpt", display: "Emergency department visit (reversed)", revenue_code: null, quantity: "1",
      amounts: [{ category: "submitted", amount: "-100.00" }, { category: "paidbypatient", amount: "0.00" }] },
  ],
  adjudications: [],
  totals: [{ category: "submitted", amount: "2140.00" }, { category: "benefit", amount: "1018.38" }, { category: "memberliability", amount: "612.56" }],
  benefit_balance: [{ kind: "deductible", limit: "1500.00", used: "400.00" }],
};

/** How BILL stands against its claim. */
export const BILL_CLAIMS = [{ claim_id: "clm1", claim_number: "CLM-BRM26000002", link: "named", member_owes: "612.56",
  member_costs: CLAIM.member_costs, matches: false, difference: "20.00", bill_is_higher: true }];

/** A question about line 1 of BILL that the billing office answered, with a file. */
export const CONVERSATION = {
  id: "cnv1", reference: "Q-7K3M9P2X", topic: "unrecognized_charge", status: "answered", bill_id: BILL.id, line: 1,
  created_at: "2026-11-28T15:00:00Z", updated_at: "2026-11-29T16:30:00Z",
  messages: [
    { id: "m1", author: "member", body: "What is the emergency visit charge for?", sent_at: "2026-11-28T15:00:00Z", attachments: [] },
    { id: "m2", author: "staff", staff_name: "Dana", body: "It is the visit on Oct 20. Your itemized statement is attached.", sent_at: "2026-11-29T16:30:00Z",
      attachments: [{ id: "att1", file_name: "itemized.png", kind: "png", size: 2048 }] },
  ],
};

export const CONVERSATIONS = {
  conversations: [{ id: CONVERSATION.id, reference: CONVERSATION.reference, topic: CONVERSATION.topic, status: CONVERSATION.status, bill_id: BILL.id,
    bill_label: "Bayside Regional Medical Center · BRM26000002", line: 1, created_at: CONVERSATION.created_at, updated_at: CONVERSATION.updated_at,
    preview: "It is the visit on Oct 20. Your itemized statement is attached.", unread: 1 }],
  queued: [{ outbox_id: "msg-1", conversation_id: null, topic: "already_paid", bill_id: null, body: "I paid at the desk.", file_names: ["receipt.pdf"], written_at: "2026-11-30T09:00:00Z", refused: null }],
  not_sent: [{ outbox_id: "msg-0", conversation_id: "cnv0", topic: null, bill_id: null, body: "One more thing.", file_names: [], written_at: "2026-11-29T09:00:00Z",
    refused: { kind: "conflict", code: "conversation_closed", message: "This conversation is closed. Start a new one to ask something else." } }],
  unread: 1,
  freshness: FRESH,
};

/** A 1x1 PNG, as the engine answers an opened attachment. */
export const PNG_ATTACHMENT = {
  attachment: { id: "att1", file_name: "itemized.png", kind: "png", size: 2048 }, media_type: "image/png",
  data_base64: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==",
};
