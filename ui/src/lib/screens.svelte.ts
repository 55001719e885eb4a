// The screens fetched after the first one. The screens a start can open first (the dashboard, the
// bills list, sign-in, a kiosk's welcome) are in the first bundle (App.svelte); every other screen
// is its own chunk, so WebKit parses less before the first paint (docs/PERFORMANCE.md, issue 23).
// The chunks come from the app's own assets once the first screen has painted (`fetchTheRest`),
// or when a screen opens before that.
import type { Component } from "svelte";
import type { Screen } from "./app.svelte";

type Loader = () => Promise<{ default: Component<any> }>;

const LATER: Partial<Record<Screen, Loader>> = {
  register: () => import("../screens/Register.svelte"),
  verify: () => import("../screens/Verify.svelte"),
  forgot: () => import("../screens/Forgot.svelte"),
  reset: () => import("../screens/Reset.svelte"),
  offline_unlock: () => import("../screens/OfflineUnlock.svelte"),
  bill: () => import("../screens/BillDetail.svelte"),
  claims: () => import("../screens/Claims.svelte"),
  claim: () => import("../screens/ClaimDetail.svelte"),
  messages: () => import("../screens/Messages.svelte"),
  conversation: () => import("../screens/Conversation.svelte"),
  ask: () => import("../screens/Ask.svelte"),
  account: () => import("../screens/Account.svelte"),
  notices: () => import("../screens/Notices.svelte"),
  help: () => import("../screens/Help.svelte"),
  pay: () => import("../screens/Pay.svelte"),
  history: () => import("../screens/History.svelte"),
  receipt: () => import("../screens/Receipt.svelte"),
  methods: () => import("../screens/Methods.svelte"),
  autopay: () => import("../screens/Autopay.svelte"),
  plan: () => import("../screens/PaymentPlan.svelte"),
  guest_lookup: () => import("../screens/GuestLookup.svelte"),
  guest_pay: () => import("../screens/GuestPay.svelte"),
};

/** The screens fetched so far (App.svelte shows them; the first bundle's screens are not here). */
export const fetched: Partial<Record<Screen, Component<any>>> = $state({});

/** Whether `screen` can show at once (in the first bundle, or fetched before). */
export function screenFetched(screen: Screen): boolean {
  return !LATER[screen] || Boolean(fetched[screen]);
}

/** Fetches `screen`'s code, once. */
export async function fetchScreen(screen: Screen): Promise<void> {
  const load = LATER[screen];
  if (load && !fetched[screen]) fetched[screen] = (await load()).default;
}

/** Fetches every screen not fetched yet (after the first screen has painted), so opening one
 * later never waits for its code. A failure is left for the screen's own opening to report. */
export function fetchTheRest() {
  for (const screen of Object.keys(LATER) as Screen[]) fetchScreen(screen).catch(() => {});
}
