// Issue 17: one glossary, US formats, a dashboard and a bill that add up, the plan's phone, the
// date of birth in US order, and text size.
import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import Dashboard from "../src/screens/Dashboard.svelte";
import BillDetail from "../src/screens/BillDetail.svelte";
import Help from "../src/screens/Help.svelte";
import DateOfBirth from "../src/components/DateOfBirth.svelte";
import Account from "../src/screens/Account.svelte";
import { app } from "../src/lib/app.svelte";
import { text, zoomKey } from "../src/lib/textSize.svelte";
import { BILL, DASHBOARD, FRESH, MEMBER, noViolations } from "./fixtures";
import { PLAN } from "./plan";
import { respond } from "./tauri";

function signedIn() {
  app.session = { member: { ...MEMBER }, offline: false, remembered: false } as typeof app.session;
  app.plan = PLAN;
}

describe("Dashboard", () => {
  it("puts the overdue amount first, then the total balance and the next bill with its amount and provider", async () => {
    signedIn();
    respond("dashboard", () => DASHBOARD);
    const { container } = render(Dashboard);
    const cards = await screen.findAllByRole("button", { name: /Overdue|Total balance|Next due|Processing/ });
    expect(cards.map((c) => c.querySelector(".label")?.textContent)).toEqual(["Overdue", "Total balance", "Next due", "Processing"]);
    expect(within(cards[0]).getByText("$1,220.74")).toBeTruthy();
    expect(within(cards[1]).getByText("$1,348.40")).toBeTruthy();
    expect(within(cards[2]).getByText("to Bayside Medical Group by Dec 5, 2026")).toBeTruthy();
    await fireEvent.click(cards[2]);
    await waitFor(() => expect(app.route).toEqual({ screen: "bill", id: "b4" }));
    expect(screen.getAllByRole("button", { name: "Set up autopay" })).toHaveLength(1);
    expect(screen.getByRole("cell", { name: "Bayside Medical Group" })).toBeTruthy();
    expect(screen.getByText("Nov 24, 2026")).toBeTruthy();
    expect(screen.getByText("1-800-555-0142")).toBeTruthy();
    await noViolations(container);
  });

  it("shows no zero-value cards", async () => {
    signedIn();
    respond("dashboard", () => ({ ...DASHBOARD, pending: "0.00", overdue_amount: "0.00", overdue_count: 0, total_balance: "1298.40" }));
    render(Dashboard);
    await screen.findByText("Total balance");
    expect(screen.queryByText("Overdue")).toBeNull();
    expect(screen.queryByText("Processing")).toBeNull();
  });
});

describe("Bill detail", () => {
  it("adds up on screen from the amount billed to what is owed now, and lists every payment with its receipt", async () => {
    signedIn();
    app.route = { screen: "bill", id: "b1" };
    const autopay = { bill_id: "b1", charge_date: "2026-12-09", amount: "251.56", status: "scheduled", skip_deadline: "2026-12-07", can_skip: true };
    respond("bill", () => ({ bill: BILL, overdue: false, payment_in_flight: false, autopay, claims: [], freshness: FRESH }));
    const { container } = render(BillDetail);
    const table = await screen.findByRole("table", { name: /How the amount you owe now is worked out/ });
    const rows = within(table).getAllByRole("row").map((r) => Array.from(r.children).map((c) => c.textContent?.replace(/\s+/g, " ").trim()).join(" "));
    expect(rows).toEqual([
      "Amount billed $2,140.00",
      "Insurance paid − $1,018.38",
      "Discounts − $489.06",
      "Your responsibility $632.56",
      "Payments you made − $316.00",
      "Other payments received (at the provider's office or by someone else) − $25.00",
      "Processing − $40.00",
      "You owe now $251.56",
    ]);
    expect(screen.queryByText(/^Where:/)).toBeNull();
    expect(screen.getByText("Autopay will pay $251.56 on Dec 9, 2026.")).toBeTruthy();
    const payments = screen.getByRole("table", { name: /Every payment applied to this bill/ });
    expect(within(payments).getByText("Nov 12, 2026")).toBeTruthy();
    expect(within(payments).getByText("Visa •••• 4242")).toBeTruthy();
    expect(within(payments).getByText("Processing")).toBeTruthy();
    respond("payment", (a) => ({ id: a.id, status: "succeeded", amount: "316.00", confirmation_number: "CB-1111-1111", allocations: [{ bill_id: "b1", amount: "316.00" }],
      payment_method: { type: "card", brand: "visa", last4: "4242" }, created_at: "2026-11-12T18:00:00Z", settled_at: null, failure: null, idempotency_key: null, source: "member" }));
    await fireEvent.click(screen.getByRole("button", { name: "Receipt CB-1111-1111" }));
    await waitFor(() => expect(app.route.screen).toBe("receipt"));
    expect(screen.getByText("1-800-555-0111")).toBeTruthy();
    expect(screen.getByText("1-800-555-0142")).toBeTruthy();
    expect(container.querySelector('[lang="es"]')?.textContent).toMatch(/^ATENCIÓN/);
    await noViolations(container);
  });
});

describe("Help", () => {
  it("gives the plan's real number, hours and TTY, never 'the number on your card' alone", async () => {
    app.plan = PLAN;
    const { container } = render(Help);
    expect(screen.getByText("1-800-555-0142")).toBeTruthy();
    expect(screen.getByText("711")).toBeTruthy();
    expect(container.textContent).toContain("Monday to Friday, 8 a.m. to 6 p.m. Pacific time");
    expect(container.textContent).not.toMatch(/number on (the back of )?your (member )?card/);
    await noViolations(container);
  });
});

describe("Date of birth", () => {
  it("is asked month, day, year, and a typed 4/12/1985 fills all three", async () => {
    const { container } = render(DateOfBirth);
    const inputs = Array.from(container.querySelectorAll("input")).map((i) => i.id);
    expect(inputs).toEqual(["dob-month", "dob-day", "dob-year"]);
    await fireEvent.input(screen.getByLabelText("Month"), { target: { value: "4/12/1985" } });
    expect((screen.getByLabelText("Month") as HTMLInputElement).value).toBe("4");
    expect((screen.getByLabelText("Day") as HTMLInputElement).value).toBe("12");
    expect((screen.getByLabelText("Year") as HTMLInputElement).value).toBe("1985");
    await noViolations(container);
  });
});

describe("Text size", () => {
  it("grows with the zoom keys up to twice the size, is chosen in Account and is kept", async () => {
    const key = (k: string) => zoomKey(new KeyboardEvent("keydown", { key: k, ctrlKey: true }));
    key("0");
    expect(text.size).toBe("normal");
    key("=");
    key("+");
    key("+");
    expect(text.size).toBe("largest");
    expect(document.documentElement.dataset.textSize).toBe("largest");
    expect(localStorage.getItem("carebill.text-size")).toBe("largest");
    key("-");
    expect(text.size).toBe("large");
    expect(zoomKey(new KeyboardEvent("keydown", { key: "+" }))).toBe(false);
    signedIn();
    app.startup = { keyring: { state: "available" }, idle_minutes: 15 } as typeof app.startup;
    const { container } = render(Account);
    await fireEvent.click(screen.getByLabelText("Normal"));
    expect(text.size).toBe("normal");
    expect(localStorage.getItem("carebill.text-size")).toBe("normal");
    await noViolations(container);
  });
});

/** Words the glossary retired: a member sees one name for one amount, everywhere. */
const RETIRED = [
  "Total due now", "You can pay now", "Left to pay after settled payments", "Payments on their way", "Your share",
  "The full amount", "Pending payments", "Pay total due", "Adjustments and discounts", "Paid by your insurance", "Total charges",
];

describe("The glossary", () => {
  it("keeps retired terms out of every screen, the kiosk, receipts and mail", () => {
    // Every screen and component, the mail templates and the kiosk's printed receipt, as text.
    const sources: Record<string, string> = {
      ...import.meta.glob(["../src/**/*.svelte", "../src/**/*.ts", "../src/**/*.json", "!../src/lib/bindings.ts"], { query: "?raw", import: "default", eager: true }),
      ...import.meta.glob(["../../crates/server/src/mail/templates.rs", "../../src-tauri/src/kiosk/receipt.rs"], { query: "?raw", import: "default", eager: true }),
    };
    expect(Object.keys(sources).length).toBeGreaterThan(30);
    expect(Object.keys(sources).some((p) => p.endsWith("templates.rs"))).toBe(true);
    const found = Object.entries(sources).flatMap(([path, body]) =>
      RETIRED.filter((term) => body.toLowerCase().includes(term.toLowerCase())).map((term) => `${path}: ${term}`),
    );
    expect(found).toEqual([]);
  });
});
