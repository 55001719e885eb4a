// Issue 22: desktop notices in the app. The list keeps what was announced on this computer (the
// ones the screen missed too), opening it marks them seen and each leads to what it is about; a
// missed notice is offered on the dashboard at the next start; Account has a switch per kind for
// this computer beside the email one.
import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import Notices from "../src/screens/Notices.svelte";
import Dashboard from "../src/screens/Dashboard.svelte";
import Account from "../src/screens/Account.svelte";
import { app, onEngineEvent } from "../src/lib/app.svelte";
import { DASHBOARD, MEMBER, noViolations } from "./fixtures";
import { PLAN } from "./plan";
import { callsTo, respond } from "./tauri";

function signedIn() {
  app.session = { member: { ...MEMBER }, offline: false, remembered: false } as typeof app.session;
  app.plan = PLAN;
  app.flash = null;
  app.unread = 0;
}

const NEW_BILL = {
  key: "new_bill:bil1", kind: "new_bill", title: "New bill", body: "Valley Orthopedics: $120.00, due Dec 10, 2026.",
  screen_body: "A new bill of $120.00 is due Dec 10, 2026.", target: { screen: "bill", bill_id: "bil1" },
  decided_at: "2026-12-01T15:00:00Z", read: false,
};
const REPLY = {
  key: "message_reply:msg1", kind: "message_reply", title: "The billing office replied", body: "A new reply to your question Q-1001.",
  screen_body: "You have a new reply to your question.", target: { screen: "conversation", conversation_id: "cnv1" },
  decided_at: "2026-11-30T15:00:00Z", read: true,
};

const PREFS = {
  new_bill: { email: true, desktop: true }, due_soon: { email: true, desktop: true }, overdue: { email: true, desktop: true },
  method_attention: { email: true, desktop: true }, payment_failed: { email: true, desktop: true }, message_reply: { email: true, desktop: true },
  paperless: false,
};

describe("Notifications", () => {
  it("lists what was announced, newest first, marks the unread ones seen and opens what each is about", async () => {
    signedIn();
    app.notices = 1;
    respond("notices", () => ({ notices: [NEW_BILL, REPLY], unread: 1 }));
    respond("read_notices", () => 0);
    const { container } = render(Notices);
    const items = await screen.findAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(within(items[0]).getByRole("heading").textContent).toBe("New New bill");
    expect(items[0].textContent).toContain("Valley Orthopedics: $120.00, due Dec 10, 2026.");
    expect(within(items[1]).getByRole("heading").textContent).toBe("The billing office replied");
    await waitFor(() => expect(callsTo("read_notices")).toEqual([{ keys: ["new_bill:bil1"] }]));
    await waitFor(() => expect(app.notices).toBe(0));
    await noViolations(container);
    await fireEvent.click(within(items[0]).getByRole("button", { name: "View bill" }));
    await waitFor(() => expect(app.route).toEqual({ screen: "bill", id: "bil1" }));
    await fireEvent.click(within(items[1]).getByRole("button", { name: "Read reply" }));
    await waitFor(() => expect(app.route).toEqual({ screen: "conversation", id: "cnv1" }));
  });

  it("says what it will tell about when there is nothing yet", async () => {
    signedIn();
    respond("notices", () => ({ notices: [], unread: 0 }));
    render(Notices);
    expect(await screen.findByText(/No notifications yet/)).toBeTruthy();
    expect(callsTo("read_notices")).toEqual([]);
  });

  it("counts fresh notices from the engine and offers the missed ones on the dashboard", async () => {
    signedIn();
    app.notices = 0;
    onEngineEvent({ type: "notices", fresh: [NEW_BILL], unread: 2 } as never);
    expect(app.notices).toBe(2);
    respond("dashboard", () => DASHBOARD);
    respond("payment_plans", () => []);
    render(Dashboard);
    expect(await screen.findByText("You have 2 notifications you have not seen.")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "See notifications" }));
    await waitFor(() => expect(app.route).toEqual({ screen: "notices" }));
  });

  it("in Account has a switch for this computer beside the email one, saved with the rest", async () => {
    signedIn();
    respond("notification_preferences", () => PREFS);
    respond("set_notification_preferences", (args) => args.preferences);
    const { container } = render(Account);
    const desktop = (await screen.findByRole("checkbox", { name: "A new bill arrives On this computer" })) as HTMLInputElement;
    expect(desktop.checked).toBe(true);
    await fireEvent.click(desktop);
    await fireEvent.click(screen.getByRole("button", { name: "Save notifications" }));
    await waitFor(() => expect(callsTo("set_notification_preferences")).toHaveLength(1));
    const saved = callsTo("set_notification_preferences")[0].preferences as typeof PREFS;
    expect(saved.new_bill).toEqual({ email: true, desktop: false });
    expect(saved.due_soon).toEqual({ email: true, desktop: true });
    await noViolations(container);
  });
});
