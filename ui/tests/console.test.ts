// The billing office console (issue 21): each screen against a fake console API, the CSRF token on
// every request that changes something, the reason asked before a member's account opens, and
// axe-core on every screen.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { noViolations } from "./fixtures";
import { app, signedIn, signedOut } from "../console/src/lib/app.svelte";
import { usd, waited } from "../console/src/lib/format";
import SignIn from "../console/src/screens/SignIn.svelte";
import Setup from "../console/src/screens/Setup.svelte";
import Inbox from "../console/src/screens/Inbox.svelte";
import Conversation from "../console/src/screens/Conversation.svelte";
import Find from "../console/src/screens/Find.svelte";
import Member from "../console/src/screens/Member.svelte";
import Team from "../console/src/screens/Team.svelte";
import Audit from "../console/src/screens/Audit.svelte";

type Call = { method: string; path: string; body: unknown; headers: Record<string, string> };
let calls: Call[] = [];
let answers: Record<string, (call: Call) => [number, unknown]> = {};

function reply(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

beforeEach(() => {
  calls = [];
  answers = {};
  vi.stubGlobal("fetch", async (path: string, init: RequestInit) => {
    const method = init.method ?? "GET";
    const body = typeof init.body === "string" ? JSON.parse(init.body) : init.body;
    const call = { method, path, body, headers: (init.headers ?? {}) as Record<string, string> };
    calls.push(call);
    const key = `${method} ${path.split("?")[0]}`;
    const answer = answers[key];
    if (!answer) return reply(404, { error: { code: "not_found", message: "Not found." } });
    const [status, json] = answer(call);
    return status === 204 ? new Response(null, { status: 204 }) : reply(status, json);
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  signedOut();
});

const AGENT = { id: "stf_dana", email: "dana@billing.example", name: "Dana", role: "agent" as const };
const SUPERVISOR = { id: "stf_morgan", email: "morgan@billing.example", name: "Morgan", role: "supervisor" as const };

function as(me: typeof AGENT | typeof SUPERVISOR) {
  signedIn({ staff: me, csrf_token: "csrf-123", idle_minutes: 15 });
}

const ITEM = {
  id: "cnv_1",
  reference: "Q-7K3M9P2X",
  topic: "already_paid",
  status: "open",
  member_id: "M200000001",
  member_name: "Jordan Lee",
  bill_id: "bil_1",
  assigned_to: null,
  assigned_name: null,
  waiting_since: "2026-11-30T10:00:00Z",
  created_at: "2026-11-30T10:00:00Z",
  updated_at: "2026-11-30T10:00:00Z",
};

const THREAD = {
  ...ITEM,
  conversation: {
    id: "cnv_1",
    reference: "Q-7K3M9P2X",
    bill_id: "bil_1",
    line: 2,
    messages: [
      { id: "m1", author: "member", body: "I paid this at the front desk.", sent_at: "2026-11-30T10:00:00Z", attachments: [{ id: "att_1", file_name: "receipt.pdf", kind: "pdf", size: 2048 }] },
    ],
  },
  notes: [{ id: "n1", staff_name: "Kim", body: "Front desk log checked.", created_at: "2026-11-30T11:00:00Z" }],
};

describe("the console", () => {
  it("formats money from exact strings and waiting times", () => {
    expect(usd("1234567.5")).toBe("$1,234,567.50");
    expect(usd("-0.07")).toBe("-$0.07");
    expect(usd("0.10")).toBe("$0.10");
    expect(waited("2026-11-30T10:00:00Z", new Date("2026-11-30T13:05:00Z"))).toBe("3 h 5 min");
    expect(waited("2026-11-28T10:00:00Z", new Date("2026-11-30T13:05:00Z"))).toBe("2 days");
  });

  it("signs in with the password and the authenticator code", async () => {
    answers["POST /api/sign-in"] = (c) => {
      const b = c.body as { code: string };
      return b.code === "123456"
        ? [201, { staff: AGENT, csrf_token: "csrf-xyz", idle_minutes: 15 }]
        : [401, { error: { code: "staff_sign_in_failed", message: "The email, password and code do not match." } }];
    };
    const { container } = render(SignIn);
    await noViolations(container);
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(screen.getByRole("alert").textContent).toContain("Enter your work email");
    expect(calls).toHaveLength(0);
    await fireEvent.input(screen.getByLabelText("Work email"), { target: { value: "dana@billing.example" } });
    await fireEvent.input(screen.getByLabelText("Password"), { target: { value: "lantern harbor kestrel" } });
    await fireEvent.input(screen.getByLabelText("Authenticator code"), { target: { value: "000000" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("do not match"));
    expect((screen.getByLabelText("Authenticator code") as HTMLInputElement).value).toBe("");
    await fireEvent.input(screen.getByLabelText("Authenticator code"), { target: { value: "123456" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(app.me?.name).toBe("Dana"));
    expect(app.route.name).toBe("inbox");
    await noViolations(container);
  });

  it("sets up a password and an authenticator, then shows the recovery codes once", async () => {
    answers["POST /api/setup"] = () => [200, { name: "Riley", email: "riley@billing.example" }];
    answers["POST /api/setup/password"] = () => [200, { secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", uri: "otpauth://totp/x" }];
    answers["POST /api/setup/confirm"] = () => [200, { recovery_codes: ["abcde-fghjk", "mnpqr-stuvw"] }];
    const { container } = render(Setup);
    await noViolations(container);
    await fireEvent.input(screen.getByLabelText("Setup code"), { target: { value: "AAAA-BBBB-CCCC-DDDD" } });
    await fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    await screen.findByRole("heading", { name: "Choose a password, Riley" });
    await noViolations(container);
    await fireEvent.input(screen.getByLabelText("New password"), { target: { value: "violet kettle marching upstream" } });
    await fireEvent.input(screen.getByLabelText("The same password again"), { target: { value: "different" } });
    await fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(screen.getByRole("alert").textContent).toContain("not the same");
    expect(calls.filter((c) => c.path === "/api/setup/password")).toHaveLength(0);
    await fireEvent.input(screen.getByLabelText("The same password again"), { target: { value: "violet kettle marching upstream" } });
    await fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    await screen.findByRole("heading", { name: "Add the console to your authenticator app" });
    expect(screen.getByText("JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP")).toBeTruthy();
    await noViolations(container);
    await fireEvent.input(screen.getByLabelText("The 6-digit code the app shows now"), { target: { value: "123456" } });
    await fireEvent.click(screen.getByRole("button", { name: "Finish setup" }));
    await screen.findByRole("heading", { name: "Keep your recovery codes" });
    expect(screen.getByText("abcde-fghjk")).toBeTruthy();
    const go = screen.getByRole("button", { name: "Go to sign-in" }) as HTMLButtonElement;
    expect(go.disabled).toBe(true);
    await fireEvent.click(screen.getByLabelText("I have saved my recovery codes"));
    expect(go.disabled).toBe(false);
    await noViolations(container);
    expect(calls.find((c) => c.path === "/api/setup/confirm")?.body).toEqual({ code: "AAAA-BBBB-CCCC-DDDD", totp: "123456" });
  });

  it("lists the inbox longest waiting first and filters it", async () => {
    as(AGENT);
    answers["GET /api/inbox"] = () => [200, [ITEM, { ...ITEM, id: "cnv_2", reference: "Q-22222222", status: "answered", waiting_since: null, assigned_to: "stf_dana", assigned_name: "Dana" }]];
    const { container } = render(Inbox);
    await screen.findByText("Q-7K3M9P2X");
    expect(screen.getByText("2 conversations, longest waiting first")).toBeTruthy();
    expect(screen.getByText("Not waiting")).toBeTruthy();
    await noViolations(container);
    await fireEvent.change(screen.getByLabelText("Topic"), { target: { value: "payment_help" } });
    await waitFor(() => expect(calls.at(-1)?.path).toBe("/api/inbox?queue=all&status=active&topic=payment_help"));
  });

  it("shows a conversation with its internal notes, and replies with the CSRF token", async () => {
    as(AGENT);
    answers["GET /api/conversations/cnv_1"] = () => [200, THREAD];
    answers["POST /api/conversations/cnv_1/replies"] = (c) => {
      const b = c.body as { body: string; status: string };
      const message = { id: "m2", author: "staff", staff_name: "Dana", body: b.body, sent_at: "2026-11-30T12:00:00Z", attachments: [] };
      return [201, { ...THREAD, status: b.status, conversation: { ...THREAD.conversation, messages: [...THREAD.conversation.messages, message] } }];
    };
    const { container } = render(Conversation, { id: "cnv_1" });
    await screen.findByRole("heading", { name: "Q-7K3M9P2X: Already paid" });
    expect(screen.getByText(/members never see notes/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "receipt.pdf" }).getAttribute("href")).toBe("/api/conversations/cnv_1/attachments/att_1");
    await noViolations(container);
    await fireEvent.click(screen.getByRole("button", { name: "Send reply" }));
    expect(screen.getByText("Write the reply first.")).toBeTruthy();
    await fireEvent.input(screen.getByLabelText("Reply"), { target: { value: "We found your payment." } });
    await fireEvent.click(screen.getByLabelText(/Waiting on the member/));
    await fireEvent.click(screen.getByRole("button", { name: "Send reply" }));
    await screen.findByText("We found your payment.");
    const sent = calls.find((c) => c.path === "/api/conversations/cnv_1/replies")!;
    expect(sent.headers["X-CSRF-Token"]).toBe("csrf-123");
    expect(sent.body).toEqual({ body: "We found your payment.", status: "waiting_on_member", attachment_ids: [] });
    await noViolations(container);
  });

  it("asks for a reason before opening a member the agent does not work for", async () => {
    as(AGENT);
    let opened = false;
    answers["GET /api/members/M200000003"] = () =>
      opened
        ? [200, {
            member: { member_id: "M200000003", first_name: "Taylor", last_name: "Nguyen", date_of_birth: "1992-01-30", email: "t@example.org" },
            reason: "Member called about a refund",
            bills: [{ id: "b1", statement_number: "S-1", provider: "Bayside Medical Group", due_date: "2026-12-15", amount_due: "1250.00", balance: "1250.00" }],
            payments: [{ id: "p1", status: "succeeded", amount: "20.00", confirmation_number: "CB-AAAA", created_at: "2026-11-01T10:00:00Z", payment_method: { type: "card", brand: "visa", last4: "4242" } }],
            autopay: null,
            payment_plans: [],
            conversations: [],
          }]
        : [422, { error: { code: "reason_required", message: "Say why you need this member's account." } }];
    answers["POST /api/members/M200000003/access"] = (c) => {
      opened = true;
      expect((c.body as { reason: string }).reason).toBe("Member called about a refund");
      return [204, undefined];
    };
    const { container } = render(Member, { id: "M200000003" });
    await screen.findByRole("heading", { name: "Why do you need this account?" });
    await noViolations(container);
    await fireEvent.input(screen.getByLabelText("Reason"), { target: { value: "Member called about a refund" } });
    await fireEvent.click(screen.getByRole("button", { name: "Open the account" }));
    await screen.findByRole("heading", { name: "Taylor Nguyen" });
    expect(screen.getAllByText("$1,250.00")).toHaveLength(2);
    expect(screen.getByText("VISA ending 4242")).toBeTruthy();
    await noViolations(container);
  });

  it("finds members with a reason", async () => {
    as(AGENT);
    answers["POST /api/members/search"] = () => [200, [{ member_id: "M200000001", first_name: "Jordan", last_name: "Lee", date_of_birth: "1979-09-23", email: "demo@carebill.example" }]];
    const { container } = render(Find);
    await noViolations(container);
    await fireEvent.input(screen.getByLabelText("Member ID"), { target: { value: "M200000001" } });
    await fireEvent.input(screen.getByLabelText("Reason"), { target: { value: "Member on the phone about a refund" } });
    await fireEvent.click(screen.getByRole("button", { name: "Search" }));
    await screen.findByRole("link", { name: "Jordan Lee" });
    expect(calls[0].body).toEqual({ reason: "Member on the phone about a refund", member_id: "M200000001" });
    await noViolations(container);
  });

  it("shows supervisors the team's figures and the audit log", async () => {
    as(SUPERVISOR);
    answers["GET /api/figures"] = () => [200, {
      days: 30, unassigned_waiting: 3, oldest_waiting_since: "2026-11-29T10:00:00Z", started: 4, answered: 1,
      first_response_median_minutes: 95, first_response_p90_minutes: 300,
      agents: [{ staff_id: "stf_dana", name: "Dana", role: "agent", disabled: false, active: 1, waiting: 0, replies: 1 }],
    }];
    answers["GET /api/audit"] = () => [200, [
      { seq: 7, at: "2026-11-30T12:00:00Z", staff: "Dana <dana@billing.example>", member_id: "M200000001", action: "member_viewed", detail: "bills", origin: "127.0.0.1", reason: "Member called" },
    ]];
    const team = render(Team);
    await screen.findByText("1 h 35 min");
    await noViolations(team.container);
    team.unmount();
    const audit = render(Audit);
    await screen.findByText("member viewed");
    expect(screen.getByRole("link", { name: "Download CSV" }).getAttribute("href")).toBe("/api/audit.csv");
    await noViolations(audit.container);
  });

  // 200 rows of the audit log under axe-core take more than vitest's default 5 s on a slow or busy
  // machine (it timed out here while a release build ran).
  it("pages the audit log back and refreshes the inbox in place", async () => {
    as(SUPERVISOR);
    const entry = (seq: number) => ({ seq, at: "2026-11-30T12:00:00Z", staff: "Dana <dana@billing.example>", member_id: null, action: "staff_signed_in", detail: "", origin: "127.0.0.1", reason: null });
    answers["GET /api/audit"] = (c) =>
      c.path.includes("before=")
        ? [200, [entry(1)]]
        : [200, Array.from({ length: 200 }, (_, i) => entry(201 - i))];
    const audit = render(Audit);
    await screen.findByText("The 200 newest matching entries");
    await fireEvent.click(screen.getByRole("button", { name: "Show older entries" }));
    await screen.findByText("The 201 newest matching entries");
    expect(calls.at(-1)?.path).toBe("/api/audit?before=2");
    expect(screen.queryByRole("button", { name: "Show older entries" })).toBeNull();
    await noViolations(audit.container);
    audit.unmount();

    as(AGENT);
    let second = false;
    answers["GET /api/inbox"] = () => [200, second ? [ITEM, { ...ITEM, id: "cnv_3", reference: "Q-33333333" }] : [ITEM]];
    render(Inbox);
    await screen.findByText("Q-7K3M9P2X");
    second = true;
    await fireEvent.click(screen.getByRole("button", { name: "Refresh" }));
    await screen.findByText("Q-33333333");
    // The list stayed on screen while it refreshed.
    expect(screen.queryByText("Loading conversations…")).toBeNull();
    await waitFor(() => expect(app.announcement).toBe("Inbox refreshed: 2 conversations."));
  }, 30_000);
});
