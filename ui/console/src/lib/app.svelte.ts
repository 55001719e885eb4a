// Where the console is (a path the server answers with this app) and who is signed in.
import { api, useSession, whenSignedOut, type Me, type Session } from "./api";

export type Route =
  | { name: "sign-in" }
  | { name: "setup" }
  | { name: "inbox" }
  | { name: "conversation"; id: string }
  | { name: "find" }
  | { name: "member"; id: string }
  | { name: "team" }
  | { name: "audit" };

export function parse(path: string): Route {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case "setup":
      return { name: "setup" };
    case "sign-in":
      return { name: "sign-in" };
    case "conversations":
      return parts[1] ? { name: "conversation", id: parts[1] } : { name: "inbox" };
    case "find":
      return { name: "find" };
    case "members":
      return parts[1] ? { name: "member", id: parts[1] } : { name: "find" };
    case "team":
      return { name: "team" };
    case "audit":
      return { name: "audit" };
    default:
      return { name: "inbox" };
  }
}

export function pathOf(r: Route): string {
  switch (r.name) {
    case "sign-in":
      return "/sign-in";
    case "setup":
      return "/setup";
    case "inbox":
      return "/";
    case "conversation":
      return `/conversations/${encodeURIComponent(r.id)}`;
    case "find":
      return "/find";
    case "member":
      return `/members/${encodeURIComponent(r.id)}`;
    case "team":
      return "/team";
    case "audit":
      return "/audit";
  }
}

export const app = $state({
  route: parse(typeof location === "undefined" ? "/" : location.pathname) as Route,
  me: null as Me | null,
  ready: false,
  /** Why the person is on the sign-in screen (their session ended). */
  notice: "",
  /** A polite announcement for screen readers (the live region in App). */
  announcement: "",
});

/** Opens a screen (and records it in the browser's history). */
export function go(route: Route) {
  const path = pathOf(route);
  if (typeof history !== "undefined" && location.pathname !== path) history.pushState(null, "", path);
  app.route = route;
}

export function signedIn(s: Session) {
  useSession(s);
  app.me = s.staff;
  app.notice = "";
}

export function signedOut(notice = "") {
  useSession(null);
  app.me = null;
  app.notice = notice;
  if (app.route.name !== "setup") go({ name: "sign-in" });
}

whenSignedOut((code) => {
  // Only a session that was live can end; at start, no session is just the sign-in screen.
  if (!app.me) return;
  signedOut(
    code === "session_expired"
      ? "You were signed out after 15 minutes without activity. Sign in again to continue."
      : "Your session ended. Sign in again to continue.",
  );
});

/** At start: the session the cookie holds, if any. */
export async function boot() {
  if (typeof window !== "undefined") {
    window.addEventListener("popstate", () => {
      app.route = parse(location.pathname);
    });
  }
  try {
    signedIn(await api.get<Session>("/api/session"));
    if (app.route.name === "sign-in") go({ name: "inbox" });
  } catch {
    app.me = null;
    if (app.route.name !== "setup") app.route = { name: "sign-in" };
  } finally {
    app.ready = true;
  }
}

export function announce(text: string) {
  app.announcement = "";
  queueMicrotask(() => (app.announcement = text));
}
