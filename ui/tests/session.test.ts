// Issue 23: what the page does with a session the service refused, with a first sync that began
// before the page listened for its events, and with the first screen's own read.
import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/svelte";
import { app, boot, onEngineEvent } from "../src/lib/app.svelte";
import Dashboard from "../src/screens/Dashboard.svelte";
import { DASHBOARD, MEMBER } from "./fixtures";
import { PLAN } from "./plan";
import { callsTo, respond } from "./tauri";

const SESSION = { member: MEMBER, offline: false, remembered: true };

function started(sync: unknown) {
  return {
    screen: "dashboard",
    session: SESSION,
    demo: false,
    online: true,
    keyring: { state: "available" },
    version: "0.1.0",
    api_url: "http://127.0.0.1:1",
    idle_minutes: 15,
    kiosk: null,
    sync,
  };
}

describe("A session", () => {
  it("that the service refused leaves nothing of the member on screen and says why at sign-in", () => {
    app.startup = started(null) as unknown as typeof app.startup;
    app.session = SESSION as typeof app.session;
    app.route = { screen: "bills" } as typeof app.route;
    onEngineEvent({ type: "session_expired" } as never);
    expect(app.session).toBeNull();
    expect(app.route.screen).toBe("sign_in");
    expect(app.flash?.kind).toBe("warning");
    expect(app.flash?.text).toMatch(/^Your session has ended/);
  });

  it("starts with the first sync's state from start-up when no event told it", async () => {
    app.sync = null;
    app.session = null;
    const at = "2026-12-02T05:00:00Z";
    respond("startup", () => started({ state: "synced", at }));
    respond("set_language", () => null);
    respond("plan", () => PLAN);
    respond("unread_replies", () => 2);
    await boot();
    expect(app.session).toEqual(SESSION);
    expect(app.sync).toEqual({ type: "sync", state: "synced", at });
    await new Promise((r) => setTimeout(r, 0));
    expect(app.unread).toBe(2);
  });

  it("keeps what an event said over start-up's older word", async () => {
    app.session = null;
    app.sync = { state: "syncing" } as typeof app.sync;
    respond("startup", () => started({ state: "offline", since: "2026-12-02T05:00:00Z", last_synced: null }));
    respond("set_language", () => null);
    respond("plan", () => PLAN);
    await boot();
    expect(app.sync).toEqual({ state: "syncing" });
  });

  it("asks for the first screen's data with start-up's answer, before the screen is built, and reads it once", async () => {
    app.session = null;
    app.route = { screen: "loading" };
    respond("startup", () => started(null));
    respond("set_language", () => null);
    respond("plan", () => PLAN);
    let asked = 0;
    respond("dashboard", () => {
      asked += 1;
      // Asked before the screen is built: the app still shows "Opening".
      expect(app.route.screen).toBe("loading");
      return DASHBOARD;
    });
    await boot();
    expect(app.route.screen).toBe("dashboard");
    render(Dashboard);
    await screen.findByText("Total balance");
    expect(asked).toBe(1);
    expect(callsTo("dashboard")).toHaveLength(1);
  });
});
