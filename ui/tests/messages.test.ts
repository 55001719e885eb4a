// Issue 20: asking the billing office (about a bill, a line or anything billing), threads with the
// office's replies and files, replies announced in a live region, and the "Under review" hold
// shown on the bill.
import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import Ask from "../src/screens/Ask.svelte";
import ConversationScreen from "../src/screens/Conversation.svelte";
import Messages from "../src/screens/Messages.svelte";
import BillDetail from "../src/screens/BillDetail.svelte";
import Dashboard from "../src/screens/Dashboard.svelte";
import Bills from "../src/screens/Bills.svelte";
import { app, onEngineEvent } from "../src/lib/app.svelte";
import { BILL, BILL_ROW, CONVERSATION, CONVERSATIONS, DASHBOARD, FRESH, MEMBER, noViolations, PNG_ATTACHMENT } from "./fixtures";
import { PLAN } from "./plan";
import { callsTo, respond } from "./tauri";

function signedIn() {
  app.session = { member: { ...MEMBER }, offline: false, remembered: false } as typeof app.session;
  app.plan = PLAN;
  app.flash = null;
}

describe("Asking the billing office", () => {
  it("about a line of a bill: a topic is required, the message and file go to the engine, and the reference is shown", async () => {
    signedIn();
    app.route = { screen: "ask", billId: BILL.id, line: 1 };
    respond("bill", () => ({ bill: BILL, overdue: false, payment_in_flight: false, autopay: null, claims: [], freshness: FRESH }));
    respond("ask_billing_office", () => ({ outcome: "sent", conversation: { ...CONVERSATION, status: "open", messages: [CONVERSATION.messages[0]] } }));
    respond("conversation", () => ({ conversation: CONVERSATION, bill_label: null, queued: [], new_replies: 0, freshness: FRESH }));
    respond("unread_replies", () => 0);
    const { container } = render(Ask);
    await screen.findByText("Line 1: Emergency department visit");
    // From a line, "I don't recognize a charge" is chosen; the member picks another.
    const recognize = screen.getByRole("radio", { name: "I don't recognize a charge" }) as HTMLInputElement;
    expect(recognize.checked).toBe(true);
    await fireEvent.click(screen.getByRole("radio", { name: "Insurance should have paid" }));
    await fireEvent.input(screen.getByLabelText("Your message"), { target: { value: "Why was this not covered?" } });
    const file = new File([new Uint8Array([0x25, 0x50, 0x44, 0x46])], "statement.pdf", { type: "application/pdf" });
    await fireEvent.change(screen.getByLabelText("Attach files (optional)"), { target: { files: [file] } });
    await screen.findByRole("button", { name: "Remove statement.pdf" });
    await noViolations(container);
    await fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await waitFor(() => expect(app.route).toEqual({ screen: "conversation", id: "cnv1" }));
    const draft = callsTo("ask_billing_office")[0].draft as Record<string, unknown>;
    expect(draft).toMatchObject({ topic: "insurance_should_have_paid", bill_id: BILL.id, line: 1, body: "Why was this not covered?" });
    expect(draft.files).toEqual([{ file_name: "statement.pdf", data_base64: "JVBERg==" }]);
    expect(app.flash?.text).toBe("Sent. Your reference number is Q-7K3M9P2X.");
  });

  it("refuses a question without a topic, shows the engine's refusal at its field, and says when a message waits offline", async () => {
    signedIn();
    app.route = { screen: "ask" };
    const { container } = render(Ask);
    await fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(await screen.findByText("Choose what your question is about.")).toBeTruthy();
    expect(callsTo("ask_billing_office")).toEqual([]);
    await fireEvent.click(screen.getByRole("radio", { name: "Something else" }));
    respond("ask_billing_office", () => {
      throw { kind: "validation", code: "message_empty", message: "Write your message.", field: "body" };
    });
    await fireEvent.click(screen.getByRole("button", { name: "Send" }));
    const body = screen.getByLabelText("Your message");
    await waitFor(() => expect(body.getAttribute("aria-invalid")).toBe("true"));
    expect(document.activeElement).toBe(body);
    await noViolations(container);
    respond("ask_billing_office", () => ({ outcome: "queued", outbox_id: "msg-1" }));
    await fireEvent.input(body, { target: { value: "Hello" } });
    await fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await waitFor(() => expect(app.route).toEqual({ screen: "messages" }));
    expect(app.flash?.text).toMatch(/sent as soon as Carebill is back online/);
  });
});

describe("Messages", () => {
  it("lists questions with their status and new replies, and what waits to be sent", async () => {
    signedIn();
    respond("conversations", () => CONVERSATIONS);
    const { container } = render(Messages);
    const table = await screen.findByRole("table", { name: "Your questions to the billing office, newest first" });
    expect(within(table).getByText("Answered")).toBeTruthy();
    expect(within(table).getByText("1 new")).toBeTruthy();
    expect(screen.getByText("I paid at the desk.")).toBeTruthy();
    expect(screen.getByText("Files: receipt.pdf")).toBeTruthy();
    expect(screen.getByText("One more thing.")).toBeTruthy();
    expect(screen.getByText("This conversation is closed. Start a new one to ask something else.")).toBeTruthy();
    expect(app.unread).toBe(1);
    await noViolations(container);
    await fireEvent.click(within(table).getByRole("button", { name: "Open question Q-7K3M9P2X: I don't recognize a charge" }));
    await waitFor(() => expect(app.route).toEqual({ screen: "conversation", id: "cnv1" }));
  });

  it("shows a thread with the office's name and file, replies, and closes it", async () => {
    signedIn();
    app.route = { screen: "conversation", id: "cnv1" };
    respond("conversation", () => ({ conversation: CONVERSATION, bill_label: "Bayside Regional Medical Center · BRM26000002", queued: [], new_replies: 1, freshness: FRESH }));
    respond("unread_replies", () => 0);
    respond("attachment", () => PNG_ATTACHMENT);
    const { container } = render(ConversationScreen);
    expect(await screen.findByText("Dana, billing office")).toBeTruthy();
    expect(screen.getByText("Q-7K3M9P2X")).toBeTruthy();
    await noViolations(container);
    await fireEvent.click(screen.getByRole("button", { name: "Open itemized.png (2 KB)" }));
    expect(await screen.findByRole("img", { name: "Attached image itemized.png" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Save itemized.png" })).toBeTruthy();

    respond("reply_to_conversation", () => ({ outcome: "sent", conversation: CONVERSATION }));
    await fireEvent.input(screen.getByLabelText("Your reply"), { target: { value: "Thanks!" } });
    await fireEvent.click(screen.getByRole("button", { name: "Send reply" }));
    expect(await screen.findByText("Your reply was sent.")).toBeTruthy();
    expect(callsTo("reply_to_conversation")[0].draft).toEqual({ conversation_id: "cnv1", body: "Thanks!", files: [] });

    respond("close_conversation", () => ({ ...CONVERSATION, status: "closed" }));
    respond("conversation", () => ({ conversation: { ...CONVERSATION, status: "closed" }, bill_label: null, queued: [], new_replies: 0, freshness: FRESH }));
    await fireEvent.click(screen.getByRole("button", { name: "Close this question" }));
    expect(await screen.findByText(/This question is closed/)).toBeTruthy();
    expect(screen.queryByLabelText("Your reply")).toBeNull();
  });

  it("says on the dashboard that the office replied, and opens Messages", async () => {
    signedIn();
    app.unread = 1;
    respond("dashboard", () => DASHBOARD);
    const { container } = render(Dashboard);
    expect(await screen.findByText(/The billing office replied to your question\./)).toBeTruthy();
    await noViolations(container);
    await fireEvent.click(screen.getByRole("button", { name: "Read the reply" }));
    await waitFor(() => expect(app.route).toEqual({ screen: "messages" }));
    app.unread = 0;
  });

  it("announces a new reply in the live region and counts it", async () => {
    signedIn();
    app.announcement = "";
    onEngineEvent({ type: "new_replies", unread: 2 } as never);
    await waitFor(() => expect(app.announcement).toBe("You have a new reply from the billing office. Open Messages to read it."));
    expect(app.unread).toBe(2);
  });
});

describe("A bill under review", () => {
  it("says so, links to the question, and offers asking about the bill and each line", async () => {
    signedIn();
    app.route = { screen: "bill", id: BILL.id };
    respond("bill", () => ({ bill: { ...BILL, open_conversation_id: "cnv1" }, overdue: false, payment_in_flight: false, autopay: null, claims: [], freshness: FRESH }));
    const { container } = render(BillDetail);
    expect(await screen.findByText("Under review")).toBeTruthy();
    expect(screen.getByText(/Until the question is closed, autopay, payment plans and scheduled payments will not charge it/)).toBeTruthy();
    await noViolations(container);
    await fireEvent.click(screen.getByRole("button", { name: "Ask about Emergency department visit" }));
    await waitFor(() => expect(app.route).toEqual({ screen: "ask", billId: BILL.id, line: 1 }));
    app.route = { screen: "bill", id: BILL.id };
  });

  it("is marked in the bills list too", async () => {
    signedIn();
    app.route = { screen: "bills" };
    const row = { ...BILL_ROW, open_conversation_id: "cnv1" };
    respond("bills", () => ({ bills: [row], total: 1, offset: 0, providers: [row.provider], total_payable: row.payable, freshness: FRESH }));
    const { container } = render(Bills);
    expect(await screen.findByText("Under review")).toBeTruthy();
    await noViolations(container);
  });
});
