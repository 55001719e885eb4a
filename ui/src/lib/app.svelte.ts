// App-wide state: which screen, who is signed in, sync and lock status. No business rules here.
import { tick } from "svelte";
import { call, commands, events } from "./api";
import { accountLocale, chooseLocale, i18n, t, type Locale } from "./i18n/index.svelte";
import { fetchScreen, screenFetched } from "./screens.svelte";
import { formats } from "./format";
import type { GuestBillView, BillQuery_Serialize, BillStatusFilter, EngineEvent, Payment, PlanInfo_Serialize, SessionInfo, Startup, SyncStatus, UpdateInfo } from "./bindings";

/** Where the app is: a screen and what it needs to open (a discriminated union, so a screen's
 * parameters are checked where it is opened and where it reads them). */
export type Route =
  | { screen: "loading" }
  | { screen: "sign_in" }
  | { screen: "register" }
  | { screen: "verify"; email?: string }
  | { screen: "forgot" }
  | { screen: "reset"; email?: string }
  | { screen: "offline_unlock" }
  | { screen: "dashboard" }
  | { screen: "bills"; status?: BillStatusFilter }
  | { screen: "bill"; id: string }
  | { screen: "claims" }
  | { screen: "claim"; id: string; fromBill?: string }
  | { screen: "messages" }
  | { screen: "notices" }
  | { screen: "conversation"; id: string }
  | { screen: "ask"; billId?: string; line?: number }
  | { screen: "account" }
  | { screen: "help" }
  | { screen: "pay"; billIds?: string[]; all?: boolean; amounts?: Record<string, string> }
  | { screen: "methods" }
  | { screen: "autopay" }
  | { screen: "plan"; id?: string; billIds?: string[] }
  | { screen: "history" }
  | { screen: "receipt"; payment: Payment }
  | { screen: "welcome" }
  | { screen: "guest_lookup" }
  | { screen: "guest_pay"; bill: GuestBillView };

export type Screen = Route["screen"];

/** The route of one screen. */
export type RouteOf<S extends Screen> = Extract<Route, { screen: S }>;

/** Screens that open with nothing more than their name. */
export type PlainScreen = { [S in Screen]: {} extends Omit<RouteOf<S>, "screen"> ? S : never }[Screen];

export const SIGNED_OUT_SCREENS: Screen[] = [
  "loading", "sign_in", "register", "verify", "forgot", "reset", "offline_unlock",
  "welcome", "guest_lookup", "guest_pay",
];

export const app = $state({
  route: { screen: "loading" } as Route,
  startup: null as Startup | null,
  session: null as SessionInfo | null,
  sync: null as SyncStatus | null,
  locked: false,
  idleSecondsLeft: null as number | null,
  flash: null as { kind: "success" | "info" | "warning"; text: string } | null,
  resolved: 0,
  /** A newer version on offer (members' apps only; a kiosk updates itself when IT allows). */
  update: null as UpdateInfo | null,
  /** The plan's facts (member services phone, hours, language assistance); null until known. */
  plan: null as PlanInfo_Serialize | null,
  /** Replies from the billing office not yet seen on this device (the sidebar's count). */
  unread: 0,
  /** Desktop notices not yet seen in the app's list (the sidebar's count). */
  notices: 0,
  /** What the polite live region says (new replies). */
  announcement: "",
});

/** Asks how many replies are unseen (quietly keeps the last count on failure). */
export async function loadUnread() {
  if (!app.session || kiosk()) return;
  try {
    app.unread = await call(commands.unreadReplies());
  } catch {
    // Keep what is shown.
  }
}

/** Asks how many desktop notices wait unread in the app's list (quietly keeps the last count). */
export async function loadNotices() {
  if (!app.session || kiosk()) return;
  try {
    app.notices = (await call(commands.notices())).unread;
  } catch {
    // Keep what is shown.
  }
}

/** Asks for the plan's facts (the engine answers from its copy when offline or recently asked). */
export async function loadPlan() {
  try {
    app.plan = (await call(commands.plan())) ?? app.plan;
  } catch {
    // Keep what is shown; the next sync asks again.
  }
}

let navigations = 0;

/** Shows a screen (its code fetched first, the first time) and moves focus to its heading, so
 * screen readers announce it. Of two calls in quick succession, the later one wins. */
export async function go(to: Route | PlainScreen, flash: typeof app.flash = null) {
  const route = typeof to === "string" ? ({ screen: to } as Route) : to;
  const navigation = ++navigations;
  if (!screenFetched(route.screen)) {
    await fetchScreen(route.screen);
    if (navigation !== navigations) return;
  }
  app.route = route;
  app.flash = flash;
  await focusHeading();
}

/** The current route, as the screen `screen` (which is showing) reads it. */
export function routeAt<S extends Screen>(screen: S): RouteOf<S> {
  const route = app.route;
  if (route.screen !== screen) throw new Error(`${screen} is not the screen shown (${route.screen})`);
  return route as RouteOf<S>;
}

/** After the DOM update: focus the screen's h1 (so screen readers announce it) and scroll to the top. */
export async function focusHeading() {
  await tick();
  const heading = document.querySelector<HTMLElement>("main h1");
  heading?.setAttribute("tabindex", "-1");
  heading?.focus();
  window.scrollTo?.(0, 0);
}

/** "Jordan Lee": the signed-in member's name, or "" when nobody is signed in. */
export function memberName(): string {
  const m = app.session?.member;
  return m ? `${m.first_name} ${m.last_name}` : "";
}

/** The member chose a language on this device: the screens and the engine (for the mail it asks
 * for before sign-in, and a kiosk's printed receipt) switch to it. */
export async function useLanguage(locale: Locale) {
  await chooseLocale(locale);
  await commands.setLanguage(locale).catch(() => {});
}

/** The language in use, told to the engine (at start and after the account's language applies). */
function tellEngineLanguage() {
  commands.setLanguage(i18n.locale).catch(() => {});
}

export async function signedIn(session: SessionInfo) {
  await accountLocale(session.member.locale);
  tellEngineLanguage();
  app.session = session;
  app.locked = false;
  go("dashboard");
}

/** Whether this is a clinic kiosk (the system config says so). */
export function kiosk(): boolean {
  return Boolean(app.startup?.kiosk);
}

/** Kiosk: ends the patient's session. The Rust side drops everything and reloads this page. */
export async function endKioskSession() {
  await commands.kioskEndSession();
}

export function signedOut(flash: typeof app.flash = null) {
  if (kiosk()) {
    endKioskSession();
    return;
  }
  app.session = null;
  app.locked = false;
  app.idleSecondsLeft = null;
  app.sync = null;
  firstRead = null;
  go("sign_in", flash);
}

/** What the app does with an engine event (exported for the tests). */
export function onEngineEvent(e: EngineEvent) {
  switch (e.type) {
    case "sync":
      app.sync = e as unknown as SyncStatus;
      if (app.sync.state === "synced") {
        loadPlan();
        loadUnread();
      }
      break;
    case "session_expired":
      // The service refused the session (signed out everywhere, a new password, a reported
      // device): the engine closed the copy; nothing of the member stays on screen.
      signedOut({ kind: "warning", text: t("app.session_ended") });
      break;
    case "idle_warning":
      app.idleSecondsLeft = (e as { seconds_left: number }).seconds_left;
      break;
    case "locked":
      app.locked = true;
      app.idleSecondsLeft = null;
      break;
    case "payment_resolved":
      app.resolved += 1;
      break;
    case "notices":
      app.notices = (e as { unread: number }).unread;
      break;
    case "new_replies":
      app.unread = (e as { unread: number }).unread;
      app.announcement = "";
      // A fresh text each time, so screen readers announce it again.
      tick().then(() => (app.announcement = t("messages.announce")));
      break;
  }
}

let lastActivity = 0;
/** Tells the engine the member is active (at most every 15 s). */
export function activity() {
  const now = Date.now();
  if (now - lastActivity > 15_000) {
    lastActivity = now;
    commands.recordActivity();
  }
}

/**
 * Calls `load` now, and again when a sync completes or a payment resolves (not when a sync
 * starts, and not twice for the same state). Call it while a component initialises.
 */
export function loadAndRefresh(load: () => unknown) {
  let last: string | null = null;
  $effect(() => {
    const synced = app.sync?.state === "synced" ? app.sync.at : null;
    const key = `${synced}|${app.resolved}`;
    if ((last !== null && synced === null) || key === last) return;
    last = key;
    load();
  });
}

/** The bills list's first page as it opens: the open bills, soonest due first. */
export const FIRST_BILLS_PAGE: BillQuery_Serialize = {
  status: "open", kind: null, provider: null, from: null, to: null, search: null, sort: "due_date_asc", offset: 0, limit: 50,
};

/** A remembered session's first screen's own read, asked for with start-up's answer, before that
 * screen is built, so the screen and its data paint in one frame (docs/PERFORMANCE.md, issue 23).
 * Taken once, by that screen's first load. */
let firstRead: { screen: Screen; answer: Promise<unknown> } | null = null;

/** The read `screen` asked for before it was built, if it is the first screen and has not taken it. */
export function takeFirstRead<T>(screen: Screen): Promise<T> | null {
  if (firstRead?.screen !== screen) return null;
  const { answer } = firstRead;
  firstRead = null;
  return answer as Promise<T>;
}

let firstScreenShown: () => void = () => {};
/** Settles once the first screen has painted (at the latest after 2 s): what is not on it (the
 * sidebar's counts, the plan's facts) is asked for then, so it never queues ahead of that screen's
 * own read of the copy (docs/PERFORMANCE.md, issue 23). */
const firstScreen = new Promise<void>((resolve) => {
  firstScreenShown = resolve;
  setTimeout(resolve, 2_000);
});

/** Runs `work` once the first screen has painted (at once after that). */
export function afterFirstScreen(work: () => unknown) {
  firstScreen.then(work);
}

/** A screen has painted (after Svelte's DOM update and the next frame): what waits for the first
 * screen goes, and the startup harness is told. Settles then. */
export async function painted(screen: string) {
  await tick();
  await new Promise((frame) => requestAnimationFrame(() => setTimeout(frame, 0)));
  firstScreenShown();
  commands.markReady(screen).catch(() => {});
}

export async function boot() {
  await events.engineEvent.listen((event) => onEngineEvent(event.payload));
  const startup = await call(commands.startup());
  app.startup = startup;
  // A kiosk's patients start in the clinic's language; a member, in the account's (either way,
  // unless this device has its own choice, which a kiosk forgets at every session end).
  if (startup.session) await accountLocale(startup.session.member.locale);
  else if (startup.kiosk?.language) await accountLocale(startup.kiosk.language);
  tellEngineLanguage();
  afterFirstScreen(loadPlan);
  // In a task of its own, after the first screen's remaining rows.
  afterFirstScreen(() => setTimeout(formats, 0));
  if (startup.screen === "welcome") {
    await go("welcome");
  } else if (startup.session) {
    app.session = startup.session;
    // The first sync may have begun before this page listened: its state so far, unless an
    // event since said more.
    if (startup.sync && app.sync === null) onEngineEvent({ type: "sync", ...startup.sync } as EngineEvent);
    const screen = startup.screen === "bills" ? "bills" : "dashboard";
    const answer = screen === "bills" ? call(commands.bills(FIRST_BILLS_PAGE)) : call(commands.dashboard());
    firstRead = { screen, answer };
    // The screen shows a failure itself, when it takes the answer.
    await answer.catch(() => {});
    await go(screen);
  } else {
    await go(startup.screen === "offline_unlock" ? "offline_unlock" : "sign_in");
  }
  if (!startup.kiosk) setTimeout(checkForUpdate, UPDATE_CHECK_DELAY_MS);
}

/** Looked for after the first screen, so it never slows start-up. */
const UPDATE_CHECK_DELAY_MS = 5_000;

/** Asks Rust whether a newer version is available; failures are quiet (it asks again next start). */
export async function checkForUpdate() {
  try {
    app.update = await call(commands.updateCheck());
  } catch {
    app.update = null;
  }
}
