// Issue 19: on a bill, why the member owes it and whether it agrees with the plan's claim; the
// claim itself, plainly not a bill; the plan year's deductible on the dashboard.
import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import BillDetail from "../src/screens/BillDetail.svelte";
import ClaimDetail from "../src/screens/ClaimDetail.svelte";
import Dashboard from "../src/screens/Dashboard.svelte";
import { app } from "../src/lib/app.svelte";
import { BILL, BILL_CLAIMS, CLAIM, CLAIM_DETAIL, DASHBOARD, FRESH, MEMBER, noViolations } from "./fixtures";
import { PLAN } from "./plan";
import { respond } from "./tauri";

function signedIn() {
  app.session = { member: { ...MEMBER }, offline: false, remembered: false } as typeof app.session;
  app.plan = PLAN;
}

function billWith(claims: unknown[]) {
  respond("bill", () => ({ bill: BILL, overdue: false, payment_in_flight: false, autopay: null, claims, freshness: FRESH }));
}

describe("Why you owe this", () => {
  it("says why, flags a bill that differs from its claim with what to ask, and opens the claim", async () => {
    signedIn();
    app.route = { screen: "bill", id: BILL.id };
    billWith(BILL_CLAIMS);
    const { container } = render(BillDetail);
    const why = await screen.findByRole("region", { name: "Why you owe this" });
    expect(within(why).getByText("Differs by $20.00")).toBeTruthy();
    expect(within(why).getByText("Deductible $400.00 · Coinsurance $212.56")).toBeTruthy();
    expect(within(why).getByText(/asks for \$20\.00 more than your claim says.*claim number CLM-BRM26000002/)).toBeTruthy();
    await noViolations(container);
    respond("claim", () => ({ claim: CLAIM_DETAIL, bills: [], freshness: FRESH }));
    await fireEvent.click(within(why).getByRole("button", { name: "See claim CLM-BRM26000002" }));
    await waitFor(() => expect(app.route).toEqual({ screen: "claim", id: "clm1", fromBill: BILL.id }));
  });

  it("says a bill matches its claim only by the claim number, and a probable claim only probably", async () => {
    signedIn();
    app.route = { screen: "bill", id: BILL.id };
    billWith([{ ...BILL_CLAIMS[0], matches: true, difference: "0.00", bill_is_higher: false, member_owes: BILL.amount_due }]);
    const first = render(BillDetail);
    expect(await screen.findByText("Matches your claim")).toBeTruthy();
    first.unmount();
    billWith([{ ...BILL_CLAIMS[0], link: "probable", matches: false }]);
    render(BillDetail);
    expect(await screen.findByText("Probably this claim")).toBeTruthy();
    expect(screen.queryByText("Matches your claim")).toBeNull();
    expect(screen.queryByText(/^Differs by/)).toBeNull();
  });

  it("is left out when no claim is known", async () => {
    signedIn();
    app.route = { screen: "bill", id: BILL.id };
    billWith([]);
    render(BillDetail);
    await screen.findByRole("table", { name: /How the amount you owe now is worked out/ });
    expect(screen.queryByText("Why you owe this")).toBeNull();
  });
});

describe("A claim", () => {
  it("says it is not a bill, shows each figure as the plan sent it, line by line, negatives included", async () => {
    signedIn();
    app.route = { screen: "claim", id: CLAIM.id };
    respond("claim", () => ({ claim: CLAIM_DETAIL, bills: [{ bill_id: BILL.id, provider: BILL.provider, statement_number: BILL.statement_number }], freshness: FRESH }));
    const { container } = render(ClaimDetail);
    expect(await screen.findByText("This is not a bill.")).toBeTruthy();
    expect(screen.getByText("Why: Deductible $400.00 · Coinsurance $212.56")).toBeTruthy();
    const lines = screen.getByRole("table", { name: /Each service/ });
    const rows = within(lines).getAllByRole("row");
    expect(rows[1].textContent).toContain("$2,140.00");
    expect(rows[2].textContent).toContain("-$100.00");
    expect(screen.getByRole("button", { name: `${BILL.provider}, statement ${BILL.statement_number}` })).toBeTruthy();
    await noViolations(container);
  });

  it("shows both figures, without correcting either, when the plan's statement disagrees with itself", async () => {
    signedIn();
    app.route = { screen: "claim", id: CLAIM.id };
    const odd = { ...CLAIM_DETAIL, member_owes: "0.00", member_costs: [{ category: "copay", amount: "50.00" }] };
    respond("claim", () => ({ claim: odd, bills: [], freshness: FRESH }));
    render(ClaimDetail);
    expect(await screen.findByText(/says you may owe \$0\.00 and also lists Copay \$50\.00/)).toBeTruthy();
  });
});

describe("Dashboard", () => {
  it("shows the plan year's deductible and out-of-pocket progress", async () => {
    signedIn();
    respond("dashboard", () => DASHBOARD);
    render(Dashboard);
    const section = await screen.findByRole("region", { name: "Your 2026 plan year" });
    expect(within(section).getByText("Deductible: $400.00 of $1,500.00 met")).toBeTruthy();
    expect(within(section).getByText("$1,100.00 to go")).toBeTruthy();
    expect(within(section).getByText("Out-of-pocket maximum: $1,032.56 of $4,000.00 spent")).toBeTruthy();
  });
});
