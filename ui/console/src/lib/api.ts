// The console's one way to the server: same-origin fetch with the session cookie (HttpOnly: this
// code never sees it), the CSRF token on every request that changes something, and the server's
// error envelope turned into an ApiError with its stable code.

export type Role = "agent" | "supervisor";
export type Me = { id: string; email: string; name: string; role: Role };
export type Session = { staff: Me; csrf_token: string; idle_minutes: number };

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

let csrf = "";

/** Remembers the session's CSRF token (from sign-in or /api/session). */
export function useSession(s: Session | null) {
  csrf = s?.csrf_token ?? "";
}

/** Called when the server says the session is over (idle, signed out elsewhere, disabled). */
let onSignedOut: (code: string) => void = () => {};
export function whenSignedOut(f: (code: string) => void) {
  onSignedOut = f;
}

const ENDED = ["unauthenticated", "session_expired", "session_revoked"];

async function request<T>(method: string, path: string, body?: unknown, raw?: { bytes: Blob; type?: string }): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  let payload: BodyInit | undefined;
  if (raw) {
    headers["Content-Type"] = raw.type || "application/octet-stream";
    payload = raw.bytes;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "offline", "The billing server cannot be reached. Check your connection and try again.");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    const err = new ApiError(res.status, e?.code ?? "internal", e?.message ?? "Something went wrong. Try again.", e?.field);
    if (res.status === 401 && ENDED.includes(err.code) && path !== "/api/sign-in") onSignedOut(err.code);
    throw err;
  }
  return json as T;
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body: unknown = {}) => request<T>("POST", path, body),
  upload: <T>(path: string, file: Blob, type?: string) => request<T>("POST", path, undefined, { bytes: file, type }),
};

/** A query string from the values that are set. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
